//! The console's model without a terminal: keys, jumps, time input, zones, probes.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod ui_fixture;

use crossterm::event::KeyCode;
use pitr_console::app::state::RepoState;
use pitr_console::app::transactions::RowKind;
use pitr_console::app::{update, Cmd, Focus, Mode, Msg};
use pitr_console::domain::assess::{Reason, Verdict};
use pitr_console::domain::target::RecoveryTarget;
use pitr_console::domain::timeline::TimelineId;
use pitr_console::domain::zone::Zone;
use ui_fixture::*;

#[test]
fn opens_at_the_end_of_coverage_on_the_latest_timeline() {
    let app = app(80, 24);
    let data = app.data().unwrap();
    assert_eq!(app.cursor, data.extent.unwrap().1);
    assert_eq!(app.timeline, Some(TimelineId(2)));
    assert!(app.view.contains(app.cursor));
    assert!(app.current_buckets().is_some());
    assert!(app.assessment.as_ref().unwrap().verdict.is_recoverable());
}

#[test]
fn left_and_right_move_by_the_step_and_plus_minus_cycle_steps() {
    let mut app = app(80, 24);
    let start = app.cursor;
    assert_eq!(app.step_seconds(), 60);
    key(&mut app, KeyCode::Left);
    assert_eq!(app.cursor, start - chrono::Duration::seconds(60));
    key(&mut app, KeyCode::Right);
    key(&mut app, KeyCode::Right);
    assert_eq!(app.cursor, start + chrono::Duration::seconds(60));
    let mut seen = vec![];
    for _ in 0..6 {
        key(&mut app, KeyCode::Char('+'));
        seen.push(app.step_seconds());
    }
    assert_eq!(seen, vec![600, 3600, 21600, 86400, 86400, 86400]);
    for _ in 0..7 {
        key(&mut app, KeyCode::Char('-'));
    }
    assert_eq!(app.step_seconds(), 1);
    let before = app.cursor;
    key(&mut app, KeyCode::Right);
    assert_eq!(app.cursor, before + chrono::Duration::seconds(1));
}

#[test]
fn moving_out_of_the_view_scrolls_it() {
    let mut app = app(80, 24);
    for _ in 0..5 {
        key(&mut app, KeyCode::Char('+'));
    }
    key(&mut app, KeyCode::Right);
    assert!(app.view.contains(app.cursor));
    assert!(app.current_buckets().is_some());
}

#[test]
fn brackets_jump_between_backups_and_braces_between_gap_edges() {
    let mut app = app(160, 48);
    key(&mut app, KeyCode::Home);
    // Before its first anchor a timeline is dated by that anchor: segment 1 by its file time.
    assert_eq!(app.cursor, at(120));
    key(&mut app, KeyCode::Char(']'));
    assert_eq!(app.cursor, at(3 * 60 + 2)); // b1's consistency point
    key(&mut app, KeyCode::Char(']'));
    assert_eq!(app.cursor, at(21 * 60 + 2)); // b2
    key(&mut app, KeyCode::Char('['));
    assert_eq!(app.cursor, at(3 * 60 + 2));
    key(&mut app, KeyCode::Char('}'));
    assert_eq!(app.cursor, at(30 * 60)); // the gap begins where segment 29 ends
    key(&mut app, KeyCode::Char('}'));
    assert_eq!(app.cursor, at(32 * 60)); // and ends where segment 32 begins
    key(&mut app, KeyCode::Char('{'));
    assert_eq!(app.cursor, at(30 * 60));
    key(&mut app, KeyCode::End);
    assert_eq!(app.cursor, app.data().unwrap().extent.unwrap().1);
    let end = app.cursor;
    key(&mut app, KeyCode::Char(']'));
    assert_eq!(app.cursor, end, "no backup after the end: the cursor stays");
}

