//! Running the model's commands off the event loop: catalogs on blocking tasks, server
//! probes on async tasks, each answering with a message.

use crate::adapters;
use crate::app::{Cmd, Msg};
use crate::config::Config;
use tokio::sync::mpsc::UnboundedSender;

pub fn spawn(
    cmds: Vec<Cmd>,
    config: &Config,
    index_dir: Option<&std::path::Path>,
    tx: &UnboundedSender<Msg>,
) {
    for cmd in cmds {
        match cmd {
            Cmd::Quit => {}
            Cmd::LoadCatalog { repository } => {
                let repo = config
                    .repositories
                    .iter()
                    .find(|r| r.name == repository)
                    .cloned();
                let tx = tx.clone();
                let index_dir = index_dir.map(std::path::Path::to_path_buf);
                tokio::task::spawn_blocking(move || {
                    let result = match repo {
                        Some(r) => adapters::catalog::load_view(&r, index_dir.as_deref())
                            .map_err(|e| e.to_string()),
                        None => Err(format!("no [[repository]] named `{repository}`")),
                    };
                    if let Err(e) = &result {
                        tracing::warn!(%repository, error = %e, "catalog not loaded");
                    }
                    // A closed channel means the console is gone; nothing to tell.
                    let _ = tx.send(Msg::CatalogLoaded { repository, result });
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
