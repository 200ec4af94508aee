//! Timelines and their history files.

use super::lsn::Lsn;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TimelineId(pub u32);

impl fmt::Display for TimelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One line of a `.history` file: `parent` was left for the next timeline at `switch_point`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub parent: TimelineId,
    pub switch_point: Lsn,
    pub reason: String,
}

/// The ancestry of one timeline, oldest first, as its `TTTTTTTT.history` file tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineHistory {
    pub timeline: TimelineId,
    pub entries: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("history file of timeline {timeline}, line {line}: {problem}")]
pub struct HistoryParseError {
    pub timeline: TimelineId,
    pub line: usize,
    pub problem: String,
}

impl TimelineHistory {
    /// Parses the text of a history file. Lines are `parentTLI<TAB>switchpoint<TAB>reason`;
    /// blank lines and `#` comments are skipped, as the server does.
    pub fn parse(timeline: TimelineId, text: &str) -> Result<Self, HistoryParseError> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |problem: &str| HistoryParseError {
                timeline,
                line: i + 1,
                problem: problem.to_string(),
            };
            let mut fields = line.splitn(3, |c: char| c.is_whitespace());
            let parent = fields
                .next()
                .and_then(|f| f.parse::<u32>().ok())
                .ok_or_else(|| err("expected a parent timeline number first"))?;
            let switch_point = fields
                .next()
                .map(str::trim)
                .and_then(|f| f.parse::<Lsn>().ok())
                .ok_or_else(|| err("expected a switch point LSN like 0/3000000 second"))?;
            let reason = fields.next().unwrap_or("").trim().to_string();
            // PostgreSQL's readTimeLineHistory checks the same two rules and no more:
            // switch points may fall, when a recovery stopped before an earlier fork.
            if entries
                .last()
                .is_some_and(|e: &HistoryEntry| e.parent.0 >= parent)
            {
                return Err(err("parent timelines must increase line by line"));
            }
            if parent >= timeline.0 {
                return Err(err(&format!(
                    "parent timeline {parent} is not older than timeline {timeline}"
                )));
            }
            entries.push(HistoryEntry {
                parent: TimelineId(parent),
                switch_point,
                reason,
            });
        }
        // A line whose switch point lies after a later line's contributed no WAL: the
        // later fork left the older timeline first. Clamp, so that every span is
        // [previous switch, switch) as tliOfPointInHistory reads it.
        let mut min = Lsn(u64::MAX);
        for e in entries.iter_mut().rev() {
            min = min.min(e.switch_point);
            e.switch_point = min;
        }
        Ok(TimelineHistory { timeline, entries })
    }

    /// The parts of the WAL recovery onto this timeline replays, oldest first.
    pub fn path(&self) -> TimelinePath {
        let mut parts = Vec::with_capacity(self.entries.len() + 1);
        let mut begin = Lsn::ZERO;
        for e in &self.entries {
            if begin < e.switch_point {
                parts.push(PathPart {
                    timeline: e.parent,
                    begin,
                    end: e.switch_point,
                });
            }
            begin = e.switch_point;
        }
        parts.push(PathPart {
            timeline: self.timeline,
            begin,
            end: Lsn(u64::MAX),
        });
        TimelinePath(parts)
    }

    /// The timeline whose WAL holds `lsn` when following this history, i.e. what recovery
    /// onto `self.timeline` reads at that position.
    pub fn timeline_at(&self, lsn: Lsn) -> TimelineId {
        self.entries
            .iter()
            .find(|e| lsn < e.switch_point)
            .map_or(self.timeline, |e| e.parent)
    }

    /// Where this timeline branched off its parent, if it has one.
    pub fn fork_point(&self) -> Option<&HistoryEntry> {
        self.entries.last()
    }

    /// Whether `ancestor` is this timeline or one it descends from.
    pub fn descends_from(&self, ancestor: TimelineId) -> bool {
        ancestor == self.timeline || self.entries.iter().any(|e| e.parent == ancestor)
    }

    /// Position at which this history leaves `ancestor` (None when it never does, i.e.
    /// `ancestor` is the timeline itself).
    pub fn switch_point_from(&self, ancestor: TimelineId) -> Option<Lsn> {
        self.entries
            .iter()
            .find(|e| e.parent == ancestor)
            .map(|e| e.switch_point)
    }
}

