//! Reading a repository's catalog, whatever kind of repository it is, and placing it in time.

use crate::barman_cloud::BarmanCloud;
use crate::config::{RepositoryConfig, RepositoryKind, ServerConfig};
use crate::domain::backup::Backup;
use crate::domain::catalog::Catalog;
use crate::domain::coverage::{self, Coverage};
use crate::domain::restore_command;
use crate::domain::segment::WalSegment;
use crate::domain::target::RecoveryTarget;
use crate::domain::times::{EstimatedTimes, TimeSource};
use crate::engine::inputs::ToolRestore;
use crate::wal::{IndexedTimes, WalIndex};
use crate::wal_fetch::{self, FetchProgress, SegmentFetch};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum CatalogLoadError {
    #[error("repository `{name}`: {message}")]
    Source { name: String, message: String },
}

/// Reads the catalog of one configured repository.
pub fn load(repo: &RepositoryConfig) -> Result<Catalog, CatalogLoadError> {
    let err = |message: String| CatalogLoadError::Source {
        name: repo.name.clone(),
        message,
    };
    match repo.kind {
        RepositoryKind::Local => {
            let (Some(backups), Some(wal)) = (&repo.backups, &repo.wal_archive) else {
                return Err(err(
                    "a local repository needs `backups` and `wal_archive`".into()
                ));
            };
            crate::local_repo::read_catalog(&repo.name, backups, wal)
                .map_err(|e| err(e.to_string()))
        }
        RepositoryKind::Barman => crate::barman::Barman::from_config(repo)
            .and_then(|b| b.read_catalog(&repo.name))
            .map_err(err),
        RepositoryKind::Pgbackrest => crate::pgbackrest::PgBackRest::from_config(repo)
            .and_then(|p| p.read_catalog(&repo.name))
            .map_err(err),
        RepositoryKind::Walg => crate::walg::WalG::from_config(repo)
            .read_catalog(&repo.name)
            .map_err(err),
        RepositoryKind::BarmanCloud => BarmanCloud::from_config(repo)
            .and_then(|b| b.read_catalog(&repo.name))
            .map_err(err),
    }
}

/// How a recovery from this repository restores `backup` into `dest` and fetches WAL.
pub struct RepoRestore {
    /// For `RecoveryInputs::restore_command`.
    pub restore_command: String,
    /// For `RecoveryInputs::tool_restore`: None for local repositories (the engine copies or
    /// extracts the backup itself).
    pub tool_restore: Option<ToolRestore>,
}

/// The restore for one recovery: `dest` is where the data directory is restored (the
/// server's pgdata, or the side directory), `server` the server being recovered.
pub fn restore_for(
    repo: &RepositoryConfig,
    server: &ServerConfig,
    backup: &Backup,
    target: &RecoveryTarget,
    dest: &Path,
) -> Result<RepoRestore, CatalogLoadError> {
    let err = |message: String| CatalogLoadError::Source {
        name: repo.name.clone(),
        message,
    };
    let (tool, restore_command) = match repo.kind {
        RepositoryKind::Local => {
            let wal = repo
                .wal_archive
                .as_ref()
                .ok_or_else(|| err("a local repository needs `wal_archive`".into()))?;
            return Ok(RepoRestore {
                restore_command: restore_command::local(&wal.display().to_string()),
                tool_restore: None,
            });
        }
        RepositoryKind::Barman => crate::barman::Barman::from_config(repo)
            .map_err(err)?
            .restore(server, backup, target, dest),
        RepositoryKind::Pgbackrest => crate::pgbackrest::PgBackRest::from_config(repo)
            .map_err(err)?
            .restore(backup, target, dest),
        RepositoryKind::Walg => crate::walg::WalG::from_config(repo).restore(server, backup, dest),
        RepositoryKind::BarmanCloud => BarmanCloud::from_config(repo)
            .map_err(err)?
            .restore(server, backup, dest),
    };
    Ok(RepoRestore {
        restore_command,
        tool_restore: Some(tool),
    })
}

