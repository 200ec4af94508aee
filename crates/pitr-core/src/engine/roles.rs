//! What each role may run. The engine enforces it at `recovery::start` and `resume`, so no
//! driver (TUI, CLI, a future one) can get around it; planning checks it earlier to refuse
//! before reading anything.

use super::inputs::{new_run_id, RestoreMode};
use super::journal::{Body, Journal, JournalError};
use super::state_dir::StateDir;
use crate::domain::role::Role;
use std::path::{Path, PathBuf};

/// Why a role may not run a recovery. Each front end words it for its own keys and flags;
/// `Display` is the journal's and the command line's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleRefusal {
    /// A trainee explores and plans, never changes anything.
    Trainee { server: String },
    /// A drill restores beside production only.
    DrillInPlace { server: String },
}

impl std::fmt::Display for RoleRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RoleRefusal::Trainee { server } => write!(
                f,
                "refused by role trainee: a trainee may explore and plan (`pitr-console plan --server {server} ...`), never change anything"
            ),
            RoleRefusal::DrillInPlace { server } => write!(
                f,
                "refused by role drill: a drill restores beside production only; add --restore-to DIR --port N to restore server {server} on a side instance"
            ),
        }
    }
}

/// Whether `role` may run a recovery in `mode` on `server`.
pub fn role_permits(role: Role, mode: &RestoreMode, server: &str) -> Result<(), RoleRefusal> {
    let server = server.to_string();
    match (role, mode) {
        (Role::Operator, _) | (Role::Drill, RestoreMode::Side { .. }) => Ok(()),
        (Role::Trainee, _) => Err(RoleRefusal::Trainee { server }),
        (Role::Drill, RestoreMode::InPlace) => Err(RoleRefusal::DrillInPlace { server }),
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
