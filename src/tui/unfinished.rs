//! The runs this host left unfinished, for the console's banner: the state directory's
//! records, each with its journal's state in words.

use crate::app::unfinished::{RunAction, UnfinishedBanner};
use crate::app::Msg;
use crate::engine::journal::{JournalState, Pending};
use crate::engine::{lock, state_dir};

/// Every unfinished run recorded here, oldest first; none when the state directory is
/// unknown or unreadable (the console then says nothing, as before).
pub fn list() -> Vec<UnfinishedBanner> {
    let Ok(state) = state_dir::current() else {
        return Vec::new();
    };
    let mut runs: Vec<UnfinishedBanner> = lock::all_unfinished(&state)
        .into_iter()
        .map(|(_, run)| UnfinishedBanner {
            state: state_words(&run.journal),
            run_id: run.run_id,
            server: run.server,
            journal: run.journal,
            since: run.since,
        })
        .collect();
    runs.sort_by_key(|r| r.since);
    runs
}

fn state_words(journal: &std::path::Path) -> String {
    let state = match JournalState::read(journal) {
        Ok(s) => s,
        Err(e) => return format!("journal unreadable ({e})"),
    };
    match &state.pending {
        Some(Pending::Dirty { index, .. }) => {
            format!("interrupted during step {}", index + 1)
        }
        Some(Pending::Failed { index, error, .. }) => {
            format!("failed at step {}: {error}", index + 1)
        }
        None if state.ended.is_some() => "stopped".to_string(),
        None => "paused".to_string(),
    }
}

/// Runs what the operator confirmed in the unfinished-run box, through the engine calls
/// `pitr-console resume` and `abandon` use; the outcome comes back as
/// `Msg::UnfinishedDone`.
pub fn act(
    config: &crate::config::Config,
    role: crate::config::Role,
    journal: std::path::PathBuf,
    action: RunAction,
    tx: &tokio::sync::mpsc::UnboundedSender<Msg>,
) {
    let (config, tx) = (config.clone(), tx.clone());
    tokio::spawn(async move {
        let result = match action {
            RunAction::Abandon => {
                let (c, j) = (config.clone(), journal.clone());
                tokio::task::spawn_blocking(move || {
                    crate::planning::abandon::abandon(Some(&c), &j).map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|e| Err(format!("abandoning stopped: {e}")))
            }
            _ => resume(&config, role, &journal, action).await,
        };
        let _ = tx.send(Msg::UnfinishedDone { journal, result });
    });
}

/// Resumes the run with what the key asked for at its decision; a step that stopped the
/// run is tried again once, and any other question stops it again, state left safe.
async fn resume(
    config: &crate::config::Config,
    role: crate::config::Role,
    journal: &std::path::Path,
    action: RunAction,
) -> Result<String, String> {
    use crate::engine::recovery::{self, RecoveryInputs};
    use crate::engine::{Decision, EngineEvent, Question, ResumeAction};
    let state = JournalState::read(journal).map_err(|e| e.to_string())?;
    let inputs: RecoveryInputs = serde_json::from_value(state.inputs.clone())
        .map_err(|e| format!("not the journal of a recovery run ({e})"))?;
    let rebuilt =
        crate::planning::resume_check::check(config, &inputs).map_err(|e| e.to_string())?;
    let ports = crate::planning::run_request::ports(
        Some(config),
        &state.server,
        &crate::adapters::ssh::SshPool::new(),
    );
    let given = match action {
        RunAction::Promote => ResumeAction::Promote,
        RunAction::RollBack => ResumeAction::RollBack,
        _ => ResumeAction::Pause,
    };
    let (runner, mut handle) = recovery::resume(
        journal,
        rebuilt,
        ports,
        Some(state.server.clone()),
        role,
        Some(given),
    )
    .map_err(|e| e.to_string())?;
    let task = tokio::spawn(runner.run());
    let mut any_step = false;
    while let Some(e) = handle.events.recv().await {
        let answer = match &e {
            EngineEvent::StepStarted { .. } => {
                any_step = true;
                None
            }
            EngineEvent::NeedsDecision { question, .. } => Some(match question {
                Question::PromoteOrRollBack => match action {
                    RunAction::Promote => Decision::Promote,
                    RunAction::RollBack => Decision::RollBack,
                    _ => Decision::Abort,
                },
                Question::ConfirmDestructive { .. } => Decision::Confirm(state.server.clone()),
                Question::DirtyStep { .. } | Question::FailedStep { .. } if !any_step => {
                    Decision::Retry
                }
                _ => Decision::Abort,
            }),
            EngineEvent::RunFinished { .. } => break,
            _ => None,
        };
        if let Some(d) = answer {
            if handle.decisions.send(d).is_err() {
                break;
            }
        }
    }
    let status = task
        .await
        .map_err(|e| format!("the run stopped unexpectedly: {e}"))?;
    let j = journal.display();
    Ok(match status {
        crate::engine::RunStatus::Promoted => format!("promoted; journal {j}"),
        crate::engine::RunStatus::RolledBack => {
            format!("rolled back: the original is back; journal {j}")
        }
        crate::engine::RunStatus::Completed => format!("every step done; journal {j}"),
        other => format!(
            "the run stopped again ({}); nothing was deleted; journal {j}",
            status_words(&other)
        ),
    })
}

fn status_words(s: &crate::engine::RunStatus) -> String {
    match s {
        crate::engine::RunStatus::Aborted { step: Some(step) } if step == "decide" => {
            "paused at its decision".into()
        }
        crate::engine::RunStatus::Aborted { step: Some(step) } => format!("stopped at {step}"),
        crate::engine::RunStatus::Aborted { step: None } => "stopped".into(),
        crate::engine::RunStatus::Refused { reason } => format!("refused: {reason}"),
        _ => "ended".into(),
    }
}
