//! The PITR run of DESIGN.md as a plan, built from plain inputs. The caller (config and
//! catalog glue) has already chosen the backup and checked that the target is reachable.

use super::journal::JournalState;
use super::lock::ServerKey;
use super::plan::Plan;
use super::ports::Ports;
use super::roles::{journal_role_refusal, log_refusal, refusal_log, role_permits};
use super::runner::{EngineError, ResumeAction, RunHandle, RunOptions, Runner};
use super::state_dir::{self, StateDir};
use super::step::Step;
use super::steps::{self, tool_restore::ToolRestore, Recovery};
use crate::domain::backup::Backup;
use crate::domain::control::Service;
use crate::domain::role::Role;
use crate::domain::target::RecoveryTarget;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSpec {
    pub name: String,
    pub pgdata: PathBuf,
    pub bin_dir: PathBuf,
    pub port: u16,
    /// OS user owning the cluster; server-side commands run as this user.
    pub run_as: Option<String>,
    /// key=value connection string to the server's database (the one dumped and counted).
    pub dsn: String,
    /// Unix socket directory passed to the server at start (`-k`), when not left to its config.
    pub socket_dir: Option<PathBuf>,
    /// What stops and starts production (pg_ctl, pg_ctlcluster, a systemd unit).
    #[serde(default, skip_serializing_if = "is_pg_ctl")]
    pub service: Service,
    /// postgresql.conf when it lives outside pgdata (Debian's /etc/postgresql/V/N): the
    /// restored server starts with it, a side instance with its own overrides on top.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_file: Option<PathBuf>,
    /// Set when the server is a Patroni member (control = patroni).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patroni: Option<PatroniSpec>,
}

