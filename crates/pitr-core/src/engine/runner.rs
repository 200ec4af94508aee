//! Runs a plan's steps in order, journaling each, asking the driver when a person must
//! decide, and undoing finished steps in reverse on roll back.

use super::event::{Decision, EngineEvent, Phase, Question, RunStatus, StepStatus};
use super::journal::{Body, Journal, JournalError, JournalState, Pending};
use super::lock::{LockError, ServerKey, ServerLock};
use super::plan::Plan;
use super::ports::Ports;
use super::state_dir::StateDir;
use super::step::{Branch, Shared, StepCtx, StepError};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The checksums themselves are not shown: they would tell a forger what to write.
    #[error("the plan changed since run {run_id} started: the configuration or the inputs differ; resume with the configuration the run started with")]
    PlanChanged { run_id: String },
    #[error("run {run_id} already ended ({status}); nothing to resume")]
    AlreadyEnded { run_id: String, status: RunStatus },
    #[error("the confirmation `{given}` does not equal the server's name `{server}`")]
    BadConfirmation { given: String, server: String },
    #[error("{0}")]
    Inputs(String),
    /// The role forbids the run; `journal` holds the refusal when it could be written.
    #[error("{message}")]
    RefusedByRole {
        message: String,
        journal: Option<PathBuf>,
    },
}

pub struct RunOptions {
    pub journal_dir: PathBuf,
    /// The server's name typed ahead (headless `--yes`); None asks before the first step
    /// that changes production.
    pub confirmation: Option<String>,
    /// Where the server's lock and the record of its unfinished run live.
    pub state_dir: StateDir,
    /// The server the run is for (host and data directory), whatever it is called.
    pub key: ServerKey,
    /// On resume: what the operator asks for now, over the action the run was started with.
    pub action: Option<ResumeAction>,
}

/// What a resume was asked to do, whatever the run was started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeAction {
    /// Stop at the decision and ask.
    Pause,
    /// Promote at the decision without asking.
    Promote,
    /// Put everything back from wherever the run stands.
    RollBack,
}

impl ResumeAction {
    fn fact(self) -> &'static str {
        match self {
            ResumeAction::Pause => "pause",
            ResumeAction::Promote => "promote",
            ResumeAction::RollBack => "roll_back",
        }
    }
}

/// The driver's side of a run.
pub struct RunHandle {
    pub run_id: String,
    pub journal: PathBuf,
    pub events: UnboundedReceiver<EngineEvent>,
    pub decisions: UnboundedSender<Decision>,
    /// Where the operator's notes go while the run goes on.
    pub notebook: Notebook,
}

/// Journals the operator's notes beside the run's own records (same file, same chain).
#[derive(Clone)]
pub struct Notebook(Arc<Shared>);

impl Notebook {
    /// Appends the note, fsynced. Blocking: call it off an async executor's hot path.
    pub fn write(&self, text: &str) -> Result<(), String> {
        self.0
            .journal(Body::Note {
                index: None,
                text: format!("operator note: {text}"),
            })
            .map_err(|e| e.to_string())
    }
}

/// Where a run stands: built empty for a new run, from the journal for a resumed one.
#[derive(Default)]
struct Progress {
    finished: BTreeMap<usize, StepStatus>,
    started: BTreeSet<usize>,
    undone: BTreeSet<usize>,
    pending: Option<Pending>,
    rolling_back: bool,
}

enum Stop {
    Abort(String),
    RollBack,
}

pub struct Runner {
    plan: Plan,
    shared: Arc<Shared>,
    ctx: StepCtx,
    progress: Progress,
    confirmed: bool,
    resumed: bool,
    lock: ServerLock,
    /// The last failure, for the refusal when the run stops at its gate.
    last_error: Option<String>,
}

