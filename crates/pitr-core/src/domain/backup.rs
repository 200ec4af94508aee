//! Base backups as a repository describes them.

use super::lsn::Lsn;
use super::segment::SegmentSize;
use super::timeline::TimelineId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupFormat {
    /// A data directory copy (pg_basebackup -Fp).
    Plain,
    /// `base.tar[.gz|.zst|.lz4]` plus tablespace tars (pg_basebackup -Ft).
    Tar,
    /// Held by a backup tool (Barman, pgBackRest, WAL-G) and restored through it.
    Tool,
}

/// One base backup. `start_lsn` is where replay must begin (the backup's checkpoint redo),
/// `stop_lsn` its consistency point: no recovery target before it can be reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    /// The repository's name for it (the directory name for local backups).
    pub id: String,
    /// Free text the operator gave (`pg_basebackup -l`), when any.
    pub label: Option<String>,
    pub format: BackupFormat,
    /// Where it lives in its repository (a path for local backups).
    pub location: String,
    pub timeline: TimelineId,
    pub start_lsn: Lsn,
    pub stop_lsn: Lsn,
    pub start_time: DateTime<Utc>,
    pub stop_time: DateTime<Utc>,
    /// False when the stop time is inferred (e.g. from a file time) rather than recorded.
    pub stop_time_exact: bool,
    pub segment_size: SegmentSize,
    pub system_identifier: Option<u64>,
    pub size_bytes: Option<u64>,
    /// WAL ranges the manifest says this backup needs: (timeline, start, end).
    pub manifest_wal_ranges: Vec<(TimelineId, Lsn, Lsn)>,
    /// Whether a backup_manifest was found (pg_verifybackup can check it).
    pub has_manifest: bool,
    /// The PostgreSQL major version that wrote it (its `PG_VERSION`), when known.
    #[serde(default)]
    pub pg_major: Option<u32>,
    /// Set for an incremental backup (PostgreSQL 17+): what it was taken on.
    #[serde(default)]
    pub incremental: Option<IncrementalFrom>,
}

impl Backup {
    /// Where the manifest says replay of this backup begins: its earliest WAL range (a
    /// manifest lists a backup that spans a timeline switch newest timeline first).
    pub fn manifest_start(&self) -> Option<(TimelineId, Lsn)> {
        self.manifest_wal_ranges
            .iter()
            .min_by_key(|r| r.1)
            .map(|r| (r.0, r.1))
    }
}

/// An incremental backup's `INCREMENTAL FROM LSN/TLI`: the start of the backup it was taken
/// on (its parent, itself full or incremental). PostgreSQL will not start on an incremental
/// until pg_combinebackup has combined it with every ancestor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncrementalFrom {
    pub lsn: Lsn,
    pub timeline: TimelineId,
}

/// A backup the catalog found but left out because its own files contradict each other
/// (a backup_label and a backup_manifest of different backups): its window cannot be
/// known, so it is never offered, and plans name it with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DamagedBackup {
    pub id: String,
    pub location: String,
    pub problem: String,
}
