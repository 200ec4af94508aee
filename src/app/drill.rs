//! The drill checklist screen's model: the checklist of `engine::drill` with each item's
//! status and each phase's time, the items ticked by hand, and the sign-off names. The
//! recovery phase is a side-restore run; its engine events time the phases live, and its
//! journal settles the results at the end.

use super::keymap::Action;
use super::msg::Cmd;
use super::state::App;
use super::wizard::StartRun;
use crate::config::Role;
use crate::domain::target::RecoveryTarget;
use crate::domain::zone::Zone;
use crate::engine::drill::{phase_of_step, Checklist, DrillRecord, ItemStatus, PhaseId};
use crate::engine::journal::JournalState;
use crate::engine::recovery::RecoveryInputs;
use crate::engine::Decision;
use crate::engine::EngineEvent;
use crate::planning::drill_run::DrillPrep;
use chrono::{DateTime, Utc};
use crossterm::event::{Event, KeyCode, KeyEvent};
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

/// What the loop needs to prepare a drill: the side directory and port come from the
/// server's configuration there.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillStart {
    pub server: String,
    pub target: RecoveryTarget,
    pub role: Role,
    pub checklist: Checklist,
    pub zone: Zone,
    /// The timeline selected on the timeline pane.
    pub options: crate::planning::prepare::PlanOptions,
}

/// The prepared drill with the plan's identity, for `Cmd::StartRun`.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillReady {
    pub prep: DrillPrep,
    pub run_id: String,
    pub checksum: String,
}