fn is_pg_ctl(s: &Service) -> bool {
    *s == Service::PgCtl
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatroniSpec {
    /// The REST API of this server's own Patroni (`patroni_url`).
    pub url: String,
    /// The operator already agreed to recover the cluster's leader (headless runs); else the
    /// run asks when the node turns out to be the leader.
    #[serde(default)]
    pub confirm_leader: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSpec {
    pub name: String,
    pub stop: String,
    pub start: String,
    /// Succeeds while the application runs.
    pub check: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSpec {
    pub name: String,
    /// Must return a single true value.
    pub sql: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum RestoreMode {
    /// Into the server's pgdata; the original is moved aside.
    InPlace,
    /// A new instance in `dir` on `port`; production is not touched.
    Side { dir: PathBuf, port: u16 },
}

/// What happens once paused at the target and verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalAction {
    /// Ask the operator: promote or roll back.
    Pause,
    /// Promote without asking (headless `--action promote`) when verification passed.
    Promote,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeColumn {
    /// As written in SQL, e.g. `public.orders`.
    pub table: String,
    pub column: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryInputs {
    pub server: ServerSpec,
    pub backup: Backup,
    /// `restore_command` for the repository (with %f and %p).
    pub restore_command: String,
    pub target: RecoveryTarget,
    pub action: FinalAction,
    pub mode: RestoreMode,
    pub apps: Vec<AppSpec>,
    pub checks: Vec<CheckSpec>,
    pub safety_dump_dir: PathBuf,
    pub journal_dir: PathBuf,
    pub time_column: Option<TimeColumn>,
    /// Longest wait for replay to reach the target.
    pub replay_timeout_secs: u64,
    /// Replay that has not moved for this long is reported (with the server log's tail and
    /// the choices) instead of waited on in silence.
    #[serde(default = "default_stall_secs")]
    pub replay_stall_secs: u64,
    /// Who asked for the run; `start` refuses what the role forbids.
    #[serde(default)]
    pub role: Role,
    /// For backups a tool holds (`BackupFormat::Tool`): the tool's restore commands.
    #[serde(default)]
    pub tool_restore: Option<ToolRestore>,
    /// In place onto a new host: pgdata is missing or empty, so there is nothing to
    /// snapshot, dump, stop or move aside.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_host: bool,
    /// When `backup` is incremental (17+): the backups it was taken on, the full one first.
    /// The restore combines them with it (pg_combinebackup) instead of copying it.
    #[serde(default)]
    pub chain: Vec<Backup>,
    /// The major version the archive's WAL pages were written by (their page magic), when
    /// the archive was read; checked against the backup and the binaries before anything runs.
    #[serde(default)]
    pub wal_version: Option<u8>,
    /// The timeline the target was resolved on; the settings pin it.
    #[serde(default)]
    pub timeline: Option<crate::domain::timeline::TimelineId>,
    /// What replay will reach, when the WAL index can tell; verification checks it.
    #[serde(default)]
    pub prediction: Option<crate::domain::prediction::Prediction>,
    /// How preflight treats the backup's verification.
    #[serde(default)]
    pub backup_check: BackupCheck,
    /// WAL staged ahead of replay into the run's spool, when the repository allows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_spool: Option<crate::domain::wal_spool::WalSpool>,
}

/// Replay stalls are reported after a minute by default (`replay_stall_secs`).
pub const DEFAULT_STALL_SECS: u64 = 60;

fn default_stall_secs() -> u64 {
    DEFAULT_STALL_SECS
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupCheck {
    /// The operator accepted a backup without a manifest (`--allow-unverified-backup`).
    #[serde(default)]
    pub allow_unverified: bool,
    /// Other backups that also reach the target, newest first: named when this one is refused.
    #[serde(default)]
    pub alternatives: Vec<String>,
}

/// A fresh run id: UTC time plus a few random hex digits, safe in file names.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now();
    let seed = format!(
        "{}{}",
        now.timestamp_nanos_opt().unwrap_or_default(),
        std::process::id()
    );
    let h = super::journal::sha256_hex(seed.as_bytes());
    format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), &h[..4])
}

/// The plan for a new run (the dry run is `plan.render()`).
pub fn plan(inputs: &RecoveryInputs) -> Plan {
    build_plan(inputs, &new_run_id())
}

/// The plan for `run_id`; the same inputs and run id always give the same checksum.
pub fn build_plan(inputs: &RecoveryInputs, run_id: &str) -> Plan {
    let r = Arc::new(Recovery::new(inputs.clone(), run_id.to_string()));
    let side = matches!(inputs.mode, RestoreMode::Side { .. });
    let new_host = inputs.new_host && !side;
    let mut list: Vec<Box<dyn Step>> = vec![Box::new(steps::preflight::Preflight(r.clone()))];
    if !new_host {
        list.push(Box::new(steps::snapshot::Snapshot(r.clone())));
    }
    if !side {
        list.push(Box::new(steps::apps::StopApps(r.clone())));
        list.push(Box::new(steps::patroni::Patroni(r.clone())));
    }
    if !side && !new_host {
        list.push(Box::new(steps::dump::SafetyDump(r.clone())));
        list.push(Box::new(steps::server::StopServer(r.clone())));
        list.push(Box::new(steps::data_dir::MoveAside(r.clone())));
    }
    if inputs.wal_spool.is_some() {
        list.push(Box::new(steps::spool::StageWal(r.clone())));
    }
    list.push(Box::new(steps::data_dir::Restore(r.clone())));
    list.push(Box::new(steps::config::WriteConfig(r.clone())));
    list.push(Box::new(steps::server::StartRecovered(r.clone())));
    list.push(Box::new(steps::replay::Replay(r.clone())));
    list.push(Box::new(steps::verify::Verify(r.clone())));
    list.push(Box::new(steps::decide::Decide(r.clone())));
    list.push(Box::new(steps::decide::Promote(r.clone())));
    if !side {
        if inputs.server.patroni.is_some() {
            list.push(Box::new(steps::patroni::Rejoin(r.clone())));
        }
        list.push(Box::new(steps::apps::StartApps(r.clone())));
    }
    list.push(Box::new(steps::summary::Summary(r.clone())));
    let inputs_json = serde_json::to_value(inputs).unwrap_or_default();
    Plan::new(
        run_id.to_string(),
        inputs.server.name.clone(),
        inputs.target.to_string(),
        inputs_json,
        list,
    )
}

/// Starts a new run of `plan` (built by `plan()` from these inputs). A role that forbids
/// the run is refused here, journaled, before anything is touched.
pub fn start(
    plan: Plan,
    ports: Ports,
    confirmation: Option<String>,
) -> Result<(Runner, RunHandle), EngineError> {
    let inputs: RecoveryInputs = serde_json::from_value(plan.inputs.clone())
        .map_err(|e| EngineError::Inputs(format!("plan inputs unreadable: {e}")))?;
    if let Err(message) = role_permits(inputs.role, &inputs.mode, &inputs.server.name) {
        let journal = open_state_dir().ok().and_then(|state| {
            journal_role_refusal(
                &refusal_log(&state),
                &plan.server,
                &plan.target,
                inputs.role,
                &message,
            )
            .ok()
        });
        return Err(EngineError::RefusedByRole { message, journal });
    }
    let opts = RunOptions {
        journal_dir: inputs.journal_dir.clone(),
        confirmation,
        state_dir: open_state_dir()?,
        key: run_key(&inputs, &ports),
        action: None,
    };
    Runner::start(plan, ports, opts)
}

/// What a run holds: the data directory it writes, on the host its commands reach. In
/// place that is production's; a side restore holds only its own directory, so several side
/// restores at different instants and the in-place run they inform can go on together
/// (production is touched by the in-place run alone).
pub fn run_key(inputs: &RecoveryInputs, ports: &Ports) -> ServerKey {
    ServerKey {
        server: inputs.server.name.clone(),
        host: ports
            .commands
            .host()
            .unwrap_or_else(super::journal::host_name),
        pgdata: match &inputs.mode {
            RestoreMode::InPlace => inputs.server.pgdata.clone(),
            RestoreMode::Side { dir, .. } => dir.clone(),
        },
    }
}

fn open_state_dir() -> Result<StateDir, EngineError> {
    state_dir::current().map_err(|e| EngineError::Lock(e.into()))
}

/// Resumes the run journaled at `journal` for someone acting as `role`: the plan is rebuilt
/// from the inputs stored in the journal's header and must have the same checksum.
pub fn resume(
    journal: &Path,
    ports: Ports,
    confirmation: Option<String>,
    role: Role,
    action: Option<ResumeAction>,
) -> Result<(Runner, RunHandle), EngineError> {
    resume_with(journal, None, ports, confirmation, role, action)
}

/// Like `resume`, with the inputs rebuilt from the trusted configuration (and checked
/// against the journal by `planning::resume_check`): the journal's own copy is redacted and
/// only repeats them. The plan built from them must still have the journaled checksum.
pub fn resume_with(
    journal: &Path,
    trusted: Option<RecoveryInputs>,
    ports: Ports,
    confirmation: Option<String>,
    role: Role,
    action: Option<ResumeAction>,
) -> Result<(Runner, RunHandle), EngineError> {
    let state = JournalState::read(journal)?;
    state.require_intact()?;
    let inputs: RecoveryInputs = match trusted {
        Some(t) => t,
        None => serde_json::from_value(state.inputs.clone()).map_err(|e| {
            EngineError::Inputs(format!(
                "journal {} holds no readable recovery inputs: {e}",
                journal.display()
            ))
        })?,
    };
    let state_dir = open_state_dir()?;
    let key = run_key(&inputs, &ports);
    if let Err(message) = role_permits(role, &inputs.mode, &inputs.server.name) {
        let logged = log_refusal(
            &state_dir,
            journal,
            &inputs.server.name,
            &state.target,
            role,
            &message,
        );
        return Err(EngineError::RefusedByRole {
            journal: logged.ok(),
            message,
        });
    }
    let plan = build_plan(&inputs, &state.run_id);
    let journal_dir = journal
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| inputs.journal_dir.clone());
    Runner::resume(
        plan,
        state,
        ports,
        RunOptions {
            journal_dir,
            confirmation,
            state_dir,
            key,
            action,
        },
    )
}

/// Puts the original back after the run was promoted: the promoted server is stopped and
/// its directory kept aside (it holds every write made since the promotion), the original
/// data directory moved back and started as it ran. The journal's undo steps, in reverse.
/// `trusted`: the inputs rebuilt from the configuration (`planning::resume_check`), run
/// instead of the journal's own copy, as `resume_with` does.
pub fn roll_back_promoted(
    journal: &Path,
    trusted: RecoveryInputs,
    ports: Ports,
    confirmation: Option<String>,
    role: Role,
) -> Result<(Runner, RunHandle), EngineError> {
    let mut state = JournalState::read(journal)?;
    state.require_intact()?;
    let inputs = trusted;
    match &state.ended {
        Some(super::event::RunStatus::Promoted) => state.ended = None,
        None if state.rolling_back => {}
        None => {
            return Err(EngineError::Inputs(format!(
                "run {} has not been promoted: roll it back with `pitr-console resume {} --action roll-back --yes`",
                state.run_id,
                journal.display()
            )))
        }
        Some(status) => {
            return Err(EngineError::AlreadyEnded {
                run_id: state.run_id.clone(),
                status: status.clone(),
            })
        }
    }
    let state_dir = open_state_dir()?;
    if let Err(message) = role_permits(role, &inputs.mode, &inputs.server.name) {
        let logged = log_refusal(
            &state_dir,
            journal,
            &inputs.server.name,
            &state.target,
            role,
            &message,
        );
        return Err(EngineError::RefusedByRole {
            journal: logged.ok(),
            message,
        });
    }
    let plan = build_plan(&inputs, &state.run_id);
    let key = run_key(&inputs, &ports);
    let journal_dir = journal
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| inputs.journal_dir.clone());
    Runner::resume(
        plan,
        state,
        ports,
        RunOptions {
            journal_dir,
            confirmation,
            state_dir,
            key,
            action: Some(ResumeAction::RollBack),
        },
    )
}
