//! What the console last learned about one configured server.

use super::lsn::Lsn;
use super::patroni::Member;
use super::timeline::TimelineId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerStatus {
    pub server: String,
    pub checked_at: DateTime<Utc>,
    pub state: ServerState,
    /// For servers managed by Patroni: the cluster as its REST API describes it.
    #[serde(default)]
    pub patroni: Option<PatroniState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PatroniState {
    Cluster { members: Vec<Member>, paused: bool },
    Unreachable { error: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ServerState {
    Up(ServerFacts),
    /// Unreachable or refusing: the error says which and why.
    Down {
        error: String,
    },
}

/// The answers of one probe of a running server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerFacts {
    pub in_recovery: bool,
    /// From the latest checkpoint; None when the server did not say.
    pub timeline: Option<TimelineId>,
    /// Insert position on a primary, last replayed position in recovery.
    pub lsn: Option<Lsn>,
    pub archiver: ArchiverStats,
}

/// `pg_stat_archiver`, as far as the console shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArchiverStats {
    pub last_archived_wal: Option<String>,
    pub last_archived_time: Option<DateTime<Utc>>,
    pub failed_count: i64,
    pub last_failed_wal: Option<String>,
    pub last_failed_time: Option<DateTime<Utc>>,
}

impl ServerStatus {
    pub fn is_up(&self) -> bool {
        matches!(self.state, ServerState::Up(_))
    }
}
