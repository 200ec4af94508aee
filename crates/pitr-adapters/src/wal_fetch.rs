//! A bounded local copy of WAL held in object storage, so the WAL index can read it.
//!
//! Object-storage tools list segments but give no instants inside them; the index reads
//! them once fetched. Each segment is fetched by the repository's own tool
//! (`barman-cloud-wal-restore`, `wal-g wal-fetch`), two at a time, into an `incoming/`
//! directory and renamed into place only when complete, so the index never sees half a
//! file. The copy is bounded: when the WAL the backups need is larger than the bound, the
//! newest segments are kept (times after the newest backups matter most) and older times
//! stay estimates. The copy is the console's own cache, so files it no longer needs go.

use super::repo_tool;
use crate::domain::catalog::ArchivedSegment;
use crate::domain::segment::SegmentSize;
use crate::engine::ports::CommandSpec;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Segments fetched at once: two keeps a 2-core console responsive while halving the wait
/// on a remote store.
const PARALLEL: usize = 2;

/// Where fetching stands; reported after each segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchProgress {
    pub done: usize,
    pub total: usize,
    pub bytes: u64,
}

/// What one fetch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    pub fetched: usize,
    pub reused: usize,
    /// Needed segments left out because the bound could not hold them (the oldest).
    pub beyond_bound: usize,
    /// One line per segment that could not be fetched; times there stay estimates.
    pub failures: Vec<String>,
}

/// How a repository's tool fetches one segment `name` into the file `dest`.
pub trait SegmentFetch: Sync {
    fn command(&self, name: &str, dest: &Path) -> CommandSpec;
    /// The OS user the command runs as (None: the console's own).
    fn run_as(&self) -> Option<String> {
        None
    }
    /// For messages: `barman-cloud`, `WAL-G`.
    fn tool(&self) -> &str;
    fn hint(&self) -> &str;
}

/// The segments a catalog's backups need: from the oldest backup's first segment on, every
/// complete segment of every timeline (a child timeline's segments come after its parent's
/// fork, so one segment-number bound serves all).
pub fn needed(
    catalog: &crate::domain::catalog::Catalog,
) -> impl Iterator<Item = &ArchivedSegment> + '_ {
    let size = catalog.segment_size.bytes();
    let first = catalog
        .backups
        .iter()
        .map(|b| b.start_lsn.segment_number(size))
        .min();
    catalog
        .segments
        .iter()
        .filter(move |s| !s.partial && first.is_some_and(|f| s.segment.number >= f))
}

/// Brings `dir` to hold the newest of `wanted` that fit in `bound_bytes`, fetching what is
/// missing with `source`.
pub fn fetch(
    wanted: &[&ArchivedSegment],
    segment_size: SegmentSize,
    dir: &Path,
    bound_bytes: u64,
    source: &dyn SegmentFetch,
    progress: &(dyn Fn(FetchProgress) + Sync),
) -> Result<Fetched, String> {
    let room = usize::try_from(bound_bytes / segment_size.bytes()).unwrap_or(usize::MAX);
    let beyond_bound = wanted.len().saturating_sub(room);
    let keep: Vec<String> = wanted[beyond_bound..]
        .iter()
        .map(|s| s.segment.file_name(segment_size))
        .collect();
    let incoming = dir.join("incoming");
    std::fs::create_dir_all(&incoming)
        .map_err(|e| format!("cannot create the WAL cache {}: {e}", incoming.display()))?;
    hand_over(&incoming, source)?;
    let present = prune(dir, &keep, segment_size)?;
    let missing: Vec<&String> = keep.iter().filter(|n| !present.contains(*n)).collect();
    let report = Fetched {
        reused: keep.len() - missing.len(),
        beyond_bound,
        ..Fetched::default()
    };
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let bytes = AtomicU64::new(0);
    let failures = Mutex::new(Vec::new());
    let total = missing.len();
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(total) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(name) = missing.get(i) else { break };
                match fetch_one(name, dir, &incoming, source) {
                    Ok(n) => {
                        bytes.fetch_add(n, Ordering::SeqCst);
                    }
                    Err(e) => failures.lock().unwrap_or_else(|p| p.into_inner()).push(e),
                }
                progress(FetchProgress {
                    done: done.fetch_add(1, Ordering::SeqCst) + 1,
                    total,
                    bytes: bytes.load(Ordering::SeqCst),
                });
            });
        }
    });
    let mut failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    failures.sort();
    Ok(Fetched {
        fetched: total - failures.len(),
        failures,
        ..report
    })
}

fn fetch_one(
    name: &str,
    dir: &Path,
    incoming: &Path,
    source: &dyn SegmentFetch,
) -> Result<u64, String> {
    let part = incoming.join(name);
    let spec = source.command(name, &part);
    repo_tool::output(&spec, source.tool(), source.hint())
        .map_err(|e| format!("{name} could not be fetched: {e}"))?;
    let size = std::fs::metadata(&part)
        .map_err(|e| format!("{name}: the tool reported success but wrote no file ({e})"))?
        .len();
    std::fs::rename(&part, dir.join(name))
        .map_err(|e| format!("{name}: cannot move it into the WAL cache: {e}"))?;
    Ok(size)
}

