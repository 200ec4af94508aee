//! The recovery wizard's model without a terminal or a server: plans arrive as messages,
//! the engine's events come from a scripted stream, and every Cmd the model emits is
//! checked. Snapshots of its screens at 80x24 and 160x48.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod ui_fixture;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pitr_console::app::wizard::run::StepState;
use pitr_console::app::wizard::{Modal, PlanReady, PlanState};
use pitr_console::app::{update, App, Cmd, Msg};
use pitr_console::config::Role;
use pitr_console::domain::target::RecoveryTarget;
use pitr_console::engine::recovery::{
    build_plan, CheckSpec, FinalAction, RecoveryInputs, RestoreMode, ServerSpec,
};
use pitr_console::engine::{
    Decision, EngineEvent, Phase, ProgressUnit, Question, RunStatus, StepStatus,
};
use pitr_console::planning::prepare::Refusal;
use pitr_console::planning::run_request::{Refused, RunRequest};
use pitr_console::ui;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::PathBuf;
use ui_fixture::*;

const RUN_ID: &str = "20240301T121100Z-beef";
const JOURNAL_DIR: &str = "/var/lib/pitr/journal";
const SIZES: [(u16, u16); 3] = [(80, 24), (100, 30), (160, 48)];

fn wizard_app(role: Role, width: u16, height: u16) -> App {
    let mut app = app(width, height);
    app.role = role;
    app.journal_dir = Some(PathBuf::from(JOURNAL_DIR));
    app
}

fn inputs(request: &RunRequest) -> RecoveryInputs {
    RecoveryInputs {
        server: ServerSpec {
            name: "db1".into(),
            pgdata: "/var/lib/postgresql/15/main".into(),
            bin_dir: "/usr/lib/postgresql/15/bin".into(),
            port: 5432,
            run_as: Some("postgres".into()),
            dsn: "host=/tmp port=5432".into(),
            socket_dir: Some("/tmp".into()),
            service: Default::default(),
            config_file: None,
            patroni: None,
        },
        backup: catalog().backups[3].clone(),
        restore_command: "cp /srv/wal/%f %p".into(),
        target: request.target.clone(),
        action: FinalAction::Pause,
        mode: request.mode.clone(),
        apps: vec![],
        checks: vec![CheckSpec {
            name: "orders present".into(),
            sql: "select count(*) > 0 from orders".into(),
        }],
        safety_dump_dir: PathBuf::from(JOURNAL_DIR).join("dumps"),
        journal_dir: JOURNAL_DIR.into(),
        time_column: None,
        replay_timeout_secs: 60,
        tool_restore: None,
        new_host: false,
        chain: vec![],
        wal_version: None,
        timeline: None,
        prediction: None,
        backup_check: Default::default(),
        replay_stall_secs: 60,
        wal_spool: None,
        role: request.role,
    }
}

/// What the event loop would answer to `Cmd::Prepare`, without reading anything.
fn plan_for(request: &RunRequest) -> Box<PlanReady> {
    let inputs = inputs(request);
    Box::new(PlanReady {
        view: build_plan(&inputs, RUN_ID).view(),
        inputs,
        run_id: RUN_ID.into(),
        notes: vec!["backup b4 (consistent from 2024-03-01 12:56:02+01:00): the latest whose consistency point is at or before the target".into()],
        wal: Some((
            "000000020000000000000037".into(),
            "000000020000000000000046".into(),
        )),
        cost: None,
        wal_loss: None,
    })
}

