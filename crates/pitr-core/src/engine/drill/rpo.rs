//! The recovery point objective of the chosen instant, from the WAL index.

use super::*;

/// How much would be lost by recovering to the chosen instant rather than to the newest
/// archived WAL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rpo {
    /// The chosen instant (for an xid target: its commit time).
    pub chosen: DateTime<Utc>,
    /// The last commit in the newest archived WAL.
    pub newest_commit: DateTime<Utc>,
    pub newest_segment: String,
    pub seconds: f64,
}

/// The RPO of recovering to `target`: from the chosen instant to the last commit of the
/// newest archived WAL. None when the index cannot place the target in time, or places it
/// after the newest commit.
pub fn rpo(index: &WalIndex, target: &RecoveryTarget) -> Option<Rpo> {
    let newest = index
        .commits()
        .max_by_key(|t| (t.timeline, t.time_us, t.lsn))?;
    let chosen = match target {
        RecoveryTarget::Time { at, .. } => *at,
        RecoveryTarget::Xid { xid, .. } => index.tx_end_by_xid(u32::try_from(*xid).ok()?)?.time(),
        RecoveryTarget::Name { name } => index.restore_point(name)?.time(),
        RecoveryTarget::Latest => newest.time(),
        RecoveryTarget::Lsn { .. } | RecoveryTarget::Immediate => return None,
    };
    // An instant after the newest archived commit is not reached by any replay: no RPO.
    if chosen > newest.time() {
        return None;
    }
    let seconds = (newest.time() - chosen).num_microseconds()? as f64 / 1e6;
    let size = index.segment_size();
    Some(Rpo {
        chosen,
        newest_commit: newest.time(),
        newest_segment: WalSegment::containing(newest.timeline, newest.lsn, size).file_name(size),
        seconds,
    })
}
