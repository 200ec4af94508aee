//! `pitr-console recover` and `resume`: the wizard, headless, on the same engine as the TUI.
//! Progress as lines (or JSON events with --json); questions answered from the flags, or
//! asked on the terminal when there is one.

use super::context::Context;
use super::exit::Failure;
use super::plan::{journal_dir, mode, prepare_inputs};
use super::target_args::TargetArgs;
use crate::adapters::ssh::SshPool;
use crate::config::Config;
use crate::config::Role;
use crate::engine::journal::JournalState;
use crate::engine::lock::LockError;
use crate::engine::recovery::{self, FinalAction, RecoveryInputs, RestoreMode};
use crate::engine::{
    Decision, EngineError, EngineEvent, Phase, ProgressUnit, Question, ResumeAction, RunHandle,
    RunStatus, Runner, StepStatus,
};
use crate::planning::prepare::{enforce_role, find_server};
use crate::planning::run_request;
use clap::{Args, ValueEnum};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Action {
    /// Stop at the target, verified, for a decision (headless: leave it paused and exit).
    Pause,
    /// Promote once verification passed.
    Promote,
    /// Put everything back as it was (resume only).
    RollBack,
}

#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// The configured server to recover.
    #[arg(long)]
    pub server: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// What to do once paused at the target and verified.
    #[arg(long, value_enum, default_value = "pause")]
    pub action: Action,
    /// Restore beside production into this new directory (production untouched).
    #[arg(long, value_name = "DIR", requires = "port")]
    pub restore_to: Option<PathBuf>,
    /// Port of the side instance (with --restore-to).
    #[arg(long, requires = "restore_to")]
    pub port: Option<u16>,
    /// Stands for typing the server's name before steps that change production.
    #[arg(long)]
    pub yes: bool,
    /// Agrees up front to recover a Patroni cluster's leader (instead of typing `leader`).
    #[arg(long)]
    pub confirm_leader: bool,
    /// In place onto a new host whose pgdata is missing or empty (complete server failure):
    /// no snapshot, safety dump, stop or move-aside steps.
    #[arg(long, conflicts_with = "restore_to")]
    pub new_host: bool,
    /// Also make the run's journal reachable at FILE (a symlink); its directory holds it.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// JSON events, one per line, on standard output.
    #[arg(long)]
    pub json: bool,
    /// Restore a backup that has no backup_manifest (it cannot be verified beforehand).
    #[arg(long)]
    pub allow_unverified_backup: bool,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run's journal file.
    pub journal: PathBuf,
    #[arg(long)]
    pub yes: bool,
    /// What to do now, over the action the run was started with: roll-back (from wherever
    /// the run stands), promote (at the decision), or pause (stop at the decision and exit).
    /// Without it, the run's own action.
    #[arg(long, value_enum)]
    pub action: Option<Action>,
    #[arg(long)]
    pub json: bool,
}

pub fn recover(ctx: &Context, args: RecoverArgs) -> Result<(), Failure> {
    let json = args.json;
    recover_run(ctx, args).map_err(|f| f.json_if(json))
}

