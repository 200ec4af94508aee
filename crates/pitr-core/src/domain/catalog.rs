//! What a repository holds: base backups and archived WAL files.

use super::backup::{Backup, DamagedBackup};
use super::segment::{SegmentSize, WalSegment};
use super::timeline::{TimelineHistory, TimelineId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Lz4,
}

/// One archived, complete WAL segment (or a `.partial` one, which is never complete).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchivedSegment {
    pub segment: WalSegment,
    pub file_name: String,
    pub compression: Compression,
    pub partial: bool,
    pub size_bytes: u64,
    /// When the file was archived (its modification time); a hint for time estimates.
    pub archived_at: Option<DateTime<Utc>>,
}

/// The contents of one repository, as read by a catalog source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub repository: String,
    pub segment_size: SegmentSize,
    pub backups: Vec<Backup>,
    /// Sorted by (timeline, segment number).
    pub segments: Vec<ArchivedSegment>,
    /// One per `.history` file found.
    pub histories: Vec<TimelineHistory>,
    /// Files that were present but could not be read, with the reason; shown, not fatal.
    pub warnings: Vec<String>,
    /// Backups left out because their files contradict each other.
    #[serde(default)]
    pub damaged: Vec<DamagedBackup>,
}

impl Catalog {
    pub fn history(&self, timeline: TimelineId) -> Option<&TimelineHistory> {
        self.histories.iter().find(|h| h.timeline == timeline)
    }

    /// What recovery onto `timeline` replays, by its history file (none: the root).
    pub fn path(&self, timeline: TimelineId) -> super::timeline::TimelinePath {
        self.history(timeline).map_or_else(
            || super::timeline::TimelinePath::root(timeline),
            TimelineHistory::path,
        )
    }

    /// Every timeline that appears in backups, segments or history files, ascending.
    pub fn timelines(&self) -> Vec<TimelineId> {
        let mut t: Vec<TimelineId> = self
            .backups
            .iter()
            .map(|b| b.timeline)
            .chain(self.segments.iter().map(|s| s.segment.timeline))
            .chain(self.histories.iter().map(|h| h.timeline))
            .collect();
        t.sort();
        t.dedup();
        t
    }
}
