//! The PITR run of DESIGN.md as a plan, built from plain inputs. The caller (config and
//! catalog glue) has already chosen the backup and checked that the target is reachable.

pub use super::inputs::*;
use super::journal::JournalState;
use super::lock::ServerKey;
use super::plan::Plan;
use super::ports::Ports;
use super::roles::{journal_role_refusal, log_refusal, refusal_log, role_permits};
use super::runner::{EngineError, ResumeAction, RunHandle, RunOptions, Runner};
use super::state_dir::{self, StateDir};
use super::step::Step;
use super::steps::{self, Recovery};
use crate::domain::role::Role;
use std::path::Path;
use std::sync::Arc;

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
    if let Err(refusal) = role_permits(inputs.role, &inputs.mode, &inputs.server.name) {
        let message = refusal.to_string();
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

/// Resumes the run journaled at `journal` for someone acting as `role`, with the inputs
/// rebuilt from the trusted configuration (and checked against the journal by
/// `planning::resume_check`): the journal's own copy is redacted and only repeats them, so
/// no command is ever taken from a journal. The plan built from them must still have the
/// journaled checksum.
pub fn resume(
    journal: &Path,
    trusted: RecoveryInputs,
    ports: Ports,
    confirmation: Option<String>,
    role: Role,
    action: Option<ResumeAction>,
) -> Result<(Runner, RunHandle), EngineError> {
    let state = JournalState::read(journal)?;
    state.require_intact()?;
    let inputs = trusted;
    let state_dir = open_state_dir()?;
    let key = run_key(&inputs, &ports);
    refuse_unless_permitted(&state_dir, journal, &inputs, &state.target, role)?;
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
/// instead of the journal's own copy, as `resume` does.
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
    refuse_unless_permitted(&state_dir, journal, &inputs, &state.target, role)?;
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

/// A role that may not act on this journal's run is refused, and the refusal logged in the
/// console's own refusals (never in that journal).
fn refuse_unless_permitted(
    state_dir: &StateDir,
    journal: &Path,
    inputs: &RecoveryInputs,
    target: &str,
    role: Role,
) -> Result<(), EngineError> {
    let Err(refusal) = role_permits(role, &inputs.mode, &inputs.server.name) else {
        return Ok(());
    };
    let message = refusal.to_string();
    let logged = log_refusal(
        state_dir,
        journal,
        &inputs.server.name,
        target,
        role,
        &message,
    );
    Err(EngineError::RefusedByRole {
        journal: logged.ok(),
        message,
    })
}