fn recover_run(ctx: &Context, args: RecoverArgs) -> Result<(), Failure> {
    if args.action == Action::RollBack {
        return Err(Failure::bad_input(
            "--action roll-back applies to `resume` of a run paused at its target; recover takes pause or promote",
        ));
    }
    let mut jdir = journal_dir(ctx)?;
    if let Some(file) = &args.journal {
        if file.exists() {
            return Err(Failure::bad_input(format!(
                "--journal {}: the file exists; give a new path",
                file.display()
            )));
        }
        jdir = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
    }
    let mode = mode(args.restore_to.clone(), args.port);
    let target = args.target.target(ctx.zone)?;
    find_server(&ctx.config, &args.server)?;
    // Before the catalog is even read: a forbidden run touches nothing.
    enforce_role(ctx.role, &mode, &args.server, &target)?;
    if mode == RestoreMode::InPlace && !args.yes && !std::io::stdin().is_terminal() {
        return Err(Failure::bad_input(format!(
            "recovering server {} in place changes production: without a terminal to type its name on, pass --yes",
            args.server
        )));
    }
    let action = match args.action {
        Action::Promote => FinalAction::Promote,
        _ => FinalAction::Pause,
    };
    let mut p = prepare_inputs(ctx, &args.server, &args.target, mode, action, jdir)?;
    if let Some(loss) = p.wal_loss.as_ref().filter(|_| !args.target.accept_wal_loss) {
        let mut f = Failure::not_recoverable(format!(
            "--latest does not reach the end of the archive: {}. Nothing was changed; pass --accept-wal-loss to recover there anyway, or restore the missing segment first",
            loss.explain(&ctx.zone)
        ));
        f.detail = serde_json::to_value(loss)
            .ok()
            .map(|v| serde_json::json!({ "wal_loss": v, "alternatives": ["--accept-wal-loss"] }));
        return Err(f);
    }
    p.inputs.new_host = args.new_host;
    if args.confirm_leader {
        let Some(patroni) = p.inputs.server.patroni.as_mut() else {
            return Err(Failure::bad_input(format!(
                "--confirm-leader: server {} is not a Patroni member (control = \"patroni\")",
                args.server
            )));
        };
        patroni.confirm_leader = true;
    }
    let live = crate::planning::live_checks::ask_blocking(&ctx.config, &p.inputs);
    if let Some(r) = live.refusal {
        return Err(Failure::bad_input(r));
    }
    if !args.json {
        for n in p.notes.iter().chain(&live.notes) {
            println!("{n}");
        }
    }
    let mut inputs = p.inputs.clone();
    inputs.backup_check.allow_unverified = args.allow_unverified_backup;
    let plan = recovery::plan(&inputs);
    let confirmation = args.yes.then(|| inputs.server.name.clone());
    let started = recovery::start(
        plan,
        run_request::ports(Some(&ctx.config), &args.server, &SshPool::new()),
        confirmation,
    )
    .map_err(engine_failure)?;
    if let Some(file) = &args.journal {
        if let Err(e) = std::os::unix::fs::symlink(&started.1.journal, file) {
            eprintln!(
                "pitr-console: could not link {} to the journal {}: {e}",
                file.display(),
                started.1.journal.display()
            );
        }
    }
    let driver = Driver {
        action: args.action,
        json: args.json,
        resumed: false,
    };
    finish(driver, started, &inputs)
}

pub fn resume(ctx_role: Role, config: Option<&Config>, args: ResumeArgs) -> Result<(), Failure> {
    let state = JournalState::read(&args.journal).map_err(Failure::bad_input)?;
    let inputs: RecoveryInputs = serde_json::from_value(state.inputs.clone()).map_err(|e| {
        Failure::bad_input(format!(
            "{} is not the journal of a recovery run ({e}); nothing to resume",
            args.journal.display()
        ))
    })?;
    state.require_intact().map_err(Failure::bad_input)?;
    let Some(trusted) = config else {
        return Err(Failure::bad_input(format!(
            "resume rebuilds every command of run {} from the configuration, and none was found: give --config with the configuration the run started with",
            state.run_id
        )));
    };
    let rebuilt =
        crate::planning::resume_check::check(trusted, &inputs).map_err(Failure::bad_input)?;
    let confirmation = args.yes.then(|| state.server.clone());
    let ports = run_request::ports(config, &state.server, &SshPool::new());
    let given = args.action.map(|a| match a {
        Action::Pause => ResumeAction::Pause,
        Action::Promote => ResumeAction::Promote,
        Action::RollBack => ResumeAction::RollBack,
    });
    let started = recovery::resume(&args.journal, rebuilt, ports, confirmation, ctx_role, given)
        .map_err(engine_failure)?;
    let recorded = match inputs.action {
        FinalAction::Promote => Action::Promote,
        FinalAction::Pause => Action::Pause,
    };
    let driver = Driver {
        action: args.action.unwrap_or(recorded),
        json: args.json,
        resumed: true,
    };
    finish(driver, started, &inputs)
}

