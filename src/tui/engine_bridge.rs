//! The recovery engine seen from the event loop: plans prepared on blocking tasks, the run
//! on its own task (so redraws, resizes and slow terminals never hold it up), its events
//! forwarded as `Msg`s, and the operator's decisions and notes passed back to it.

use crate::adapters::ssh::SshPool;
use crate::app::msg::RoleRefusal;
use crate::app::wizard::{PlanReady, StartRun};
use crate::app::Msg;
use crate::config::Config;
use crate::engine::journal::JournalState;
use crate::engine::recovery::{self, build_plan, new_run_id};
use crate::engine::{Decision, EngineError, EngineEvent, Notebook, RunStatus};
use crate::planning::prepare::Refusal;
use crate::planning::run_request::{self, Refused, RunRequest};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc::{UnboundedSender, WeakUnboundedSender};

/// The run in progress, as far as the loop needs to reach it.
struct Live {
    decisions: UnboundedSender<Decision>,
    notebook: Notebook,
}

pub struct Bridge {
    live: Option<Live>,
    /// One ControlMaster per remote host, kept for the console's lifetime.
    ssh: Arc<SshPool>,
}

impl Default for Bridge {
    fn default() -> Bridge {
        Bridge {
            live: None,
            ssh: SshPool::new(),
        }
    }
}

/// Prepares the plan for `request` off the loop; answers with `Msg::Prepared`.
pub fn prepare(
    config: &Config,
    request: RunRequest,
    index_dir: Option<&Path>,
    tx: &UnboundedSender<Msg>,
) {
    let config = config.clone();
    let index_dir = index_dir.map(Path::to_path_buf);
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let result =
            run_request::prepare_run(&config, &request, index_dir.as_deref()).and_then(|p| {
                let rt = tokio::runtime::Handle::current();
                // What the command line asks before it offers a run, the console asks too.
                let live = rt.block_on(crate::planning::live_checks::ask(&config, &p.inputs));
                if let Some(r) = live.refusal {
                    let s = &p.inputs.server;
                    return Err(Refused {
                        side: Some(crate::planning::side_dir::default_place(
                            &s.pgdata,
                            s.port,
                            &format!("side-{}", new_run_id()),
                            &p.inputs.journal_dir,
                        )),
                        ..Refusal::Input(r).into()
                    });
                }
                let mut cost = p.cost;
                if let Some(c) = cost.as_mut() {
                    rt.block_on(crate::planning::cost::name_tables(c, &p.inputs.server.dsn));
                }
                let mut notes = p.notes;
                notes.extend(live.notes);
                let run_id = new_run_id();
                let plan = build_plan(&p.inputs, &run_id);
                Ok(Box::new(PlanReady {
                    view: plan.view(),
                    inputs: p.inputs,
                    run_id,
                    notes,
                    wal: p.wal,
                    cost,
                    wal_loss: p.wal_loss.map(|l| l.explain(&request.zone)),
                }))
            });
        let _ = tx.send(Msg::Prepared { request, result });
    });
}

/// Journals a role's refusal to start, as `recover` does, off the loop; answers with
/// `Msg::RefusalJournaled`.
pub fn journal_refusal(r: RoleRefusal, tx: &UnboundedSender<Msg>) {
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        // The console's own log of refusals, never the configured journal directory.
        let result = crate::engine::state_dir::current()
            .map_err(|e| e.to_string())
            .and_then(|state| {
                crate::engine::roles::journal_role_refusal(
                    &crate::engine::roles::refusal_log(&state),
                    &r.server,
                    &r.target,
                    r.role,
                    &r.reason,
                )
                .map_err(|e| e.to_string())
            });
        let _ = tx.send(Msg::RefusalJournaled(result));
    });
}

/// Reads the run's journal off the loop; answers with `Msg::JournalRead`.
pub fn read_journal(path: PathBuf, tx: &UnboundedSender<Msg>) {
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let result = JournalState::read(&path)
            .map(|s| s.records)
            .map_err(|e| e.to_string());
        let _ = tx.send(Msg::JournalRead(result));
    });
}