#[test]
fn the_cursor_in_the_gap_is_not_recoverable_with_the_missing_segment() {
    let mut app = app(80, 24);
    go_to(&mut app, "2024-03-01 12:30:30");
    assert!(matches!(app.mode, Mode::Normal));
    assert_eq!(app.cursor, at(30 * 60 + 30));
    let Verdict::NotRecoverable {
        reason,
        nearest_before,
        nearest_after,
    } = &app.assessment.as_ref().unwrap().verdict
    else {
        panic!("the gap should not be recoverable")
    };
    assert!(
        matches!(reason, Reason::InGap { missing_segment, .. } if missing_segment == "00000001000000000000001E"),
        "{reason:?}"
    );
    assert!(nearest_before.unwrap().at <= at(30 * 60));
    assert_eq!(nearest_after.unwrap().at, at(41 * 60 + 2));
}

#[test]
fn a_typed_instant_that_does_not_exist_is_refused_with_the_alternatives() {
    let mut app = app(80, 24);
    let before = app.cursor;
    go_to(&mut app, "2024-03-31 02:30:00");
    let Mode::Input(input) = &app.mode else {
        panic!("the input should stay open")
    };
    let error = input.error.as_deref().unwrap();
    assert!(error.contains("does not exist"), "{error}");
    assert!(error.contains("01:59:59+01:00") && error.contains("03:00:00+02:00"));
    assert_eq!(app.cursor, before);
    // Editing clears the error; Esc closes without moving.
    key(&mut app, KeyCode::Backspace);
    let Mode::Input(input) = &app.mode else {
        panic!()
    };
    assert!(input.error.is_none());
    key(&mut app, KeyCode::Esc);
    assert!(matches!(app.mode, Mode::Normal));
    assert_eq!(app.cursor, before);
}

#[test]
fn an_ambiguous_instant_names_both_offsets_and_an_explicit_one_works() {
    let mut app = app(80, 24);
    go_to(&mut app, "2024-10-27 02:30:00");
    let Mode::Input(input) = &app.mode else {
        panic!("the input should stay open")
    };
    let error = input.error.clone().unwrap();
    assert!(
        error.contains("+02:00") && error.contains("+01:00"),
        "{error}"
    );
    key(&mut app, KeyCode::Esc);
    go_to(&mut app, "2024-03-01 11:30:00 UTC");
    assert_eq!(app.cursor, at(30 * 60));
    go_to(&mut app, "garbage");
    assert!(
        matches!(&app.mode, Mode::Input(i) if i.error.as_deref().is_some_and(|e| e.contains("not a")))
    );
}

#[test]
fn z_cycles_configured_utc_and_local_zones_and_input_follows() {
    let mut app = app(80, 24);
    assert_eq!(app.zone(), berlin());
    key(&mut app, KeyCode::Char('z'));
    assert_eq!(app.zone(), Zone::UTC);
    // Typed instants default to the displayed zone.
    go_to(&mut app, "2024-03-01 11:10:00");
    assert_eq!(app.cursor, at(600));
    key(&mut app, KeyCode::Char('z'));
    assert_eq!(app.zone().to_string(), "America/New_York");
    key(&mut app, KeyCode::Char('z'));
    assert_eq!(app.zone(), berlin());
}

#[test]
fn zoom_changes_time_per_column_and_keeps_the_cursor_visible() {
    let mut app = app(80, 24);
    let per = app.view.per_column();
    key(&mut app, KeyCode::Char('i'));
    assert!(app.view.per_column() < per);
    assert!(app.view.contains(app.cursor));
    key(&mut app, KeyCode::Char('o'));
    key(&mut app, KeyCode::Char('o'));
    assert!(app.view.per_column() > per);
    assert!(app.view.contains(app.cursor));
}

#[test]
fn tab_moves_focus_and_up_down_select_in_the_focused_pane() {
    let mut app = app(80, 24);
    assert_eq!(app.focus, Focus::Timeline);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.timeline, Some(TimelineId(1)));
    key(&mut app, KeyCode::Down);
    assert_eq!(app.timeline, Some(TimelineId(2)));
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, Focus::Detail);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, Focus::Servers);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    assert_eq!(app.selected_server, 2);
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Focus::Detail);
}

