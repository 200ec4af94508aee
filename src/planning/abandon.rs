//! Giving up a run that holds its server (`pitr-console abandon`, and `a` in the console's
//! unfinished-run box): nothing on disk is touched, the journal records the end, the server
//! is freed, and the operator is told where everything is.

use crate::adapters::ssh::SshPool;
use crate::config::Config;
use crate::engine::journal::{Body, Journal, JournalState};
use crate::engine::lock::ServerLock;
use crate::engine::recovery::{self, RecoveryInputs};
use crate::engine::state_dir;
use crate::engine::steps::Recovery;
use crate::engine::RunStatus;
use crate::planning::run_request;
use std::path::{Path, PathBuf};

/// Why a run was not abandoned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The journal is unreadable, not a run's, or the run already ended.
    BadInput(String),
    /// A process drives the run right now (its lock is held).
    Held(String),
    /// Writing the journal or releasing the lock failed.
    Failed(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::BadInput(e) | Refusal::Held(e) | Refusal::Failed(e) => f.write_str(e),
        }
    }
}

/// Abandons the run of `journal`; what was done and where everything is, in words.
pub fn abandon(config: Option<&Config>, journal: &Path) -> Result<String, Refusal> {
    let state = JournalState::read(journal).map_err(|e| Refusal::BadInput(e.to_string()))?;
    let inputs: RecoveryInputs = serde_json::from_value(state.inputs.clone()).map_err(|e| {
        Refusal::BadInput(format!(
            "{} is not the journal of a recovery run ({e})",
            journal.display()
        ))
    })?;
    if let Some(status) = &state.ended {
        return Err(Refusal::BadInput(format!(
            "run {} already ended ({status}): it holds nothing to abandon",
            state.run_id
        )));
    }
    let dir = state_dir::current().map_err(|e| Refusal::BadInput(e.to_string()))?;
    let ports = run_request::ports(config, &state.server, &SshPool::new());
    let key = recovery::run_key(&inputs, &ports);
    // Taking the lock proves no process drives the run right now.
    let held =
        ServerLock::acquire(&dir, &key, &state.run_id).map_err(|e| Refusal::Held(e.to_string()))?;
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
        .map_err(|e| Refusal::Failed(e.to_string()))?;
    held.release_run()
        .map_err(|e| Refusal::Failed(e.to_string()))?;
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
    Ok(text)
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
