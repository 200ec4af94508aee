//! Reading a repository's catalog, whatever kind of repository it is.

use crate::config::{RepositoryConfig, RepositoryKind};
use crate::domain::catalog::Catalog;

#[derive(Debug, thiserror::Error)]
pub enum CatalogLoadError {
    #[error("repository `{name}`: {message}")]
    Source { name: String, message: String },
}

/// Reads the catalog of one configured repository.
pub fn load(repo: &RepositoryConfig) -> Result<Catalog, CatalogLoadError> {
    let unsupported = |what: &str| CatalogLoadError::Source {
        name: repo.name.clone(),
        message: format!("{what} repositories are not supported yet"),
    };
    match repo.kind {
        RepositoryKind::Local => Err(unsupported("local")),
        RepositoryKind::Barman => Err(unsupported("barman")),
        RepositoryKind::Pgbackrest => Err(unsupported("pgbackrest")),
        RepositoryKind::Walg => Err(unsupported("walg")),
    }
}
