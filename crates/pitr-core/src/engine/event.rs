//! What a run tells its driver (TUI or CLI), and what the driver answers.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Whether a step is being done or undone (a roll back undoes finished steps in reverse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Run,
    Undo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressUnit {
    /// Bytes copied or extracted.
    Bytes,
    /// Bytes of WAL replayed.
    WalBytes,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EngineEvent {
    RunStarted {
        run_id: String,
        server: String,
        journal: PathBuf,
        steps: usize,
        resumed: bool,
        /// The server's lock was last held by a process that died: who, said once here
        /// (and journaled) so the operator knows the run was taken over.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        taken_over: Option<String>,
    },
    StepStarted {
        index: usize,
        id: String,
        title: String,
        phase: Phase,
    },
    /// A line of a command's output, or a note the step makes.
    Output {
        index: usize,
        line: String,
    },
    Progress {
        index: usize,
        unit: ProgressUnit,
        done: u64,
        total: Option<u64>,
        /// Units per second over the step so far.
        rate: f64,
        eta_secs: Option<f64>,
    },
    StepFinished {
        index: usize,
        id: String,
        phase: Phase,
        duration_ms: u64,
        status: StepStatus,
    },
    StepFailed {
        index: usize,
        id: String,
        phase: Phase,
        error: String,
    },
    /// The run waits until a `Decision` arrives on the decisions channel.
    NeedsDecision {
        question: Question,
        prompt: String,
        options: Vec<Decision>,
    },
    RunFinished {
        status: RunStatus,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Done,
    /// Not applicable on this branch (e.g. post-promote steps after a roll back).
    Skipped,
    /// The operator said it was done by hand (a dirty or failed step).
    MarkedDone,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Question {
    /// Type the server's name to allow steps that change production.
    ConfirmDestructive { server: String },
    /// The node to recover is its Patroni cluster's leader: type `leader` to go on.
    ConfirmLeader { server: String, member: String },
    /// Paused at the target and verified: keep it or go back.
    PromoteOrRollBack,
    /// A step's intent is journaled without an outcome: it may have half happened.
    DirtyStep {
        index: usize,
        id: String,
        phase: Phase,
    },
    FailedStep {
        index: usize,
        id: String,
        phase: Phase,
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", content = "text", rename_all = "snake_case")]
pub enum Decision {
    /// The operator typed this (it must equal the server's name).
    Confirm(String),
    Promote,
    RollBack,
    Retry,
    MarkDone,
    Abort,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunStatus {
    /// Every step done (a plan without a promote decision).
    Completed,
    /// Every step done, the recovered server promoted.
    Promoted,
    /// The operator chose to go back; the original is in place again.
    RolledBack,
    /// Stopped by the operator; the journal says where, and `resume` continues.
    Aborted { step: Option<String> },
    /// Could not start or continue (lock held, journal unreadable, plan changed...).
    Refused { reason: String },
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StepStatus::Done => "done",
            StepStatus::Skipped => "skipped",
            StepStatus::MarkedDone => "marked done by hand",
        })
    }
}

/// How an operator reads a run's end: `promoted`, `stopped at step replay`.
impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunStatus::Completed => f.write_str("completed"),
            RunStatus::Promoted => f.write_str("promoted"),
            RunStatus::RolledBack => f.write_str("rolled back"),
            RunStatus::Aborted { step: Some(step) } => write!(f, "stopped at step {step}"),
            RunStatus::Aborted { step: None } => f.write_str("stopped"),
            RunStatus::Refused { reason } => write!(f, "refused: {reason}"),
        }
    }
}

impl RunStatus {
    /// The process exit code DESIGN.md gives this outcome.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunStatus::Completed | RunStatus::Promoted | RunStatus::RolledBack => 0,
            RunStatus::Aborted { .. } | RunStatus::Refused { .. } => 4,
        }
    }
}
