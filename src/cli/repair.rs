//! `pitr-console repair`: rows pulled back from a side restore into production, in one
//! transaction, journaled beside the side restore's journal; `--undo` takes them out again.

use super::exit::Failure;
use crate::adapters::repair::{
    self, Applied, Comparison, RepairError, RepairMode, RepairRequest, Session, TableShape,
};
use crate::config::{Config, Role};
use crate::engine::event::{Phase, RunStatus, StepStatus};
use crate::engine::journal::{sha256_hex, Body, Journal, JournalState};
use crate::engine::recovery::{new_run_id, RecoveryInputs, RestoreMode};
use crate::engine::steps::Recovery;
use serde_json::{json, Map, Value};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct RepairArgs {
    /// The journal of a side restore (with --undo: it, or the repair's own journal).
    pub journal: PathBuf,
    /// The table to repair, as psql would name it (orders, sales.orders, "My Table").
    #[arg(long, required_unless_present = "undo")]
    pub table: Option<String>,
    /// Columns identifying a row, comma-separated (default: the primary key).
    #[arg(long, value_delimiter = ',')]
    pub key: Option<Vec<String>>,
    /// Only the rows matching this SQL condition on the table's columns.
    #[arg(long = "where")]
    pub filter: Option<String>,
    /// missing: insert the rows production lacks; overwrite: also overwrite differing rows.
    #[arg(long, value_parser = parse_mode, default_value = "missing")]
    pub mode: RepairMode,
    /// Compare and show, then roll back: nothing is written.
    #[arg(long)]
    pub dry_run: bool,
    /// Stands for typing the table's name (needed without a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Take a repair out again: remove the rows it inserted, put back the ones it overwrote.
    #[arg(long, conflicts_with_all = ["table", "key", "filter"])]
    pub undo: bool,
}

/// Where a side restore runs and the production server it was restored from.
pub(super) struct SideRestore {
    pub journal: PathBuf,
    pub run_id: String,
    pub server: String,
    pub production_dsn: String,
    pub side_dsn: String,
    pub side_port: u16,
}

pub fn run(role: Role, config: Option<&Config>, args: RepairArgs) -> Result<(), Failure> {
    if !args.dry_run && role != Role::Operator {
        return Err(Failure::refused(format!(
            "refused by role {}: a repair writes into production; only an operator may run it (`--dry-run` is open to every role)",
            role_name(role)
        )));
    }
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| Failure::step_failed(format!("cannot start the async runtime: {e}")))?;
    if args.undo {
        rt.block_on(undo(config, &args))
    } else {
        rt.block_on(repair(config, &args))
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Operator => "operator",
        Role::Drill => "drill",
        Role::Trainee => "trainee",
    }
}

pub(super) fn read_journal(path: &Path) -> Result<JournalState, Failure> {
    JournalState::read(path).map_err(Failure::bad_input)
}

fn is_repair(state: &JournalState) -> bool {
    state.inputs.get("repair").is_some()
}

pub(super) fn side_restore(
    config: Option<&Config>,
    state: &JournalState,
) -> Result<SideRestore, Failure> {
    let path = state.path.display();
    if is_repair(state) {
        return Err(Failure::bad_input(format!(
            "{path} is the journal of a repair; give the journal of the side restore it pulled rows from (or use --undo)"
        )));
    }
    let inputs: RecoveryInputs = serde_json::from_value(state.inputs.clone()).map_err(|_| {
        Failure::bad_input(format!(
            "{path} is not the journal of a recovery (its first record has no recovery inputs)"
        ))
    })?;
    let RestoreMode::Side { port, .. } = inputs.mode else {
        return Err(Failure::bad_input(format!(
            "{path} restored server {} in place: there is no side instance to pull rows from; restore beside production first (`recover --restore-to DIR --port N`)",
            state.server
        )));
    };
    if matches!(state.ended, Some(RunStatus::RolledBack)) {
        return Err(Failure::bad_input(format!(
            "the side restore of {path} was rolled back: its instance no longer runs"
        )));
    }
    if let Some(s) = config.and_then(|c| c.servers.iter().find(|s| s.name == state.server)) {
        if !s.is_local() {
            return Err(Failure::bad_input(format!(
                "server {} is on {}: repair connects to both instances through their local sockets, so run it on that host",
                s.name, s.host
            )));
        }
    }
    let server = inputs.server.name.clone();
    let production_dsn = inputs.server.dsn.clone();
    let recovery = Recovery::new(inputs, state.run_id.clone());
    Ok(SideRestore {
        journal: state.path.clone(),
        run_id: state.run_id.clone(),
        server,
        production_dsn,
        side_dsn: recovery.recovered_dsn(),
        side_port: port,
    })
}

