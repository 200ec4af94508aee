//! The drill checklist screen's model: the checklist of `engine::drill` with each item's
//! status and each phase's time, the items ticked by hand, and the sign-off names. The
//! recovery phase is a side-restore run; its engine events time the phases live, and its
//! journal settles the results at the end.

pub use super::drill_jobs::{DrillConclusion, DrillReady, DrillStart};

use super::keymap::Action;
use super::msg::Cmd;
use super::plan_ready::StartRun;
use crate::config::Role;
use crate::domain::target::RecoveryTarget;
use crate::domain::zone::Zone;
use crate::engine::drill::{phase_of_step, Checklist, DrillRecord, ItemStatus, PhaseId};
use crate::engine::journal::JournalState;
use crate::engine::recovery::RecoveryInputs;
use crate::engine::Decision;
use crate::engine::EngineEvent;
use chrono::{DateTime, Utc};
use crossterm::event::{Event, KeyEvent};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where the drill's run stands.
#[derive(Debug, Clone, PartialEq)]
pub enum DrillRun {
    /// Not started: `r` starts it (not for a trainee).
    Idle,
    /// Locating and verifying the backup.
    Preparing,
    /// The side restore runs; its journal once it started.
    Running {
        journal: Option<PathBuf>,
    },
    /// The smoke command, the sign-off, the report.
    Concluding,
    /// Over; the Markdown report when one was written.
    Done {
        report: Option<PathBuf>,
    },
    Failed(String),
}

/// The sign-off name being typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignField {
    PerformedBy,
    VerifiedBy,
}

#[derive(Debug, Clone)]
pub struct DrillScreen {
    pub server: String,
    pub target: RecoveryTarget,
    pub record: DrillRecord,
    /// Index into `items()`: the highlighted item.
    pub selected: usize,
    pub performed_by: tui_input::Input,
    pub verified_by: tui_input::Input,
    pub editing: Option<SignField>,
    /// A trainee sees the checklist but cannot run the drill.
    pub read_only: bool,
    /// Engine steps begun and not finished yet, with when they began.
    running: BTreeMap<usize, (String, DateTime<Utc>)>,
    pub run: DrillRun,
    /// The side restore's inputs, once prepared.
    inputs: Option<RecoveryInputs>,
    /// The loop's clock (the model reads none).
    now: Option<DateTime<Utc>>,
}

/// What a key did on the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    Handled,
    /// Start the drill.
    Start,
    Close,
    /// Not the screen's key (e.g. quit): the caller handles it.
    Ignored,
}

impl DrillScreen {
    /// The record's start is set by `begin`, when the drill actually starts (the model
    /// reads no clock).
    pub fn new(
        checklist: &Checklist,
        server: &str,
        target: RecoveryTarget,
        read_only: bool,
    ) -> DrillScreen {
        DrillScreen {
            server: server.to_string(),
            record: DrillRecord::new(checklist, server, &target.to_string(), DateTime::UNIX_EPOCH),
            target,
            selected: 0,
            performed_by: tui_input::Input::default(),
            verified_by: tui_input::Input::default(),
            editing: None,
            read_only,
            running: BTreeMap::new(),
            run: DrillRun::Idle,
            inputs: None,
            now: None,
        }
    }

    /// Every item in checklist order, with its phase.
    pub fn items(&self) -> Vec<(PhaseId, &crate::engine::drill::ItemResult)> {
        self.record
            .phases
            .iter()
            .flat_map(|p| p.items.iter().map(move |i| (p.id, i)))
            .collect()
    }

    /// An action while the screen is open: Up/Down select, Space ticks an item kept by
    /// hand, `p`/`v` type the sign-off names (Enter keeps, Esc drops), Esc closes.
    pub fn act(&mut self, action: Action) -> KeyOutcome {
        if let Some(field) = self.editing {
            match action {
                Action::Cancel => {
                    *self.input_mut(field) = tui_input::Input::default();
                    self.editing = None;
                }
                Action::Submit => self.editing = None,
                Action::Quit | Action::Help => return KeyOutcome::Ignored,
                _ => {}
            }
            return KeyOutcome::Handled;
        }
        let last = self.items().len().saturating_sub(1);
        match action {
            Action::Close => return KeyOutcome::Close,
            Action::SelectUp => self.selected = self.selected.saturating_sub(1),
            Action::SelectDown => self.selected = (self.selected + 1).min(last),
            Action::ToggleItem => self.toggle_selected(),
            Action::SignPerformed => self.editing = Some(SignField::PerformedBy),
            Action::SignVerified => self.editing = Some(SignField::VerifiedBy),
            Action::StartDrill if self.run == DrillRun::Idle && !self.read_only => {
                return KeyOutcome::Start
            }
            _ => return KeyOutcome::Ignored,
        }
        KeyOutcome::Handled
    }

