//! From "recover server S to target T" to inputs ready for the engine, shared by the headless
//! commands and the console's wizard so that both plan exactly the same run: a fresh read of
//! the server's repository, `engine::prepare`, the journal directory and the ports.

use crate::adapters::catalog::load_view;
use crate::adapters::ssh::SshPool;
use crate::config::{Config, Role};
use crate::domain::target::RecoveryTarget;
use crate::domain::zone::Zone;
use crate::engine::ports::Ports;
use crate::engine::recovery::{FinalAction, RestoreMode};
use crate::planning::prepare::{self, PlanOptions, Prepared, Refusal, RefusalDetail, Request};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything a preparation depends on besides the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    pub server: String,
    pub target: RecoveryTarget,
    pub mode: RestoreMode,
    pub action: FinalAction,
    pub role: Role,
    pub journal_dir: PathBuf,
    pub zone: Zone,
    pub options: PlanOptions,
    /// A backup the operator picked by hand (`B` in the plan); None lets the planner choose.
    pub backup: Option<String>,
}

/// A refusal, with the recoverable instants nearest a time target when there are any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub refusal: Refusal,
    pub nearest: Vec<DateTime<Utc>>,
    /// Why, in parts (`--json`), when the target could not be placed.
    pub detail: Option<Box<RefusalDetail>>,
    /// Where a restore beside production would go, when that is what the refusal offers
    /// instead (the in-place run would make a second primary).
    pub side: Option<(PathBuf, u16)>,
}

impl From<Refusal> for Refused {
    fn from(refusal: Refusal) -> Refused {
        Refused {
            refusal,
            nearest: Vec::new(),
            detail: None,
            side: None,
        }
    }
}

/// Where journals go: the configured journal_dir, else the console's data directory.
pub fn journal_dir(config: &Config) -> Option<PathBuf> {
    config.journal_dir.clone().or_else(|| {
        directories::ProjectDirs::from("", "", "pitr-console").map(|d| d.data_dir().join("journal"))
    })
}

/// Ports a run on `server` acts through: this machine's for a local server, SSH through
/// `pool` (one ControlMaster per host) for one on another host. A server the configuration
/// does not name (a journal resumed without it) runs locally.
pub fn ports(config: Option<&Config>, server: &str, pool: &Arc<SshPool>) -> Ports {
    match config.and_then(|c| c.servers.iter().find(|s| s.name == server)) {
        Some(s) => crate::adapters::ssh::ports_for(s, pool),
        None => crate::adapters::fs::local_ports(),
    }
}

/// Reads the server's repository afresh (WAL may have been archived since the console
/// loaded it) and prepares the run. Blocking: call it off the event loop.
pub fn prepare_run(
    config: &Config,
    req: &RunRequest,
    index_dir: Option<&Path>,
) -> Result<Prepared, Refused> {
    let server = prepare::find_server(config, &req.server)?;
    let repo = prepare::find_repository(config, server)?;
    let view = load_view(repo, index_dir).map_err(|e| Refusal::Input(e.to_string()))?;
    prepare::prepare_detailed(&Request {
        config,
        server: &req.server,
        view: &view,
        target: req.target.clone(),
        mode: req.mode.clone(),
        action: req.action,
        role: req.role,
        journal_dir: req.journal_dir.clone(),
        zone: req.zone,
        options: req.options,
        backup: req.backup.clone(),
    })
    .map_err(|(refusal, detail)| Refused {
        nearest: detail.as_ref().map_or_else(Vec::new, |d| {
            [d.nearest_before, d.nearest_after]
                .into_iter()
                .flatten()
                .map(|s| s.at)
                .collect()
        }),
        refusal,
        detail,
        side: None,
    })
}