/// WAL of `timeline` from `begin` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathPart {
    pub timeline: TimelineId,
    pub begin: Lsn,
    pub end: Lsn,
}

/// What recovery onto one timeline replays: a parent's WAL up to the fork, then the
/// child's, and so on. Xids, names and times are looked up on this path only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelinePath(pub Vec<PathPart>);

impl TimelinePath {
    /// A timeline without a history file.
    pub fn root(timeline: TimelineId) -> TimelinePath {
        TimelinePath(vec![PathPart {
            timeline,
            begin: Lsn::ZERO,
            end: Lsn(u64::MAX),
        }])
    }

    /// The timeline recovery reads `lsn` from.
    pub fn timeline_at(&self, lsn: Lsn) -> Option<TimelineId> {
        self.0
            .iter()
            .find(|p| p.begin <= lsn && lsn < p.end)
            .map(|p| p.timeline)
    }

    /// Whether WAL of `timeline` at `lsn` is replayed on this path.
    pub fn holds(&self, timeline: TimelineId, lsn: Lsn) -> bool {
        self.0
            .iter()
            .any(|p| p.timeline == timeline && p.begin <= lsn && lsn < p.end)
    }

    pub fn target(&self) -> TimelineId {
        self.0.last().map_or(TimelineId(1), |p| p.timeline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TL3: &str = "1\t0/3000158\tno recovery target specified\n\n2\t0/5000000\tbefore 2024-01-01 12:00:00+00\n";

    #[test]
    fn parses_history_files() {
        let h = TimelineHistory::parse(TimelineId(3), TL3).unwrap();
        assert_eq!(h.entries.len(), 2);
        assert_eq!(h.entries[1].parent, TimelineId(2));
        assert_eq!(h.entries[1].switch_point.to_string(), "0/5000000");
        assert_eq!(
            h.fork_point().unwrap().reason,
            "before 2024-01-01 12:00:00+00"
        );
    }

    #[test]
    fn follows_history_by_position() {
        let h = TimelineHistory::parse(TimelineId(3), TL3).unwrap();
        assert_eq!(h.timeline_at("0/1000000".parse().unwrap()), TimelineId(1));
        assert_eq!(h.timeline_at("0/3000158".parse().unwrap()), TimelineId(2));
        assert_eq!(h.timeline_at("0/6000000".parse().unwrap()), TimelineId(3));
        assert!(h.descends_from(TimelineId(1)));
        assert!(!h.descends_from(TimelineId(4)));
        assert_eq!(
            h.switch_point_from(TimelineId(2)),
            Some("0/5000000".parse().unwrap())
        );
    }

    #[test]
    fn a_recovery_before_an_earlier_fork_writes_a_falling_switch_point() {
        // Timeline 2 left 1 at 0/5000000; recovering onto 2 to a point at 0/4000000 (still
        // timeline 1's WAL) made timeline 3, whose history PostgreSQL writes like this.
        let h =
            TimelineHistory::parse(TimelineId(3), "1\t0/5000000\tx\n2\t0/4000000\ty\n").unwrap();
        let path = h.path();
        assert_eq!(path.0.len(), 2, "{path:?}");
        assert_eq!(
            path.timeline_at("0/3FFFFFF".parse().unwrap()),
            Some(TimelineId(1))
        );
        assert_eq!(
            path.timeline_at("0/4000000".parse().unwrap()),
            Some(TimelineId(3))
        );
        assert!(!path.holds(TimelineId(2), "0/4800000".parse().unwrap()));
        assert_eq!(h.timeline_at("0/4800000".parse().unwrap()), TimelineId(3));
    }

    #[test]
    fn a_fork_from_an_older_timeline_skips_the_ones_between() {
        let h = TimelineHistory::parse(TimelineId(4), "1\t0/3000000\tx\n").unwrap();
        assert_eq!(h.path().0[0].timeline, TimelineId(1));
        assert!(TimelineHistory::parse(TimelineId(2), "2\t0/3000000\tx\n").is_err());
        assert!(
            TimelineHistory::parse(TimelineId(4), "2\t0/3000000\tx\n1\t0/4000000\ty\n").is_err()
        );
    }

    #[test]
    fn reports_the_bad_line() {
        let err = TimelineHistory::parse(TimelineId(2), "1\tnot-an-lsn\treason\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.to_string().contains("switch point"));
    }
}