/// A catalog with its coverage, the source of the times it was placed with, and the WAL
/// index when the archive could be read.
#[derive(Clone)]
pub struct RepositoryView {
    pub catalog: Catalog,
    pub times: Arc<dyn TimeSource + Send + Sync>,
    pub coverage: Coverage,
    pub index: Option<Arc<WalIndex>>,
}

impl std::fmt::Debug for RepositoryView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepositoryView")
            .field("repository", &self.catalog.repository)
            .field("backups", &self.catalog.backups.len())
            .field("segments", &self.catalog.segments.len())
            .field("indexed", &self.index.is_some())
            .finish()
    }
}

impl RepositoryView {
    /// Times estimated from the catalog alone (no WAL read).
    pub fn estimated(catalog: Catalog) -> RepositoryView {
        let times = EstimatedTimes::from_catalog(&catalog);
        let coverage = coverage::compute(&catalog, &times);
        RepositoryView {
            catalog,
            times: Arc::new(times),
            coverage,
            index: None,
        }
    }

    /// Times read from WAL through `index`. Segments whose WAL is damaged count as missing:
    /// replay would stop in them, so no window may run through them.
    pub fn indexed(mut catalog: Catalog, index: WalIndex) -> RepositoryView {
        let damaged: Vec<(WalSegment, String)> = index
            .segments()
            .filter_map(|s| s.warning.clone().map(|w| (s.segment, w)))
            .collect();
        if !damaged.is_empty() {
            catalog
                .segments
                .retain(|s| !damaged.iter().any(|(d, _)| *d == s.segment));
            catalog.warnings.extend(
                damaged
                    .into_iter()
                    .map(|(_, w)| format!("{w}; the segment is treated as missing")),
            );
        }
        let times = IndexedTimes::new(&index, &catalog);
        let coverage = coverage::compute(&catalog, &times);
        RepositoryView {
            catalog,
            times: Arc::new(times),
            coverage,
            index: Some(Arc::new(index)),
        }
    }
}

/// Loads a repository and computes its coverage. For a local archive the WAL is read into
/// an index cached in `index_dir` (only new segments are read on later loads), which makes
/// the times exact; the WAL of Barman, pgBackRest, barman-cloud and WAL-G is first fetched
/// through the tool into a bounded copy there. Without `index_dir` times are estimates. Fetch progress goes to the log.
pub fn load_view(
    repo: &RepositoryConfig,
    index_dir: Option<&Path>,
) -> Result<RepositoryView, CatalogLoadError> {
    load_view_reporting(repo, index_dir, &|p| {
        tracing::info!(repository = %repo.name, done = p.done, total = p.total, bytes = p.bytes, "fetching WAL");
    })
}

/// `load_view`, telling `progress` after each segment fetched from object storage.
pub fn load_view_reporting(
    repo: &RepositoryConfig,
    index_dir: Option<&Path>,
    progress: &(dyn Fn(FetchProgress) + Sync),
) -> Result<RepositoryView, CatalogLoadError> {
    let mut catalog = load(repo)?;
    let Some(dir) = index_dir else {
        return Ok(RepositoryView::estimated(catalog));
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot create the WAL index directory; times stay estimates");
        return Ok(RepositoryView::estimated(catalog));
    }
    let (archive, cache_key) = match (repo.kind, &repo.wal_archive) {
        (RepositoryKind::Local, Some(archive)) => (archive.clone(), archive.clone()),
        (
            RepositoryKind::BarmanCloud
            | RepositoryKind::Walg
            | RepositoryKind::Barman
            | RepositoryKind::Pgbackrest,
            _,
        ) => match fetch_remote(repo, &catalog, dir, progress) {
            Ok(Some((copy, key, warnings))) => {
                catalog.warnings.extend(warnings);
                (copy, key)
            }
            Ok(None) => return Ok(RepositoryView::estimated(catalog)),
            Err(e) => {
                let mut view = RepositoryView::estimated(catalog);
                view.catalog
                    .warnings
                    .push(format!("WAL not fetched, times are estimates: {e}"));
                return Ok(view);
            }
        },
        _ => return Ok(RepositoryView::estimated(catalog)),
    };
    let cache = dir.join(index_file_name(&repo.name, &cache_key));
    match WalIndex::open_or_build(&archive, &cache, Some(catalog.segment_size)) {
        Ok(index) => Ok(RepositoryView::indexed(catalog, index)),
        Err(e) => {
            let mut view = RepositoryView::estimated(catalog);
            view.catalog
                .warnings
                .push(format!("WAL not indexed, times are estimates: {e}"));
            Ok(view)
        }
    }
}

