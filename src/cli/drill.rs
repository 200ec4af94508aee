//! `pitr-console drill`: the monthly restore drill, headless. Preparation (backup located and
//! verified, expected counts), recovery (a side restore run by the engine, promoted on the
//! side instance), verification (checks, counts, the smoke command), sign-off; every phase
//! timed. The drill record and the report are written beside the run's journal.

use super::context::Context;
use super::exit::Failure;
use super::plan::journal_dir;
use super::recover::{engine_failure, run_to_end, Action};
use super::target_args::TargetArgs;
use crate::adapters::catalog::load_view;
use crate::adapters::drill_checks;
use crate::adapters::fs::local_ports;
use crate::engine::drill::{self, human_ms, Checklist, DrillRecord, ItemStatus, PhaseId};
use crate::engine::journal::JournalState;
use crate::engine::prepare::{self, enforce_role, find_server, Request};
use crate::engine::recovery::{self, FinalAction, RestoreMode};
use crate::engine::RunStatus;
use chrono::Utc;
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// The configured server whose backups are drilled (production is not touched).
    #[arg(long)]
    pub server: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// New directory for the side instance.
    #[arg(long, value_name = "DIR")]
    pub restore_to: PathBuf,
    /// Port of the side instance.
    #[arg(long)]
    pub port: u16,
    /// Who performed the drill (sign-off).
    #[arg(long, value_name = "NAME")]
    pub performed_by: Option<String>,
    /// Who verified it (sign-off).
    #[arg(long, value_name = "NAME")]
    pub verified_by: Option<String>,
    /// Stands for typing the server's name, should a step ask for it.
    #[arg(long)]
    pub yes: bool,
}

pub fn run(ctx: &Context, args: DrillArgs) -> Result<(), Failure> {
    let jdir = journal_dir(ctx)?;
    let mode = RestoreMode::Side {
        dir: args.restore_to.clone(),
        port: args.port,
    };
    let target = args.target.target(ctx.zone)?;
    let server = find_server(&ctx.config, &args.server)?;
    enforce_role(ctx.role, &mode, &args.server, &target, &jdir)?;
    let checklist =
        Checklist::load(ctx.config.drill_checklist.as_deref()).map_err(Failure::bad_input)?;
    let started = Utc::now();
    let clock = Instant::now();
    let mut record = DrillRecord::new(&checklist, &args.server, &target.to_string(), started);

    println!("Drill of server {}: {}", args.server, checklist.title);
    println!("Preparation");
    let repo = ctx
        .config
        .repositories
        .iter()
        .find(|r| r.name == server.repository)
        .ok_or_else(|| {
            Failure::bad_input(format!(
                "server `{}` names repository `{}`, which is not configured",
                server.name, server.repository
            ))
        })?;
    let view = load_view(repo, ctx.index_dir().as_deref()).map_err(Failure::bad_input)?;
    let prepared = prepare::prepare(&Request {
        config: &ctx.config,
        server: &args.server,
        view: &view,
        target: target.clone(),
        mode: mode.clone(),
        action: FinalAction::Promote,
        role: ctx.role,
        journal_dir: jdir,
        zone: ctx.zone,
    })?;
    let inputs = prepared.inputs;
    let b = &inputs.backup;
    let newest = view.catalog.backups.iter().max_by_key(|x| x.stop_lsn);
    let newer = match newest {
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
            ctx.zone.format(b.stop_time),
            b.stop_lsn
        ),
    );
    say(&record, "backup_located");
    let mut scratch = args.restore_to.clone().into_os_string();
    scratch.push(".verify-backup");
    let (status, detail) = drill_checks::verify_backup(b, &inputs, &PathBuf::from(scratch));
    record.set("backup_verified", status, detail);
    say(&record, "backup_verified");
    record.rpo = view
        .index
        .as_deref()
        .and_then(|index| drill::rpo(index, &target));
    let prep_end = Utc::now();
    record.add_time(
        PhaseId::Preparation,
        started,
        prep_end,
        clock.elapsed().as_millis() as u64,
    );
    if record.item("backup_verified").map(|i| i.status) == Some(ItemStatus::Failed) {
        return finish(
            ctx,
            record,
            None,
            &args,
            "the backup failed verification; the drill stops before restoring it",
        );
    }

    println!(
        "Recovery (a side restore into {})",
        args.restore_to.display()
    );
    let plan = recovery::plan(&inputs);
    let confirmation = args.yes.then(|| inputs.server.name.clone());
    let started_run = recovery::start(plan, local_ports(), confirmation).map_err(engine_failure)?;
    let (status, journal) = run_to_end(started_run, Action::Promote)?;
    let state = JournalState::read(&journal).map_err(Failure::step_failed)?;
    record.apply_journal(&state);
    if status != RunStatus::Promoted {
        return finish(
            ctx,
            record,
            Some(journal),
            &args,
            &format!("the side restore ended {status:?}"),
        );
    }

    println!("Verification");
    let v_start = Utc::now();
    let v_clock = Instant::now();
    match &ctx.config.drill_smoke {
        Some(cmd) => {
            let (s, d) = drill_checks::smoke(cmd, &inputs, &args.restore_to, args.port);
            record.set("smoke", s, d);
        }
        None => record.set(
            "smoke",
            ItemStatus::Skipped,
            "no drill_smoke command configured",
        ),
    }
    record.add_time(
        PhaseId::Verification,
        v_start,
        Utc::now(),
        v_clock.elapsed().as_millis() as u64,
    );
    for id in ["checks", "row_counts", "smoke"] {
        say(&record, id);
    }
    finish(ctx, record, Some(journal), &args, "")
}

