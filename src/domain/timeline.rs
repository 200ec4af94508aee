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
            if entries.last().is_some_and(|e: &HistoryEntry| {
                e.parent.0 >= parent || e.switch_point > switch_point
            }) {
                return Err(err(
                    "timelines and switch points must increase line by line",
                ));
            }
            entries.push(HistoryEntry {
                parent: TimelineId(parent),
                switch_point,
                reason,
            });
        }
        Ok(TimelineHistory { timeline, entries })
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
    fn reports_the_bad_line() {
        let err = TimelineHistory::parse(TimelineId(2), "1\tnot-an-lsn\treason\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.to_string().contains("switch point"));
    }
}
