//! The drill around its side-restore run, shared by `pitr-console drill` and the console's
//! drill screen: preparation before the run (backup located and verified, RPO), the smoke
//! command after it, and the conclusion (sign-off, drill record and report beside the
//! journal). The run itself is an ordinary engine run of `DrillPrep::inputs`. Blocking:
//! call these off the event loop.

use super::prepare::{self, enforce_role, find_server, Refusal, Request};
use crate::adapters::catalog::load_view;
use crate::adapters::drill_checks;
use crate::config::{Config, Role};
use crate::domain::target::RecoveryTarget;
use crate::domain::zone::Zone;
use crate::engine::drill::{self, Checklist, DrillRecord, ItemStatus, PhaseId};
use crate::engine::journal::JournalState;
use crate::engine::recovery::{FinalAction, RecoveryInputs, RestoreMode};
use chrono::Utc;
use std::path::{Path, PathBuf};

/// What the drill asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillRequest {
    pub server: String,
    pub target: RecoveryTarget,
    pub restore_to: PathBuf,
    pub port: u16,
    pub role: Role,
    pub journal_dir: PathBuf,
    pub index_dir: Option<PathBuf>,
    pub zone: Zone,
    pub options: prepare::PlanOptions,
}

/// A prepared drill: the record so far (preparation timed) and the run's inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillPrep {
    pub record: DrillRecord,
    pub inputs: RecoveryInputs,
    pub notes: Vec<String>,
    /// Set when the backup failed verification: the drill stops before restoring it.
    pub stop: Option<String>,
}

/// Preparation: the role checked (a refusal is journaled), the backup for the instant
/// located and verified, the RPO measured; the phase timed.
pub fn prepare(
    config: &Config,
    checklist: &Checklist,
    req: &DrillRequest,
) -> Result<DrillPrep, Refusal> {
    let mode = RestoreMode::Side {
        dir: req.restore_to.clone(),
        port: req.port,
    };
    let server = find_server(config, &req.server)?;
    enforce_role(req.role, &mode, &req.server, &req.target)?;
    // The backup check and the smoke command run here, beside the backups and the side
    // instance: on this host only.
    if !server.is_local() {
        return Err(Refusal::Input(format!(
            "server `{}` is on host {}: drills run on the server's own host for now; run the console there",
            server.name, server.host
        )));
    }
    let started = Utc::now();
    let mut record = DrillRecord::new(checklist, &req.server, &req.target.to_string(), started);
    let repo = prepare::find_repository(config, server)?;
    let view =
        load_view(repo, req.index_dir.as_deref()).map_err(|e| Refusal::Input(e.to_string()))?;
    let prepared = prepare::prepare(&Request {
        config,
        server: &req.server,
        view: &view,
        target: req.target.clone(),
        mode,
        action: FinalAction::Promote,
        role: req.role,
        journal_dir: req.journal_dir.clone(),
        zone: req.zone,
        options: req.options,
        backup: None,
    })?;
    let inputs = prepared.inputs;
    let b = &inputs.backup;
    let newer = match view.catalog.backups.iter().max_by_key(|x| x.stop_lsn) {
        Some(n) if n.id != b.id => format!(
            "; the newest backup, {}, ends after the chosen instant",
            n.id
        ),
        _ => String::new(),
    };
    record.set(
        "backup_located",
        ItemStatus::Passed,
        format!(
            "{} ({:?}, consistent {} at {}){newer}",
            b.id,
            b.format,
            req.zone.format(b.stop_time),
            b.stop_lsn
        ),
    );
    let mut scratch = req.restore_to.clone().into_os_string();
    scratch.push(".verify-backup");
    let (status, detail) = drill_checks::verify_backup(b, &inputs, Path::new(&scratch));
    record.set("backup_verified", status, detail);
    record.rpo = view
        .index
        .as_deref()
        .and_then(|index| drill::rpo(index, &req.target));
    record.add_time(PhaseId::Preparation, started, Utc::now());
    let stop = (status == ItemStatus::Failed)
        .then(|| "the backup failed verification; the drill stops before restoring it".to_string());
    Ok(DrillPrep {
        record,
        inputs,
        notes: prepared.notes,
        stop,
    })
}

/// After the run: its journal's results and times, then the smoke command (timed as
/// verification) when the side instance was promoted.
pub fn verify(
    record: &mut DrillRecord,
    journal: &JournalState,
    inputs: &RecoveryInputs,
    smoke: Option<&str>,
) {
    record.apply_journal(journal);
    let promoted = matches!(journal.ended, Some(crate::engine::RunStatus::Promoted));
    let RestoreMode::Side { dir, port } = &inputs.mode else {
        return;
    };
    if !promoted {
        let ended = journal
            .ended
            .as_ref()
            .map_or("did not end (stopped or failed mid-run)".to_string(), |s| {
                format!("ended {s}")
            });
        record.problems.push(format!(
            "the side restore {ended}, not promoted; the smoke command did not run"
        ));
        return;
    }
    let from = Utc::now();
    match smoke {
        Some(cmd) => {
            let (s, d) = drill_checks::smoke(cmd, inputs, dir, *port);
            record.set("smoke", s, d);
        }
        None => record.set(
            "smoke",
            ItemStatus::Skipped,
            "no drill_smoke command configured",
        ),
    }
    record.add_time(PhaseId::Verification, from, Utc::now());
}

/// Sign-off and the end of the drill; the record and the report written beside the journal
/// (when there is one). Returns the Markdown report's path.
pub fn conclude(
    record: &mut DrillRecord,
    journal: Option<&Path>,
    performed_by: Option<String>,
    verified_by: Option<String>,
    zone: &Zone,
) -> Result<Option<PathBuf>, String> {
    let now = Utc::now();
    record.sign(performed_by, verified_by, now);
    record.finish(now);
    let Some(journal) = journal else {
        return Ok(None);
    };
    let path = DrillRecord::path_for(journal);
    record
        .save(&path)
        .map_err(|e| format!("cannot write the drill record {}: {e}", path.display()))?;
    let report = crate::report::load(journal)?;
    let (md, _) = crate::report::write(&report, zone)
        .map_err(|e| format!("cannot write the report beside {}: {e}", journal.display()))?;
    Ok(Some(md))
}
