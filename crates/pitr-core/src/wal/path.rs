//! The WAL index seen along one timeline's path: what recovery onto that timeline replays
//! (a parent's WAL up to the fork, then the child's), so that an xid, a restore point or a
//! transaction end on another branch is never taken for one on this path.

use super::collect::{RestorePoint, TxEnd};
use super::index::WalIndex;
use crate::domain::lsn::Lsn;
use crate::domain::timeline::TimelinePath;

/// Commits and aborts replay meets on `path` with `from <= lsn` and `end <= to`, in replay
/// order.
pub fn tx_ends<'a>(
    index: &'a WalIndex,
    path: &'a TimelinePath,
    from: Lsn,
    to: Lsn,
) -> impl Iterator<Item = &'a TxEnd> + 'a {
    path.0.iter().flat_map(move |part| {
        let lo = part.begin.max(from);
        let hi = part.end.min(to);
        let list = if lo < hi {
            index.tx_ends_between(part.timeline, lo, hi)
        } else {
            &[]
        };
        list.iter().filter(move |t| t.end <= to)
    })
}

/// The first commit or abort of `xid` on the path.
pub fn tx_end_by_xid<'a>(index: &'a WalIndex, path: &TimelinePath, xid: u32) -> Option<&'a TxEnd> {
    index
        .tx_ends()
        .iter()
        .filter(|t| t.xid == xid && path.holds(t.timeline, t.lsn))
        .min_by_key(|t| t.lsn)
}

/// The first restore point named `name` on the path, as recovery_target_name stops at.
pub fn restore_point<'a>(
    index: &'a WalIndex,
    path: &TimelinePath,
    name: &str,
) -> Option<&'a RestorePoint> {
    index
        .restore_points()
        .iter()
        .filter(|p| p.name == name && path.holds(p.timeline, p.lsn))
        .min_by_key(|p| p.lsn)
}

/// Whether the index has read every byte of the path in `[from, to)` without a break,
/// so that "not found" means "not there".
pub fn covers(index: &WalIndex, path: &TimelinePath, from: Lsn, to: Lsn) -> bool {
    let runs = index.runs();
    path.0.iter().all(|part| {
        let lo = part.begin.max(from);
        let hi = part.end.min(to);
        lo >= hi
            || runs
                .iter()
                .any(|r| r.timeline == part.timeline && r.start <= lo && hi <= r.end)
    })
}

/// Where valid WAL on the path ends, starting from `from` (damage or a missing segment
/// ends it even where the catalog lists a file).
pub fn valid_end(index: &WalIndex, path: &TimelinePath, from: Lsn) -> Option<Lsn> {
    let runs = index.runs();
    let mut reached = from;
    for part in &path.0 {
        if part.end <= reached {
            continue;
        }
        let run = runs
            .iter()
            .find(|r| r.timeline == part.timeline && r.start <= reached && reached <= r.end)?;
        if run.end < part.end {
            return Some(run.end);
        }
        reached = part.end;
    }
    Some(reached)
}
