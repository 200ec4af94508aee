//! `abandon` and `rollback`: what to do with a run that holds its server.
//! - `abandon JOURNAL` gives a run up: nothing on disk is touched, the server is freed for a
//!   new run, and the operator is told where everything is.
//! - `rollback JOURNAL` puts the original back after a promotion.

use super::exit::Failure;
use super::recover::{engine_failure, run_to_end, Action};
use crate::adapters::ssh::SshPool;
use crate::config::{Config, Role};
use crate::engine::journal::JournalState;
use crate::engine::lock;
use crate::engine::recovery::{self, RecoveryInputs};
use crate::engine::state_dir;
use crate::engine::steps::Recovery;
use crate::engine::RunStatus;
use crate::planning::run_request;
use std::path::Path;

pub fn abandon(config: Option<&Config>, journal: &Path) -> Result<(), Failure> {
    use crate::planning::abandon::Refusal;
    match crate::planning::abandon::abandon(config, journal) {
        Ok(text) => {
            println!("{text}");
            Ok(())
        }
        Err(Refusal::BadInput(e)) => Err(Failure::bad_input(e)),
        Err(Refusal::Held(e)) => Err(Failure::refused(e)),
        Err(Refusal::Failed(e)) => Err(Failure::step_failed(e)),
    }
}

/// The unfinished runs recorded on this host, for the refusal of `lab up`.
pub fn unfinished_under(dir: &Path) -> Result<Vec<lock::UnfinishedRun>, Failure> {
    let state = state_dir::current().map_err(Failure::bad_input)?;
    Ok(lock::all_unfinished(&state)
        .into_iter()
        .map(|(_, run)| run)
        .filter(|run| run.pgdata.starts_with(dir))
        .collect())
}

pub fn rollback(
    role: Role,
    config: Option<&Config>,
    journal: &Path,
    yes: bool,
) -> Result<(), Failure> {
    let state = JournalState::read(journal).map_err(Failure::bad_input)?;
    let inputs = inputs_of(&state, journal)?;
    let Some(trusted) = config else {
        return Err(Failure::bad_input(format!(
            "rollback rebuilds every command of run {} from the configuration, and none was found: give --config with the configuration the run started with",
            state.run_id
        )));
    };
    let rebuilt =
        crate::planning::resume_check::check(trusted, &inputs).map_err(Failure::bad_input)?;
    let ports = run_request::ports(config, &state.server, &SshPool::new());
    let started = recovery::roll_back_promoted(
        journal,
        rebuilt,
        ports,
        yes.then(|| state.server.clone()),
        role,
    )
    .map_err(engine_failure)?;
    let (status, journal) = run_to_end(started, Action::RollBack)?;
    let r = Recovery::new(inputs.clone(), state.run_id.clone());
    match status {
        RunStatus::RolledBack => {
            println!(
                "Rolled back after promotion: the original data is back in {} and runs as before.\nWARNING: {} holds the promoted server's data, with every write made after the promotion; it is kept, not deleted: copy what you need from it before removing it. Journal: {}",
                r.pgdata().display(),
                r.restored_aside().display(),
                journal.display()
            );
            Ok(())
        }
        other => Err(Failure::step_failed(format!(
            "the roll back stopped ({other:?}); nothing was deleted. Continue with `pitr-console rollback {}`",
            journal.display()
        ))),
    }
}

fn inputs_of(state: &JournalState, journal: &Path) -> Result<RecoveryInputs, Failure> {
    serde_json::from_value(state.inputs.clone()).map_err(|e| {
        Failure::bad_input(format!(
            "{} is not the journal of a recovery run ({e})",
            journal.display()
        ))
    })
}
