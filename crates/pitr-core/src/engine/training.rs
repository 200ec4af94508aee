//! The training exercise: "find the DELETE and choose the instant just before it". Given a
//! chosen target, says whether recovering to it would have brought the deleted rows back,
//! from the WAL index (which transaction ends replay would include) and the lab's record of
//! the incident. Nothing is run.
//!
//! Replay stops the way PostgreSQL's recoveryStopsBefore/After do: at the first commit or
//! abort record, in WAL order, that meets the target's condition; everything before it in
//! the WAL is replayed, whatever its timestamp.

use crate::domain::lsn::Lsn;
use crate::domain::target::RecoveryTarget;
use crate::wal::{TxEnd, WalIndex};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The incident as the lab recorded it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub statement: String,
    pub xid: u64,
    pub commit_time: Option<DateTime<Utc>>,
    pub deleted: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Replay stops before the DELETE commits: the rows are there.
    RowsBack,
    /// Replay includes the DELETE: the rows stay deleted.
    RowsLost,
    /// The index cannot place the target (or the incident).
    CannotTell,
}

/// A transaction end, as the answer shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TxMark {
    pub xid: u32,
    pub lsn: Lsn,
    pub time: DateTime<Utc>,
    pub commit: bool,
}

impl TxMark {
    fn of(t: &TxEnd) -> TxMark {
        TxMark {
            xid: t.xid,
            lsn: t.lsn,
            time: t.time(),
            commit: t.kind.is_commit(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub target: String,
    pub verdict: Verdict,
    pub incident: Incident,
    /// The DELETE's commit as the WAL has it.
    pub incident_commit: Option<TxMark>,
    /// The last transaction end replay includes, and the one it stops at.
    pub last_included: Option<TxMark>,
    pub stops_at: Option<TxMark>,
    /// Commits between the stop and the DELETE: good work the chosen instant gives up.
    pub commits_lost: usize,
    pub explanation: String,
}

/// Where replay stops for `target` in `ends` (one timeline, WAL order): the index of the
/// first transaction end not replayed (`ends.len()` when all are), or None when the index
/// cannot place the target.
pub fn stop_index(
    ends: &[TxEnd],
    target: &RecoveryTarget,
    restore_point: impl Fn(&str) -> Option<Lsn>,
) -> Option<usize> {
    let first = |pred: &dyn Fn(&TxEnd) -> bool| ends.iter().position(pred).unwrap_or(ends.len());
    match target {
        RecoveryTarget::Time { at, inclusive } => {
            let us = at.timestamp_micros();
            // Both stop before the first end past the target; inclusive lets an end exactly
            // at the target through.
            Some(if *inclusive {
                first(&|t| t.time_us > us)
            } else {
                first(&|t| t.time_us >= us)
            })
        }
        RecoveryTarget::Xid { xid, inclusive } => {
            let xid = u32::try_from(*xid).ok()?;
            let at = ends.iter().position(|t| t.xid == xid)?;
            Some(if *inclusive { at + 1 } else { at })
        }
        // Inclusive replays the first record at or past the LSN too; counted here as the
        // ends at the LSN itself, which is exact when the LSN names a commit.
        RecoveryTarget::Lsn { lsn, inclusive } => Some(if *inclusive {
            first(&|t| t.lsn > *lsn)
        } else {
            first(&|t| t.lsn >= *lsn)
        }),
        RecoveryTarget::Name { name } => {
            let rp = restore_point(name)?;
            Some(first(&|t| t.lsn >= rp))
        }
        RecoveryTarget::Latest => Some(ends.len()),
        RecoveryTarget::Immediate => None,
    }
}

/// Judges `target` against the incident.
pub fn judge(
    index: &WalIndex,
    path: &crate::domain::timeline::TimelinePath,
    incident: &Incident,
    target: &RecoveryTarget,
) -> Answer {
    let mut answer = Answer {
        target: target.to_string(),
        verdict: Verdict::CannotTell,
        incident: incident.clone(),
        incident_commit: None,
        last_included: None,
        stops_at: None,
        commits_lost: 0,
        explanation: String::new(),
    };
    let Some(del) = u32::try_from(incident.xid)
        .ok()
        .and_then(|x| crate::wal::path::tx_end_by_xid(index, path, x))
    else {
        answer.explanation = format!(
            "the WAL index holds no commit of the DELETE's transaction {}: is the archive complete?",
            incident.xid
        );
        return answer;
    };
    answer.incident_commit = Some(TxMark::of(del));
    // Recovery along the chosen timeline replays its path only.
    let ends: Vec<TxEnd> = crate::wal::path::tx_ends(
        index,
        path,
        crate::domain::lsn::Lsn::ZERO,
        crate::domain::lsn::Lsn(u64::MAX),
    )
    .cloned()
    .collect();
    let Some(del_at) = ends
        .iter()
        .position(|t| t.xid == del.xid && t.lsn == del.lsn)
    else {
        answer.explanation = "the DELETE's commit is missing from its own timeline".into();
        return answer;
    };
    let Some(stop) = stop_index(&ends, target, |n| {
        crate::wal::path::restore_point(index, path, n).map(|p| p.lsn)
    }) else {
        answer.explanation = match target {
            RecoveryTarget::Immediate => "immediate stops at the end of the base backup: see `plan` for which backup, then compare its end with the DELETE".into(),
            RecoveryTarget::Xid { xid, .. } => format!("no commit or abort of transaction {xid} is in the archived WAL"),
            RecoveryTarget::Name { name } => format!("no restore point named \"{name}\" is in the archived WAL"),
            _ => "the index cannot place this target".into(),
        };
        return answer;
    };
    answer.last_included = stop
        .checked_sub(1)
        .and_then(|i| ends.get(i))
        .map(TxMark::of);
    answer.stops_at = ends.get(stop).map(TxMark::of);
    let what = format!(
        "the DELETE (xid {}, {} rows) committed at {} (lsn {})",
        del.xid,
        incident.deleted,
        del.time().format("%Y-%m-%d %H:%M:%S%.6f UTC"),
        del.lsn
    );
    if stop <= del_at {
        answer.verdict = Verdict::RowsBack;
        answer.commits_lost = ends[stop..del_at]
            .iter()
            .filter(|t| t.kind.is_commit())
            .count();
        answer.explanation = if answer.commits_lost == 0 {
            format!("Right: replay stops just before {what}; the rows come back and no other commit is lost.")
        } else {
            format!(
                "The rows come back: replay stops before {what}. But it also gives up {} commit(s) made between your target and the DELETE; the instant just before it keeps them (e.g. --xid {} --exclusive).",
                answer.commits_lost, del.xid
            )
        };
    } else {
        answer.verdict = Verdict::RowsLost;
        answer.explanation = format!(
            "Too late: replay includes {what}, so the rows stay deleted. Choose an instant before the DELETE committed."
        );
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::timeline::TimelineId;
    use crate::wal::XactKind;
    use chrono::TimeZone;

    fn end(xid: u32, lsn: u64, secs: i64, kind: XactKind) -> TxEnd {
        TxEnd {
            timeline: TimelineId(1),
            lsn: Lsn(lsn),
            end: Lsn(lsn + 32),
            xid,
            time_us: secs * 1_000_000,
            kind,
            records: 1,
            bytes: 32,
            rel_start: 0,
            rel_len: 0,
            more_relations: false,
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    #[test]
    fn replay_stops_at_the_first_end_meeting_the_target_in_wal_order() {
        // xid 12 commits at 100 s, xid 13 (the DELETE) at 105 s, xid 11 commits late at
        // 103 s but after 13 in the WAL.
        let ends = vec![
            end(12, 100, 100, XactKind::Commit),
            end(14, 150, 104, XactKind::Abort),
            end(13, 200, 105, XactKind::Commit),
            end(11, 300, 103, XactKind::Commit),
        ];
        let none = |_: &str| None;
        let time = |s, inclusive| RecoveryTarget::Time {
            at: at(s),
            inclusive,
        };
        assert_eq!(stop_index(&ends, &time(105, false), none), Some(2));
        assert_eq!(stop_index(&ends, &time(105, true), none), Some(4));
        assert_eq!(stop_index(&ends, &time(104, false), none), Some(1));
        let xid = |x, inclusive| RecoveryTarget::Xid { xid: x, inclusive };
        assert_eq!(stop_index(&ends, &xid(13, false), none), Some(2));
        assert_eq!(stop_index(&ends, &xid(13, true), none), Some(3));
        assert_eq!(stop_index(&ends, &xid(99, true), none), None);
        let lsn = |l, inclusive| RecoveryTarget::Lsn {
            lsn: Lsn(l),
            inclusive,
        };
        assert_eq!(stop_index(&ends, &lsn(200, false), none), Some(2));
        assert_eq!(stop_index(&ends, &lsn(200, true), none), Some(3));
        let rp = |n: &str| (n == "before").then_some(Lsn(180));
        let name = RecoveryTarget::Name {
            name: "before".into(),
        };
        assert_eq!(stop_index(&ends, &name, rp), Some(2));
        assert_eq!(stop_index(&ends, &RecoveryTarget::Latest, none), Some(4));
        assert_eq!(stop_index(&ends, &RecoveryTarget::Immediate, none), None);
    }
}