#[test]
fn help_opens_and_closes_and_q_quits() {
    let mut app = app(80, 24);
    key(&mut app, KeyCode::Char('?'));
    assert!(matches!(app.mode, Mode::Help(..)));
    let cursor = app.cursor;
    key(&mut app, KeyCode::Left);
    assert_eq!(
        app.cursor, cursor,
        "keys other than close do nothing under help"
    );
    key(&mut app, KeyCode::Esc);
    assert!(matches!(app.mode, Mode::Normal));
    assert_eq!(key(&mut app, KeyCode::Char('q')), vec![Cmd::Quit]);
    assert!(app.quitting);
}

/// F1 in a text box opens the help with that box's keys, and closing the help gives the box
/// back with what was typed.
#[test]
fn f1_in_the_time_input_opens_help_and_keeps_the_typing() {
    let mut app = app(80, 24);
    key(&mut app, KeyCode::Char('t'));
    chars(&mut app, "2024-03-01 10:");
    key(&mut app, KeyCode::F(1));
    let Mode::Help(h, _) = &app.mode else {
        panic!("F1 opens the help");
    };
    let under = pitr_console::app::screen::beneath_help(&app);
    assert_eq!(under, pitr_console::app::screen::Screen::TimeInput);
    let rows = h.rows(&app.keymap, under.stack(), 80);
    let text = format!("{rows:?}");
    assert!(
        text.contains("help (what was typed is kept)"),
        "the input box's own keys are listed: {text}"
    );
    key(&mut app, KeyCode::Esc);
    let Mode::Input(input) = &app.mode else {
        panic!("Esc gives the time input back, not the main screen");
    };
    assert_eq!(input.input.value(), "2024-03-01 10:");
    chars(&mut app, "30");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.mode, Mode::Normal));
    assert_eq!(
        app.zone().format(app.cursor),
        pitr_console::domain::time_input::parse_instant("2024-03-01 10:30", app.zone())
            .map(|t| app.zone().format(t))
            .unwrap()
    );
}

#[test]
fn q_typed_into_the_time_input_is_text_not_quit() {
    let mut app = app(80, 24);
    key(&mut app, KeyCode::Char('t'));
    assert!(key(&mut app, KeyCode::Char('q')).is_empty());
    assert!(!app.quitting);
}

#[test]
fn servers_are_probed_at_start_and_again_every_few_seconds() {
    let mut app = pitr_console::app::App::new(
        &config(),
        "x".into(),
        pitr_console::config::Role::Trainee,
        Zone::UTC,
        None,
    );
    let first = app.start(at(0));
    assert_eq!(first.len(), 8, "{first:?}");
    assert!(first.contains(&Cmd::ListUnfinished), "{first:?}");
    assert!(first.contains(&Cmd::LoadCatalog {
        repository: "archive".into()
    }));
    // Probes in flight are not asked for again until they are stale.
    assert!(update(&mut app, Msg::Tick { now: at(1) }).is_empty());
    let stale = update(&mut app, Msg::Tick { now: at(20) });
    assert_eq!(stale.len(), 3);
    // An answered server is asked again SERVER_REFRESH after its answer.
    let mut answered = ui_fixture::app(80, 24);
    assert!(update(&mut answered, Msg::Tick { now: at(4302) }).is_empty());
    let again = update(&mut answered, Msg::Tick { now: at(4306) });
    assert_eq!(again.len(), 3);
}