    /// A key that is no action while a sign-off name is typed.
    pub fn type_key(&mut self, key: KeyEvent) {
        if let Some(field) = self.editing {
            if let Some(req) = tui_input::backend::crossterm::to_input_request(&Event::Key(key)) {
                self.input_mut(field).handle(req);
            }
        }
    }

    fn input_mut(&mut self, field: SignField) -> &mut tui_input::Input {
        match field {
            SignField::PerformedBy => &mut self.performed_by,
            SignField::VerifiedBy => &mut self.verified_by,
        }
    }

    fn toggle_selected(&mut self) {
        let Some((_, item)) = self
            .items()
            .get(self.selected)
            .map(|(p, i)| (*p, (*i).clone()))
        else {
            return;
        };
        self.record
            .tick(&item.id, item.status != ItemStatus::Passed);
    }

    /// Takes the record `planning::drill_run::prepare` made (preparation done and timed),
    /// keeping the items already ticked by hand.
    pub fn prepared(&mut self, mut record: DrillRecord) {
        for (_, old) in self.items() {
            if old.status == ItemStatus::Passed {
                record.tick(&old.id, true);
            }
        }
        self.record = record;
    }

    /// The drill starts now (preparation begins).
    pub fn begin(&mut self, now: DateTime<Utc>) {
        self.record.started = now;
    }

    /// Times the phases from the side-restore run's events, as they come.
    pub fn on_engine_event(&mut self, event: &EngineEvent, now: DateTime<Utc>) {
        match event {
            EngineEvent::StepStarted { index, id, .. } => {
                self.running.insert(*index, (id.clone(), now));
                self.mark(id, ItemStatus::Running);
            }
            EngineEvent::StepFinished { index, .. } => {
                if let Some((id, from)) = self.running.remove(index) {
                    if let Some(phase) = phase_of_step(&id) {
                        self.record.add_time(phase, from, now);
                    }
                }
            }
            EngineEvent::StepFailed { index, error, .. } => {
                if let Some((id, _)) = self.running.remove(index) {
                    let item = item_of_step(&id);
                    if let Some(item) = item {
                        self.record.set(item, ItemStatus::Failed, error.clone());
                    }
                }
            }
            _ => {}
        }
    }

    fn mark(&mut self, step: &str, status: ItemStatus) {
        if let Some(item) = item_of_step(step) {
            if self.record.item(item).map(|i| i.status) == Some(ItemStatus::Pending) {
                self.record.set(item, status, "");
            }
        }
    }

    /// The run's journal settles every result; the sign-off names are taken as typed.
    pub fn finish(&mut self, journal: &JournalState, now: DateTime<Utc>) {
        // The journal's times widen the live spans, which held the same steps.
        self.record.apply_journal(journal);
        self.sign(now);
        self.record.finish(now);
    }

    /// Records the typed names as the sign-off.
    pub fn sign(&mut self, now: DateTime<Utc>) {
        let name =
            |i: &tui_input::Input| Some(i.value().trim().to_string()).filter(|s| !s.is_empty());
        self.record
            .sign(name(&self.performed_by), name(&self.verified_by), now);
    }
}

impl DrillScreen {
    /// What `r` asks the loop for: locating and verifying the backup.
    pub fn start(
        &mut self,
        role: Role,
        checklist: &Checklist,
        zone: Zone,
        timeline: Option<crate::domain::timeline::TimelineId>,
    ) -> Cmd {
        self.run = DrillRun::Preparing;
        Cmd::DrillPrepare(Box::new(DrillStart {
            server: self.server.clone(),
            target: self.target.clone(),
            role,
            checklist: checklist.clone(),
            zone,
            options: timeline_options(timeline),
        }))
    }

    /// A drill under way keeps its screen: closing it would lose the live record.
    pub fn in_flight(&self) -> bool {
        matches!(
            self.run,
            DrillRun::Preparing | DrillRun::Running { .. } | DrillRun::Concluding
        )
    }

    pub fn on_tick(&mut self, now: DateTime<Utc>) {
        self.now = Some(now);
    }

