//! The WAL spool: the segments a recovery will replay, fetched ahead of replay into a
//! directory beside the restore, and the `restore_command` that serves from it.
//!
//! The serving command is self-sufficient: a segment present at its full size is moved
//! into place, anything else (not staged yet, removed, of the wrong size, a history file)
//! goes to the repository's own restore_command. So replay keeps working when the console
//! that fills the spool is gone.

use super::paths::check_plain_path;
use super::restore_command::shell_quote;
use super::segment::{SegmentSize, WalSegment};
use super::timeline::TimelineId;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Where the serving command notes each request, in order: `spool NAME` when the spool
/// served it, `archive NAME` when it went to the repository's restore_command.
pub const REQUEST_LOG: &str = "requests";

/// Suffix of a segment being written; renamed to the segment's name once complete.
pub const PART_SUFFIX: &str = ".part";

/// Consecutive segments of one timeline, in the order replay reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRun {
    pub timeline: TimelineId,
    pub first: u64,
    pub last: u64,
}

/// What a run stages, and how much of it may wait on disk at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalSpool {
    pub runs: Vec<SegmentRun>,
    pub segment_size: SegmentSize,
    /// Staged segments not yet replayed may fill at most this much (`wal_spool_mib`).
    pub limit_mib: u64,
    /// Fetches at a time.
    pub parallel: usize,
}

/// Off unless configured: measured on a local archive in the page cache, staging made
/// `recover --latest` slower (replay is CPU-bound; the fetches compete for the cores). It is
/// for slow archives (compressed, network file systems); 1024 is a sensible size there.
pub const DEFAULT_LIMIT_MIB: u64 = 0;
/// Two cores: three fetches keep one decompressing while others wait on the disk.
pub const DEFAULT_PARALLEL: usize = 3;

impl WalSpool {
    /// Every file name to stage, in replay order.
    pub fn file_names(&self) -> Vec<String> {
        self.runs
            .iter()
            .flat_map(|r| {
                (r.first..=r.last)
                    .map(|n| WalSegment::new(r.timeline, n).file_name(self.segment_size))
            })
            .collect()
    }

    pub fn segments(&self) -> u64 {
        self.runs.iter().map(|r| r.last - r.first + 1).sum()
    }

    /// How many staged segments may wait at once (never fewer than one).
    pub fn limit_segments(&self) -> usize {
        ((self.limit_mib << 20) / self.segment_size.bytes()).max(1) as usize
    }
}

/// Groups segments (sorted, deduplicated) into runs of consecutive numbers per timeline.
pub fn runs_of(segments: &[WalSegment]) -> Vec<SegmentRun> {
    let mut runs: Vec<SegmentRun> = Vec::new();
    for s in segments {
        match runs.last_mut() {
            Some(r) if r.timeline == s.timeline && r.last + 1 == s.number => r.last = s.number,
            _ => runs.push(SegmentRun {
                timeline: s.timeline,
                first: s.number,
                last: s.number,
            }),
        }
    }
    runs
}

/// The restore_command that serves from `spool` and falls back to `fallback` (the
/// repository's own). The spool must be a plain path: it is pasted into a shell line.
pub fn serving_command(
    spool: &Path,
    size: SegmentSize,
    fallback: &str,
) -> Result<String, crate::domain::paths::Unsafe> {
    check_plain_path("the WAL spool directory", spool)?;
    let d = shell_quote(&spool.display().to_string());
    Ok(format!(
        "if [ \"$(stat -c %s {d}/%f 2>/dev/null)\" = {bytes} ] && mv -f {d}/%f \"%p\"; then \
         {{ echo spool %f >> {d}/{REQUEST_LOG}; }} 2>/dev/null; exit 0; fi; \
         {{ echo archive %f >> {d}/{REQUEST_LOG}; }} 2>/dev/null; {fallback}",
        bytes = size.bytes()
    ))
}

/// `restore_command` with `%f` and `%p` replaced as PostgreSQL does (`%%` is `%`), to fetch
/// `file` into `dest` the way the server would. `file` is a segment name, `dest` a plain
/// path: neither needs quoting inside the command's own quotes.
pub fn expand(restore_command: &str, file: &str, dest: &Path) -> String {
    super::restore_command::expand(restore_command, file, &dest.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::restore_command;

    fn spool(limit_mib: u64) -> WalSpool {
        WalSpool {
            runs: vec![
                SegmentRun {
                    timeline: TimelineId(1),
                    first: 0xFF,
                    last: 0x100,
                },
                SegmentRun {
                    timeline: TimelineId(2),
                    first: 0x101,
                    last: 0x101,
                },
            ],
            segment_size: SegmentSize::DEFAULT,
            limit_mib,
            parallel: 3,
        }
    }

    #[test]
    fn the_names_follow_replay_across_a_log_id_and_a_timeline() {
        assert_eq!(
            spool(64).file_names(),
            [
                "0000000100000000000000FF",
                "000000010000000100000000",
                "000000020000000100000001"
            ]
        );
        assert_eq!(spool(64).segments(), 3);
        assert_eq!(spool(64).limit_segments(), 4);
        assert_eq!(spool(1).limit_segments(), 1);
    }

    #[test]
    fn runs_break_at_holes_and_timelines() {
        let s = |t, n| WalSegment::new(TimelineId(t), n);
        let runs = runs_of(&[s(1, 1), s(1, 2), s(1, 4), s(2, 5)]);
        assert_eq!(runs.len(), 3);
        assert_eq!((runs[0].first, runs[0].last), (1, 2));
        assert_eq!((runs[2].timeline, runs[2].first), (TimelineId(2), 5));
    }

    #[test]
    fn the_serving_command_checks_the_size_and_falls_back_to_the_archive() {
        let fallback = restore_command::local("/srv/wal");
        let c = serving_command(
            Path::new("/srv/pg/side.pitr-r1-wal"),
            SegmentSize::DEFAULT,
            &fallback,
        )
        .unwrap();
        assert!(c.starts_with(
            "if [ \"$(stat -c %s /srv/pg/side.pitr-r1-wal/%f 2>/dev/null)\" = 16777216 ] && mv -f /srv/pg/side.pitr-r1-wal/%f \"%p\"; then { echo spool %f >> /srv/pg/side.pitr-r1-wal/requests; } 2>/dev/null; exit 0; fi;"
        ), "{c}");
        assert!(c.contains("{ echo archive %f >> /srv/pg/side.pitr-r1-wal/requests; } 2>/dev/null; if [ -f /srv/wal/%f ]"));
        assert!(c.ends_with(&fallback));
        let e = serving_command(Path::new("/srv/a;b"), SegmentSize::DEFAULT, &fallback)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`;` is not allowed"), "{e}");
    }

    #[test]
    fn expanding_is_what_the_server_would_run() {
        assert_eq!(
            expand(
                "cp /w/%f \"%p\" # 100%% %r",
                "000000010000000000000003",
                Path::new("/s/x.part")
            ),
            // %r (the oldest file to keep) stands for the segment itself outside a server.
            "cp /w/000000010000000000000003 \"/s/x.part\" # 100% 000000010000000000000003"
        );
    }
}
