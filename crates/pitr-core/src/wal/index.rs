//! The persistent, incremental index of one WAL archive directory.
//!
//! Opening reads the cache file, lists the archive, and reads only what is new: when a
//! timeline's cached files are an unchanged prefix of what is there now (name, size and
//! modification time), reading continues after them from the saved reader state, so a
//! record or transaction that spans the old and new segments comes out whole. Anything
//! else on a timeline (a file changed, removed or inserted before the end) reads that
//! timeline again. Files are read in parallel (see `scan`).

use super::arch_file::{ArchFile, BuildStats};
use super::collect::{micros_to_time, Checkpoint, RelationTouch, RestorePoint, TxEnd};
use super::compress::{classify, fill, open_segment};
use super::page::{WalFormat, LONG_HEADER_LEN};
use super::scan::scan;
use super::store::{self, Resume, Stored, StoredSegment};
use crate::domain::catalog::Compression;
use crate::domain::lsn::Lsn;
use crate::domain::segment::{SegmentSize, WalSegment};
use crate::domain::timeline::TimelineId;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

#[derive(Debug, thiserror::Error)]
pub enum WalIndexError {
    #[error(
        "cannot list WAL archive directory {path}: {source}; check that it exists and is readable"
    )]
    ListArchive {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What the index knows about one archived segment file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SegmentSummary {
    pub segment: WalSegment,
    pub file_name: String,
    pub size: u64,
    pub compression: Compression,
    pub partial: bool,
    /// Set when valid WAL ended early while reading this file: the LSN where the next
    /// record should have started (it may lie in the previous segment when the broken
    /// record began there).
    pub valid_end: Option<Lsn>,
    /// Names the file, the offset and the reason when valid WAL ended early.
    pub warning: Option<String>,
    /// Commits and aborts whose record starts in this segment.
    pub tx_ends: u32,
    pub first_tx_end: Option<DateTime<Utc>>,
    pub last_tx_end: Option<DateTime<Utc>>,
}

/// A stretch of WAL on one timeline readable without a gap or a damaged record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WalRun {
    pub timeline: TimelineId,
    /// Start of its first segment.
    pub start: Lsn,
    /// End of valid WAL: where damage starts, or the end of the last segment.
    pub end: Lsn,
    /// Why it ends here when that is not simply the newest segment: damage or a gap.
    pub end_reason: Option<String>,
}

pub struct WalIndex {
    seg_size: SegmentSize,
    stored: Stored,
    summaries: BTreeMap<WalSegment, SegmentSummary>,
    warnings: Vec<String>,
    stats: BuildStats,
}

struct Listed {
    path: PathBuf,
    name: String,
    size: u64,
    mtime_ns: i64,
}