fn prepare_cmd(cmds: &[Cmd]) -> RunRequest {
    cmds.iter()
        .find_map(|c| match c {
            Cmd::Prepare(r) => Some(r.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Prepare in {cmds:?}"))
}

/// Enter on the timeline, and the plan the loop would send back.
fn open_plan(app: &mut App) -> RunRequest {
    let request = prepare_cmd(&key(app, KeyCode::Enter));
    update(
        app,
        Msg::Prepared {
            request: request.clone(),
            result: Ok(plan_for(&request)),
        },
    );
    request
}

fn typed(app: &mut App, text: &str) -> Vec<Cmd> {
    chars(app, text);
    key(app, KeyCode::Enter)
}

fn start_cmd(cmds: &[Cmd]) -> Option<&pitr_console::app::wizard::StartRun> {
    cmds.iter().find_map(|c| match c {
        Cmd::StartRun(s) => Some(s.as_ref()),
        _ => None,
    })
}

/// Enter, r, the server's name: the run is started (as far as the model knows).
fn started(app: &mut App) {
    open_plan(app);
    key(app, KeyCode::Char('r'));
    assert!(start_cmd(&typed(app, "db1")).is_some());
}

fn engine(app: &mut App, e: EngineEvent) {
    update(app, Msg::Engine(e));
}

fn step_index(app: &App, id: &str) -> usize {
    let w = app.wizard.as_ref().unwrap();
    w.ready()
        .unwrap()
        .view
        .steps
        .iter()
        .position(|s| s.id == id)
        .unwrap()
}

/// The engine's events up to the middle of replay.
fn run_to_replay(app: &mut App) {
    engine(
        app,
        EngineEvent::RunStarted {
            run_id: RUN_ID.into(),
            server: "db1".into(),
            journal: format!("{JOURNAL_DIR}/db1-{RUN_ID}.jsonl").into(),
            steps: 16,
            resumed: false,
            taken_over: None,
        },
    );
    let replay = step_index(app, "replay");
    let restore = step_index(app, "restore");
    for i in 0..replay {
        let id = app.wizard.as_ref().unwrap().ready().unwrap().view.steps[i]
            .id
            .clone();
        engine(
            app,
            EngineEvent::StepStarted {
                index: i,
                id: id.clone(),
                title: String::new(),
                phase: Phase::Run,
            },
        );
        if i == restore {
            engine(
                app,
                EngineEvent::Progress {
                    index: i,
                    unit: ProgressUnit::Bytes,
                    done: 40 << 20,
                    total: Some(40 << 20),
                    rate: 200.0 * 1024.0 * 1024.0,
                    eta_secs: Some(0.0),
                },
            );
        }
        engine(
            app,
            EngineEvent::StepFinished {
                index: i,
                id,
                phase: Phase::Run,
                duration_ms: 100 * (i as u64 + 1),
                status: StepStatus::Done,
            },
        );
    }
    engine(
        app,
        EngineEvent::StepStarted {
            index: replay,
            id: "replay".into(),
            title: "Replay WAL to the target".into(),
            phase: Phase::Run,
        },
    );
    engine(
        app,
        EngineEvent::Progress {
            index: replay,
            unit: ProgressUnit::WalBytes,
            done: 96 << 20,
            total: Some(256 << 20),
            rate: 32.0 * 1024.0 * 1024.0,
            eta_secs: Some(5.0),
        },
    );
    engine(
        app,
        EngineEvent::Output {
            index: replay,
            line:
                "replayed to 0/3D000060, last commit 2024-03-01T11:59:58.120000+00:00, not paused"
                    .into(),
        },
    );
}

/// Replay and verification done; the engine asks promote or roll back.
fn run_to_decision(app: &mut App) {
    run_to_replay(app);
    let replay = step_index(app, "replay");
    let verify = step_index(app, "verify");
    engine(
        app,
        EngineEvent::StepFinished {
            index: replay,
            id: "replay".into(),
            phase: Phase::Run,
            duration_ms: 8000,
            status: StepStatus::Done,
        },
    );
    engine(
        app,
        EngineEvent::StepStarted {
            index: verify,
            id: "verify".into(),
            title: String::new(),
            phase: Phase::Run,
        },
    );
    for line in [
        "[ok  ] paused at the target: in recovery: true, pause state: paused",
        "[ok  ] last commit not after the target: last replayed commit 2024-03-01T11:59:58+00:00",
        "[ok  ] orders present: returned t",
        "[note] row counts against the snapshot: public.orders: 2100 -> 4100",
    ] {
        engine(
            app,
            EngineEvent::Output {
                index: verify,
                line: line.into(),
            },
        );
    }
    engine(
        app,
        EngineEvent::StepFinished {
            index: verify,
            id: "verify".into(),
            phase: Phase::Run,
            duration_ms: 40,
            status: StepStatus::Done,
        },
    );
    engine(
        app,
        EngineEvent::StepStarted {
            index: verify + 1,
            id: "decide".into(),
            title: String::new(),
            phase: Phase::Run,
        },
    );
    engine(app, EngineEvent::NeedsDecision {
        question: Question::PromoteOrRollBack,
        prompt: "Server db1 is paused at 2024-03-01 12:00:00 UTC. Promote keeps this state; roll back puts everything back as it was.".into(),
        options: vec![Decision::Promote, Decision::RollBack, Decision::Abort],
    });
}

#[test]
fn enter_plans_the_cursor_instant_inclusive() {
    let mut app = wizard_app(Role::Operator, 160, 48);
    let cursor = app.cursor;
    let request = prepare_cmd(&key(&mut app, KeyCode::Enter));
    assert_eq!(
        request.target,
        RecoveryTarget::Time {
            at: cursor,
            inclusive: true
        }
    );
    assert_eq!(request.server, "db1");
    assert_eq!(request.mode, RestoreMode::InPlace);
    assert!(matches!(
        app.wizard.as_ref().unwrap().plan,
        PlanState::Preparing
    ));
    update(
        &mut app,
        Msg::Prepared {
            request: request.clone(),
            result: Ok(plan_for(&request)),
        },
    );
    assert!(app.wizard.as_ref().unwrap().ready().is_some());
    // A plan for an earlier request is dropped.
    let mut stale = request.clone();
    stale.target = RecoveryTarget::Latest;
    update(
        &mut app,
        Msg::Prepared {
            request: stale,
            result: Err(Refusal::Input("stale".into()).into()),
        },
    );
    assert!(app.wizard.as_ref().unwrap().ready().is_some());
}

#[test]
fn the_picked_transaction_wins_over_the_cursor() {
    let mut app = wizard_app(Role::Operator, 160, 48);
    app.pending_target = Some(pitr_console::app::transactions::PendingTarget {
        server: "db1".into(),
        target: RecoveryTarget::Xid {
            xid: 807,
            inclusive: false,
        },
        label: "just before xid 807 (DELETE on orders)".into(),
    });
    let request = prepare_cmd(&key(&mut app, KeyCode::Enter));
    assert_eq!(
        request.target,
        RecoveryTarget::Xid {
            xid: 807,
            inclusive: false
        }
    );
    assert_eq!(
        app.wizard.as_ref().unwrap().label,
        "just before xid 807 (DELETE on orders)"
    );
}

#[test]
fn esc_backs_out_while_nothing_ran() {
    let mut app = wizard_app(Role::Operator, 80, 24);
    open_plan(&mut app);
    key(&mut app, KeyCode::Esc);
    assert!(app.wizard.is_none());
    // The timeline's keys work again.
    let before = app.cursor;
    key(&mut app, KeyCode::Left);
    assert_ne!(app.cursor, before);
}

#[test]
fn the_typed_confirmation_must_be_the_server_name() {
    let mut app = wizard_app(Role::Operator, 80, 24);
    open_plan(&mut app);
    assert!(key(&mut app, KeyCode::Char('r')).is_empty());
    let cmds = typed(&mut app, "db2");
    assert!(start_cmd(&cmds).is_none(), "{cmds:?}");
    let w = app.wizard.as_ref().unwrap();
    let Some(Modal::Confirm { error: Some(e), .. }) = &w.modal else {
        panic!("{:?}", w.modal)
    };
    assert!(e.contains("`db2` is not the server's name"), "{e}");
    for _ in 0..3 {
        key(&mut app, KeyCode::Backspace);
    }
    let cmds = typed(&mut app, "db1");
    let start = start_cmd(&cmds).unwrap();
    assert_eq!(start.confirmation, "db1");
    assert_eq!(start.run_id, RUN_ID);
    let w = app.wizard.as_ref().unwrap();
    assert_eq!(start.checksum, w.ready().unwrap().view.checksum);
    assert!(w.run.is_some() && w.modal.is_none());
}

#[test]
fn events_advance_the_steps_and_fill_the_gauges() {
    let mut app = wizard_app(Role::Operator, 160, 48);
    started(&mut app);
    run_to_replay(&mut app);
    let run = app.wizard.as_ref().unwrap().run.as_ref().unwrap();
    let replay = step_index(&app, "replay");
    assert!(run.steps[..replay]
        .iter()
        .all(|s| s.state == StepState::Done && s.duration_ms.is_some()));
    assert_eq!(run.steps[replay].state, StepState::Running);
    assert!(run.steps[replay + 1..]
        .iter()
        .all(|s| s.state == StepState::Pending));
    assert_eq!(run.copy.unwrap().ratio(), Some(1.0));
    assert_eq!(run.replay.unwrap().ratio(), Some(0.375));
    assert!(run
        .replay_status
        .as_deref()
        .unwrap()
        .contains("last commit"));
    assert_eq!(
        run.journal.as_deref(),
        Some(std::path::Path::new(&format!(
            "{JOURNAL_DIR}/db1-{RUN_ID}.jsonl"
        )))
    );
}

#[test]
fn the_decision_is_answered_and_the_checklist_ticked() {
    let mut app = wizard_app(Role::Operator, 160, 48);
    started(&mut app);
    run_to_decision(&mut app);
    let run = app.wizard.as_ref().unwrap().run.as_ref().unwrap();
    assert_eq!(run.checklist.len(), 4);
    assert!(run.checklist.iter().all(|c| c.ok));
    assert!(!run.checklist[3].required);
    // A key that is no option does nothing; `p` promotes.
    assert!(key(&mut app, KeyCode::Char('x')).is_empty());
    assert_eq!(
        key(&mut app, KeyCode::Char('p')),
        vec![Cmd::Decide(Decision::Promote)]
    );
    let run = app.wizard.as_ref().unwrap().run.as_ref().unwrap();
    assert!(run.question.is_none());
    let promote = step_index(&app, "promote");
    for event in [
        EngineEvent::StepStarted {
            index: promote,
            id: "promote".into(),
            title: String::new(),
            phase: Phase::Run,
        },
        EngineEvent::StepFinished {
            index: promote,
            id: "promote".into(),
            phase: Phase::Run,
            duration_ms: 200,
            status: StepStatus::Done,
        },
        EngineEvent::RunFinished {
            status: RunStatus::Promoted,
        },
    ] {
        engine(&mut app, event);
    }
    // The replay's "paused" is history once promoted, and the screen says what is true now.
    let screen = screen_text(&app, 160, 48);
    assert!(
        screen.contains("then promoted: out of recovery"),
        "{screen}"
    );
    // Over: Esc closes the wizard, and what the run changed is read again.
    let cmds = key(&mut app, KeyCode::Esc);
    assert!(app.wizard.is_none());
    assert!(cmds.contains(&Cmd::LoadCatalog {
        repository: "archive".into()
    }));
    assert!(cmds.contains(&Cmd::ProbeServer {
        server: "db1".into()
    }));
}

#[test]
fn a_failed_step_offers_retry_mark_done_roll_back_abort() {
    let mut app = wizard_app(Role::Operator, 80, 24);
    started(&mut app);
    engine(
        &mut app,
        EngineEvent::StepFailed {
            index: 0,
            id: "preflight".into(),
            phase: Phase::Run,
            error: "pg_ctl not found".into(),
        },
    );
    engine(
        &mut app,
        EngineEvent::NeedsDecision {
            question: Question::FailedStep {
                index: 0,
                id: "preflight".into(),
                phase: Phase::Run,
                error: "pg_ctl not found".into(),
            },
            prompt: "Step 1 (preflight) failed: pg_ctl not found".into(),
            options: vec![
                Decision::Retry,
                Decision::MarkDone,
                Decision::RollBack,
                Decision::Abort,
            ],
        },
    );
    let run = app.wizard.as_ref().unwrap().run.as_ref().unwrap();
    assert_eq!(
        run.steps[0].state,
        StepState::Failed("pg_ctl not found".into())
    );
    assert_eq!(
        key(&mut app, KeyCode::Char('r')),
        vec![Cmd::Decide(Decision::Retry)]
    );
}

#[test]
fn a_typed_question_from_the_engine_takes_text() {
    let mut app = wizard_app(Role::Operator, 80, 24);
    started(&mut app);
    engine(
        &mut app,
        EngineEvent::NeedsDecision {
            question: Question::ConfirmLeader {
                server: "db1".into(),
                member: "pg1".into(),
            },
            prompt: "db1 is the leader: type `leader` to go on".into(),
            options: vec![Decision::Confirm(String::new()), Decision::Abort],
        },
    );
    // Ctrl-C is not typed into the answer: it asks whether to quit.
    update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert!(matches!(
        app.wizard.as_ref().unwrap().modal,
        Some(Modal::Quit)
    ));
    key(&mut app, KeyCode::Esc);
    assert_eq!(
        typed(&mut app, "leader"),
        vec![Cmd::Decide(Decision::Confirm("leader".into()))]
    );
}

#[test]
fn a_resize_mid_run_keeps_the_run() {
    let mut app = wizard_app(Role::Operator, 160, 48);
    started(&mut app);
    run_to_replay(&mut app);
    let before = format!("{:?}", app.wizard.as_ref().unwrap().run);
    for (width, height) in [(80, 24), (100, 30), (160, 48)] {
        assert!(update(&mut app, Msg::Resize { width, height }).is_empty());
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| ui::render(f, &app)).unwrap();
    }
    assert_eq!(format!("{:?}", app.wizard.as_ref().unwrap().run), before);
}

#[test]
fn esc_and_quit_during_a_run() {
    let mut app = wizard_app(Role::Operator, 80, 24);
    started(&mut app);
    run_to_replay(&mut app);
    key(&mut app, KeyCode::Esc);
    let w = app.wizard.as_ref().unwrap();
    assert!(w
        .notice
        .as_deref()
        .unwrap()
        .contains("cannot be backed out"));
    assert!(key(&mut app, KeyCode::Char('q')).is_empty());
    assert!(matches!(
        app.wizard.as_ref().unwrap().modal,
        Some(Modal::Quit)
    ));
    key(&mut app, KeyCode::Char('n'));
    assert!(!app.quitting && app.wizard.as_ref().unwrap().modal.is_none());
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(key(&mut app, KeyCode::Char('y')), vec![Cmd::Quit]);
    assert!(app.quitting);
}

#[test]
fn notes_are_sent_to_the_journal() {
    let mut app = wizard_app(Role::Operator, 80, 24);
    open_plan(&mut app);
    key(&mut app, KeyCode::Char('n'));
    assert!(app.wizard.as_ref().unwrap().modal.is_none(), "no run yet");
    key(&mut app, KeyCode::Char('r'));
    typed(&mut app, "db1");
    run_to_decision(&mut app);
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(
        typed(&mut app, "orders back, checked by ana"),
        vec![Cmd::WriteNote("orders back, checked by ana".into())]
    );
    let run = app.wizard.as_ref().unwrap().run.as_ref().unwrap();
    assert_eq!(run.notes, vec!["orders back, checked by ana".to_string()]);
    assert!(run.question.is_some(), "the decision still waits");
}

#[test]
fn the_journal_view_reads_the_file_on_ticks() {
    let mut app = wizard_app(Role::Operator, 80, 24);
    started(&mut app);
    run_to_replay(&mut app);
    let cmds = key(&mut app, KeyCode::Char('J'));
    let path = PathBuf::from(format!("{JOURNAL_DIR}/db1-{RUN_ID}.jsonl"));
    assert_eq!(cmds, vec![Cmd::ReadJournal(path.clone())]);
    let cmds = update(&mut app, Msg::Tick { now: at(4400) });
    assert!(cmds.contains(&Cmd::ReadJournal(path)), "{cmds:?}");
    key(&mut app, KeyCode::Char('J'));
    assert!(app.wizard.as_ref().unwrap().journal.is_none());
}

#[test]
fn a_trainee_sees_plans_but_never_starts_one() {
    let mut app = wizard_app(Role::Trainee, 80, 24);
    open_plan(&mut app);
    assert!(app.wizard.as_ref().unwrap().ready().is_some());
    // The refusal is journaled, as the CLI's is: the only command the key gives.
    let cmds = key(&mut app, KeyCode::Char('r'));
    match cmds.as_slice() {
        [Cmd::JournalRefusal(r)] => {
            assert_eq!((r.server.as_str(), r.role), ("db1", Role::Trainee));
            assert!(r.reason.contains("refused by role trainee"), "{r:?}");
        }
        other => panic!("{other:?}"),
    }
    let w = app.wizard.as_ref().unwrap();
    assert!(w.modal.is_none());
    assert!(
        w.notice
            .as_deref()
            .unwrap()
            .contains("refused by role trainee"),
        "{:?}",
        w.notice
    );
    update(
        &mut app,
        Msg::RefusalJournaled(Ok(PathBuf::from("/j/db1-refused.jsonl"))),
    );
    assert!(app
        .wizard
        .as_ref()
        .unwrap()
        .notice
        .as_deref()
        .unwrap()
        .ends_with("; the refusal is journaled in /j/db1-refused.jsonl"));
    // Even typing the name blindly starts nothing.
    for c in "db1".chars() {
        assert!(start_cmd(&key(&mut app, KeyCode::Char(c))).is_none());
    }
    assert!(start_cmd(&key(&mut app, KeyCode::Enter)).is_none());
    assert!(app.wizard.as_ref().unwrap().run.is_none());
}

#[test]
fn a_drill_starts_only_side_restores() {
    let mut app = wizard_app(Role::Drill, 80, 24);
    open_plan(&mut app);
    key(&mut app, KeyCode::Char('r'));
    let w = app.wizard.as_ref().unwrap();
    assert!(w.modal.is_none());
    assert!(w
        .notice
        .as_deref()
        .unwrap()
        .contains("refused by role drill"));
    let request = prepare_cmd(&key(&mut app, KeyCode::Char('s')));
    assert_eq!(
        request.mode,
        RestoreMode::Side {
            dir: PathBuf::from(format!("/var/lib/postgresql/15/side-{RUN_ID}")),
            port: 5433
        }
    );
    update(
        &mut app,
        Msg::Prepared {
            request: request.clone(),
            result: Ok(plan_for(&request)),
        },
    );
    key(&mut app, KeyCode::Char('r'));
    let start = start_cmd(&typed(&mut app, "db1")).unwrap().clone();
    assert!(matches!(
        start.inputs.mode,
        RestoreMode::Side { port: 5433, .. }
    ));
}

#[test]
fn the_side_restore_form_checks_its_port() {
    let mut app = wizard_app(Role::Operator, 80, 24);
    open_plan(&mut app);
    key(&mut app, KeyCode::Char('e'));
    key(&mut app, KeyCode::Tab);
    for _ in 0..4 {
        key(&mut app, KeyCode::Backspace);
    }
    assert!(typed(&mut app, "99999").is_empty());
    for _ in 0..5 {
        key(&mut app, KeyCode::Backspace);
    }
    let request = prepare_cmd(&typed(&mut app, "6000"));
    assert!(matches!(request.mode, RestoreMode::Side { port: 6000, .. }));
}

#[test]
fn a_refusal_offers_the_nearest_instants() {
    let mut app = wizard_app(Role::Operator, 80, 24);
    let request = prepare_cmd(&key(&mut app, KeyCode::Enter));
    update(
        &mut app,
        Msg::Prepared {
            request,
            result: Err(Refused {
                refusal: Refusal::NotRecoverable("2024-03-01 12:30:30+01:00 is not recoverable: WAL segment 00000001000000000000001E is missing".into()),
                nearest: vec![at(29 * 60), at(32 * 60)],
                detail: None,
                side: None,
            }),
        },
    );
    key(&mut app, KeyCode::Down);
    let request = prepare_cmd(&key(&mut app, KeyCode::Char('g')));
    assert_eq!(app.cursor, at(32 * 60));
    assert_eq!(
        request.target,
        RecoveryTarget::Time {
            at: at(32 * 60),
            inclusive: true
        }
    );
}

#[test]
fn the_title_bar_says_what_the_role_may_do() {
    for (role, words) in [
        (Role::Operator, "operator, may recover"),
        (Role::Drill, "drill, side restores only"),
        (Role::Trainee, "trainee, read-only"),
    ] {
        let app = wizard_app(role, 80, 24);
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal.draw(|f| ui::render(f, &app)).unwrap();
        let top: String = (0..80)
            .map(|x| terminal.backend().buffer()[(x, 0)].symbol().to_string())
            .collect();
        assert!(top.contains(words), "{top}");
    }
}

fn snapshot(name: &str, role: Role, prepare: impl Fn(&mut App)) {
    for (w, h) in SIZES {
        let mut app = wizard_app(role, w, h);
        prepare(&mut app);
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|f| ui::render(f, &app)).unwrap();
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), terminal.backend());
        });
    }
}

