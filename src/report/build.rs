//! From journal records to the report's model.

use crate::domain::backup::Backup;
use crate::engine::check_item::CheckItem;
use crate::engine::drill::DrillRecord;
use crate::engine::facts;
use crate::engine::journal::{Body, JournalState, Pending};
use crate::engine::recovery::{RecoveryInputs, RestoreMode};
use crate::engine::{Phase, RunStatus, StepStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub format_version: u32,
    pub journal: PathBuf,
    pub run_id: String,
    pub server: String,
    pub target: String,
    /// Role the run was started with, when the journal says.
    pub role: Option<String>,
    /// Where the run was restored: in place, or the side directory and port.
    pub mode: Option<String>,
    pub backup: Option<Backup>,
    /// The run's end in words (or where it stands when it has not ended).
    pub outcome: String,
    pub ended: bool,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    /// Who ran it, from where.
    pub operators: Vec<String>,
    pub timeline: Vec<TimelineEntry>,
    pub plan: Vec<PlanStep>,
    pub steps: Vec<StepReport>,
    pub checklist: Vec<CheckItem>,
    pub decisions: Vec<String>,
    pub notes: Vec<String>,
    pub problems: Vec<String>,
    pub drill: Option<DrillRecord>,
}

/// One instant on the road from the backup to the target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub time: Option<DateTime<Utc>>,
    pub lsn: Option<String>,
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanStep {
    pub index: usize,
    pub id: String,
    pub title: String,
    pub commands: Vec<String>,
    pub destructive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    Done,
    Skipped,
    MarkedDone,
    Failed,
    /// Begun and never finished (the process died, or the run stopped there).
    Interrupted,
    /// Done, then undone by a roll back.
    Undone,
    NotRun,
}

