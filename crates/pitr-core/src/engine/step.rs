//! A step of a plan and the context it runs in: ports, journal, events, facts.

use super::event::{Decision, EngineEvent, ProgressUnit, Question};
use super::facts::Fact;
use super::journal::{Body, Journal};
use super::ports::{CommandResult, CommandSpec, PortError, Ports, Rows};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("{0}")]
    Failed(String),
    /// The operator chose to stop at a question the step asked.
    #[error("aborted by the operator")]
    Aborted,
}

impl From<PortError> for StepError {
    fn from(e: PortError) -> Self {
        StepError::Failed(e.message)
    }
}

pub fn fail<T>(msg: impl Into<String>) -> Result<T, StepError> {
    Err(StepError::Failed(msg.into()))
}

pub type StepFuture<'a> = BoxFuture<'a, Result<(), StepError>>;

pub use super::plan_view::Branch;

pub trait Step: Send + Sync {
    /// Stable name, used in the journal.
    fn id(&self) -> &'static str;
    fn title(&self) -> String;
    /// The exact commands, SQL and file moves `run` performs.
    fn describe(&self) -> Vec<String>;
    /// What `undo` performs; empty when there is nothing to undo.
    fn describe_undo(&self) -> Vec<String> {
        Vec::new()
    }
    /// Changes production: needs the operator's confirmation (the server's name).
    fn destructive(&self) -> bool {
        false
    }
    fn branch(&self) -> Branch {
        Branch::Main
    }
    /// A check before anything changes (preflight): a run stopped here ends as refused,
    /// so it does not hold the server.
    fn gate(&self) -> bool {
        false
    }
    fn precheck<'a>(&'a self, _ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async { Ok(()) })
    }
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a>;
    fn verify<'a>(&'a self, _ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async { Ok(()) })
    }
    fn undo<'a>(&'a self, _ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async { Ok(()) })
    }
}

/// What the runner and its steps share with the driver.
pub(crate) struct Shared {
    pub events: UnboundedSender<EngineEvent>,
    pub decisions: tokio::sync::Mutex<UnboundedReceiver<Decision>>,
    pub journal: Mutex<Journal>,
}

impl Shared {
    pub fn emit(&self, e: EngineEvent) {
        // A driver that went away must not stop a recovery half way.
        let _ = self.events.send(e);
    }

    pub fn journal(&self, body: Body) -> Result<(), StepError> {
        self.journal_on(body, None)
    }

    /// Journals an action done on `host` (None: this machine).
    pub fn journal_on(&self, body: Body, host: Option<&str>) -> Result<(), StepError> {
        let mut j = self
            .journal
            .lock()
            .map_err(|_| StepError::Failed("journal writer poisoned by an earlier panic".into()))?;
        j.write_on(body, host).map_err(|e| {
            StepError::Failed(format!(
                "cannot write the journal, stopping before acting: {e}"
            ))
        })
    }

    /// Emits the question and waits for an answer among `options`. A closed channel reads
    /// as Abort. `Decision::Confirm` in `options` stands for any typed text.
    pub async fn ask(
        &self,
        question: Question,
        prompt: String,
        options: Vec<Decision>,
    ) -> Decision {
        loop {
            self.emit(EngineEvent::NeedsDecision {
                question: question.clone(),
                prompt: prompt.clone(),
                options: options.clone(),
            });
            let answer = self
                .decisions
                .lock()
                .await
                .recv()
                .await
                .unwrap_or(Decision::Abort);
            let allowed = options.iter().any(|o| match (o, &answer) {
                (Decision::Confirm(_), Decision::Confirm(_)) => true,
                (a, b) => a == b,
            });
            if allowed {
                let _ = self.journal(Body::Decision {
                    question: format!("{question:?}"),
                    decision: answer.clone(),
                });
                return answer;
            }
        }
    }
}

pub struct StepCtx {
    pub run_id: String,
    pub server: String,
    pub ports: Ports,
    pub(crate) shared: Arc<Shared>,
    facts: Map<String, Value>,
    new_facts: Map<String, Value>,
    index: usize,
    step: String,
}