#[test]
fn snapshot_plan_view() {
    snapshot("wizard_plan", Role::Operator, |app| {
        open_plan(app);
    });
}

#[test]
fn snapshot_run_mid_replay() {
    snapshot("wizard_run_replay", Role::Operator, |app| {
        started(app);
        update(app, Msg::Tick { now: at(4300) });
        run_to_replay(app);
        update(app, Msg::Tick { now: at(4306) });
    });
}

#[test]
fn snapshot_decision_modal() {
    snapshot("wizard_decision", Role::Operator, |app| {
        started(app);
        run_to_decision(app);
        key(app, KeyCode::Char('n'));
        key(app, KeyCode::Esc);
    });
}

#[test]
fn snapshot_refusal() {
    snapshot("wizard_refusal", Role::Operator, |app| {
        let request = prepare_cmd(&key(app, KeyCode::Enter));
        update(
            app,
            Msg::Prepared {
                request,
                result: Err(Refused {
                    refusal: Refusal::NotRecoverable("2024-03-01 12:30:30+01:00 is not recoverable: WAL segment 00000001000000000000001E is missing from the archive. Nearest recoverable instants: before 2024-03-01 12:29:00+01:00, after 2024-03-01 12:32:00+01:00".into()),
                    nearest: vec![at(29 * 60), at(32 * 60)],
                    detail: None,
                    side: None,
                }),
            },
        );
    });
}