/// Drives a started run to its end, printing progress lines; its status and journal.
pub(super) fn run_to_end(
    started: (Runner, RunHandle),
    action: Action,
) -> Result<(RunStatus, PathBuf), Failure> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::step_failed(format!("cannot start the async runtime: {e}")))?;
    let driver = Driver {
        action,
        json: false,
        resumed: false,
    };
    let (status, outcome) = rt.block_on(driver.drive(started));
    Ok((status, outcome.journal))
}

pub(super) fn engine_failure(e: EngineError) -> Failure {
    match e {
        EngineError::RefusedByRole { message, journal } => Failure::refused(match journal {
            Some(j) => format!(
                "{message}\nnothing was touched; the refusal is journaled in {}",
                j.display()
            ),
            None => message,
        }),
        EngineError::BadConfirmation { .. } | EngineError::AlreadyEnded { .. } => {
            Failure::bad_input(e)
        }
        EngineError::Lock(
            LockError::Unfinished { .. } | LockError::Held { .. } | LockError::HeldUnknown { .. },
        ) => Failure::refused(format!("{e}\nnothing was touched")),
        other => Failure::step_failed(other),
    }
}

struct Driver {
    action: Action,
    json: bool,
    resumed: bool,
}

/// What the driver learned while answering, for the final message.
#[derive(Default)]
struct Outcome {
    run_id: String,
    left_paused: bool,
    needs_yes: bool,
    journal: PathBuf,
}

fn finish(
    driver: Driver,
    started: (Runner, RunHandle),
    inputs: &RecoveryInputs,
) -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::step_failed(format!("cannot start the async runtime: {e}")))?;
    let json = driver.json;
    let (status, outcome) = rt.block_on(driver.drive(started));
    conclude(&status, &outcome, inputs, json)
}

/// The last word: on standard output, or standard error when that carries JSON events.
fn conclude(
    status: &RunStatus,
    o: &Outcome,
    inputs: &RecoveryInputs,
    json: bool,
) -> Result<(), Failure> {
    let say = |text: String| {
        if json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    };
    let j = o.journal.display();
    let name = &inputs.server.name;
    match status {
        RunStatus::Promoted => {
            say(format!(
                "Server {name} recovered to {} and promoted. Journal: {j}{}",
                inputs.target,
                side_lines(inputs, &j.to_string())
            ));
            Ok(())
        }
        RunStatus::Completed => {
            say(format!("Run complete. Journal: {j}"));
            Ok(())
        }
        RunStatus::RolledBack => {
            say(format!(
                "Rolled back: everything is as it was before the run. Journal: {j}"
            ));
            Ok(())
        }
        RunStatus::Aborted { step } if o.left_paused && step.as_deref() == Some("decide") => {
            let how = if inputs.target.pauses() {
                "paused at"
            } else {
                "recovered (it promoted itself at the end of the archive) to"
            };
            let which = match &inputs.mode {
                RestoreMode::InPlace => format!("Server {name}"),
                RestoreMode::Side { dir, port } => format!(
                    "The side instance of {name} in {} (port {port})",
                    dir.display()
                ),
            };
            say(format!(
                "{which} is {how} {}, verified, waiting for a decision.\n  promote:   pitr-console resume {j} --action promote --yes\n  roll back: pitr-console resume {j} --action roll-back --yes{}",
                inputs.target,
                side_lines(inputs, &j.to_string())
            ));
            Ok(())
        }
        RunStatus::Aborted { step } => {
            let at = step.as_deref().unwrap_or("roll back");
            let hint = if o.needs_yes {
                "; without a terminal, pass --yes to stand for typing the server's name"
            } else {
                ""
            };
            let r = crate::engine::steps::Recovery::new(inputs.clone(), o.run_id.clone());
            let kept = if r.side() {
                "production was not touched".to_string()
            } else if r.aside_dir().exists() {
                format!("the original data is kept aside in {}", r.aside_dir().display())
            } else {
                format!("the original data was not moved: it is in {}", r.pgdata().display())
            };
            Err(Failure::step_failed(format!(
                "the run stopped at step {at}{hint}. Nothing was deleted; {kept}. The run holds server {name} until it ends. Journal: {j}; continue with `pitr-console resume {j}`, roll back with `pitr-console resume {j} --action roll-back --yes`, or give it up with `pitr-console abandon {j}`"
            )))
        }
        RunStatus::Refused { reason } => Err(Failure::step_failed(format!(
            "the run was refused: {reason}. Nothing was changed and the server is free. Journal: {j}"
        ))),
    }
}

