//! Which archived segments a run stages ahead of replay (see `domain::wal_spool`).

use crate::config::{Config, RepositoryConfig, RepositoryKind};
use crate::domain::catalog::Catalog;
use crate::domain::lsn::Lsn;
use crate::domain::segment::WalSegment;
use crate::domain::timeline::TimelineId;
use crate::domain::wal_spool::{self, runs_of, SegmentRun, WalSpool};

/// The archived segments from `first` to `last` (file names, as the plan shows them) that
/// recovery onto `timeline` reads: for each number, the file of the timeline the path is on
/// at the segment's last byte, as `XLogFileReadAnyTLI` picks the newest timeline begun.
pub fn planned_runs(
    catalog: &Catalog,
    timeline: TimelineId,
    first: &str,
    last: &str,
) -> Vec<SegmentRun> {
    let size = catalog.segment_size;
    let (Some(a), Some(b)) = (
        WalSegment::parse_file_name(first, size),
        WalSegment::parse_file_name(last, size),
    ) else {
        return Vec::new();
    };
    let path = catalog.path(timeline);
    let mut segs: Vec<WalSegment> = catalog
        .segments
        .iter()
        .filter(|s| !s.partial && (a.number..=b.number).contains(&s.segment.number))
        .map(|s| s.segment)
        .filter(|s| {
            let last_byte = Lsn(s.end_lsn(size).0.saturating_sub(1));
            path.timeline_at(last_byte) == Some(s.timeline)
        })
        .collect();
    segs.sort();
    segs.dedup();
    runs_of(&segs)
}

/// The spool a run from `repo` uses: local repositories only (Barman and pgBackRest fetch
/// ahead with their own asynchronous archive-get), none when `wal_spool_mib = 0`.
pub fn spool_for(
    config: &Config,
    repo: &RepositoryConfig,
    catalog_size: crate::domain::segment::SegmentSize,
    runs: &[SegmentRun],
) -> Option<WalSpool> {
    let limit_mib = config.wal_spool_mib.unwrap_or(wal_spool::DEFAULT_LIMIT_MIB);
    (repo.kind == RepositoryKind::Local && limit_mib > 0 && !runs.is_empty()).then(|| WalSpool {
        runs: runs.to_vec(),
        segment_size: catalog_size,
        limit_mib,
        parallel: wal_spool::DEFAULT_PARALLEL,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::{ArchivedSegment, Compression};
    use crate::domain::segment::SegmentSize;

    fn seg(n: u64) -> ArchivedSegment {
        let segment = WalSegment::new(TimelineId(1), n);
        ArchivedSegment {
            segment,
            file_name: segment.file_name(SegmentSize::DEFAULT),
            compression: Compression::None,
            partial: false,
            size_bytes: SegmentSize::DEFAULT.bytes(),
            archived_at: None,
        }
    }

    fn catalog(segments: Vec<ArchivedSegment>) -> Catalog {
        Catalog {
            repository: "test".into(),
            segment_size: SegmentSize::DEFAULT,
            backups: vec![],
            segments,
            histories: vec![],
            warnings: vec![],
            damaged: Vec::new(),
        }
    }

    #[test]
    fn a_hole_in_the_archive_is_left_to_the_archive() {
        let c = catalog(vec![seg(2), seg(3), seg(5), seg(6)]);
        let size = c.segment_size;
        let name = |n| WalSegment::new(TimelineId(1), n).file_name(size);
        let runs = planned_runs(&c, TimelineId(1), &name(3), &name(5));
        assert_eq!(runs.len(), 2);
        assert_eq!((runs[0].first, runs[0].last, runs[1].first), (3, 3, 5));
    }
}
