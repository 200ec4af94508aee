//! Reading a repository's catalog, whatever kind of repository it is, and placing it in time.

use crate::config::{RepositoryConfig, RepositoryKind, ServerConfig};
use crate::domain::backup::Backup;
use crate::domain::catalog::Catalog;
use crate::domain::coverage::{self, Coverage};
use crate::domain::restore_command;
use crate::domain::target::RecoveryTarget;
use crate::domain::times::{EstimatedTimes, TimeSource};
use crate::engine::steps::tool_restore::ToolRestore;
use std::path::Path;

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
            crate::adapters::local_repo::read_catalog(&repo.name, backups, wal)
                .map_err(|e| err(e.to_string()))
        }
        RepositoryKind::Barman => crate::adapters::barman::Barman::from_config(repo)
            .and_then(|b| b.read_catalog(&repo.name))
            .map_err(err),
        RepositoryKind::Pgbackrest => crate::adapters::pgbackrest::PgBackRest::from_config(repo)
            .and_then(|p| p.read_catalog(&repo.name))
            .map_err(err),
        RepositoryKind::Walg => crate::adapters::walg::WalG::from_config(repo)
            .read_catalog(&repo.name)
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
        RepositoryKind::Barman => crate::adapters::barman::Barman::from_config(repo)
            .map_err(err)?
            .restore(server, backup, target, dest),
        RepositoryKind::Pgbackrest => crate::adapters::pgbackrest::PgBackRest::from_config(repo)
            .map_err(err)?
            .restore(backup, target, dest),
        RepositoryKind::Walg => {
            crate::adapters::walg::WalG::from_config(repo).restore(server, backup, dest)
        }
    };
    Ok(RepoRestore {
        restore_command,
        tool_restore: Some(tool),
    })
}

/// A catalog with its coverage, and the source of the times it was placed with.
pub struct RepositoryView {
    pub catalog: Catalog,
    pub times: Box<dyn TimeSource + Send + Sync>,
    pub coverage: Coverage,
}

/// Loads a repository and computes its coverage. `_index_dir` is where WAL indexes are kept.
pub fn load_view(
    repo: &RepositoryConfig,
    _index_dir: Option<&Path>,
) -> Result<RepositoryView, CatalogLoadError> {
    let catalog = load(repo)?;
    let times = EstimatedTimes::from_catalog(&catalog);
    let coverage = coverage::compute(&catalog, &times);
    Ok(RepositoryView {
        catalog,
        times: Box::new(times),
        coverage,
    })
}