fn say(record: &DrillRecord, id: &str) {
    if let Some(i) = record.item(id) {
        println!("  {} {}: {}", i.status.mark(), i.text, i.detail);
    }
}

/// Sign-off, the record and the report; the exit code says whether the drill passed.
fn finish(
    ctx: &Context,
    mut record: DrillRecord,
    journal: Option<PathBuf>,
    args: &DrillArgs,
    stopped: &str,
) -> Result<(), Failure> {
    record.sign(
        args.performed_by.clone(),
        args.verified_by.clone(),
        Utc::now(),
    );
    if !stopped.is_empty() {
        record.problems.push(stopped.to_string());
    }
    record.finish(Utc::now());
    println!("Sign-off");
    say(&record, "performed_by");
    say(&record, "verified_by");
    for p in record.phases.iter().filter(|p| p.id.timed()) {
        println!(
            "  {:<14} {}",
            p.title,
            p.duration_ms.map_or("not timed".into(), human_ms)
        );
    }
    println!(
        "  {:<14} {}",
        "RTO total",
        record.rto_ms.map_or("not measured".into(), human_ms)
    );
    match &record.rpo {
        Some(r) => println!(
            "  {:<14} {} (to the newest archived commit, {})",
            "RPO",
            human_ms((r.seconds * 1000.0).round() as u64),
            ctx.zone.format(r.newest_commit)
        ),
        None => println!("  {:<14} not measured", "RPO"),
    }
    let Some(journal) = journal else {
        return Err(Failure::step_failed(format!(
            "{stopped}; nothing was restored. Problems: {}",
            record.problems.join("; ")
        )));
    };
    let path = DrillRecord::path_for(&journal);
    record.save(&path).map_err(|e| {
        Failure::step_failed(format!(
            "cannot write the drill record {}: {e}",
            path.display()
        ))
    })?;
    let report = crate::report::load(&journal).map_err(Failure::step_failed)?;
    let (md, js) = crate::report::write(&report, &ctx.zone).map_err(|e| {
        Failure::step_failed(format!(
            "cannot write the report beside {}: {e}",
            journal.display()
        ))
    })?;
    println!("Report: {} (and {})", md.display(), js.display());
    println!(
        "The side instance stays up for inspection: stop it with `pg_ctl -D {} stop`",
        args.restore_to.display()
    );
    let failed = record
        .phases
        .iter()
        .flat_map(|p| &p.items)
        .any(|i| i.status == ItemStatus::Failed);
    if !stopped.is_empty() || failed {
        return Err(Failure::step_failed(format!(
            "the drill found problems: {}. Report: {}",
            record.problems.join("; "),
            md.display()
        )));
    }
    Ok(())
}