/// `check` runs for every server in the background: at start, every ten minutes after its
/// answer, again when stale, and on `R`; the servers pane says the level and the cursor pane
/// what is wrong.
#[test]
fn health_is_checked_in_the_background_and_shown_in_the_panes() {
    let check = |cmds: &[Cmd]| {
        cmds.iter()
            .filter(|c| matches!(c, Cmd::CheckHealth { .. }))
            .count()
    };
    let mut app = ui_fixture::app(100, 30);
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 30)).unwrap();
    terminal
        .draw(|f| pitr_console::ui::render(f, &app))
        .unwrap();
    let screen = format!("{:?}", terminal.backend());
    assert!(screen.contains("db1          up    warn"), "{screen}");
    assert!(
        screen.contains("Check    db1: warning: the newest backup, b4, is 26 h old"),
        "{screen}"
    );
    // db1 answered at start: asked again ten minutes later; db2 and db3 are still in
    // flight until stale (five minutes).
    assert_eq!(
        check(&update(
            &mut app,
            Msg::Tick {
                now: at(4300 + 120)
            }
        )),
        0
    );
    assert_eq!(
        check(&update(
            &mut app,
            Msg::Tick {
                now: at(4300 + 301)
            }
        )),
        2
    );
    assert_eq!(
        check(&update(
            &mut app,
            Msg::Tick {
                now: at(4300 + 600)
            }
        )),
        1
    );
    assert_eq!(check(&key(&mut app, KeyCode::Char('R'))), 3);
}

#[test]
fn a_catalog_error_is_kept_for_the_pane() {
    let mut app = pitr_console::app::App::new(
        &config(),
        "x".into(),
        pitr_console::config::Role::Operator,
        Zone::UTC,
        None,
    );
    update(
        &mut app,
        Msg::CatalogLoaded {
            repository: "archive".into(),
            result: Err("repository `archive`: local repositories are not supported yet".into()),
        },
    );
    assert!(
        matches!(&app.repo().unwrap().state, RepoState::Failed(e) if e.contains("not supported"))
    );
    assert!(app.assessment.is_none());
    key(&mut app, KeyCode::Char(']'));
    key(&mut app, KeyCode::Home);
}

fn current_xid(app: &pitr_console::app::App) -> Option<u32> {
    app.transactions.current_row().map(|r| r.xid)
}

#[test]
fn the_pane_lists_transactions_around_the_cursor() {
    let mut app = app_with_log(160, 48);
    // 12:50:50 Berlin is between transaction 7 (…:49.12) and 8 (…:56.12).
    go_to(&mut app, "2024-03-01 12:50:50");
    assert_eq!(current_xid(&app), Some(BIG_XID));
    let rows = &app.transactions.rows;
    let seen: Vec<u32> = rows.iter().map(|r| r.xid).collect();
    assert_eq!(seen, vec![803, 804, 805, 806, 807, 808, 809, 0, 810, 811]);
    let big: Vec<u32> = rows.iter().filter(|r| r.big).map(|r| r.xid).collect();
    assert_eq!(big, vec![BIG_XID]);
    assert!(
        rows.iter().any(|r| !r.is_tx()),
        "the restore point is listed"
    );
}

#[test]
fn next_and_previous_transaction_go_to_exact_times() {
    let mut app = app_with_log(160, 48);
    go_to(&mut app, "2024-03-01 12:50:50");
    key(&mut app, KeyCode::Char('.'));
    assert_eq!(app.cursor, tx_time(8));
    assert_eq!(current_xid(&app), Some(808));
    key(&mut app, KeyCode::Char(','));
    assert_eq!(app.cursor, tx_time(7));
    assert_eq!(current_xid(&app), Some(BIG_XID));
    for _ in 0..3 {
        key(&mut app, KeyCode::Char(','));
    }
    assert_eq!(app.cursor, tx_time(4), "aborts are stops too");
    // Beyond the rows in view: the log is searched.
    for _ in 0..15 {
        key(&mut app, KeyCode::Char('.'));
    }
    assert_eq!(app.cursor, tx_time(19));
    key(&mut app, KeyCode::Char('.'));
    assert_eq!(app.cursor, tx_time(19));
    assert!(app.transactions.notice.is_some(), "nothing after the last");
    key(&mut app, KeyCode::Char('<'));
    assert_eq!(
        app.transactions.current_row().unwrap().kind,
        RowKind::RestorePoint {
            name: "before_batch".into()
        }
    );
    assert_eq!(app.cursor, tx_time(9) + chrono::Duration::seconds(3));
}

