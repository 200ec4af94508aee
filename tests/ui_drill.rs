//! Snapshots of the drill checklist screen: just opened (D), and mid-way through a drill
//! with phases timed, items settled, names typed.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod ui_fixture;

use chrono::Duration;
use crossterm::event::KeyCode;
use pitr_console::app::App;
use pitr_console::engine::drill::{ItemStatus, PhaseId, Rpo};
use pitr_console::ui;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use ui_fixture::*;

const SIZES: [(u16, u16); 3] = [(80, 24), (100, 30), (160, 48)];

fn snapshot(name: &str, prepare: impl Fn(&mut App)) {
    for (w, h) in SIZES {
        let mut app = app(w, h);
        prepare(&mut app);
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|f| ui::render(f, &app)).unwrap();
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), terminal.backend());
        });
    }
}

fn open(app: &mut App) {
    go_to(app, "2024-03-01 11:00:00");
    key(app, KeyCode::Char('D'));
    assert!(app.drill.is_some(), "D opens the drill screen");
}

#[test]
fn drill_checklist_just_opened() {
    snapshot("drill_checklist_open", open);
}

#[test]
fn drill_checklist_mid_drill() {
    snapshot("drill_checklist_progress", |app| {
        open(app);
        for _ in 0..4 {
            key(app, KeyCode::Down);
        }
        chars(app, "pAlice Ops");
        key(app, KeyCode::Enter);
        chars(app, "vBob");
        let d = app.drill.as_mut().unwrap();
        d.begin(at(5000));
        let r = &mut d.record;
        r.add_time(PhaseId::Preparation, at(5000), at(5025));
        r.set(
            "backup_located",
            ItemStatus::Passed,
            "b2 (Plain, consistent 2024-03-01 10:30:00+01:00)",
        );
        r.set(
            "backup_verified",
            ItemStatus::Passed,
            "pg_verifybackup --no-parse-wal: backup successfully verified",
        );
        r.set(
            "expected_row_counts",
            ItemStatus::Passed,
            "3 tables, 12800 rows on production",
        );
        r.add_time(PhaseId::Recovery, at(5025), at(5180));
        r.set(
            "side_restore",
            ItemStatus::Passed,
            "base backup restored into the side directory",
        );
        r.set("reached_target", ItemStatus::Running, "");
        r.rpo = Some(Rpo {
            chosen: at(4000),
            newest_commit: at(4000) + Duration::seconds(973),
            newest_segment: "000000010000000000000045".into(),
            seconds: 973.0,
        });
    });
}

/// Replay stopped short of the target: the screen says the drill failed and where, the names
/// typed are no sign-off of a pass, and no RPO is claimed for an instant never reached.
#[test]
fn a_drill_that_failed_in_replay_says_so() {
    snapshot("drill_checklist_failed", |app| {
        open(app);
        chars(app, "pAlice Ops");
        key(app, KeyCode::Enter);
        chars(app, "vBob");
        key(app, KeyCode::Enter);
        let d = app.drill.as_mut().unwrap();
        d.begin(at(5000));
        let r = &mut d.record;
        r.add_time(PhaseId::Preparation, at(5000), at(5025));
        r.set("backup_located", ItemStatus::Passed, "b2");
        r.set("backup_verified", ItemStatus::Passed, "verified");
        r.add_time(PhaseId::Recovery, at(5027), at(5180));
        r.set("side_restore", ItemStatus::Passed, "restored");
        r.set(
            "reached_target",
            ItemStatus::Failed,
            "FATAL: recovery ended before configured recovery target was reached",
        );
        r.rpo = Some(Rpo {
            chosen: at(4000),
            newest_commit: at(4000),
            newest_segment: "000000010000000000000045".into(),
            seconds: 0.0,
        });
        d.sign(at(5200));
        d.record.finish(at(5200));
        d.run = pitr_console::app::drill::DrillRun::Done {
            report: Some("/var/lib/pitr/journals/drill/report.md".into()),
        };
        let r = &d.record;
        assert_eq!(r.verdict().headline(), "failed in Recovery");
        assert_eq!(r.item("verified_by").unwrap().status, ItemStatus::Noted);
        assert_eq!(r.rpo, None);
    });
}

#[test]
fn trainee_reads_the_checklist_but_cannot_run_it() {
    let mut app = app(80, 24);
    app.role = pitr_console::config::Role::Trainee;
    open(&mut app);
    assert!(app.drill.as_ref().unwrap().read_only);
    assert!(
        key(&mut app, KeyCode::Char('r')).is_empty(),
        "a trainee's r starts nothing"
    );
    assert_eq!(
        app.drill.as_ref().unwrap().run,
        pitr_console::app::drill::DrillRun::Idle
    );
    key(&mut app, KeyCode::Esc);
    assert!(app.drill.is_none(), "Esc closes");
    key(&mut app, KeyCode::Char('D'));
    let cmds = key(&mut app, KeyCode::Char('q'));
    assert_eq!(cmds, vec![pitr_console::app::Cmd::Quit], "q still quits");
}

#[test]
fn r_prepares_the_drill_for_the_selected_server() {
    let mut app = app(80, 24);
    open(&mut app);
    let cmds = key(&mut app, KeyCode::Char('r'));
    let [pitr_console::app::Cmd::DrillPrepare(start)] = cmds.as_slice() else {
        panic!("{cmds:?}");
    };
    assert_eq!(start.server, "db1");
    assert_eq!(start.role, pitr_console::config::Role::Operator);
    assert_eq!(
        app.drill.as_ref().unwrap().run,
        pitr_console::app::drill::DrillRun::Preparing
    );
    assert!(
        key(&mut app, KeyCode::Char('r')).is_empty(),
        "only one drill at a time"
    );
}