/// Default bound of the local copy of object-storage WAL.
const WAL_CACHE_MIB: u64 = 4096;

/// Fetches the WAL the backups need into `index_dir`'s copy for this repository; returns
/// the copy's directory, the key naming its index, and warnings for the segments that could
/// not be fetched or did not fit. None: nothing to fetch with (WAL-G absent).
fn fetch_remote(
    repo: &RepositoryConfig,
    catalog: &Catalog,
    index_dir: &Path,
    progress: &(dyn Fn(FetchProgress) + Sync),
) -> Result<Option<(PathBuf, PathBuf, Vec<String>)>, String> {
    let source: Box<dyn SegmentFetch> = match repo.kind {
        RepositoryKind::BarmanCloud => Box::new(BarmanCloud::from_config(repo)?),
        RepositoryKind::Walg => match crate::walg::WalG::fetcher(repo) {
            Some(w) => Box::new(w),
            None => return Ok(None),
        },
        RepositoryKind::Barman => Box::new(crate::barman::Barman::from_config(repo)?),
        RepositoryKind::Pgbackrest => Box::new(crate::pgbackrest::PgBackRest::from_config(repo)?),
        _ => return Ok(None),
    };
    let key = PathBuf::from(remote_key(repo));
    let copy = index_dir
        .join(index_file_name(&repo.name, &key))
        .with_extension("wal");
    let wanted: Vec<_> = wal_fetch::needed(catalog).collect();
    let bound = repo
        .wal_cache_mib
        .unwrap_or(WAL_CACHE_MIB)
        .saturating_mul(1 << 20);
    let fetched = wal_fetch::fetch(
        &wanted,
        catalog.segment_size,
        &copy,
        bound,
        source.as_ref(),
        progress,
    )?;
    let mut warnings = Vec::new();
    if fetched.beyond_bound > 0 {
        warnings.push(format!(
            "{} older segments exceed `wal_cache_mib` = {} and were not fetched; times before them are estimates",
            fetched.beyond_bound,
            bound >> 20
        ));
    }
    warnings.extend(
        fetched
            .failures
            .iter()
            .map(|f| format!("{f}; times there are estimates")),
    );
    tracing::info!(repository = %repo.name, fetched = fetched.fetched, reused = fetched.reused, "WAL copy ready");
    Ok(Some((copy, key, warnings)))
}

/// What names one WAL location fetched through a tool: two repositories on the same bucket
/// (or Barman server, or stanza) share their copy, two servers never do.
fn remote_key(repo: &RepositoryConfig) -> String {
    let path = |p: &Option<PathBuf>| {
        p.as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    match repo.kind {
        RepositoryKind::Barman => format!(
            "barman:{}|{}|{}",
            repo.ssh_host
                .as_deref()
                .or(repo.barman_host.as_deref())
                .unwrap_or(""),
            path(&repo.barman_config),
            repo.barman_server.as_deref().unwrap_or("")
        ),
        RepositoryKind::Pgbackrest => format!(
            "pgbackrest:{}|{}",
            path(&repo.pgbackrest_config),
            repo.stanza.as_deref().unwrap_or("")
        ),
        RepositoryKind::Walg => format!(
            "wal-g:{}",
            repo.walg_config
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ),
        _ => format!(
            "barman-cloud:{}|{}|{}",
            repo.endpoint_url.as_deref().unwrap_or(""),
            repo.destination.as_deref().unwrap_or(""),
            repo.cloud_server.as_deref().unwrap_or("")
        ),
    }
}

/// One cache file per archive directory, named so that two repositories never share one.
fn index_file_name(repo: &str, archive: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(archive.as_os_str().as_encoded_bytes());
    let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let safe: String = repo
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}-{short}.walidx")
}