fn list_dir(dir: &Path) -> Result<Vec<Listed>, WalIndexError> {
    let err = |source| WalIndexError::ListArchive {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let bare = classify(&name).0;
        if bare.len() != 24 || !bare.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        out.push(Listed {
            path: entry.path(),
            name,
            size: meta.len(),
            mtime_ns,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Reads the segment size from the first segment file whose long header makes sense.
fn detect_seg_size(files: &[Listed]) -> Option<SegmentSize> {
    files.iter().find_map(|f| {
        let mut head = [0u8; LONG_HEADER_LEN];
        let n = fill(
            &mut open_segment(&f.path, classify(&f.name).1).ok()?,
            &mut head,
        )
        .ok()?;
        SegmentSize::new(WalFormat::from_segment_start(&head[..n]).ok()?.seg_size)
    })
}

fn load_cache(cache: &Path, warnings: &mut Vec<String>) -> Stored {
    let problem = match std::fs::read(cache) {
        Ok(bytes) => match store::decode(&bytes) {
            Ok(s) => return s,
            Err(e) => e,
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Stored::default(),
        Err(e) => e.to_string(),
    };
    let msg = format!(
        "WAL index cache {} could not be used ({problem}); rebuilding it from the archive",
        cache.display()
    );
    tracing::warn!("{msg}");
    warnings.push(msg);
    Stored::default()
}

fn save_cache(cache: &Path, stored: &Stored) -> std::io::Result<()> {
    if let Some(parent) = cache.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut tmp = cache.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp)?;
    store::encode(stored, &mut file)?;
    drop(file);
    std::fs::rename(&tmp, cache)
}

impl WalIndex {
    /// Opens the index of `archive_dir` kept in the file `cache`, reading only segments
    /// that are new or changed since the cache was written, and writes the cache back.
    /// `seg_size` None: taken from the cache, else from the first segment's header.
    /// Damaged or unreadable segments and an unusable cache are warnings, not errors.
    pub fn open_or_build(
        archive_dir: &Path,
        cache: &Path,
        seg_size: Option<SegmentSize>,
    ) -> Result<WalIndex, WalIndexError> {
        let mut warnings = Vec::new();
        let mut stored = load_cache(cache, &mut warnings);
        let listed = list_dir(archive_dir)?;
        let seg_size = seg_size
            .or_else(|| SegmentSize::new(stored.seg_size))
            .or_else(|| detect_seg_size(&listed))
            .unwrap_or(SegmentSize::DEFAULT);
        if stored.seg_size != seg_size.bytes() {
            stored = Stored {
                seg_size: seg_size.bytes(),
                ..Stored::default()
            };
        }
        let by_timeline = group(listed, seg_size, &mut warnings);
        let mut work = Vec::new();
        let mut stats = BuildStats::default();
        let cached_timelines: Vec<TimelineId> = stored.resume.iter().map(|(t, _)| *t).collect();
        for tl in cached_timelines {
            if !by_timeline.contains_key(&tl) {
                drop_timeline(&mut stored, tl);
            }
        }
        for (tl, files) in by_timeline {
            let cached: Vec<&StoredSegment> = stored
                .segments
                .iter()
                .filter(|s| s.segment.timeline == tl)
                .collect();
            let resume_at = stored.resume.iter().position(|(t, _)| *t == tl);
            let unchanged_prefix = cached.len() <= files.len()
                && cached.iter().zip(&files).all(|(c, f)| f.same_as(c))
                && (resume_at.is_some() || cached.is_empty());
            if unchanged_prefix {
                let n = cached.len();
                stats.segments_reused += n;
                if n == files.len() {
                    continue;
                }
                let resume = resume_at
                    .map(|i| stored.resume.remove(i).1)
                    .unwrap_or_default();
                work.push((tl, files[n..].to_vec(), resume));
            } else {
                drop_timeline(&mut stored, tl);
                work.push((tl, files, Resume::default()));
            }
        }
        let changed = !work.is_empty();
        scan(&mut stored, work, &mut stats);
        sort_if_needed(&mut stored.segments, |s| s.segment);
        sort_if_needed(&mut stored.tx_ends, |t| (t.timeline, t.lsn));
        sort_if_needed(&mut stored.restore_points, |p| (p.timeline, p.lsn));
        sort_if_needed(&mut stored.checkpoints, |c| (c.timeline, c.lsn));
        if changed || !warnings.is_empty() || !cache.exists() {
            if let Err(e) = save_cache(cache, &stored) {
                let msg = format!(
                    "could not write the WAL index cache {}: {e}; the archive will be read again next time",
                    cache.display()
                );
                tracing::warn!("{msg}");
                warnings.push(msg);
            }
        }
        let mut index = WalIndex {
            seg_size,
            stored,
            summaries: BTreeMap::new(),
            warnings,
            stats,
        };
        index.summarise();
        Ok(index)
    }

    fn summarise(&mut self) {
        for s in &self.stored.segments {
            if let Some(w) = &s.warning {
                self.warnings.push(w.clone());
            }
            self.summaries.insert(
                s.segment,
                SegmentSummary {
                    segment: s.segment,
                    file_name: s.file_name.clone(),
                    size: s.size,
                    compression: s.compression,
                    partial: s.partial,
                    valid_end: s.valid_end,
                    warning: s.warning.clone(),
                    tx_ends: 0,
                    first_tx_end: None,
                    last_tx_end: None,
                },
            );
        }
        // Transaction ends are sorted by segment: one pass, one map lookup per segment.
        let mut i = 0;
        let all = &self.stored.tx_ends;
        while i < all.len() {
            let seg = WalSegment::containing(all[i].timeline, all[i].lsn, self.seg_size);
            let n = all[i..]
                .iter()
                .take_while(|t| WalSegment::containing(t.timeline, t.lsn, self.seg_size) == seg)
                .count();
            let run = &all[i..i + n];
            if let Some(s) = self.summaries.get_mut(&seg) {
                s.tx_ends = n as u32;
                s.first_tx_end = run.iter().map(|t| t.time_us).min().map(micros_to_time);
                s.last_tx_end = run.iter().map(|t| t.time_us).max().map(micros_to_time);
            }
            i += n;
        }
    }

    pub fn segment_size(&self) -> SegmentSize {
        self.seg_size
    }

    /// Every commit and abort, sorted by (timeline, LSN). Timelines share their common
    /// past: a child timeline's first segment repeats its parent's WAL up to the fork.
    pub fn tx_ends(&self) -> &[TxEnd] {
        &self.stored.tx_ends
    }

    /// Commits only (plain and prepared), by (timeline, LSN).
    pub fn commits(&self) -> impl Iterator<Item = &TxEnd> {
        self.stored.tx_ends.iter().filter(|t| t.kind.is_commit())
    }

    /// Commits and aborts of `timeline` with `from <= lsn < to`.
    pub fn tx_ends_between(&self, timeline: TimelineId, from: Lsn, to: Lsn) -> &[TxEnd] {
        let all = &self.stored.tx_ends;
        let lo = all.partition_point(|t| (t.timeline, t.lsn) < (timeline, from));
        let hi = all.partition_point(|t| (t.timeline, t.lsn) < (timeline, to));
        &all[lo..hi.max(lo)]
    }

    /// The commit or abort of `xid` (the first one by timeline and LSN).
    pub fn tx_end_by_xid(&self, xid: u32) -> Option<&TxEnd> {
        self.stored.tx_ends.iter().find(|t| t.xid == xid)
    }

    /// The last commit on `timeline` whose time is at or before `time`.
    pub fn last_commit_at_or_before(
        &self,
        timeline: TimelineId,
        time: DateTime<Utc>,
    ) -> Option<&TxEnd> {
        let us = time.timestamp_micros();
        self.commits()
            .filter(|t| t.timeline == timeline && t.time_us <= us)
            .max_by_key(|t| (t.time_us, t.lsn))
    }

    /// Relations the transaction's records touched, by distinct relation.
    pub fn relations(&self, t: &TxEnd) -> &[RelationTouch] {
        let (s, n) = (t.rel_start as usize, t.rel_len as usize);
        self.stored.relations.get(s..s + n).unwrap_or(&[])
    }

    pub fn restore_points(&self) -> &[RestorePoint] {
        &self.stored.restore_points
    }

    /// The first restore point with this name, as recovery_target_name would stop at.
    pub fn restore_point(&self, name: &str) -> Option<&RestorePoint> {
        self.stored.restore_points.iter().find(|p| p.name == name)
    }

    pub fn checkpoints(&self) -> &[Checkpoint] {
        &self.stored.checkpoints
    }

    /// The PostgreSQL major versions whose page magic the last segment read of each timeline
    /// carries (one, unless the archive mixes clusters of different versions).
    pub fn wal_versions(&self) -> std::collections::BTreeSet<u8> {
        self.stored
            .resume
            .iter()
            .filter_map(|(_, r)| r.stream.format.map(|f| f.version))
            .collect()
    }

    pub fn segment_summary(&self, segment: WalSegment) -> Option<&SegmentSummary> {
        self.summaries.get(&segment)
    }

    pub fn segments(&self) -> impl Iterator<Item = &SegmentSummary> {
        self.summaries.values()
    }

    /// Runs of valid WAL per timeline: a run ends at damage or before a missing segment.
    pub fn runs(&self) -> Vec<WalRun> {
        let mut runs: Vec<WalRun> = Vec::new();
        let mut prev: Option<&SegmentSummary> = None;
        for s in self.summaries.values() {
            let continues = prev.is_some_and(|p| {
                p.segment.timeline == s.segment.timeline
                    && p.segment.number + 1 == s.segment.number
                    && p.valid_end.is_none()
            });
            if let (Some(p), Some(run)) = (prev, runs.last_mut()) {
                if !continues && p.valid_end.is_none() {
                    run.end = p.segment.end_lsn(self.seg_size);
                    if p.segment.timeline == s.segment.timeline {
                        run.end_reason = Some(format!(
                            "segment {} is missing",
                            WalSegment::new(p.segment.timeline, p.segment.number + 1)
                                .file_name(self.seg_size)
                        ));
                    }
                }
            }
            if !continues {
                runs.push(WalRun {
                    timeline: s.segment.timeline,
                    start: s.segment.start_lsn(self.seg_size),
                    end: s.segment.end_lsn(self.seg_size),
                    end_reason: None,
                });
            }
            if let (Some(end), Some(run)) = (s.valid_end, runs.last_mut()) {
                run.end = end;
                run.end_reason = s.warning.clone();
            } else if let Some(run) = runs.last_mut() {
                run.end = s.segment.end_lsn(self.seg_size);
            }
            prev = Some(s);
        }
        runs
    }

    /// Problems met while opening: unusable cache, damaged or unreadable segments.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn build_stats(&self) -> BuildStats {
        self.stats
    }
}

/// Entries come out of the reader in order; only a timeline read again needs a sort.
fn sort_if_needed<T, K: Ord>(v: &mut [T], key: impl Fn(&T) -> K) {
    if !v.is_sorted_by_key(&key) {
        v.sort_by_key(key);
    }
}

fn drop_timeline(stored: &mut Stored, tl: TimelineId) {
    stored.segments.retain(|s| s.segment.timeline != tl);
    stored.tx_ends.retain(|t| t.timeline != tl);
    let old = std::mem::take(&mut stored.relations);
    for t in &mut stored.tx_ends {
        let (s, n) = (t.rel_start as usize, t.rel_len as usize);
        let kept = old.get(s..s + n).unwrap_or(&[]);
        t.rel_start = u32::try_from(stored.relations.len()).unwrap_or(u32::MAX);
        stored.relations.extend_from_slice(kept);
    }
    stored.restore_points.retain(|p| p.timeline != tl);
    stored.checkpoints.retain(|c| c.timeline != tl);
    stored.resume.retain(|(t, _)| *t != tl);
}

/// Segment files by timeline and number. When two files hold the same segment the
/// complete one wins over a `.partial`, then the uncompressed one.
fn group(
    listed: Vec<Listed>,
    seg_size: SegmentSize,
    warnings: &mut Vec<String>,
) -> BTreeMap<TimelineId, Vec<ArchFile>> {
    let mut by_seg: BTreeMap<WalSegment, ArchFile> = BTreeMap::new();
    for l in listed {
        let (bare, compression, partial) = classify(&l.name);
        let Some(segment) = WalSegment::parse_file_name(bare, seg_size) else {
            continue;
        };
        let f = ArchFile {
            path: l.path,
            compression,
            partial,
            segment,
            size: l.size,
            mtime_ns: l.mtime_ns,
            name: l.name,
        };
        match by_seg.get(&segment) {
            Some(old) => {
                let better = (f.partial, f.compression != Compression::None)
                    < (old.partial, old.compression != Compression::None);
                let (keep, skip) = if better {
                    (&f.name, &old.name)
                } else {
                    (&old.name, &f.name)
                };
                warnings.push(format!(
                    "{keep} and {skip} hold the same segment; reading {keep}"
                ));
                if better {
                    by_seg.insert(segment, f);
                }
            }
            None => {
                by_seg.insert(segment, f);
            }
        }
    }
    let mut out: BTreeMap<TimelineId, Vec<ArchFile>> = BTreeMap::new();
    for (seg, f) in by_seg {
        out.entry(seg.timeline).or_default().push(f);
    }
    out
}