    /// Preparation done: the side restore starts (or, if the backup failed, the drill ends).
    pub fn on_prepared(&mut self, result: Result<Box<DrillReady>, String>, zone: Zone) -> Vec<Cmd> {
        let ready = match result {
            Ok(r) => *r,
            Err(e) => {
                self.run = DrillRun::Failed(e);
                return Vec::new();
            }
        };
        self.prepared(ready.prep.record.clone());
        self.inputs = Some(ready.prep.inputs.clone());
        if let Some(stop) = ready.prep.stop {
            self.record.problems.push(stop);
            return self.conclude(None, zone);
        }
        self.run = DrillRun::Running { journal: None };
        let start = StartRun {
            confirmation: ready.prep.inputs.server.name.clone(),
            inputs: ready.prep.inputs,
            run_id: ready.run_id,
            checksum: ready.checksum,
        };
        vec![Cmd::StartRun(Box::new(start))]
    }

    /// The side restore's events: phases timed live; a question is answered by stopping (a
    /// drill never improvises); the end hands over to the conclusion.
    pub fn on_engine(&mut self, event: &EngineEvent, zone: Zone) -> Vec<Cmd> {
        let DrillRun::Running { journal } = &mut self.run else {
            return Vec::new();
        };
        match event {
            EngineEvent::RunStarted { journal: j, .. } => *journal = Some(j.clone()),
            EngineEvent::NeedsDecision { .. } => return vec![Cmd::Decide(Decision::Abort)],
            EngineEvent::RunFinished { .. } => {
                let journal = journal.clone();
                return self.conclude(journal, zone);
            }
            _ => {}
        }
        let now = self.now.unwrap_or(self.record.started);
        self.on_engine_event(event, now);
        Vec::new()
    }

    /// The engine refused to start the side restore.
    pub fn on_not_started(&mut self, error: &str) {
        if matches!(self.run, DrillRun::Running { .. }) {
            self.run = DrillRun::Failed(error.to_string());
        }
    }

    fn conclude(&mut self, journal: Option<PathBuf>, zone: Zone) -> Vec<Cmd> {
        let Some(inputs) = self.inputs.clone() else {
            return Vec::new();
        };
        self.run = DrillRun::Concluding;
        let name =
            |i: &tui_input::Input| Some(i.value().trim().to_string()).filter(|s| !s.is_empty());
        vec![Cmd::DrillConclude(Box::new(DrillConclusion {
            journal,
            inputs,
            record: self.record.clone(),
            performed_by: name(&self.performed_by),
            verified_by: name(&self.verified_by),
            zone,
        }))]
    }

    /// The drill's end: its record as written, and the report.
    pub fn on_concluded(&mut self, result: Result<Box<(DrillRecord, Option<PathBuf>)>, String>) {
        match result {
            Ok(done) => {
                let (record, report) = *done;
                self.record = record;
                self.run = DrillRun::Done { report };
            }
            Err(e) => self.run = DrillRun::Failed(e),
        }
    }
}

/// The pane's timeline, when one is selected; else the newest.
pub fn timeline_options(
    timeline: Option<crate::domain::timeline::TimelineId>,
) -> crate::planning::prepare::PlanOptions {
    crate::planning::prepare::PlanOptions {
        timeline: timeline.map_or(
            crate::domain::target::TimelineChoice::Latest,
            crate::domain::target::TimelineChoice::Number,
        ),
        force_unknown_xid: false,
    }
}