/// The recovered server's last lines, read through the server's ports (over SSH for a
/// remote host). A log not written yet reads as empty.
pub fn read_server_log(config: &Config, server: &str, path: PathBuf, tx: &UnboundedSender<Msg>) {
    let ports = run_request::ports(Some(config), server, &SshPool::new());
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let result = match ports.fs.read_to_string(&path) {
            Ok(text) => {
                let lines: Vec<&str> = text.lines().collect();
                let from = lines
                    .len()
                    .saturating_sub(crate::app::wizard::run::LOG_KEPT);
                Ok(lines[from..].iter().map(|l| l.to_string()).collect())
            }
            Err(_) if !ports.fs.exists(&path) => Ok(Vec::new()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        };
        let _ = tx.send(Msg::ServerLogRead(result));
    });
}

impl Bridge {
    /// Starts the plan the operator confirmed, exactly as shown: rebuilt from the same
    /// inputs and run id, refused if its checksum differs.
    pub fn start(&mut self, config: &Config, start: StartRun, tx: &UnboundedSender<Msg>) {
        let plan = build_plan(&start.inputs, &start.run_id);
        if plan.checksum() != start.checksum {
            // Checksums are not shown: like resume's, they would tell a forger what to write.
            let _ = tx.send(Msg::RunNotStarted(
                "the plan changed since it was shown: nothing was started; Esc and open the plan again"
                    .to_string(),
            ));
            return;
        }
        let ports = run_request::ports(Some(config), &start.inputs.server.name, &self.ssh);
        let (runner, handle) = match recovery::start(plan, ports, Some(start.confirmation)) {
            Ok(started) => started,
            Err(e) => {
                let _ = tx.send(Msg::RunNotStarted(not_started(e)));
                return;
            }
        };
        self.live = Some(Live {
            decisions: handle.decisions,
            notebook: handle.notebook,
        });
        tokio::spawn(forward(runner, handle.events, tx.downgrade()));
    }

    /// Passes the operator's answer to the run; a finished run has nobody to tell.
    pub fn decide(&self, decision: Decision) {
        if let Some(live) = &self.live {
            let _ = live.decisions.send(decision);
        }
    }

    pub fn note(&self, text: String, tx: &UnboundedSender<Msg>) {
        let Some(live) = &self.live else {
            let _ = tx.send(Msg::NoteWritten(Err("no run to note it in".into())));
            return;
        };
        let notebook = live.notebook.clone();
        let tx = tx.clone();
        tokio::task::spawn_blocking(move || {
            let _ = tx.send(Msg::NoteWritten(notebook.write(&text)));
        });
    }
}

fn not_started(e: EngineError) -> String {
    match e {
        EngineError::RefusedByRole {
            message,
            journal: Some(j),
        } => format!(
            "{message}; nothing was touched, the refusal is journaled in {}",
            j.display()
        ),
        other => format!("the run did not start: {other}; nothing was touched"),
    }
}

/// Runs the engine and forwards its events until it finishes. The loop holds only a weak
/// sender here: a console that quit does not keep this task's messages alive, and the
/// engine goes on to its next safe point regardless of who listens.
async fn forward(
    runner: crate::engine::Runner,
    mut events: tokio::sync::mpsc::UnboundedReceiver<EngineEvent>,
    tx: WeakUnboundedSender<Msg>,
) {
    let send = |e: EngineEvent| {
        if let Some(tx) = tx.upgrade() {
            let _ = tx.send(Msg::Engine(e));
        }
    };
    let mut run = tokio::spawn(runner.run());
    loop {
        tokio::select! {
            biased;
            event = events.recv() => match event {
                Some(e) => {
                    let end = matches!(e, EngineEvent::RunFinished { .. });
                    send(e);
                    if end {
                        return;
                    }
                }
                None => return,
            },
            joined = &mut run => {
                while let Ok(e) = events.try_recv() {
                    send(e);
                }
                if let Err(e) = joined {
                    send(EngineEvent::RunFinished {
                        status: RunStatus::Aborted {
                            step: Some(format!("the run crashed: {e}")),
                        },
                    });
                }
                return;
            }
        }
    }
}