#[test]
fn snapshot_trainee_plan() {
    snapshot("wizard_trainee", Role::Trainee, |app| {
        open_plan(app);
        key(app, KeyCode::Char('r'));
    });
}

#[test]
fn ctrl_c_during_a_run_asks_too() {
    let mut app = wizard_app(Role::Operator, 80, 24);
    started(&mut app);
    let cmds = update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert!(cmds.is_empty());
    assert!(matches!(
        app.wizard.as_ref().unwrap().modal,
        Some(Modal::Quit)
    ));
}

/// The quit prompt does what it says: Enter confirms as y does.
#[test]
fn the_quit_prompt_takes_enter() {
    let mut app = wizard_app(Role::Operator, 80, 24);
    started(&mut app);
    run_to_replay(&mut app);
    key(&mut app, KeyCode::Char('q'));
    assert!(matches!(
        app.wizard.as_ref().unwrap().modal,
        Some(Modal::Quit)
    ));
    assert_eq!(key(&mut app, KeyCode::Enter), vec![Cmd::Quit]);
}

/// A trainee's refused start: one Esc closes the wizard, notice and all.
#[test]
fn one_esc_closes_a_refused_trainee_plan() {
    let mut app = wizard_app(Role::Trainee, 80, 24);
    open_plan(&mut app);
    key(&mut app, KeyCode::Char('r'));
    assert!(app.wizard.as_ref().unwrap().notice.is_some());
    key(&mut app, KeyCode::Esc);
    assert!(app.wizard.is_none());
}