#[test]
fn b_picks_just_before_the_highlighted_transaction() {
    let mut app = app_with_log(160, 48);
    go_to(&mut app, "2024-03-01 12:50:50");
    key(&mut app, KeyCode::Char('b'));
    let picked = app.pending_target.clone().unwrap();
    assert_eq!(picked.server, "db1");
    assert_eq!(
        picked.target,
        RecoveryTarget::Xid {
            xid: u64::from(BIG_XID),
            inclusive: false
        }
    );
    assert!(
        picked.label.contains("just before xid 807"),
        "{}",
        picked.label
    );
    assert!(picked.label.contains("1990 records"), "{}", picked.label);
    key(&mut app, KeyCode::Esc);
    assert!(app.pending_target.is_none());
}

#[test]
fn relation_names_are_asked_of_the_live_server_once() {
    let mut app = app_with_log(160, 48);
    let cmds = key(&mut app, KeyCode::Char('.'));
    let Some(Cmd::ResolveRelations { server, nodes }) = cmds.into_iter().next() else {
        panic!("no relation lookup");
    };
    assert_eq!(server, "db1");
    assert_eq!(nodes.len(), 2);
    let cmds = key(&mut app, KeyCode::Char(','));
    assert!(cmds.is_empty(), "{cmds:?}: asked again while in flight");
    update(
        &mut app,
        Msg::RelationNames {
            server: "db1".into(),
            result: Ok(vec![
                (nodes[0], Some("public.orders".into())),
                (nodes[1], None),
            ]),
        },
    );
    assert_eq!(
        app.transactions.name_of(Some("db1"), &nodes[0]),
        Some("public.orders")
    );
    assert!(key(&mut app, KeyCode::Char('.')).is_empty());
}

#[test]
fn without_an_index_the_keys_say_why_they_do_nothing() {
    let mut app = app(80, 24);
    let before = app.cursor;
    key(&mut app, KeyCode::Char('.'));
    assert_eq!(app.cursor, before);
    assert!(app
        .transactions
        .notice
        .as_deref()
        .unwrap()
        .contains("no WAL index"));
    assert!(app.transactions.rows.is_empty());
}

