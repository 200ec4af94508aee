//! The WAL a running primary wrote but has not archived yet: what a recovery from the
//! archive cannot reach until it is switched and archived.

use super::lsn::Lsn;
use super::segment::{SegmentSize, WalSegment};
use super::server_status::{ServerState, ServerStatus};
use super::timeline::TimelineId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTail {
    pub timeline: TimelineId,
    /// The server's insert position when probed.
    pub current: Lsn,
    /// The newest segment `pg_stat_archiver` says was archived; None: nothing archived yet
    /// since the statistics were reset, or the last file archived was not a segment.
    pub last_archived: Option<WalSegment>,
    /// First byte not in the archive: the end of `last_archived`.
    pub archived_to: Option<Lsn>,
}

impl LiveTail {
    /// What a probe says of a primary's tail; None for a standby or a server down.
    pub fn of(status: &ServerStatus, size: SegmentSize) -> Option<LiveTail> {
        let ServerState::Up(facts) = &status.state else {
            return None;
        };
        if facts.in_recovery {
            return None;
        }
        let last_archived = facts
            .archiver
            .last_archived_wal
            .as_deref()
            .and_then(|name| archived_segment(name, size));
        Some(LiveTail {
            timeline: facts.timeline?,
            current: facts.lsn?,
            last_archived,
            archived_to: last_archived.map(|s| s.end_lsn(size)),
        })
    }

    /// Bytes written after the archive's end; None when the archive's end is unknown.
    pub fn unarchived_bytes(&self) -> Option<u64> {
        self.archived_to.map(|a| self.current.bytes_since(a))
    }

    /// Whether the server wrote anything the archive lacks.
    pub fn is_pending(&self) -> bool {
        self.unarchived_bytes().is_none_or(|b| b > 0)
    }

    /// The segments to read from pg_wal for the unarchived WAL, oldest first.
    pub fn segments(&self, size: SegmentSize) -> Vec<WalSegment> {
        let Some(from) = self.archived_to.filter(|a| *a < self.current) else {
            return Vec::new();
        };
        let first = from.segment_number(size.bytes());
        let last = Lsn(self.current.0 - 1).segment_number(size.bytes());
        (first..=last)
            .map(|n| WalSegment::new(self.timeline, n))
            .collect()
    }
}

/// The segment a `last_archived_wal` name stands for. A backup history file
/// (`<segment>.<offset>.backup`) is archived before the segment it names is complete, so
/// only the segment before it counts; a `.partial` segment is not a complete one either.
fn archived_segment(name: &str, size: SegmentSize) -> Option<WalSegment> {
    let seg = WalSegment::parse_file_name(name.get(..24)?, size)?;
    match &name[24..] {
        "" => Some(seg),
        rest if rest.ends_with(".backup") || rest == ".partial" => seg
            .number
            .checked_sub(1)
            .map(|n| WalSegment::new(seg.timeline, n)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::server_status::{ArchiverStats, ServerFacts};
    use chrono::DateTime;

    fn primary(lsn: u64, archived: Option<&str>) -> ServerStatus {
        ServerStatus {
            server: "db1".into(),
            checked_at: DateTime::UNIX_EPOCH,
            state: ServerState::Up(ServerFacts {
                in_recovery: false,
                timeline: Some(TimelineId(1)),
                lsn: Some(Lsn(lsn)),
                archiver: ArchiverStats {
                    last_archived_wal: archived.map(str::to_string),
                    ..ArchiverStats::default()
                },
            }),
            patroni: None,
        }
    }

    #[test]
    fn the_tail_runs_from_the_last_archived_segment_to_the_insert_position() {
        let t = LiveTail::of(
            &primary(0x1444_A7A8, Some("000000010000000000000013")),
            SegmentSize::DEFAULT,
        )
        .unwrap();
        assert_eq!(t.unarchived_bytes(), Some(0x44_A7A8));
        assert_eq!(
            t.segments(SegmentSize::DEFAULT),
            vec![WalSegment::new(TimelineId(1), 0x14)]
        );
    }

    #[test]
    fn nothing_is_pending_right_after_a_switch() {
        let t = LiveTail::of(
            &primary(0x1400_0000, Some("000000010000000000000013")),
            SegmentSize::DEFAULT,
        )
        .unwrap();
        assert!(!t.is_pending());
        assert!(t.segments(SegmentSize::DEFAULT).is_empty());
    }

    #[test]
    fn a_backup_label_or_partial_counts_the_segment_before_it() {
        let size = SegmentSize::DEFAULT;
        let seg = |n| Some(WalSegment::new(TimelineId(1), n));
        assert_eq!(
            archived_segment("000000010000000000000005.00000028.backup", size),
            seg(4)
        );
        assert_eq!(
            archived_segment("000000010000000000000005.partial", size),
            seg(4)
        );
        assert_eq!(archived_segment("00000002.history", size), None);
        assert_eq!(archived_segment("../../etc/passwd-and-more-x", size), None);
    }

    #[test]
    fn a_standby_or_a_server_down_has_no_tail() {
        let mut s = primary(0x100, None);
        if let ServerState::Up(f) = &mut s.state {
            f.in_recovery = true;
        }
        assert_eq!(LiveTail::of(&s, SegmentSize::DEFAULT), None);
        let t = LiveTail::of(&primary(0x100, None), SegmentSize::DEFAULT).unwrap();
        assert!(
            t.is_pending(),
            "an unknown archive end is shown, not hidden"
        );
    }
}