/// `B` plans again with the catalog's next backup; one that cannot reach the target is
/// refused with the reason, and the plan shown before stays.
#[test]
fn b_picks_another_backup_and_a_refusal_keeps_the_plan() {
    let mut app = wizard_app(Role::Operator, 80, 24);
    open_plan(&mut app);
    let shown = app
        .wizard
        .as_ref()
        .unwrap()
        .ready()
        .unwrap()
        .inputs
        .backup
        .id
        .clone();
    let request = prepare_cmd(&key(&mut app, KeyCode::Char('B')));
    let picked = request.backup.clone().unwrap();
    assert_ne!(picked, shown);
    update(
        &mut app,
        Msg::Prepared {
            request,
            result: Err(Refusal::NotRecoverable(format!(
                "backup {picked} cannot reach the target"
            ))
            .into()),
        },
    );
    let w = app.wizard.as_ref().unwrap();
    assert_eq!(w.ready().unwrap().inputs.backup.id, shown);
    assert_eq!(w.request.backup, None);
    let notice = w.notice.as_deref().unwrap();
    assert!(
        notice.contains(&format!("backup {picked} not used")) && notice.contains("cannot reach"),
        "{notice}"
    );
}

/// What an operator reads never holds Rust's debug text: every question, every end of a
/// run and a failed step, drawn at both sizes, with no `Some(`, `None` or `Name { field:`.
#[test]
fn no_debug_formatting_reaches_the_operator() {
    let questions = [
        Question::PromoteOrRollBack,
        Question::FailedStep {
            index: 1,
            id: "restore".into(),
            phase: Phase::Run,
            error: "tar: short read".into(),
        },
        Question::DirtyStep {
            index: 1,
            id: "restore".into(),
            phase: Phase::Undo,
        },
        Question::ConfirmDestructive {
            server: "db1".into(),
        },
        Question::ConfirmLeader {
            server: "db1".into(),
            member: "pg1".into(),
        },
    ];
    let ends = [
        RunStatus::Completed,
        RunStatus::Promoted,
        RunStatus::RolledBack,
        RunStatus::Aborted { step: None },
        RunStatus::Aborted {
            step: Some("restore".into()),
        },
        RunStatus::Refused {
            reason: "lock held".into(),
        },
    ];
    let dump = field_dump();
    for (w, h) in SIZES {
        let mut screens = Vec::new();
        for q in &questions {
            let mut app = wizard_app(Role::Operator, w, h);
            started(&mut app);
            run_to_replay(&mut app);
            engine(
                &mut app,
                EngineEvent::StepFailed {
                    index: 1,
                    id: "restore".into(),
                    phase: Phase::Run,
                    error: "tar: short read".into(),
                },
            );
            engine(
                &mut app,
                EngineEvent::NeedsDecision {
                    question: q.clone(),
                    prompt: "the engine's question".into(),
                    options: vec![Decision::Retry, Decision::Abort],
                },
            );
            screens.push(screen_text(&app, w, h));
        }
        for end in &ends {
            let mut app = wizard_app(Role::Operator, w, h);
            started(&mut app);
            run_to_replay(&mut app);
            engine(
                &mut app,
                EngineEvent::RunFinished {
                    status: end.clone(),
                },
            );
            screens.push(screen_text(&app, w, h));
            key(&mut app, KeyCode::Char('J'));
            screens.push(screen_text(&app, w, h));
        }
        for text in screens {
            for bad in ["Some(", "None", "Decision::", "Question::"] {
                assert!(!text.contains(bad), "`{bad}` on screen:\n{text}");
            }
            assert!(!dump(&text), "a field dump on screen:\n{text}");
        }
    }
}

