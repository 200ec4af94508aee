//! `abandon` and `rollback`: what to do with a run that holds its server.
//! - `abandon JOURNAL` gives a run up: nothing on disk is touched, the server is freed for a
//!   new run, and the operator is told where everything is.
//! - `rollback JOURNAL` puts the original back after a promotion.

use super::exit::Failure;
use super::recover::{engine_failure, run_to_end, Action};
use crate::adapters::ssh::SshPool;
use crate::config::{Config, Role};
use crate::engine::journal::{Body, Journal, JournalState};
use crate::engine::lock::{self, ServerLock};
use crate::engine::recovery::{self, RecoveryInputs};
use crate::engine::state_dir;
use crate::engine::steps::Recovery;
use crate::engine::RunStatus;
use crate::planning::run_request;
use std::path::{Path, PathBuf};

pub fn abandon(config: Option<&Config>, journal: &Path) -> Result<(), Failure> {
    let state = JournalState::read(journal).map_err(Failure::bad_input)?;
    let inputs = inputs_of(&state, journal)?;
    if let Some(status) = &state.ended {
        return Err(Failure::bad_input(format!(
            "run {} already ended ({status:?}): it holds nothing to abandon",
            state.run_id
        )));
    }
    let dir = state_dir::current().map_err(Failure::bad_input)?;
    let ports = run_request::ports(config, &state.server, &SshPool::new());
    let key = recovery::run_key(&inputs, &ports);
    // Taking the lock proves no process drives the run right now.
    let held = ServerLock::acquire(&dir, &key, &state.run_id).map_err(Failure::refused)?;
    Journal::reopen(&state)
        .and_then(|mut j| {
            j.write(Body::Note {
                index: None,
                text: "abandoned by the operator (`pitr-console abandon`): nothing was touched; the server is free for a new run".into(),
            })?;
            j.write(Body::End {
                status: RunStatus::Aborted {
                    step: Some("abandoned".into()),
                },
            })
        })
        .map_err(Failure::step_failed)?;
    held.release_run().map_err(Failure::step_failed)?;
    let mut text = format!(
        "Run {} on server {} abandoned; nothing on disk was changed. Journal: {}",
        state.run_id,
        state.server,
        journal.display()
    );
    let places = whereabouts(&inputs, &state.run_id);
    if places.is_empty() {
        text.push_str("\nNone of the run's directories exist.");
    }
    for p in places {
        text.push_str(&format!("\n  {p}"));
    }
    text.push_str(&format!(
        "\nLeft for you to check: whether a server runs in {} and on which data.",
        inputs.server.pgdata.display()
    ));
    println!("{text}");
    Ok(())
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

/// Each place the run left something, with what it holds.
pub fn whereabouts(inputs: &RecoveryInputs, run_id: &str) -> Vec<String> {
    let r = Recovery::new(inputs.clone(), run_id.to_string());
    let mut out = Vec::new();
    let mut say = |path: &Path, what: &str| {
        if path.exists() {
            out.push(format!("{}: {what}", path.display()));
        }
    };
    if r.side() {
        say(r.data_dir(), "the side instance's restored data");
    } else {
        say(
            &r.aside_dir(),
            "the original data directory, as it was before the run",
        );
        say(
            r.pgdata(),
            "the server's data directory (the restored data while the original is aside)",
        );
    }
    say(
        &r.restored_aside(),
        "restored data put out of the way by a roll back",
    );
    say(&r.log_file(), "the recovered server's log");
    let dumps: Vec<PathBuf> = std::fs::read_dir(&inputs.safety_dump_dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let n = p.file_name().unwrap_or_default().to_string_lossy();
                    n.contains(run_id) && !n.ends_with(".sha256")
                })
                .collect()
        })
        .unwrap_or_default();
    for d in dumps {
        out.push(format!("{}: safety dump", d.display()));
    }
    out
}
