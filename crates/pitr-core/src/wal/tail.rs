//! Reading the WAL a running server has not archived yet, straight from its pg_wal.
//!
//! The files there are live: the newest is being written, and recycled files beyond it
//! still hold old WAL. Reading stops where valid WAL ends, which is the insert position
//! (or shortly before it, for WAL not yet flushed); only entries before `upto`, the
//! position the server reported, are kept.

use super::collect::{Collector, RelationTouch, RestorePoint, TxEnd};
use super::reader::WalStream;
use crate::domain::lsn::Lsn;
use crate::domain::segment::{SegmentSize, WalSegment};
use std::io::Read;
use std::path::Path;

/// What a server's unarchived WAL holds.
#[derive(Debug, Clone, Default)]
pub struct TailRead {
    pub tx_ends: Vec<TxEnd>,
    /// The shared list `TxEnd::rel_start`/`rel_len` point into.
    pub relations: Vec<RelationTouch>,
    pub restore_points: Vec<RestorePoint>,
    /// The archive's end, where reading began.
    pub from: Lsn,
    /// The insert position the server reported, the read's limit.
    pub upto: Lsn,
    /// Where valid WAL ended: `upto`, or earlier when reading stopped first.
    pub read_to: Lsn,
}

/// Reads `segments` (consecutive, oldest first) from `pg_wal`. A transaction begun in an
/// archived segment counts only the records it wrote here.
pub fn read_unarchived(
    pg_wal: &Path,
    segments: &[WalSegment],
    size: SegmentSize,
    upto: Lsn,
) -> Result<TailRead, String> {
    read_unarchived_with(segments, size, upto, |name, len| {
        let path = pg_wal.join(name);
        let mut data = Vec::new();
        std::fs::File::open(&path)
            .and_then(|f| f.take(len).read_to_end(&mut data))
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(data)
    })
}

/// Like `read_unarchived`, with each segment's first bytes from `read(file name, length)`
/// (a local file, or one on the server's host over SSH). Of the segment holding `upto`
/// only the pages before it are asked for: the rest is not written yet, or recycled WAL.
pub fn read_unarchived_with(
    segments: &[WalSegment],
    size: SegmentSize,
    upto: Lsn,
    mut read: impl FnMut(&str, u64) -> Result<Vec<u8>, String>,
) -> Result<TailRead, String> {
    let Some(first) = segments.first() else {
        return Ok(TailRead {
            from: upto,
            upto,
            read_to: upto,
            ..TailRead::default()
        });
    };
    let mut stream = WalStream::new();
    let mut col = Collector::new(first.timeline, Default::default());
    let mut read_to = first.start_lsn(size);
    for seg in segments {
        let data = read(&seg.file_name(size), wanted_bytes(seg, size, upto))?;
        let scan = stream.feed(seg.number, &data, &mut col);
        read_to = stream.position().map_or(seg.end_lsn(size), Lsn);
        if let Some(b) = scan.broken {
            read_to = Lsn(b.lsn);
            break;
        }
    }
    let keep = |lsn: Lsn| lsn < upto;
    let mut relations = Vec::new();
    let tx_ends = col
        .tx_ends
        .into_iter()
        .filter(|t| keep(t.lsn))
        .map(|mut t| {
            let start = t.rel_start as usize;
            let rels = col
                .relations
                .get(start..start + t.rel_len as usize)
                .unwrap_or(&[]);
            t.rel_start = u32::try_from(relations.len()).unwrap_or(u32::MAX);
            relations.extend_from_slice(rels);
            t
        })
        .collect();
    Ok(TailRead {
        tx_ends,
        relations,
        restore_points: col
            .restore_points
            .into_iter()
            .filter(|p| keep(p.lsn))
            .collect(),
        from: first.start_lsn(size),
        upto,
        read_to: read_to.min(upto),
    })
}

/// Every page size PostgreSQL allows divides this, so a read rounded up to it ends on a
/// page boundary.
const LARGEST_PAGE: u64 = 64 * 1024;

/// How much of `seg` holds WAL before `upto`: all of it, or its pages up to `upto`.
fn wanted_bytes(seg: &WalSegment, size: SegmentSize, upto: Lsn) -> u64 {
    let start = seg.start_lsn(size).0;
    if upto.0 <= start || upto.0 >= seg.end_lsn(size).0 {
        return size.bytes();
    }
    (upto.0 - start).div_ceil(LARGEST_PAGE) * LARGEST_PAGE
}
