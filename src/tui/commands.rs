//! Running the model's commands off the event loop: catalogs and plans on blocking tasks,
//! server probes on async tasks, the recovery engine through its bridge, each answering
//! with messages.

use super::engine_bridge::{self, Bridge};
use crate::adapters;
use crate::app::{Cmd, Msg};
use crate::config::Config;
use std::path::PathBuf;
use tokio::sync::mpsc::UnboundedSender;

/// The event loop's command runner. Public so that tests drive the model exactly as the
/// console does, without a terminal.
pub struct Commands {
    config: Config,
    index_dir: Option<PathBuf>,
    tx: UnboundedSender<Msg>,
    bridge: Bridge,
    /// SSH connections for reading remote servers' pg_wal, kept between reads.
    ssh: std::sync::Arc<adapters::ssh::SshPool>,
}

impl Commands {
    pub fn new(config: Config, index_dir: Option<PathBuf>, tx: UnboundedSender<Msg>) -> Commands {
        Commands {
            config,
            index_dir,
            tx,
            bridge: Bridge::default(),
            ssh: adapters::ssh::SshPool::new(),
        }
    }

    /// Starts every command; must be called within a tokio runtime.
    pub fn spawn(&mut self, cmds: Vec<Cmd>) {
        let (config, index_dir, tx) = (&self.config, self.index_dir.as_deref(), &self.tx);
        for cmd in cmds {
            match cmd {
                Cmd::Quit => {}
                Cmd::Prepare(request) => engine_bridge::prepare(config, request, index_dir, tx),
                Cmd::StartRun(start) => self.bridge.start(&self.config, *start, tx),
                Cmd::Decide(decision) => self.bridge.decide(decision),
                Cmd::WriteNote(text) => self.bridge.note(text, tx),
                Cmd::ReadJournal(path) => engine_bridge::read_journal(path, tx),
                Cmd::ReadServerLog { server, path } => {
                    engine_bridge::read_server_log(config, &server, path, tx)
                }
                Cmd::JournalRefusal(r) => engine_bridge::journal_refusal(*r, tx),
                Cmd::DrillPrepare(start) => {
                    super::drill_runner::prepare(config, *start, index_dir, tx)
                }
                Cmd::DrillConclude(c) => super::drill_runner::conclude(config, *c, tx),
                Cmd::LoadCatalog { repository } => load_catalog(config, index_dir, tx, repository),
                Cmd::UnfinishedRun {
                    journal,
                    action,
                    role,
                } => super::unfinished::act(config, role, journal, action, tx),
                Cmd::ListUnfinished => {
                    let tx = tx.clone();
                    tokio::task::spawn_blocking(move || {
                        let _ = tx.send(Msg::Unfinished(super::unfinished::list()));
                    });
                }
                Cmd::ProbeServer { server } => {
                    let Some(s) = config.servers.iter().find(|s| s.name == server).cloned() else {
                        continue;
                    };
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let status = adapters::server_status::probe(&s).await;
                        let _ = tx.send(Msg::ServerStatus(status));
                    });
                }
                Cmd::CheckHealth { server } => {
                    let Some(s) = config.servers.iter().find(|s| s.name == server).cloned() else {
                        continue;
                    };
                    let (config, index_dir) = (config.clone(), index_dir.map(PathBuf::from));
                    let (tx, pool) = (tx.clone(), self.ssh.clone());
                    // Blocking: the probes read the repository (and may fetch its WAL).
                    tokio::task::spawn_blocking(move || {
                        let ports =
                            crate::planning::run_request::ports(Some(&config), &s.name, &pool);
                        let health = tokio::runtime::Handle::current().block_on(
                            crate::planning::health::server_health(
                                &config,
                                &s,
                                &ports,
                                index_dir.as_deref(),
                                chrono::Utc::now(),
                            ),
                        );
                        let _ = tx.send(Msg::Health(Box::new(health)));
                    });
                }
                Cmd::ReadTail {
                    server,
                    segments,
                    size,
                    upto,
                } => {
                    let Some(s) = config.servers.iter().find(|s| s.name == server).cloned() else {
                        continue;
                    };
                    let (tx, pool) = (tx.clone(), self.ssh.clone());
                    tokio::task::spawn_blocking(move || {
                        let result = adapters::live_tail::read(&s, &segments, size, upto, &pool)
                            .map(std::sync::Arc::new);
                        let _ = tx.send(Msg::TailRead { server, result });
                    });
                }
                Cmd::SwitchWal { server } => {
                    let Some(s) = config.servers.iter().find(|s| s.name == server).cloned() else {
                        continue;
                    };
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let result = adapters::live_tail::switch(&s).await;
                        let _ = tx.send(Msg::WalSwitched { server, result });
                    });
                }
                Cmd::ResolveRelations { server, nodes } => {
                    let Some(s) = config.servers.iter().find(|s| s.name == server).cloned() else {
                        continue;
                    };
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let result = adapters::relation_names::resolve(&s.dsn, &nodes).await;
                        let _ = tx.send(Msg::RelationNames { server, result });
                    });
                }
            }
        }
    }
}

/// Reads a repository's catalog (and WAL index) on a blocking task; answers
/// `Msg::CatalogLoaded`, with `Msg::CatalogProgress` while object-storage WAL is fetched.
fn load_catalog(
    config: &Config,
    index_dir: Option<&std::path::Path>,
    tx: &UnboundedSender<Msg>,
    repository: String,
) {
    let repo = config
        .repositories
        .iter()
        .find(|r| r.name == repository)
        .cloned();
    let tx = tx.clone();
    let index_dir = index_dir.map(std::path::Path::to_path_buf);
    tokio::task::spawn_blocking(move || {
        let result = match repo {
            Some(r) => {
                let progress = |progress| {
                    let _ = tx.send(Msg::CatalogProgress {
                        repository: repository.clone(),
                        progress,
                    });
                };
                adapters::catalog::load_view_reporting(&r, index_dir.as_deref(), &progress)
                    .map_err(|e| e.to_string())
            }
            None => Err(format!("no [[repository]] named `{repository}`")),
        };
        if let Err(e) = &result {
            tracing::warn!(%repository, error = %e, "catalog not loaded");
        }
        // A closed channel means the console is gone; nothing to tell.
        let _ = tx.send(Msg::CatalogLoaded { repository, result });
    });
}
