//! A plan ready to run, and what starting it takes: the wizard shows the first, the drill
//! and the wizard both hand the second to the event loop.

use crate::engine::recovery::RecoveryInputs;
use crate::engine::PlanView;

/// A plan the engine prepared for the wizard's request: what the dry run shows and, once
/// confirmed, exactly what runs (same inputs, same run id, same checksum).
#[derive(Debug, Clone)]
pub struct PlanReady {
    pub inputs: RecoveryInputs,
    pub run_id: String,
    pub view: PlanView,
    pub notes: Vec<String>,
    pub wal: Option<(String, String)>,
    /// What promoting at the target discards (plan and decision say it).
    pub cost: Option<crate::planning::cost::Cost>,
    /// `--latest` over a gap: what is lost; starting needs the operator to say so.
    pub wal_loss: Option<String>,
}

impl PlanReady {
    /// What the operator types to start: the server's name, and with a WAL loss the words
    /// that accept it.
    pub fn confirmation_word(&self, server: &str) -> String {
        match self.wal_loss {
            Some(_) => format!("{server} lose-wal"),
            None => server.to_string(),
        }
    }
}

/// What the event loop needs to start the shown plan.
#[derive(Debug, Clone, PartialEq)]
pub struct StartRun {
    pub inputs: RecoveryInputs,
    pub run_id: String,
    /// The checksum of the plan the operator read; a different plan is not started.
    pub checksum: String,
    /// The server's name as the operator typed it.
    pub confirmation: String,
}