impl StepCtx {
    pub(crate) fn new(
        run_id: String,
        server: String,
        ports: Ports,
        shared: Arc<Shared>,
        facts: Map<String, Value>,
    ) -> StepCtx {
        StepCtx {
            run_id,
            server,
            ports,
            shared,
            facts,
            new_facts: Map::new(),
            index: 0,
            step: String::new(),
        }
    }

    pub(crate) fn begin(&mut self, index: usize, step: &str) {
        self.index = index;
        self.step = step.to_string();
        self.new_facts.clear();
    }

    pub(crate) fn take_new_facts(&mut self) -> Map<String, Value> {
        std::mem::take(&mut self.new_facts)
    }

    pub fn index(&self) -> usize {
        self.index
    }

    /// Records a fact for later steps (and for a resumed run: it is journaled).
    pub fn set<T: Serialize>(&mut self, fact: Fact<T>, value: &T) {
        let v = serde_json::to_value(value).unwrap_or(Value::Null);
        self.facts.insert(fact.name().to_string(), v.clone());
        self.new_facts.insert(fact.name().to_string(), v);
    }

    pub fn get<T: DeserializeOwned>(&self, fact: Fact<T>) -> Option<T> {
        fact.read(&self.facts)
    }

    /// A line for the operator, journaled.
    pub fn note(&mut self, text: impl Into<String>) -> Result<(), StepError> {
        let text = text.into();
        self.output(&text);
        self.shared.journal(Body::Note {
            index: Some(self.index),
            text,
        })
    }

    /// A line for the operator, not journaled (progress chatter).
    pub fn output(&self, line: &str) {
        self.shared.emit(EngineEvent::Output {
            index: self.index,
            line: line.to_string(),
        });
    }

    pub async fn ask(
        &self,
        question: Question,
        prompt: String,
        options: Vec<Decision>,
    ) -> Decision {
        self.shared.ask(question, prompt, options).await
    }

    fn action(&self, text: String, host: Option<&str>) -> Result<(), StepError> {
        self.shared.journal_on(
            Body::Action {
                index: self.index,
                step: self.step.clone(),
                action: text,
            },
            host,
        )
    }

    fn action_done(
        &self,
        ok: bool,
        exit_code: Option<i32>,
        d: Duration,
        output: String,
        host: Option<&str>,
    ) -> Result<(), StepError> {
        self.shared.journal_on(
            Body::ActionDone {
                index: self.index,
                step: self.step.clone(),
                ok,
                exit_code,
                duration_ms: d.as_millis() as u64,
                output,
            },
            host,
        )
    }

    /// Runs a command, journaled before and after, its output streamed to the driver.
    pub async fn exec(&mut self, cmd: &CommandSpec) -> Result<CommandResult, StepError> {
        let host = self.ports.commands.host();
        let host = host.as_deref();
        self.action(cmd.display(), host)?;
        let index = self.index;
        let events = self.shared.events.clone();
        let sink = move |line: &str| {
            let _ = events.send(EngineEvent::Output {
                index,
                line: line.to_string(),
            });
        };
        let started = Instant::now();
        match self.ports.commands.run(cmd, &sink).await {
            Ok(r) => {
                self.action_done(r.success(), r.exit_code, r.duration, r.output.clone(), host)?;
                Ok(r)
            }
            Err(e) => {
                self.action_done(false, None, started.elapsed(), e.message.clone(), host)?;
                Err(e.into())
            }
        }
    }

    /// Like `exec`, but a non-zero exit (or timeout) fails the step with the output's tail.
    pub async fn exec_ok(&mut self, cmd: &CommandSpec) -> Result<CommandResult, StepError> {
        let r = self.exec(cmd).await?;
        if r.success() {
            return Ok(r);
        }
        let how = if r.timed_out {
            format!("timed out after {:?}", r.duration)
        } else {
            match r.exit_code {
                Some(c) => format!("exited with code {c}"),
                None => "was killed by a signal".to_string(),
            }
        };
        fail(format!(
            "`{}` {how}:\n{}",
            cmd.display(),
            tail(&r.output, 15)
        ))
    }

