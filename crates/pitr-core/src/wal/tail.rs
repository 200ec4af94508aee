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
    let mut data = Vec::with_capacity(size.bytes() as usize);
    for seg in segments {
        let path = pg_wal.join(seg.file_name(size));
        data.clear();
        std::fs::File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut data))
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
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