fn failure(e: RepairError) -> Failure {
    match e {
        RepairError::SchemaDiffers(_) | RepairError::NoTable { .. } | RepairError::Key(_) => {
            Failure::bad_input(format!("repair refused: {e}"))
        }
        other => Failure::step_failed(format!("repair failed, nothing changed: {other}")),
    }
}

// Over 100 lines on purpose: the repair story top to bottom: compare, show, confirm, apply, journal.
#[allow(clippy::too_many_lines)]
async fn repair(config: Option<&Config>, args: &RepairArgs) -> Result<(), Failure> {
    let side = side_restore(config, &read_journal(&args.journal)?)?;
    let req = RepairRequest {
        table: args.table.clone().unwrap_or_default(),
        key: args.key.clone(),
        filter: args.filter.clone(),
        mode: args.mode,
    };
    let session = Session::open(&side.production_dsn, &side.side_dsn, &req)
        .await
        .map_err(failure)?;
    print_comparison(&side, &session.shape, &session.comparison, &req);
    let c = &session.comparison;
    let work = c.missing
        + if args.mode == RepairMode::Overwrite {
            c.different
        } else {
            0
        };
    if args.dry_run || work == 0 {
        session.abandon().await.map_err(failure)?;
        println!(
            "{}",
            if args.dry_run {
                "dry run: rolled back, nothing written"
            } else {
                "nothing to repair: production already holds every selected row"
            }
        );
        return Ok(());
    }
    if !confirmed(args.yes, &session.shape.name).await? {
        session.abandon().await.map_err(failure)?;
        return Err(Failure::bad_input(
            "not confirmed: nothing written (type the table's name, or pass --yes)",
        ));
    }

    let run_id = format!("repair-{}", new_run_id());
    let dir = side
        .journal
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let inputs = json!({ "repair": {
        "side_journal": side.journal,
        "side_run": side.run_id,
        "table": session.shape.name,
        "key": session.shape.key,
        "where": req.filter,
        "mode": req.mode,
        "comparison": session.comparison,
    }});
    let journal_failed = |e| Failure::step_failed(format!("repair not started: {e}"));
    let mut journal = Journal::create(&dir, &side.server, &run_id).map_err(journal_failed)?;
    journal
        .write(Body::Run {
            run_id: run_id.clone(),
            server: side.server.clone(),
            target: format!(
                "repair {} from side restore {}",
                session.shape.name, side.run_id
            ),
            checksum: sha256_hex(inputs.to_string().as_bytes()),
            steps: Vec::new(),
            inputs,
        })
        .map_err(journal_failed)?;
    journal
        .write(Body::Intent {
            index: 0,
            step: "repair".into(),
            phase: Phase::Run,
            commands: vec![describe(&session.shape, req.mode)],
        })
        .map_err(journal_failed)?;
    let stem = journal.path().with_extension("");
    let started = std::time::Instant::now();
    match session.apply(req.mode, &stem).await {
        Ok(applied) => {
            let mut facts = Map::new();
            facts.insert("shape".into(), json!(session.shape));
            facts.insert("applied".into(), json!(applied));
            // The keys are on disk before the commit makes them real.
            journal
                .write(Body::Outcome {
                    index: 0,
                    step: "repair".into(),
                    phase: Phase::Run,
                    ok: true,
                    status: Some(StepStatus::Done),
                    duration_ms: started.elapsed().as_millis() as u64,
                    error: None,
                    facts,
                })
                .map_err(journal_failed)?;
            session.commit().await.map_err(|e| {
                let _ = journal.write(Body::End {
                    status: RunStatus::Aborted {
                        step: Some(format!("repair: commit failed: {e}")),
                    },
                });
                failure(e)
            })?;
            let _ = journal.write(Body::End {
                status: RunStatus::Completed,
            });
            print_applied(&applied, journal.path());
            Ok(())
        }
        Err(e) => {
            let _ = journal.write(Body::Outcome {
                index: 0,
                step: "repair".into(),
                phase: Phase::Run,
                ok: false,
                status: None,
                duration_ms: started.elapsed().as_millis() as u64,
                error: Some(e.to_string()),
                facts: Map::new(),
            });
            let _ = journal.write(Body::End {
                status: RunStatus::Aborted {
                    step: Some("repair".into()),
                },
            });
            session.abandon().await.ok();
            Err(failure(e))
        }
    }
}