    /// SQL that changes something, journaled. Read-only polling goes to the port directly.
    pub async fn sql_action(&mut self, dsn: &str, sql: &str) -> Result<Rows, StepError> {
        self.action(format!("SQL {sql}"), None)?;
        let started = Instant::now();
        match self.ports.sql.rows(dsn, sql).await {
            Ok(rows) => {
                let out = rows
                    .iter()
                    .map(|r| {
                        r.iter()
                            .map(|c| c.as_deref().unwrap_or("NULL"))
                            .collect::<Vec<_>>()
                            .join("|")
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                self.action_done(true, None, started.elapsed(), out, None)?;
                Ok(rows)
            }
            Err(e) => {
                self.action_done(false, None, started.elapsed(), e.message.clone(), None)?;
                Err(e.into())
            }
        }
    }

    /// A rename, journaled before and after.
    pub fn rename(&mut self, from: &Path, to: &Path) -> Result<(), StepError> {
        let host = self.ports.fs.host();
        self.action(
            format!("mv {} {}", from.display(), to.display()),
            host.as_deref(),
        )?;
        let started = Instant::now();
        let r = self.ports.fs.rename(from, to);
        self.action_done(
            r.is_ok(),
            None,
            started.elapsed(),
            r.clone().err().map(|e| e.message).unwrap_or_default(),
            host.as_deref(),
        )?;
        Ok(r?)
    }

    /// A call to a service's API from this machine (Patroni REST), journaled before and after.
    pub async fn call<T>(
        &mut self,
        what: String,
        call: impl std::future::Future<Output = Result<T, PortError>>,
    ) -> Result<T, StepError> {
        self.action(what, None)?;
        let started = Instant::now();
        let r = call.await;
        let out = r
            .as_ref()
            .err()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        self.action_done(r.is_ok(), None, started.elapsed(), out, None)?;
        Ok(r?)
    }

    /// Journals a file-system action done some other way (a copy, an extraction).
    pub fn journal_action(&mut self, text: String) -> Result<(), StepError> {
        self.action(text, self.ports.fs.host().as_deref())
    }

    pub fn journal_action_done(
        &mut self,
        ok: bool,
        d: Duration,
        output: String,
    ) -> Result<(), StepError> {
        self.action_done(ok, None, d, output, self.ports.fs.host().as_deref())
    }

    pub fn progress(&self, unit: ProgressUnit, total: Option<u64>) -> ProgressReporter {
        ProgressReporter {
            events: self.shared.events.clone(),
            index: self.index,
            unit,
            total,
            started: Instant::now(),
            last: Arc::new(Mutex::new(None)),
        }
    }
}

/// Turns "done so far" into throttled progress events with rate and ETA.
#[derive(Clone)]
pub struct ProgressReporter {
    events: UnboundedSender<EngineEvent>,
    index: usize,
    unit: ProgressUnit,
    total: Option<u64>,
    started: Instant,
    last: Arc<Mutex<Option<Instant>>>,
}

impl ProgressReporter {
    const EVERY: Duration = Duration::from_millis(250);

    /// Reports `done`, at most four times a second unless `force`.
    pub fn report(&self, done: u64, force: bool) {
        let now = Instant::now();
        if let Ok(mut last) = self.last.lock() {
            if !force && last.is_some_and(|l| now.duration_since(l) < Self::EVERY) {
                return;
            }
            *last = Some(now);
        }
        let secs = now.duration_since(self.started).as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        let eta_secs = self
            .total
            .filter(|_| rate > 0.0)
            .map(|t| t.saturating_sub(done) as f64 / rate);
        let _ = self.events.send(EngineEvent::Progress {
            index: self.index,
            unit: self.unit,
            done,
            total: self.total,
            rate,
            eta_secs,
        });
    }

    pub fn set_total(&mut self, total: Option<u64>) {
        self.total = total;
    }
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