fn screen_text(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| ui::render(f, app)).unwrap();
    let buf = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// `Name { field:`: a struct or variant printed with `{:?}`.
fn field_dump() -> impl Fn(&str) -> bool {
    |text: &str| {
        let words: Vec<&str> = text.split_whitespace().collect();
        words.windows(3).any(|w| {
            w[0].chars().next().is_some_and(char::is_uppercase)
                && w[0].chars().all(char::is_alphanumeric)
                && w[1] == "{"
                && w[2].ends_with(':')
        })
    }
}

/// `L` shows the recovered server's log instead of the step's output, read again on each
/// tick; FATAL lines stand out in red.
#[test]
fn l_follows_the_recovered_servers_log() {
    let mut app = wizard_app(Role::Operator, 80, 24);
    started(&mut app);
    run_to_replay(&mut app);
    let read = |cmds: &[Cmd]| {
        cmds.iter()
            .any(|c| matches!(c, Cmd::ReadServerLog { server, .. } if server == "db1"))
    };
    assert!(read(&key(&mut app, KeyCode::Char('L'))));
    assert!(read(&update(&mut app, Msg::Tick { now: at(4400) })));
    update(
        &mut app,
        Msg::ServerLogRead(Ok(vec![
            "LOG:  redo starts at 0/37000028".into(),
            "FATAL:  could not locate required checkpoint record".into(),
        ])),
    );
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| ui::render(f, &app)).unwrap();
    let buf = terminal.backend().buffer().clone();
    let fatal = (0..24)
        .find(|y| {
            let row: String = (0..80).map(|x| buf[(x, *y)].symbol().to_string()).collect();
            row.contains("FATAL:")
        })
        .expect("the FATAL line is shown");
    let x = (0..80).find(|x| buf[(*x, fatal)].symbol() == "F").unwrap();
    assert_eq!(buf[(x, fatal)].fg, ratatui::style::Color::Red);
    assert!(!read(&key(&mut app, KeyCode::Char('L'))));
}

/// Progress comes now and then; a replay whose last report said 38% ends at 100% when
/// the step is done, not stuck where the last report left it.
#[test]
fn a_finished_step_leaves_its_gauge_full() {
    let mut app = wizard_app(Role::Operator, 100, 30);
    started(&mut app);
    run_to_replay(&mut app);
    let replay = step_index(&app, "replay");
    let gauge = |app: &App| {
        let run = app.wizard.as_ref().unwrap().run.as_ref().unwrap();
        let g = run.replay.unwrap();
        (g.done, g.total)
    };
    assert_eq!(gauge(&app), (96 << 20, Some(256 << 20)));
    engine(
        &mut app,
        EngineEvent::StepFinished {
            index: replay,
            id: "replay".into(),
            phase: Phase::Run,
            duration_ms: 6_000,
            status: StepStatus::Done,
        },
    );
    assert_eq!(gauge(&app), (256 << 20, Some(256 << 20)));
    assert!(screen_text(&app, 100, 30).contains("100%"));
}