fn parse_mode(s: &str) -> Result<RepairMode, String> {
    s.parse()
}

fn describe(shape: &TableShape, mode: RepairMode) -> String {
    let insert = format!(
        "INSERT INTO {t} ({cols}) SELECT ... FROM the side instance's rows WHERE NOT EXISTS (same {key} in {t})",
        t = shape.name,
        cols = shape.insert_list(None),
        key = shape.key.join(", ")
    );
    match mode {
        RepairMode::Missing => insert,
        RepairMode::Overwrite => format!(
            "UPDATE {t} SET ... FROM the side instance's rows WHERE same {key} AND the row differs; then {insert}",
            t = shape.name,
            key = shape.key.join(", ")
        ),
    }
}

fn keys_text(keys: &[Vec<String>]) -> String {
    keys.iter()
        .map(|k| {
            if k.len() == 1 {
                k[0].clone()
            } else {
                format!("({})", k.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn sample(n: u64, keys: &[Vec<String>]) -> String {
    if keys.is_empty() {
        String::new()
    } else {
        let more = if n as usize > keys.len() { ", ..." } else { "" };
        format!("  e.g. {}{more}", keys_text(keys))
    }
}

fn print_comparison(side: &SideRestore, shape: &TableShape, c: &Comparison, req: &RepairRequest) {
    println!(
        "repair {} of server {} from side restore {} (port {})",
        shape.name, side.server, side.run_id, side.side_port
    );
    println!(
        "  compared by {} over {} rows of the side instance{}",
        shape.key.join(", "),
        c.selected,
        req.filter
            .as_deref()
            .map(|f| format!(" where {f}"))
            .unwrap_or_default()
    );
    let overwrite = if req.mode == RepairMode::Overwrite {
        "to overwrite with the side instance's values"
    } else {
        "left as they are (--mode overwrite writes them)"
    };
    println!(
        "  missing in production: {:>8}  to insert{}",
        c.missing,
        sample(c.missing, &c.sample_missing)
    );
    println!(
        "  different:             {:>8}  {}{}",
        c.different,
        overwrite,
        sample(c.different, &c.sample_different)
    );
    println!(
        "  only in production:    {:>8}  kept (a repair never deletes){}",
        c.only_production,
        sample(c.only_production, &c.sample_only_production)
    );
    println!(
        "  constraints: checked by PostgreSQL as for any write; triggers disabled: none; triggers that fire: {}",
        if shape.triggers.is_empty() {
            "none".to_string()
        } else {
            shape.triggers.join(", ")
        }
    );
}

fn print_applied(a: &Applied, journal: &Path) {
    println!(
        "committed: {} rows inserted, {} overwritten; every key journaled in {}",
        a.inserted.len(),
        a.updated.len(),
        journal.display()
    );
    println!("  undo: pitr-console repair --undo {}", journal.display());
}

async fn confirmed(yes: bool, table: &str) -> Result<bool, Failure> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::bad_input(
            "repair writes into production: without a terminal to type the table's name on, pass --yes (or --dry-run to look first); nothing written",
        ));
    }
    let prompt = format!("type the table's name ({table}) to write into production: ");
    let answer = tokio::task::spawn_blocking(move || {
        print!("{prompt}");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        line.trim().to_string()
    })
    .await
    .unwrap_or_default();
    Ok(answer == table || table.ends_with(&format!(".{answer}")))
}

/// The repair journal `path` names, or the newest committed, not yet undone repair of the
/// side restore it names.
fn repair_journal(path: &Path) -> Result<JournalState, Failure> {
    let state = read_journal(path)?;
    if is_repair(&state) {
        return Ok(state);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let me = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut found: Vec<JournalState> = std::fs::read_dir(dir)
        .map_err(|e| Failure::bad_input(format!("{}: {e}", dir.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|p| JournalState::read(&p).ok())
        .filter(|s| {
            s.inputs["repair"]["side_journal"]
                .as_str()
                .map(|j| std::fs::canonicalize(j).unwrap_or_else(|_| PathBuf::from(j)) == me)
                .unwrap_or(false)
                && matches!(s.ended, Some(RunStatus::Completed))
        })
        .collect();
    found.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    found.pop().ok_or_else(|| {
        Failure::bad_input(format!(
            "no committed repair of side restore {} to undo in {}",
            state.run_id,
            dir.display()
        ))
    })
}

// Over 100 lines on purpose: the undo story top to bottom: read the record, confirm, delete the keys, journal.
#[allow(clippy::too_many_lines)]
async fn undo(config: Option<&Config>, args: &RepairArgs) -> Result<(), Failure> {
    let state = repair_journal(&args.journal)?;
    let path = state.path.display().to_string();
    match &state.ended {
        Some(RunStatus::Completed) => {}
        Some(RunStatus::RolledBack) => {
            return Err(Failure::bad_input(format!(
                "the repair of {path} was already undone"
            )))
        }
        _ => {
            return Err(Failure::bad_input(format!(
                "the repair of {path} never committed: production holds nothing of it to undo"
            )))
        }
    }
    let fact = |k: &str| -> Result<Value, Failure> {
        state.facts.get(k).cloned().ok_or_else(|| {
            Failure::bad_input(format!("{path}: the repair's outcome records no `{k}`"))
        })
    };
    let shape: TableShape = serde_json::from_value(fact("shape")?)
        .map_err(|e| Failure::bad_input(format!("{path}: unreadable table shape: {e}")))?;
    let applied: Applied = serde_json::from_value(fact("applied")?)
        .map_err(|e| Failure::bad_input(format!("{path}: unreadable repair record: {e}")))?;
    let side_journal = state.inputs["repair"]["side_journal"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| Failure::bad_input(format!("{path}: no side restore journal recorded")))?;
    let side_state = read_journal(&side_journal)?;
    let inputs: RecoveryInputs = serde_json::from_value(side_state.inputs.clone())
        .map_err(|e| Failure::bad_input(format!("{}: {e}", side_journal.display())))?;
    if let Some(s) = config.and_then(|c| c.servers.iter().find(|s| s.name == inputs.server.name)) {
        if !s.is_local() {
            return Err(Failure::bad_input(format!(
                "server {} is on {}: run the undo on that host",
                s.name, s.host
            )));
        }
    }
    let session = repair::undo(&inputs.server.dsn, &shape, &applied)
        .await
        .map_err(failure)?;
    let u = session.undone.clone();
    println!(
        "undo the repair of {} ({path}): {} inserted rows to remove, {} overwritten rows to put back",
        shape.name,
        applied.inserted.len(),
        applied.updated.len()
    );
    println!(
        "  removing {}, restoring {}; changed since the repair and kept: {}{}",
        u.removed.len(),
        u.restored.len(),
        u.kept_changed.len(),
        sample(
            u.kept_changed.len() as u64,
            &u.kept_changed[..u.kept_changed.len().min(5)]
        )
    );
    if args.dry_run {
        session.abandon().await.map_err(failure)?;
        println!("dry run: rolled back, nothing written");
        return Ok(());
    }
    if !confirmed(args.yes, &shape.name).await? {
        session.abandon().await.map_err(failure)?;
        return Err(Failure::bad_input(
            "not confirmed: nothing written (type the table's name, or pass --yes)",
        ));
    }
    let journal_failed = |e| Failure::step_failed(format!("undo not started: {e}"));
    let mut journal = Journal::reopen(&state).map_err(journal_failed)?;
    journal
        .write(Body::Rollback {
            reason: "repair --undo".into(),
        })
        .map_err(journal_failed)?;
    journal
        .write(Body::Intent {
            index: 0,
            step: "repair".into(),
            phase: Phase::Undo,
            commands: vec![format!(
                "DELETE the inserted rows still as the repair left them from {t}; UPDATE the overwritten ones back",
                t = shape.name
            )],
        })
        .map_err(journal_failed)?;
    let mut facts = Map::new();
    facts.insert("undone".into(), json!(u));
    journal
        .write(Body::Outcome {
            index: 0,
            step: "repair".into(),
            phase: Phase::Undo,
            ok: true,
            status: None,
            duration_ms: 0,
            error: None,
            facts,
        })
        .map_err(journal_failed)?;
    session.commit().await.map_err(|e| {
        let _ = journal.write(Body::End {
            status: RunStatus::Aborted {
                step: Some(format!("repair undo: commit failed: {e}")),
            },
        });
        failure(e)
    })?;
    let _ = journal.write(Body::End {
        status: RunStatus::RolledBack,
    });
    println!(
        "committed: {} rows removed, {} put back; journaled in {path}",
        u.removed.len(),
        u.restored.len()
    );
    Ok(())
}