impl Driver {
    async fn drive(self, (runner, mut handle): (Runner, RunHandle)) -> (RunStatus, Outcome) {
        let mut outcome = Outcome {
            run_id: handle.run_id.clone(),
            journal: handle.journal.clone(),
            ..Outcome::default()
        };
        let task = tokio::spawn(runner.run());
        let mut printer = Printer::default();
        let mut any_step = false;
        while let Some(e) = handle.events.recv().await {
            let parked = outcome.left_paused
                && matches!(&e, EngineEvent::StepFailed { id, .. } if id == "decide");
            if self.json {
                if let Ok(line) = serde_json::to_string(&e) {
                    println!("{line}");
                }
            } else if parked {
                println!("      left as it is for a decision");
            } else {
                printer.print(&e);
            }
            match &e {
                EngineEvent::StepStarted { .. } => any_step = true,
                EngineEvent::NeedsDecision {
                    question, prompt, ..
                } => {
                    let d = self.answer(question, prompt, any_step, &mut outcome).await;
                    if handle.decisions.send(d).is_err() {
                        break;
                    }
                }
                EngineEvent::RunFinished { .. } => break,
                _ => {}
            }
        }
        let status = task.await.unwrap_or_else(|e| RunStatus::Aborted {
            step: Some(format!("the run crashed: {e}")),
        });
        (status, outcome)
    }

    async fn answer(
        &self,
        q: &Question,
        prompt: &str,
        any_step: bool,
        o: &mut Outcome,
    ) -> Decision {
        let tty = std::io::stdin().is_terminal() && !self.json;
        match q {
            Question::ConfirmDestructive { .. } => {
                if tty {
                    Decision::Confirm(ask(&format!("{prompt}\n> ")).await)
                } else {
                    o.needs_yes = true;
                    Decision::Abort
                }
            }
            Question::ConfirmLeader { .. } => {
                if tty {
                    Decision::Confirm(ask(&format!("{prompt}\n> ")).await)
                } else {
                    Decision::Abort
                }
            }
            Question::PromoteOrRollBack => match self.action {
                Action::Promote => Decision::Promote,
                Action::RollBack => Decision::RollBack,
                Action::Pause if tty => {
                    let a = ask(&format!(
                        "{prompt}\n[p]romote, [r]oll back, or [l]eave it paused and exit? "
                    ))
                    .await;
                    match a.trim() {
                        "p" | "promote" => Decision::Promote,
                        "r" | "roll back" | "rollback" => Decision::RollBack,
                        _ => {
                            o.left_paused = true;
                            Decision::Abort
                        }
                    }
                }
                Action::Pause => {
                    o.left_paused = true;
                    Decision::Abort
                }
            },
            Question::DirtyStep { .. } | Question::FailedStep { .. } => {
                // `resume` means: go on from where the run stopped, so the step it stopped
                // at is retried. Later failures stop the run, state left safe.
                if self.resumed && !any_step && !tty {
                    return Decision::Retry;
                }
                if !tty {
                    return Decision::Abort;
                }
                let a = ask(&format!(
                    "{prompt}\n[r]etry, [m]ark done, roll [b]ack, or [a]bort? "
                ))
                .await;
                match a.trim() {
                    "r" => Decision::Retry,
                    "m" => Decision::MarkDone,
                    "b" => Decision::RollBack,
                    _ => Decision::Abort,
                }
            }
        }
    }
}