/// After the run (or instead of it): verification, sign-off, record and report.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillConclusion {
    pub journal: Option<PathBuf>,
    pub inputs: RecoveryInputs,
    pub record: DrillRecord,
    pub performed_by: Option<String>,
    pub verified_by: Option<String>,
    pub zone: Zone,
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
    /// Time the engine's events added per phase, replaced by the journal's at the end.
    live_ms: BTreeMap<PhaseId, u64>,
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
            live_ms: BTreeMap::new(),
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

    /// Keys while the screen is open: Up/Down select, Space ticks an item kept by hand,
    /// `p`/`v` type the sign-off names (Enter keeps, Esc drops), Esc closes.
    pub fn on_key(&mut self, key: KeyEvent) -> KeyOutcome {
        if let Some(field) = self.editing {
            match key.code {
                KeyCode::Enter | KeyCode::Esc => {
                    if key.code == KeyCode::Esc {
                        *self.input_mut(field) = tui_input::Input::default();
                    }
                    self.editing = None;
                }
                _ => {
                    if let Some(req) =
                        tui_input::backend::crossterm::to_input_request(&Event::Key(key))
                    {
                        self.input_mut(field).handle(req);
                    }
                }
            }
            return KeyOutcome::Handled;
        }
        let last = self.items().len().saturating_sub(1);
        match key.code {
            KeyCode::Esc => return KeyOutcome::Close,
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.selected = (self.selected + 1).min(last),
            KeyCode::Char(' ') => self.toggle_selected(),
            KeyCode::Char('p') => self.editing = Some(SignField::PerformedBy),
            KeyCode::Char('v') => self.editing = Some(SignField::VerifiedBy),
            KeyCode::Char('r') if self.run == DrillRun::Idle && !self.read_only => {
                return KeyOutcome::Start
            }
            _ => return KeyOutcome::Ignored,
        }
        KeyOutcome::Handled
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
            EngineEvent::StepFinished {
                index, duration_ms, ..
            } => {
                if let Some((id, from)) = self.running.remove(index) {
                    if let Some(phase) = phase_of_step(&id) {
                        self.record.add_time(phase, from, now, *duration_ms);
                        *self.live_ms.entry(phase).or_default() += duration_ms;
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
        // The journal's step times replace the live ones, which counted the same steps.
        for p in &mut self.record.phases {
            if let (Some(ms), Some(live)) = (p.duration_ms, self.live_ms.get(&p.id)) {
                p.duration_ms = Some(ms.saturating_sub(*live));
            }
        }
        self.live_ms.clear();
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

/// Opens the screen for the selected server, to the picked target or else just before the
/// cursor's instant.
pub fn open(app: &mut App) {
    let picked = app.pending_target.clone();
    let Some(server) = picked
        .as_ref()
        .map(|p| p.server.clone())
        .or_else(|| app.servers.get(app.selected_server).map(|s| s.name.clone()))
    else {
        return;
    };
    let target = picked.map_or(
        RecoveryTarget::Time {
            at: app.cursor,
            inclusive: false,
        },
        |p| p.target,
    );
    app.drill = Some(DrillScreen::new(
        &app.checklist,
        &server,
        target,
        app.role == Role::Trainee,
    ));
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

/// Keys go to the open screen first; only quitting passes through. None when closed.
pub fn route_key(app: &mut App, key: KeyEvent) -> Option<Vec<Cmd>> {
    let d = app.drill.as_mut()?;
    match d.on_key(key) {
        KeyOutcome::Handled => {}
        KeyOutcome::Start => {
            d.run = DrillRun::Preparing;
            let start = DrillStart {
                server: d.server.clone(),
                target: d.target.clone(),
                role: app.role,
                checklist: app.checklist.clone(),
                zone: app.zone_choice().zone,
                options: timeline_options(app.timeline),
            };
            return Some(vec![Cmd::DrillPrepare(Box::new(start))]);
        }
        KeyOutcome::Close if in_flight(&d.run) => {}
        KeyOutcome::Close => app.drill = None,
        KeyOutcome::Ignored => {
            if app.keymap.action_for(&key) == Some(Action::Quit) {
                app.quitting = true;
                return Some(vec![Cmd::Quit]);
            }
        }
    }
    Some(Vec::new())
}

/// A drill under way keeps its screen: closing it would lose the live record.
fn in_flight(run: &DrillRun) -> bool {
    matches!(
        run,
        DrillRun::Preparing | DrillRun::Running { .. } | DrillRun::Concluding
    )
}

pub fn on_tick(app: &mut App, now: DateTime<Utc>) {
    if let Some(d) = app.drill.as_mut() {
        d.now = Some(now);
    }
}

/// Preparation done: the side restore starts (or, if the backup failed, the drill ends).
pub fn on_prepared(app: &mut App, result: Result<Box<DrillReady>, String>) -> Vec<Cmd> {
    let zone = app.zone_choice().zone;
    let Some(d) = app.drill.as_mut() else {
        return Vec::new();
    };
    let ready = match result {
        Ok(r) => *r,
        Err(e) => {
            d.run = DrillRun::Failed(e);
            return Vec::new();
        }
    };
    d.prepared(ready.prep.record.clone());
    d.inputs = Some(ready.prep.inputs.clone());
    if let Some(stop) = ready.prep.stop {
        d.record.problems.push(stop);
        return conclude(d, None, zone);
    }
    d.run = DrillRun::Running { journal: None };
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
pub fn on_engine(app: &mut App, event: &EngineEvent) -> Vec<Cmd> {
    let zone = app.zone_choice().zone;
    let Some(d) = app.drill.as_mut() else {
        return Vec::new();
    };
    let DrillRun::Running { journal } = &mut d.run else {
        return Vec::new();
    };
    match event {
        EngineEvent::RunStarted { journal: j, .. } => *journal = Some(j.clone()),
        EngineEvent::NeedsDecision { .. } => return vec![Cmd::Decide(Decision::Abort)],
        EngineEvent::RunFinished { .. } => {
            let journal = journal.clone();
            return conclude(d, journal, zone);
        }
        _ => {}
    }
    let now = d.now.unwrap_or(d.record.started);
    d.on_engine_event(event, now);
    Vec::new()
}

/// The engine refused to start the side restore.
pub fn on_not_started(app: &mut App, error: &str) {
    if let Some(d) = app
        .drill
        .as_mut()
        .filter(|d| matches!(d.run, DrillRun::Running { .. }))
    {
        d.run = DrillRun::Failed(error.to_string());
    }
}

fn conclude(d: &mut DrillScreen, journal: Option<PathBuf>, zone: Zone) -> Vec<Cmd> {
    let Some(inputs) = d.inputs.clone() else {
        return Vec::new();
    };
    d.run = DrillRun::Concluding;
    let name = |i: &tui_input::Input| Some(i.value().trim().to_string()).filter(|s| !s.is_empty());
    vec![Cmd::DrillConclude(Box::new(DrillConclusion {
        journal,
        inputs,
        record: d.record.clone(),
        performed_by: name(&d.performed_by),
        verified_by: name(&d.verified_by),
        zone,
    }))]
}

/// The drill's end: its record as written, and the report.
pub fn on_concluded(app: &mut App, result: Result<Box<(DrillRecord, Option<PathBuf>)>, String>) {
    if let Some(d) = app.drill.as_mut() {
        match result {
            Ok(done) => {
                let (record, report) = *done;
                d.record = record;
                d.run = DrillRun::Done { report };
            }
            Err(e) => d.run = DrillRun::Failed(e),
        }
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
    use crossterm::event::KeyModifiers;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }

    fn press(d: &mut DrillScreen, code: KeyCode) -> KeyOutcome {
        d.on_key(KeyEvent::new(code, KeyModifiers::NONE))
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
