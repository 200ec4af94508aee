//! What reaches the model (messages) and what it asks the event loop to do (commands).

use crate::adapters::catalog::RepositoryView;
use crate::domain::server_status::ServerStatus;
use crate::wal::RelFileNode;
use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// The terminal's size in cells.
    Resize {
        width: u16,
        height: u16,
    },
    /// The loop's clock; the model never reads the wall clock itself.
    Tick {
        now: DateTime<Utc>,
    },
    CatalogLoaded {
        repository: String,
        result: Result<RepositoryView, String>,
    },
    ServerStatus(ServerStatus),
    /// Names `server` gave the relations of a `Cmd::ResolveRelations`.
    RelationNames {
        server: String,
        result: Result<Vec<(RelFileNode, Option<String>)>, String>,
    },
}

/// Work the event loop runs off the model; results come back as `Msg`s. None of them
/// changes a server: the console is read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    Quit,
    LoadCatalog {
        repository: String,
    },
    ProbeServer {
        server: String,
    },
    /// Ask a live server which tables these relfilenodes are (read-only catalog queries).
    ResolveRelations {
        server: String,
        nodes: Vec<RelFileNode>,
    },
}
