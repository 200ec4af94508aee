//! The facts a run's steps record for later steps, a resumed run, the drill and the report.
//!
//! One typed key per fact: a writer and its readers name the same constant, so renaming a
//! fact or changing its type breaks the build instead of a reader. The names are the
//! journal's, so journals written before keep reading.

use super::check_item::CheckItem;
use super::control_data::ControlData;
use crate::domain::lsn::Lsn;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::PathBuf;

/// A fact's name in the journal and the type of its value.
pub struct Fact<T> {
    name: &'static str,
    value: PhantomData<fn() -> T>,
}

impl<T> Clone for Fact<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Fact<T> {}

impl<T> Fact<T> {
    const fn new(name: &'static str) -> Fact<T> {
        Fact {
            name,
            value: PhantomData,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<T: DeserializeOwned> Fact<T> {
    /// The fact in a journal's facts, if recorded and of this type.
    pub fn read(&self, facts: &Map<String, Value>) -> Option<T> {
        facts
            .get(self.name)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }
}

/// What the operator (or `--action`) chose at the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decided {
    Promote,
    RollBack,
}

impl Decided {
    /// The word the journal and the summary use.
    pub fn name(self) -> &'static str {
        match self {
            Decided::Promote => "promote",
            Decided::RollBack => "roll_back",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DumpFact {
    pub path: PathBuf,
    pub sha256: String,
}

/// One file of the safety dump: a database's, or the globals (`database` None).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DumpPart {
    pub database: Option<String>,
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
}

/// Whether the server ran when the run began: a stopped one is left stopped on roll back.
pub const WAS_RUNNING: Fact<bool> = Fact::new("was_running");
/// Rows per table before anything changed, for verification and the drill.
pub const ROW_COUNTS: Fact<BTreeMap<String, i64>> = Fact::new("row_counts");
/// Rows per table on the recovered server.
pub const ROW_COUNTS_AFTER: Fact<BTreeMap<String, i64>> = Fact::new("row_counts_after");
/// pg_control of the data directory as the run found it.
pub const BEFORE_CONTROL: Fact<ControlData> = Fact::new("before_control");
/// pg_control after the server was stopped (cleanly, one hopes).
pub const STOPPED_CONTROL: Fact<ControlData> = Fact::new("stopped_control");
/// The postmaster's command line (postmaster.opts), to restart it as it ran.
pub const POSTMASTER_OPTS: Fact<String> = Fact::new("postmaster_opts");
/// Bytes the restore needs (preflight) and bytes it wrote.
pub const RESTORE_BYTES: Fact<u64> = Fact::new("restore_bytes");
/// Production's tablespaces (oid -> location) as preflight found them: what a backup's
/// links are held to when the backup says nothing of its own.
pub const PRODUCTION_TABLESPACES: Fact<BTreeMap<String, PathBuf>> =
    Fact::new("production_tablespaces");
pub const RESTORED_BYTES: Fact<u64> = Fact::new("restored_bytes");
/// Where the original data directory was moved aside.
pub const ASIDE_DIR: Fact<PathBuf> = Fact::new("aside_dir");
/// The safety dump: its files (and, from older runs, the single file).
pub const SAFETY_DUMPS: Fact<Vec<DumpPart>> = Fact::new("safety_dumps");
pub const SAFETY_DUMP: Fact<DumpFact> = Fact::new("safety_dump");
/// Where replay stopped and the last commit it replayed.
pub const REPLAY_LSN: Fact<Lsn> = Fact::new("replay_lsn");
pub const LAST_REPLAY_TIME: Fact<Option<DateTime<Utc>>> = Fact::new("last_replay_time");
/// Verification's checklist.
pub const CHECKLIST: Fact<Vec<CheckItem>> = Fact::new("checklist");
pub const DECISION: Fact<Decided> = Fact::new("decision");
/// The action `resume --action` asked for, over the run's own (set by the runner).
pub const ACTION_OVERRIDE: Fact<String> = Fact::new("action_override");
pub const PROMOTED: Fact<bool> = Fact::new("promoted");
/// Patroni: the member recovered, whether the cluster was paused before, its new timeline.
pub const PATRONI_MEMBER: Fact<String> = Fact::new("patroni_member");
pub const PATRONI_WAS_PAUSED: Fact<bool> = Fact::new("patroni_was_paused");
pub const PATRONI_TIMELINE: Fact<u32> = Fact::new("patroni_timeline");
/// The cluster's leader when the run began, before any handover.
pub const PATRONI_LEADER: Fact<String> = Fact::new("patroni_leader");
/// This run stopped Patroni on the node (`patroni_stop`) and must start it again.
pub const PATRONI_STOPPED: Fact<bool> = Fact::new("patroni_stopped");
/// The run's summary file.
pub const SUMMARY: Fact<PathBuf> = Fact::new("summary");
