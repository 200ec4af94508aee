//! A plan and its steps as the operator reads them and the journal's header stores them:
//! plain data, so the journal reads them without knowing how steps run.

use serde::{Deserialize, Serialize};

/// Which path of the run a step belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Branch {
    /// Up to and including the promote-or-roll-back decision.
    Main,
    /// Only when the recovered server is kept.
    AfterPromote,
    /// Always, last (the report).
    Final,
}

/// A step as the operator reads it (and as the journal's header stores it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    pub index: usize,
    pub id: String,
    pub title: String,
    pub commands: Vec<String>,
    pub undo: Vec<String>,
    pub destructive: bool,
    pub branch: Branch,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanView {
    pub run_id: String,
    pub server: String,
    pub target: String,
    pub checksum: String,
    pub steps: Vec<StepView>,
}