impl StepOutcome {
    pub fn word(self) -> &'static str {
        match self {
            StepOutcome::Done => "done",
            StepOutcome::Skipped => "skipped",
            StepOutcome::MarkedDone => "marked done by hand",
            StepOutcome::Failed => "FAILED",
            StepOutcome::Interrupted => "INTERRUPTED",
            StepOutcome::Undone => "undone",
            StepOutcome::NotRun => "not run",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    pub index: usize,
    pub id: String,
    pub title: String,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    /// Time spent in the step's run phase, over every attempt.
    pub duration_ms: Option<u64>,
    pub attempts: usize,
    pub outcome: StepOutcome,
    pub error: Option<String>,
}

/// The report of the run journaled in `state`, with its drill record when there is one.
pub fn build(state: &JournalState, drill: Option<&DrillRecord>) -> RunReport {
    let inputs: Option<RecoveryInputs> = serde_json::from_value(state.inputs.clone()).ok();
    let role = inputs
        .as_ref()
        .map(|i| format!("{:?}", i.role).to_lowercase())
        .or_else(|| {
            state
                .inputs
                .get("refused_by_role")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let mode = inputs.as_ref().map(|i| match &i.mode {
        RestoreMode::InPlace => format!("in place, into {}", i.server.pgdata.display()),
        RestoreMode::Side { dir, port } => {
            format!("side restore into {} on port {port}", dir.display())
        }
    });
    let plan = plan_steps(state);
    let steps = step_reports(state, &plan);
    let checklist: Vec<CheckItem> = facts::CHECKLIST.read(&state.facts).unwrap_or_default();
    let started = state.records.first().map(|r| r.time);
    let finished = state
        .ended
        .as_ref()
        .and_then(|_| state.records.last().map(|r| r.time));
    let mut operators: Vec<String> = Vec::new();
    for r in &state.records {
        let who = format!("{}@{}", r.user, r.host);
        if !operators.contains(&who) {
            operators.push(who);
        }
    }
    let decisions = state
        .records
        .iter()
        .filter_map(|r| match &r.body {
            Body::Decision { question, decision } => Some(format!("{decision:?} on {question}")),
            _ => None,
        })
        .collect();
    let notes = state
        .records
        .iter()
        .filter_map(|r| match &r.body {
            Body::Note { text, .. } => Some(text.clone()),
            Body::Rollback { reason } => Some(format!("roll back: {reason}")),
            _ => None,
        })
        .collect();
    let mut report = RunReport {
        format_version: 1,
        journal: state.path.clone(),
        run_id: state.run_id.clone(),
        server: state.server.clone(),
        target: state.target.clone(),
        role,
        mode,
        backup: inputs.as_ref().map(|i| i.backup.clone()),
        outcome: outcome(state, &steps),
        ended: state.ended.is_some(),
        started,
        finished,
        duration_ms: started
            .zip(finished)
            .map(|(s, f)| (f - s).num_milliseconds().max(0) as u64),
        operators,
        timeline: timeline(state, inputs.as_ref(), drill),
        plan,
        problems: Vec::new(),
        steps,
        checklist,
        decisions,
        notes,
        drill: drill.cloned(),
    };
    report.problems = problems(state, &report);
    report
}

fn plan_steps(state: &JournalState) -> Vec<PlanStep> {
    match state.records.first().map(|r| &r.body) {
        Some(Body::Run { steps, .. }) => steps
            .iter()
            .map(|s| PlanStep {
                index: s.index,
                id: s.id.clone(),
                title: s.title.clone(),
                commands: s.commands.clone(),
                destructive: s.destructive,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn step_reports(state: &JournalState, plan: &[PlanStep]) -> Vec<StepReport> {
    plan.iter()
        .map(|p| {
            let mut s = StepReport {
                index: p.index,
                id: p.id.clone(),
                title: p.title.clone(),
                started: None,
                finished: None,
                duration_ms: None,
                attempts: 0,
                outcome: StepOutcome::NotRun,
                error: None,
            };
            for r in &state.records {
                match &r.body {
                    Body::Intent { index, phase, .. }
                        if *index == p.index && *phase == Phase::Run =>
                    {
                        s.attempts += 1;
                        s.started.get_or_insert(r.time);
                        s.outcome = StepOutcome::Interrupted;
                    }
                    Body::Outcome {
                        index,
                        phase: Phase::Run,
                        ok,
                        status,
                        duration_ms,
                        error,
                        ..
                    } if *index == p.index => {
                        s.finished = Some(r.time);
                        s.duration_ms = Some(s.duration_ms.unwrap_or(0) + duration_ms);
                        if *ok {
                            s.outcome = match status {
                                Some(StepStatus::Skipped) => StepOutcome::Skipped,
                                Some(StepStatus::MarkedDone) => StepOutcome::MarkedDone,
                                _ => StepOutcome::Done,
                            };
                            s.error = None;
                        } else {
                            s.outcome = StepOutcome::Failed;
                            s.error = error.clone();
                        }
                    }
                    _ => {}
                }
            }
            if state.undone.contains(&p.index) {
                s.outcome = StepOutcome::Undone;
            }
            s
        })
        .collect()
}

fn outcome(state: &JournalState, steps: &[StepReport]) -> String {
    let title = |i: usize| {
        steps
            .iter()
            .find(|s| s.index == i)
            .map_or(format!("step {}", i + 1), |s| s.title.clone())
    };
    match &state.ended {
        Some(RunStatus::Completed) => "completed".into(),
        Some(RunStatus::Promoted) => "recovered and promoted".into(),
        Some(RunStatus::RolledBack) => "rolled back: everything put back as it was".into(),
        Some(RunStatus::Aborted { step: Some(s) }) if s == "decide" => {
            "paused at the target, verified, left for a decision".into()
        }
        Some(RunStatus::Aborted { step }) => format!(
            "stopped at step {} (state left safe; `pitr-console resume` continues)",
            step.as_deref().unwrap_or("roll back")
        ),
        Some(RunStatus::Refused { reason }) => format!("refused: {reason}"),
        None => match &state.pending {
            Some(Pending::Dirty { index, .. }) => format!(
                "not ended: {} was begun and never finished (the process died?)",
                title(*index)
            ),
            Some(Pending::Failed { index, error, .. }) => {
                format!("not ended: {} failed: {error}", title(*index))
            }
            None => "not ended (still running, or stopped between steps)".into(),
        },
    }
}

fn timeline(
    state: &JournalState,
    inputs: Option<&RecoveryInputs>,
    drill: Option<&DrillRecord>,
) -> Vec<TimelineEntry> {
    let mut t = Vec::new();
    if let Some(i) = inputs {
        let b = &i.backup;
        t.push(TimelineEntry {
            time: Some(b.start_time),
            lsn: Some(b.start_lsn.to_string()),
            what: format!("base backup {} starts (replay begins here)", b.id),
        });
        t.push(TimelineEntry {
            time: Some(b.stop_time),
            lsn: Some(b.stop_lsn.to_string()),
            what: format!(
                "base backup {} consistent (no earlier target reachable)",
                b.id
            ),
        });
        t.push(TimelineEntry {
            time: i.target.time(),
            lsn: i.target.lsn().map(|l| l.to_string()),
            what: format!("recovery target: {}", i.target),
        });
    }
    let replay_lsn = facts::REPLAY_LSN.read(&state.facts).map(|l| l.to_string());
    let replay_time = facts::LAST_REPLAY_TIME.read(&state.facts).flatten();
    if replay_lsn.is_some() || replay_time.is_some() {
        t.push(TimelineEntry {
            time: replay_time,
            lsn: replay_lsn,
            what: "replay stopped: last replayed commit".into(),
        });
    }
    if let Some(rpo) = drill.and_then(|d| d.rpo.as_ref()) {
        t.push(TimelineEntry {
            time: Some(rpo.newest_commit),
            lsn: None,
            what: format!(
                "newest archived commit (in {}): the RPO is measured to here",
                rpo.newest_segment
            ),
        });
    }
    // Entries without a time (an xid or name target) keep their place after the backup.
    t.sort_by_key(|e| e.time.unwrap_or(DateTime::<Utc>::MIN_UTC));
    t
}

fn problems(state: &JournalState, r: &RunReport) -> Vec<String> {
    let mut p = Vec::new();
    for s in &r.steps {
        match s.outcome {
            StepOutcome::Failed => p.push(format!(
                "step {} failed: {}",
                s.title,
                s.error.as_deref().unwrap_or("no error recorded")
            )),
            StepOutcome::Interrupted => {
                p.push(format!("step {} was begun and never finished", s.title))
            }
            StepOutcome::MarkedDone => p.push(format!("step {} was marked done by hand", s.title)),
            _ => {}
        }
        if s.attempts > 1 {
            p.push(format!("step {} took {} attempts", s.title, s.attempts));
        }
    }
    // Earlier failures that a retry later fixed are problems found, too.
    for rec in &state.records {
        if let Body::Outcome {
            step,
            ok: false,
            error,
            phase,
            ..
        } = &rec.body
        {
            let line = format!(
                "{step} ({phase:?}) failed once: {}",
                error.as_deref().unwrap_or("no error recorded")
            );
            let last_failed = r
                .steps
                .iter()
                .any(|s| s.id == *step && s.outcome == StepOutcome::Failed && *phase == Phase::Run);
            if !last_failed && !p.contains(&line) {
                p.push(line);
            }
        }
    }
    for c in &r.checklist {
        if !c.ok && c.required {
            p.push(format!("check {} failed: {}", c.item, c.detail));
        }
    }
    if let Some(RunStatus::Refused { reason }) = &state.ended {
        p.push(format!("run refused: {reason}"));
    }
    for n in &r.notes {
        if n.contains("WARNING") || n.starts_with("resume refused") {
            p.push(n.clone());
        }
    }
    if let Some(d) = &r.drill {
        p.extend(d.problems.iter().map(|x| format!("drill: {x}")));
    }
    p
}
