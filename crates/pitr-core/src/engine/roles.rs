//! What each role may run. The engine enforces it at `recovery::start` and `resume`, so no
//! driver (TUI, CLI, a future one) can get around it; planning checks it earlier to refuse
//! before reading anything.

use super::inputs::{new_run_id, RestoreMode};
use super::journal::{Body, Journal, JournalError};
use super::state_dir::StateDir;
use crate::domain::role::Role;
use std::path::{Path, PathBuf};

/// Whether `role` may run a recovery in `mode` on `server`; the message says what would work.
pub fn role_permits(role: Role, mode: &RestoreMode, server: &str) -> Result<(), String> {
    match (role, mode) {
        (Role::Operator, _) | (Role::Drill, RestoreMode::Side { .. }) => Ok(()),
        (Role::Trainee, _) => Err(format!(
            "refused by role trainee: a trainee may explore and plan (`pitr-console plan --server {server} ...`), never change anything"
        )),
        (Role::Drill, RestoreMode::InPlace) => Err(format!(
            "refused by role drill: a drill restores beside production only; add --restore-to DIR --port N to restore server {server} on a side instance"
        )),
    }
}

/// Writes a journal whose run was refused by role before anything was touched: the run
/// header and its end, so `journal show` reads it and `resume` knows it is over.
pub fn journal_role_refusal(
    journal_dir: &Path,
    server: &str,
    target: &str,
    role: Role,
    reason: &str,
) -> Result<PathBuf, JournalError> {
    let run_id = new_run_id();
    let mut j = Journal::create(journal_dir, server, &run_id)?;
    j.write(Body::Run {
        run_id,
        server: server.to_string(),
        target: target.to_string(),
        checksum: String::new(),
        steps: Vec::new(),
        inputs: serde_json::json!({ "refused_by_role": role }),
    })?;
    j.write(Body::End {
        status: super::event::RunStatus::Refused {
            reason: reason.to_string(),
        },
    })?;
    Ok(j.path().to_path_buf())
}

/// The console's own log of refusals, `<state dir>/refusals`: a refusal to act on someone
/// else's journal (resume, roll back) is journaled here, never appended to that journal.
pub fn refusal_log(state: &StateDir) -> PathBuf {
    state.path().join("refusals")
}

/// Journals, in the console's own log, that `role` was refused acting on `journal`.
pub fn log_refusal(
    state: &StateDir,
    journal: &Path,
    server: &str,
    target: &str,
    role: Role,
    reason: &str,
) -> Result<PathBuf, JournalError> {
    journal_role_refusal(
        &refusal_log(state),
        server,
        target,
        role,
        &format!("{reason} (asked for {})", journal.display()),
    )
}
