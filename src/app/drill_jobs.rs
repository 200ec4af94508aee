//! What the drill screen asks the event loop for, and what comes back: the preparation
//! (backup located and verified) and the conclusion (verification, sign-off, record, report).

use crate::config::Role;
use crate::domain::target::RecoveryTarget;
use crate::domain::zone::Zone;
use crate::engine::drill::{Checklist, DrillRecord};
use crate::engine::recovery::RecoveryInputs;
use crate::planning::drill_run::DrillPrep;
use std::path::PathBuf;

/// What the loop needs to prepare a drill: the side directory and port come from the
/// server's configuration there.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillStart {
    pub server: String,
    pub target: RecoveryTarget,
    pub role: Role,
    pub checklist: Checklist,
    pub zone: Zone,
    /// The timeline selected on the timeline pane.
    pub options: crate::planning::prepare::PlanOptions,
}

/// The prepared drill with the plan's identity, for `Cmd::StartRun`.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillReady {
    pub prep: DrillPrep,
    pub run_id: String,
    pub checksum: String,
}

/// After the run (or instead of it): verification, sign-off, record and report.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillConclusion {
    pub journal: Option<PathBuf>,
    pub inputs: RecoveryInputs,
    pub record: DrillRecord,
    pub performed_by: Option<String>,
    pub verified_by: Option<String>,
    pub zone: Zone,
}
