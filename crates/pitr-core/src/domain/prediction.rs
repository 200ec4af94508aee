//! What a planned recovery will reach, so that verification can compare the server's
//! position with it instead of trusting that replay "paused".

use super::lsn::Lsn;
use super::timeline::TimelineId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A commit or abort record, as replay meets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxMark {
    pub xid: u32,
    pub lsn: Lsn,
    /// First byte after the record.
    pub end: Lsn,
    pub at: DateTime<Utc>,
}

impl fmt::Display for TxMark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "xid {} at {} ({} UTC)",
            self.xid,
            self.lsn,
            self.at.format("%Y-%m-%d %H:%M:%S%.6f")
        )
    }
}

/// Where replay ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Stop {
    /// Before this record (a time target, or an exclusive xid).
    BeforeTx { record: TxMark },
    /// Just after this record (an inclusive xid).
    AfterTx { record: TxMark },
    /// Just after a restore point record that ends at `end`.
    AfterRestorePoint { lsn: Lsn, end: Lsn },
    /// At the first record at or after an LSN.
    AtLsn { lsn: Lsn, inclusive: bool },
    /// At the backup's consistency point.
    Consistency { lsn: Lsn },
    /// At the end of contiguous WAL, where the server promotes.
    EndOfWal { lsn: Lsn },
}

/// The planner's promise: the timeline replay follows, where it stops, and the last
/// transaction end it keeps (`pg_last_xact_replay_timestamp()` reports that one's time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prediction {
    pub timeline: TimelineId,
    pub stop: Stop,
    pub last_kept: Option<TxMark>,
    /// With an inclusive LSN target the record at the LSN may itself be a transaction
    /// end the index cannot tell from another record: then this one is kept instead.
    #[serde(default)]
    pub or_kept: Option<TxMark>,
    /// `pg_last_wal_replay_lsn()` must lie in `[replay_min, replay_max]`.
    pub replay_min: Lsn,
    pub replay_max: Lsn,
}

/// What the server reports after replay, for `Prediction::check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reached {
    pub replay_lsn: Option<Lsn>,
    pub last_replay_time: Option<DateTime<Utc>>,
}

/// MAXALIGN: records start on 8-byte boundaries, so replay may report the aligned end.
pub fn aligned(lsn: Lsn) -> Lsn {
    Lsn(lsn.0.div_ceil(8) * 8)
}

impl Prediction {
    /// One line per mismatch; empty when the server reached the prediction.
    pub fn check(&self, reached: &Reached) -> Vec<String> {
        let mut out = Vec::new();
        match reached.replay_lsn {
            Some(l) if self.replay_min <= l && l <= self.replay_max => {}
            Some(l) => out.push(format!(
                "replay reached {l}, predicted {}",
                self.replay_range()
            )),
            None => out.push("the server reports no replay position".into()),
        }
        let fits = |m: Option<TxMark>| m.map(|m| m.at) == reached.last_replay_time;
        if !(fits(self.last_kept) || self.or_kept.is_some() && fits(self.or_kept)) {
            out.push(format!(
                "last replayed transaction end at {}, predicted {}",
                reached.last_replay_time.map_or("none".into(), |t| t
                    .format("%Y-%m-%d %H:%M:%S%.6f UTC")
                    .to_string()),
                self.last_kept.map_or("none".into(), |m| m.to_string())
            ));
        }
        out
    }

    pub fn replay_range(&self) -> String {
        if self.replay_min == self.replay_max {
            self.replay_min.to_string()
        } else {
            format!("{} .. {}", self.replay_min, self.replay_max)
        }
    }

    /// One sentence for the plan.
    pub fn describe(&self) -> String {
        let stop = match &self.stop {
            Stop::BeforeTx { record } => format!("before the transaction end of {record}"),
            Stop::AfterTx { record } => format!("just after the transaction end of {record}"),
            Stop::AfterRestorePoint { lsn, .. } => format!("just after the restore point at {lsn}"),
            Stop::AtLsn { lsn, inclusive } => format!(
                "{} the first record at or after {lsn}",
                if *inclusive { "just after" } else { "before" }
            ),
            Stop::Consistency { lsn } => format!("at the backup's consistency point {lsn}"),
            Stop::EndOfWal { lsn } => format!("at the end of contiguous WAL, {lsn}"),
        };
        format!(
            "replay on timeline {} stops {stop}; it keeps {}; replay position {}",
            self.timeline,
            self.last_kept
                .map_or("no transaction end after the backup".into(), |m| format!(
                    "the transaction end of {m}"
                )),
            self.replay_range()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn mark(xid: u32, lsn: u64, s: i64) -> TxMark {
        TxMark {
            xid,
            lsn: Lsn(lsn),
            end: Lsn(lsn + 30),
            at: Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap(),
        }
    }

    #[test]
    fn a_mismatch_on_either_side_is_named() {
        let kept = mark(700, 0x1000, 1);
        let p = Prediction {
            timeline: TimelineId(1),
            stop: Stop::AfterTx { record: kept },
            last_kept: Some(kept),
            or_kept: None,
            replay_min: kept.end,
            replay_max: aligned(kept.end),
        };
        let good = Reached {
            replay_lsn: Some(Lsn(0x1020)),
            last_replay_time: Some(kept.at),
        };
        assert!(p.check(&good).is_empty(), "{:?}", p.check(&good));
        let other_timeline = Reached {
            replay_lsn: Some(Lsn(0x1020)),
            last_replay_time: Some(mark(700, 0x1000, 9).at),
        };
        assert!(p.check(&other_timeline)[0].contains("xid 700"));
        let too_far = Reached {
            replay_lsn: Some(Lsn(0x2000)),
            ..good
        };
        assert!(p.check(&too_far)[0].contains("replay reached 0/2000"));
    }
}