/// Reads one line from the terminal (off the async threads).
async fn ask(prompt: &str) -> String {
    print!("{prompt}");
    let _ = std::io::stdout().flush();
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        line.trim_end_matches(['\n', '\r']).to_string()
    })
    .await
    .unwrap_or_default()
}

/// Human progress lines; byte counts at most every two seconds per step.
#[derive(Default)]
struct Printer {
    steps: usize,
    last_progress: Option<Instant>,
}

impl Printer {
    fn print(&mut self, e: &EngineEvent) {
        match e {
            EngineEvent::RunStarted {
                run_id,
                server,
                journal,
                steps,
                resumed,
                taken_over,
            } => {
                self.steps = *steps;
                let how = if *resumed { "resumed" } else { "started" };
                println!(
                    "Run {run_id} on server {server} {how}: {steps} steps. Journal: {}",
                    journal.display()
                );
                if let Some(note) = taken_over {
                    println!("      NOTE: {note}");
                }
            }
            EngineEvent::StepStarted {
                index,
                title,
                phase,
                ..
            } => {
                self.last_progress = None;
                let undo = if *phase == Phase::Undo { "undo: " } else { "" };
                println!("[{}/{}] {undo}{title}", index + 1, self.steps);
            }
            EngineEvent::Output { line, .. } => println!("      {line}"),
            EngineEvent::Progress {
                unit,
                done,
                total,
                rate,
                eta_secs,
                ..
            } => {
                if self
                    .last_progress
                    .is_some_and(|l| l.elapsed() < Duration::from_secs(2))
                {
                    return;
                }
                self.last_progress = Some(Instant::now());
                let what = match unit {
                    ProgressUnit::Bytes => "copied",
                    ProgressUnit::WalBytes => "WAL replayed",
                };
                let of = total
                    .map(|t| format!(" of {}", bytesize::ByteSize(t)))
                    .unwrap_or_default();
                let eta = eta_secs
                    .map(|s| format!(", about {s:.0} s left"))
                    .unwrap_or_default();
                println!(
                    "      {what} {}{of} at {}/s{eta}",
                    bytesize::ByteSize(*done),
                    bytesize::ByteSize(*rate as u64)
                );
            }
            EngineEvent::StepFinished {
                index,
                id,
                duration_ms,
                status,
                ..
            } => match status {
                StepStatus::Skipped => println!("[{}/{}] {id}: skipped", index + 1, self.steps),
                _ => println!("      {status} in {:.1} s", *duration_ms as f64 / 1000.0),
            },
            EngineEvent::StepFailed { error, .. } => {
                println!("      FAILED: {error}");
            }
            EngineEvent::NeedsDecision { .. } | EngineEvent::RunFinished { .. } => {}
        }
    }
}

/// For a side restore: how to reach it with psql, and how to pull rows back from it.
fn side_lines(inputs: &RecoveryInputs, journal: &str) -> String {
    if !matches!(inputs.mode, RestoreMode::Side { .. }) {
        return String::new();
    }
    // The side instance's address depends on the mode and socket only, not the run id.
    let dsn = crate::engine::steps::Recovery::new(inputs.clone(), String::new()).recovered_dsn();
    format!(
        "\n  connect:   psql '{}'\n  repair:    pitr-console repair {journal} --table TABLE --dry-run",
        crate::engine::redact::redact(&dsn).replace('\'', "'\\''")
    )
}
