//! Reading a repository's catalog, whatever kind of repository it is, and placing it in time.

use crate::config::{RepositoryConfig, RepositoryKind};
use crate::domain::catalog::Catalog;
use crate::domain::coverage::{self, Coverage};
use crate::domain::times::{EstimatedTimes, TimeSource};
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
        RepositoryKind::Barman | RepositoryKind::Pgbackrest | RepositoryKind::Walg => Err(err(
            format!("{:?} repositories are not supported yet", repo.kind).to_lowercase(),
        )),
    }
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