/// The checklist item an engine step's progress shows on.
fn item_of_step(step: &str) -> Option<&'static str> {
    match step {
        "snapshot" => Some("expected_row_counts"),
        "restore" => Some("side_restore"),
        "replay" => Some("reached_target"),
        "promote" => Some("promoted"),
        "verify" => Some("checks"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Phase, StepStatus};
    use chrono::TimeZone;
    use crossterm::event::{KeyCode, KeyModifiers};

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }

    /// A key as the console routes it: through the keymap, typed when it is no action.
    fn press(d: &mut DrillScreen, code: KeyCode) -> KeyOutcome {
        use crate::app::keymap::{stacks, Keymap};
        let key = KeyEvent::new(code, KeyModifiers::NONE);
        let stack = if d.editing.is_some() {
            stacks::INPUT
        } else {
            stacks::DRILL
        };
        match Keymap::default().action(stack, &key) {
            Some(a) => d.act(a),
            None if d.editing.is_some() => {
                d.type_key(key);
                KeyOutcome::Handled
            }
            None => KeyOutcome::Ignored,
        }
    }

    fn screen() -> DrillScreen {
        let own = crate::engine::drill::DEFAULT_CHECKLIST.replacen(
            "[[phase]]\nid = \"verification\"",
            "[[phase.item]]\nid = \"app_team_told\"\ntext = \"Application team told\"\n\n[[phase]]\nid = \"verification\"",
            1,
        );
        let c = Checklist::parse(&own, "test").unwrap();
        let mut d = DrillScreen::new(&c, "db1", RecoveryTarget::Latest, false);
        d.begin(t(0));
        d
    }

    #[test]
    fn keys_walk_tick_and_sign() {
        let mut d = screen();
        let manual = d
            .items()
            .iter()
            .position(|(_, i)| i.id == "app_team_told")
            .unwrap();
        for _ in 0..manual {
            press(&mut d, KeyCode::Down);
        }
        assert_eq!(
            d.record.item("app_team_told").unwrap().status,
            ItemStatus::Open
        );
        press(&mut d, KeyCode::Char(' '));
        assert_eq!(
            d.record.item("app_team_told").unwrap().status,
            ItemStatus::Passed
        );
        press(&mut d, KeyCode::Up);
        press(&mut d, KeyCode::Char(' '));
        assert_eq!(
            d.record.item("promoted").unwrap().status,
            ItemStatus::Pending,
            "the console's own items are not ticked by hand"
        );
        press(&mut d, KeyCode::Char('p'));
        for c in "Alice".chars() {
            press(&mut d, KeyCode::Char(c));
        }
        press(&mut d, KeyCode::Enter);
        press(&mut d, KeyCode::Char('v'));
        press(&mut d, KeyCode::Char('B'));
        press(&mut d, KeyCode::Esc);
        assert_eq!(d.performed_by.value(), "Alice");
        assert_eq!(d.verified_by.value(), "");
        d.sign(t(9));
        assert_eq!(d.record.sign_off.performed_by.as_deref(), Some("Alice"));
        assert_eq!(
            d.record.item("verified_by").unwrap().status,
            ItemStatus::Failed
        );
        let mut fresh = DrillRecord::new(&Checklist::builtin(), "db1", "latest", t(1));
        fresh.set("backup_located", ItemStatus::Passed, "b1");
        let own = d.record.clone();
        d.prepared(fresh);
        assert_eq!(d.record.item("backup_located").unwrap().detail, "b1");
        assert!(own.item("app_team_told").is_some());
        assert_eq!(press(&mut d, KeyCode::Char('q')), KeyOutcome::Ignored);
        assert_eq!(press(&mut d, KeyCode::Esc), KeyOutcome::Close);
    }

    #[test]
    fn engine_events_time_the_phases() {
        let mut d = screen();
        let started = |index, id: &str| EngineEvent::StepStarted {
            index,
            id: id.into(),
            title: id.into(),
            phase: Phase::Run,
        };
        let finished = |index, id: &str, ms| EngineEvent::StepFinished {
            index,
            id: id.into(),
            phase: Phase::Run,
            duration_ms: ms,
            status: StepStatus::Done,
        };
        d.on_engine_event(&started(2, "restore"), t(10));
        assert_eq!(
            d.record.item("side_restore").unwrap().status,
            ItemStatus::Running
        );
        d.on_engine_event(&finished(2, "restore", 30_000), t(40));
        d.on_engine_event(&started(5, "verify"), t(50));
        d.on_engine_event(&finished(5, "verify", 2_000), t(52));
        let rec = d.record.phase(PhaseId::Recovery).unwrap();
        assert_eq!(
            (rec.started, rec.finished, rec.duration_ms),
            (Some(t(10)), Some(t(40)), Some(30_000))
        );
        assert_eq!(
            d.record.phase(PhaseId::Verification).unwrap().duration_ms,
            Some(2_000)
        );
        d.on_engine_event(
            &EngineEvent::StepStarted {
                index: 6,
                id: "promote".into(),
                title: "p".into(),
                phase: Phase::Run,
            },
            t(60),
        );
        d.on_engine_event(
            &EngineEvent::StepFailed {
                index: 6,
                id: "promote".into(),
                phase: Phase::Run,
                error: "boom".into(),
            },
            t(61),
        );
        assert_eq!(
            d.record.item("promoted").unwrap().status,
            ItemStatus::Failed
        );
    }
}