/// The live tail of db1 (0x1234 bytes past segment 0x45): read from pg_wal once per insert
/// position; `W` is refused to a trainee, asks to confirm, and after `y` the console
/// switches, waits for the archive to hold the closed segment, and reads the repository.
#[test]
fn a_wal_switch_is_confirmed_then_awaited_in_the_archive() {
    use pitr_console::config::Role;
    use pitr_console::domain::lsn::Lsn;
    use pitr_console::domain::server_status::ServerState;
    let mut app = app(160, 48);
    let cmds = update(&mut app, Msg::ServerStatus(db1_status()));
    assert!(
        !cmds.iter().any(|c| matches!(c, Cmd::ReadTail { .. })),
        "asked once, when the probe came: {cmds:?}"
    );
    let tail = app.servers[0].tail.tail.clone().unwrap();
    assert_eq!(tail.unarchived_bytes(), Some(0x1234));

    app.role = Role::Trainee;
    key(&mut app, KeyCode::Char('W'));
    assert!(matches!(app.mode, Mode::Normal));
    app.role = Role::Operator;
    key(&mut app, KeyCode::Char('W'));
    assert!(matches!(app.mode, Mode::ConfirmSwitch { .. }));
    assert!(key(&mut app, KeyCode::Enter).is_empty(), "only y switches");
    assert!(matches!(app.mode, Mode::Normal));
    key(&mut app, KeyCode::Char('W'));
    let cmds = key(&mut app, KeyCode::Char('y'));
    assert_eq!(
        cmds,
        vec![Cmd::SwitchWal {
            server: "db1".into()
        }]
    );
    let end = Lsn(70 * (16 << 20) + 0x1300);
    let cmds = update(
        &mut app,
        Msg::WalSwitched {
            server: "db1".into(),
            result: Ok(end),
        },
    );
    assert!(cmds.contains(&Cmd::ProbeServer {
        server: "db1".into()
    }));
    let reload = |cmds: &[Cmd]| cmds.iter().any(|c| matches!(c, Cmd::LoadCatalog { .. }));
    // Not archived yet: no reload; archived: the repository is read again, once.
    let cmds = update(&mut app, Msg::ServerStatus(db1_status()));
    assert!(!reload(&cmds), "{cmds:?}");
    let mut archived = db1_status();
    if let ServerState::Up(f) = &mut archived.state {
        f.archiver.last_archived_wal = Some("000000020000000000000046".into());
        f.lsn = Some(Lsn(71 * (16 << 20)));
    }
    let cmds = update(&mut app, Msg::ServerStatus(archived.clone()));
    assert!(reload(&cmds), "{cmds:?}");
    assert!(app.servers[0].tail.switching.is_none());
    let cmds = update(&mut app, Msg::ServerStatus(archived));
    assert!(!reload(&cmds), "{cmds:?}");
    assert!(!app.servers[0].tail.tail.as_ref().unwrap().is_pending());
}

/// On open the cursor stands on an instant the timeline says is recoverable.
#[test]
fn the_cursor_opens_on_a_recoverable_instant() {
    let app = app(80, 24);
    let verdict = &app.assessment.as_ref().unwrap().verdict;
    assert!(matches!(verdict, Verdict::Recoverable(_)), "{verdict:?}");
}

/// `u` opens the unfinished runs; each change asks first, `y` sends it, any other key
/// cancels; a trainee is refused; `R` reads everything again.
#[test]
fn unfinished_runs_are_acted_on_after_a_yes() {
    use pitr_console::app::unfinished::{RunAction, UnfinishedBanner};
    let banner = UnfinishedBanner {
        run_id: "r1".into(),
        server: "db1".into(),
        journal: "/j/db1-r1.jsonl".into(),
        since: at(4000),
        state: "paused".into(),
    };
    let mut app = app(80, 24);
    update(&mut app, Msg::Unfinished(vec![banner.clone()]));
    key(&mut app, KeyCode::Char('u'));
    assert!(matches!(app.mode, Mode::Unfinished(_)));
    assert!(key(&mut app, KeyCode::Char('a')).is_empty());
    assert!(key(&mut app, KeyCode::Char('x')).is_empty(), "cancelled");
    key(&mut app, KeyCode::Char('p'));
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        vec![Cmd::UnfinishedRun {
            journal: banner.journal.clone(),
            action: RunAction::Promote,
            role: pitr_console::config::Role::Operator,
        }]
    );
    let cmds = update(
        &mut app,
        Msg::UnfinishedDone {
            journal: banner.journal.clone(),
            result: Ok("promoted".into()),
        },
    );
    assert!(cmds.contains(&Cmd::ListUnfinished), "{cmds:?}");
    key(&mut app, KeyCode::Esc);
    assert!(matches!(app.mode, Mode::Normal));
    let cmds = key(&mut app, KeyCode::Char('R'));
    assert!(cmds.contains(&Cmd::LoadCatalog {
        repository: "archive".into()
    }));

    let mut trainee = ui_fixture::app(80, 24);
    trainee.role = pitr_console::config::Role::Trainee;
    update(&mut trainee, Msg::Unfinished(vec![banner]));
    key(&mut trainee, KeyCode::Char('u'));
    key(&mut trainee, KeyCode::Char('a'));
    assert!(key(&mut trainee, KeyCode::Char('y')).is_empty());
}