/// The fetch tool may run as another user (WAL-G as `postgres`): it must be able to write
/// into `incoming/`, and nobody else.
fn hand_over(incoming: &Path, source: &dyn SegmentFetch) -> Result<(), String> {
    let Some(user) = source.run_as() else {
        return Ok(());
    };
    if !nix::unistd::Uid::effective().is_root() {
        return Ok(());
    }
    let owner = nix::unistd::User::from_name(&user)
        .ok()
        .flatten()
        .ok_or_else(|| format!("the WAL fetch runs as `{user}`, which is not a user here"))?;
    nix::unistd::chown(incoming, Some(owner.uid), Some(owner.gid))
        .map_err(|e| format!("cannot hand {} to `{user}`: {e}", incoming.display()))
}

/// Removes cached segments not in `keep` and half-fetched ones; returns the complete ones
/// that stay. Only names of WAL segments are touched.
fn prune(
    dir: &Path,
    keep: &[String],
    segment_size: SegmentSize,
) -> Result<BTreeSet<String>, String> {
    let keep: BTreeSet<&String> = keep.iter().collect();
    let mut present = BTreeSet::new();
    let incoming = dir.join("incoming");
    for d in [dir, incoming.as_path()] {
        let entries = std::fs::read_dir(d)
            .map_err(|e| format!("cannot list the WAL cache {}: {e}", d.display()))?;
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let path: PathBuf = entry.path();
            let complete = entry
                .metadata()
                .is_ok_and(|m| m.is_file() && m.len() == segment_size.bytes());
            if d == dir && complete && keep.contains(&name) {
                present.insert(name);
            } else if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a stale cached WAL segment");
            }
        }
    }
    Ok(present)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::Compression;
    use crate::domain::segment::WalSegment;
    use crate::domain::timeline::TimelineId;

    const MIB: u64 = 1 << 20;

    /// Writes a segment-sized file with `cp`-like shell: stands in for a cloud tool.
    struct Fake {
        fail: &'static str,
    }

    impl SegmentFetch for Fake {
        fn command(&self, name: &str, dest: &Path) -> CommandSpec {
            if name == self.fail {
                return CommandSpec::shell("echo 'no such object' >&2; exit 1");
            }
            CommandSpec::new("truncate").args([
                "-s".to_string(),
                MIB.to_string(),
                dest.display().to_string(),
            ])
        }
        fn tool(&self) -> &str {
            "fake"
        }
        fn hint(&self) -> &str {
            "none"
        }
    }

    fn seg(n: u64) -> ArchivedSegment {
        ArchivedSegment {
            segment: WalSegment::new(TimelineId(1), n),
            file_name: String::new(),
            compression: Compression::None,
            partial: false,
            size_bytes: MIB,
            archived_at: None,
        }
    }

    #[test]
    fn keeps_the_newest_that_fit_and_fetches_only_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let size = SegmentSize::new(MIB).unwrap();
        let segs: Vec<ArchivedSegment> = (1..=5).map(seg).collect();
        let wanted: Vec<&ArchivedSegment> = segs.iter().collect();
        let calls = Mutex::new(Vec::new());
        let progress = |p: FetchProgress| calls.lock().unwrap().push(p.done);
        let fake = Fake { fail: "" };
        let r = fetch(&wanted, size, dir.path(), 3 * MIB, &fake, &progress).unwrap();
        assert_eq!((r.fetched, r.reused, r.beyond_bound), (3, 0, 2));
        assert!(dir.path().join("000000010000000000000005").exists());
        assert!(!dir.path().join("000000010000000000000002").exists());
        let mut seen = calls.lock().unwrap().clone();
        seen.sort();
        assert_eq!(seen, [1, 2, 3], "progress after every segment");

        // A stale segment the bound no longer holds goes; a half-written one too.
        std::fs::write(dir.path().join("000000010000000000000001"), b"x").unwrap();
        std::fs::write(dir.path().join("incoming/000000010000000000000006"), b"x").unwrap();
        let r = fetch(&wanted, size, dir.path(), 3 * MIB, &fake, &|_| {}).unwrap();
        assert_eq!((r.fetched, r.reused), (0, 3));
        assert!(!dir.path().join("000000010000000000000001").exists());
        assert!(!dir
            .path()
            .join("incoming/000000010000000000000006")
            .exists());
    }

    #[test]
    fn a_segment_that_cannot_be_fetched_is_named_and_the_rest_arrive() {
        let dir = tempfile::tempdir().unwrap();
        let size = SegmentSize::new(MIB).unwrap();
        let segs: Vec<ArchivedSegment> = (1..=3).map(seg).collect();
        let wanted: Vec<&ArchivedSegment> = segs.iter().collect();
        let fake = Fake {
            fail: "000000010000000000000002",
        };
        let r = fetch(&wanted, size, dir.path(), 64 * MIB, &fake, &|_| {}).unwrap();
        assert_eq!(r.fetched, 2);
        assert_eq!(r.failures.len(), 1);
        assert!(
            r.failures[0].starts_with("000000010000000000000002 could not be fetched")
                && r.failures[0].contains("no such object"),
            "{:?}",
            r.failures
        );
    }
}