impl Runner {
    /// Takes the server's lock, creates the journal and writes the plan header.
    pub fn start(
        plan: Plan,
        ports: Ports,
        opts: RunOptions,
    ) -> Result<(Runner, RunHandle), EngineError> {
        let confirmed = check_confirmation(&plan, &opts)?;
        let lock = ServerLock::acquire(&opts.state_dir, &opts.key, &plan.run_id)?;
        let mut journal = Journal::create(&opts.journal_dir, &plan.server, &plan.run_id)?;
        journal.write(Body::Run {
            run_id: plan.run_id.clone(),
            server: plan.server.clone(),
            target: plan.target.clone(),
            checksum: plan.checksum().to_string(),
            steps: plan.step_views(),
            inputs: plan.inputs.clone(),
        })?;
        lock.claim(journal.path())?;
        if let Some(text) = lock.takeover_note() {
            journal.write(Body::Note { index: None, text })?;
        }
        Ok(Runner::assemble(
            plan,
            ports,
            journal,
            lock,
            Progress::default(),
            serde_json::Map::new(),
            confirmed,
            false,
        ))
    }

    /// Continues the run `state` was read from. The plan must be rebuilt from the same
    /// inputs: its checksum must equal the journal's.
    pub fn resume(
        plan: Plan,
        state: JournalState,
        ports: Ports,
        opts: RunOptions,
    ) -> Result<(Runner, RunHandle), EngineError> {
        if let Some(status) = state.ended.clone() {
            return Err(EngineError::AlreadyEnded {
                run_id: state.run_id,
                status,
            });
        }
        state.require_intact()?;
        if plan.checksum() != state.checksum {
            return Err(EngineError::PlanChanged {
                run_id: state.run_id,
            });
        }
        let confirmed = check_confirmation(&plan, &opts)?;
        if opts.action == Some(ResumeAction::Promote) && state.rolling_back {
            return Err(EngineError::Inputs(format!(
                "run {} is rolling back already: it cannot be promoted; resume it with `--action roll-back` to finish the roll back",
                state.run_id
            )));
        }
        let lock = ServerLock::acquire(&opts.state_dir, &opts.key, &plan.run_id)?;
        let mut journal = Journal::reopen(&state)?;
        journal.write(Body::Resume {
            checksum: state.checksum.clone(),
        })?;
        lock.claim(journal.path())?;
        if let Some(text) = lock.takeover_note() {
            journal.write(Body::Note { index: None, text })?;
        }
        let mut progress = Progress {
            finished: state.finished,
            started: state.started,
            undone: state.undone,
            pending: state.pending,
            rolling_back: state.rolling_back,
        };
        let mut facts = state.facts;
        if let Some(action) = opts.action {
            let recorded = state
                .inputs
                .get("action")
                .and_then(Value::as_str)
                .unwrap_or("pause")
                .to_string();
            journal.write(Body::Note {
                index: None,
                text: format!(
                    "resume --action {}: overrides the action the run was started with ({recorded})",
                    action.fact().replace('_', "-")
                ),
            })?;
            // Not journaled as a step's fact: the journal holds a note saying what was overridden.
            facts.insert(
                super::facts::ACTION_OVERRIDE.name().into(),
                Value::from(action.fact()),
            );
            if action == ResumeAction::RollBack && !progress.rolling_back {
                // From wherever the run stands: a step left dirty or failed in its run phase
                // counts as started, so its undo runs with the others'.
                if let Some(
                    Pending::Dirty { index, phase } | Pending::Failed { index, phase, .. },
                ) = progress.pending
                {
                    if phase == Phase::Run {
                        progress.started.insert(index);
                        progress.pending = None;
                    }
                }
                journal.write(Body::Rollback {
                    reason: "operator chose roll back on resume (--action roll-back)".into(),
                })?;
                progress.rolling_back = true;
            }
        }
        Ok(Runner::assemble(
            plan, ports, journal, lock, progress, facts, confirmed, true,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        plan: Plan,
        ports: Ports,
        journal: Journal,
        lock: ServerLock,
        progress: Progress,
        facts: serde_json::Map<String, Value>,
        confirmed: bool,
        resumed: bool,
    ) -> (Runner, RunHandle) {
        let (events_tx, events_rx) = unbounded_channel();
        let (decisions_tx, decisions_rx) = unbounded_channel();
        let journal_path = journal.path().to_path_buf();
        let shared = Arc::new(Shared {
            events: events_tx,
            decisions: tokio::sync::Mutex::new(decisions_rx),
            journal: Mutex::new(journal),
        });
        let ctx = StepCtx::new(
            plan.run_id.clone(),
            plan.server.clone(),
            ports,
            shared.clone(),
            facts,
        );
        let handle = RunHandle {
            run_id: plan.run_id.clone(),
            journal: journal_path,
            events: events_rx,
            decisions: decisions_tx,
            notebook: Notebook(shared.clone()),
        };
        (
            Runner {
                plan,
                shared,
                ctx,
                progress,
                confirmed,
                resumed,
                lock,
                last_error: None,
            },
            handle,
        )
    }

    pub fn journal_path(&self) -> PathBuf {
        self.shared
            .journal
            .lock()
            .map(|j| j.path().to_path_buf())
            .unwrap_or_default()
    }

    /// Runs to the end, to an abort, or to a roll back. The lock is released on return.
    pub async fn run(mut self) -> RunStatus {
        self.shared.emit(EngineEvent::RunStarted {
            run_id: self.plan.run_id.clone(),
            server: self.plan.server.clone(),
            journal: self.journal_path(),
            steps: self.plan.steps.len(),
            resumed: self.resumed,
            taken_over: self.lock.takeover_note(),
        });
        let status = match self.drive().await {
            Ok(status) => self.end(status),
            Err(Stop::Abort(step)) if self.at_gate(&step) => {
                let reason = match &self.last_error {
                    Some(e) => format!("{step} failed before anything was changed: {e}"),
                    None => format!("stopped at {step}, before anything was changed"),
                };
                self.end(RunStatus::Refused { reason })
            }
            Err(Stop::Abort(step)) => {
                let _ = self.shared.journal(Body::Note {
                    index: None,
                    text: format!("run stopped at step {step}; `resume` continues it"),
                });
                RunStatus::Aborted { step: Some(step) }
            }
            Err(Stop::RollBack) => RunStatus::Aborted { step: None },
        };
        self.shared.emit(EngineEvent::RunFinished {
            status: status.clone(),
        });
        status
    }

    /// Journals the end and frees the server for the next run.
    fn end(&self, status: RunStatus) -> RunStatus {
        if let Err(e) = self.shared.journal(Body::End {
            status: status.clone(),
        }) {
            tracing::error!("{e}");
            return status;
        }
        if let Err(e) = self.lock.release_run() {
            tracing::error!("{e}");
        }
        status
    }

    /// The run stopped at a gate step (a check that changes nothing) with nothing else begun
    /// but other gates: nothing needs putting back, so the run ends as refused.
    fn at_gate(&self, step: &str) -> bool {
        let steps = &self.plan.steps;
        !self.progress.rolling_back
            && steps.iter().any(|s| s.id() == step && s.gate())
            && self.progress.started.iter().all(|i| steps[*i].gate())
    }

    async fn drive(&mut self) -> Result<RunStatus, Stop> {
        if let Some(p) = self.progress.pending.take() {
            self.settle(p).await?;
        }
        let n = self.plan.steps.len();
        if !self.progress.rolling_back {
            for i in 0..n {
                if self.progress.finished.contains_key(&i) {
                    continue;
                }
                match self.run_phase(i, Phase::Run).await {
                    Ok(()) => {}
                    Err(Stop::RollBack) => {
                        self.begin_rollback("operator chose roll back after a failed step")?;
                        break;
                    }
                    Err(stop) => return Err(stop),
                }
                if self.ctx.get(crate::engine::facts::DECISION)
                    == Some(crate::engine::facts::Decided::RollBack)
                {
                    self.begin_rollback("operator chose roll back at the decision")?;
                    break;
                }
            }
            if !self.progress.rolling_back {
                let promoted = self.ctx.get(crate::engine::facts::DECISION)
                    == Some(crate::engine::facts::Decided::Promote);
                return Ok(if promoted {
                    RunStatus::Promoted
                } else {
                    RunStatus::Completed
                });
            }
        }
        for i in (0..n).rev() {
            let has_undo = !self.plan.steps[i].describe_undo().is_empty();
            if has_undo && self.progress.started.contains(&i) && !self.progress.undone.contains(&i)
            {
                match self.run_phase(i, Phase::Undo).await {
                    Ok(()) => {}
                    Err(Stop::RollBack) => return Err(Stop::Abort(self.plan.steps[i].id().into())),
                    Err(stop) => return Err(stop),
                }
            }
        }
        for i in 0..n {
            if self.progress.finished.contains_key(&i) {
                continue;
            }
            if self.plan.steps[i].branch() == Branch::Final {
                self.run_phase(i, Phase::Run).await?;
            } else {
                self.mark(i, Phase::Run, StepStatus::Skipped)?;
            }
        }
        Ok(RunStatus::RolledBack)
    }

    fn begin_rollback(&mut self, reason: &str) -> Result<(), Stop> {
        self.progress.rolling_back = true;
        self.shared
            .journal(Body::Rollback {
                reason: reason.into(),
            })
            .map_err(|e| Stop::Abort(format!("roll back ({e})")))
    }

    /// Settles a step a previous process left dirty or failed.
    async fn settle(&mut self, p: Pending) -> Result<(), Stop> {
        let (index, phase, question, prompt) = match p {
            Pending::Dirty { index, phase } => {
                let id = self.plan.steps[index].id().to_string();
                let prompt = format!(
                    "Step {} ({id}, {phase:?}) was started but never finished: the console stopped while it ran. Check its effect, then retry it, mark it done, or abort.",
                    index + 1
                );
                (
                    index,
                    phase,
                    Question::DirtyStep { index, id, phase },
                    prompt,
                )
            }
            Pending::Failed {
                index,
                phase,
                error,
            } => {
                let id = self.plan.steps[index].id().to_string();
                let prompt = format!("Step {} ({id}) failed last time: {error}", index + 1);
                (
                    index,
                    phase,
                    Question::FailedStep {
                        index,
                        id,
                        phase,
                        error,
                    },
                    prompt,
                )
            }
        };
        let mut options = vec![Decision::Retry, Decision::MarkDone, Decision::Abort];
        if phase == Phase::Run && !self.progress.rolling_back {
            options.insert(2, Decision::RollBack);
        }
        match self.shared.ask(question, prompt, options).await {
            Decision::Retry => Ok(()),
            Decision::MarkDone => self.mark(index, phase, StepStatus::MarkedDone),
            Decision::RollBack => {
                self.progress.started.insert(index);
                self.begin_rollback("operator chose roll back on resume")
            }
            _ => Err(Stop::Abort(self.plan.steps[index].id().into())),
        }
    }

    fn mark(&mut self, index: usize, phase: Phase, status: StepStatus) -> Result<(), Stop> {
        let id = self.plan.steps[index].id().to_string();
        self.shared
            .journal(Body::Outcome {
                index,
                step: id.clone(),
                phase,
                ok: true,
                status: Some(status),
                duration_ms: 0,
                error: None,
                facts: Default::default(),
            })
            .map_err(|_| Stop::Abort(id.clone()))?;
        match phase {
            Phase::Run => {
                self.progress.finished.insert(index, status);
            }
            Phase::Undo => {
                self.progress.undone.insert(index);
            }
        }
        self.shared.emit(EngineEvent::StepFinished {
            index,
            id,
            phase,
            duration_ms: 0,
            status,
        });
        Ok(())
    }

    async fn run_phase(&mut self, i: usize, phase: Phase) -> Result<(), Stop> {
        let id = self.plan.steps[i].id().to_string();
        if self.plan.steps[i].branch() == Branch::AfterPromote
            && self.ctx.get(crate::engine::facts::DECISION)
                != Some(crate::engine::facts::Decided::Promote)
        {
            return self.mark(i, phase, StepStatus::Skipped);
        }
        loop {
            if self.plan.steps[i].destructive() || phase == Phase::Undo {
                self.confirm().await.map_err(|_| Stop::Abort(id.clone()))?;
            }
            let error = match self.attempt(i, phase).await {
                Ok(()) => return Ok(()),
                Err(StepError::Aborted) => return Err(Stop::Abort(id)),
                Err(StepError::Failed(e)) => e,
            };
            self.last_error = Some(error.clone());
            let mut options = vec![Decision::Retry, Decision::MarkDone, Decision::Abort];
            if phase == Phase::Run && !self.progress.rolling_back {
                options.insert(2, Decision::RollBack);
            }
            let question = Question::FailedStep {
                index: i,
                id: id.clone(),
                phase,
                error: error.clone(),
            };
            let prompt = format!("Step {} ({id}) failed: {error}", i + 1);
            match self.shared.ask(question, prompt, options).await {
                Decision::Retry => continue,
                Decision::MarkDone => return self.mark(i, phase, StepStatus::MarkedDone),
                Decision::RollBack => return Err(Stop::RollBack),
                _ => return Err(Stop::Abort(id)),
            }
        }
    }

    async fn attempt(&mut self, i: usize, phase: Phase) -> Result<(), StepError> {
        let step = &self.plan.steps[i];
        let id = step.id().to_string();
        let commands = match phase {
            Phase::Run => step.describe(),
            Phase::Undo => step.describe_undo(),
        };
        self.shared.journal(Body::Intent {
            index: i,
            step: id.clone(),
            phase,
            commands,
        })?;
        if phase == Phase::Run {
            self.progress.started.insert(i);
        }
        self.shared.emit(EngineEvent::StepStarted {
            index: i,
            id: id.clone(),
            title: step.title(),
            phase,
        });
        let started = Instant::now();
        self.ctx.begin(i, &id);
        let result = match phase {
            Phase::Run => {
                let r = step.precheck(&mut self.ctx).await;
                let r = match r {
                    Ok(()) => step.run(&mut self.ctx).await,
                    e => e,
                };
                match r {
                    Ok(()) => step.verify(&mut self.ctx).await,
                    e => e,
                }
            }
            Phase::Undo => step.undo(&mut self.ctx).await,
        };
        let facts = self.ctx.take_new_facts();
        let duration_ms = started.elapsed().as_millis() as u64;
        let error = result.as_ref().err().map(|e| e.to_string());
        self.shared.journal(Body::Outcome {
            index: i,
            step: id.clone(),
            phase,
            ok: result.is_ok(),
            status: result.is_ok().then_some(StepStatus::Done),
            duration_ms,
            error: error.clone(),
            facts,
        })?;
        match &error {
            None => {
                match phase {
                    Phase::Run => {
                        self.progress.finished.insert(i, StepStatus::Done);
                    }
                    Phase::Undo => {
                        self.progress.undone.insert(i);
                    }
                }
                self.shared.emit(EngineEvent::StepFinished {
                    index: i,
                    id,
                    phase,
                    duration_ms,
                    status: StepStatus::Done,
                });
            }
            Some(e) => self.shared.emit(EngineEvent::StepFailed {
                index: i,
                id,
                phase,
                error: e.clone(),
            }),
        }
        result
    }

    /// Asks for the server's name once per process before anything changes production.
    async fn confirm(&mut self) -> Result<(), ()> {
        let server = self.plan.server.clone();
        let mut prompt = format!("This changes server {server}. Type the server's name to go on.");
        while !self.confirmed {
            let q = Question::ConfirmDestructive {
                server: server.clone(),
            };
            match self
                .shared
                .ask(
                    q,
                    prompt.clone(),
                    vec![Decision::Confirm(String::new()), Decision::Abort],
                )
                .await
            {
                Decision::Confirm(t) if t == server => self.confirmed = true,
                Decision::Confirm(t) => {
                    prompt = format!(
                        "`{t}` is not the server's name. Type `{server}` to go on, or abort."
                    );
                }
                _ => return Err(()),
            }
        }
        Ok(())
    }
}

fn check_confirmation(plan: &Plan, opts: &RunOptions) -> Result<bool, EngineError> {
    match &opts.confirmation {
        None => Ok(false),
        Some(c) if *c == plan.server => Ok(true),
        Some(c) => Err(EngineError::BadConfirmation {
            given: c.clone(),
            server: plan.server.clone(),
        }),
    }
}

/// Reads a journal for `resume`: the chain is checked, the state summed up.
pub fn read_journal(path: &Path) -> Result<JournalState, EngineError> {
    Ok(JournalState::read(path)?)
}
