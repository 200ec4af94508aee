//! Native reader for PostgreSQL 13 to 18 write-ahead log, and the commit index built on it.
//!
//! Layout facts: /work/shared/reference/wal-format.md (checked against pg_waldump).
//! `reader` validates records the way PostgreSQL's xlogreader does, `collect` keeps the
//! records the console cares about, `index` persists them per archive directory.

mod arch_file;
mod collect;
mod compress;
mod crc;
mod decode;
mod index;
mod page;
pub mod path;
mod reader;
mod record;
mod scan;
mod store;
mod tail;
mod times;

pub use arch_file::BuildStats;
pub use collect::{Checkpoint, RelationTouch, RestorePoint, TxEnd, MAX_RELATIONS};
pub use decode::XactKind;
pub use index::{SegmentSummary, WalIndex, WalIndexError, WalRun};
pub use page::version_for_magic;
pub use record::RelFileNode;
pub use tail::{read_unarchived, read_unarchived_with, TailRead};
pub use times::IndexedTimes;

/// Feeds `data` to a fresh reader as segment `seg_no` (and, if given, `next` as the
/// segment after it) and returns the transaction ends and the break, if any. For
/// fuzzing and tests: it must never panic, whatever the bytes.
pub fn scan_bytes(
    seg_no: u64,
    data: &[u8],
    next: Option<&[u8]>,
) -> (Vec<TxEnd>, Option<(u64, String)>) {
    let mut stream = reader::WalStream::new();
    let mut col =
        collect::Collector::new(crate::domain::timeline::TimelineId(1), Default::default());
    let mut broken = stream.feed(seg_no, data, &mut col).broken;
    if let (None, Some(next)) = (&broken, next) {
        broken = stream.feed(seg_no + 1, next, &mut col).broken;
    }
    (col.tx_ends, broken.map(|b| (b.lsn, b.reason)))
}
