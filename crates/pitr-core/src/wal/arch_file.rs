//! An archived WAL file as the index finds it, and what reading it produced: shared by the
//! index (which lists and stores) and the scan (which reads in parallel).

use super::reader::SegmentScan;
use super::store::StoredSegment;
use crate::domain::catalog::Compression;
use crate::domain::lsn::Lsn;
use crate::domain::segment::WalSegment;
use std::path::PathBuf;

/// How much work the last `open_or_build` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BuildStats {
    pub segments_read: usize,
    /// Decompressed bytes checked.
    pub bytes_read: u64,
    pub segments_reused: usize,
}

#[derive(Debug, Clone)]
pub(super) struct ArchFile {
    pub path: PathBuf,
    pub name: String,
    pub segment: WalSegment,
    pub compression: Compression,
    pub partial: bool,
    pub size: u64,
    pub mtime_ns: i64,
}

impl ArchFile {
    pub(super) fn same_as(&self, s: &StoredSegment) -> bool {
        self.segment == s.segment
            && self.name == s.file_name
            && self.size == s.size
            && self.mtime_ns == s.mtime_ns
    }
}

/// `to.append(from)` without copying when `to` is empty, the usual case of a first build.
pub(super) fn append<T>(to: &mut Vec<T>, mut from: Vec<T>) {
    if to.is_empty() {
        *to = from;
    } else {
        to.append(&mut from);
    }
}

pub(super) fn stored_segment(f: &ArchFile, scan: SegmentScan) -> StoredSegment {
    let (valid_end, warning) = match scan.broken {
        None => (None, None),
        Some(b) => {
            let expected = if f.partial {
                "; expected in a .partial segment, which ends where its server stopped writing"
            } else {
                ""
            };
            let msg = format!(
                "{}: valid WAL ends at {} (offset {} in this file): {}{expected}",
                f.name,
                Lsn(b.lsn),
                b.offset,
                b.reason
            );
            if f.partial {
                tracing::info!("{msg}");
            } else {
                tracing::warn!("{msg}");
            }
            (Some(Lsn(b.lsn)), Some(msg))
        }
    };
    StoredSegment {
        segment: f.segment,
        file_name: f.name.clone(),
        size: f.size,
        mtime_ns: f.mtime_ns,
        compression: f.compression,
        partial: f.partial,
        valid_end,
        warning,
    }
}
