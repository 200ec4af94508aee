//! Snapshots of the console's screens on a TestBackend (stored in the top-level snapshots/),
//! and cell checks that snapshots of text cannot make: colours.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod ui_fixture;

use crossterm::event::KeyCode;
use pitr_console::app::App;
use pitr_console::ui;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;
use ui_fixture::*;

const SIZES: [(u16, u16); 3] = [(80, 24), (100, 30), (160, 48)];

fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| ui::render(f, app)).unwrap();
    terminal
}

fn snapshot(name: &str, prepare: impl Fn(&mut App)) {
    for (w, h) in SIZES {
        let mut app = app(w, h);
        prepare(&mut app);
        let terminal = draw(&app, w, h);
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), terminal.backend());
        });
    }
}

#[test]
fn main_screen() {
    snapshot("main_screen", |_| {});
}

#[test]
fn patroni_members_in_the_servers_pane() {
    snapshot("patroni_members", |app| {
        pitr_console::app::update(app, pitr_console::app::Msg::ServerStatus(patroni_status()));
    });
}

/// db1 wrote a big DELETE after its last archived segment: the servers pane says how much
/// is not archived, the timeline runs on past the archive, and the transactions pane lists
/// the DELETE read from pg_wal, marked.
#[test]
fn live_tail() {
    use pitr_console::app::{update, Msg};
    for (w, h) in SIZES {
        let mut app = app(w, h);
        let mut status = db1_status();
        status.checked_at = at(4500);
        update(&mut app, Msg::ServerStatus(status));
        update(
            &mut app,
            Msg::TailRead {
                server: "db1".into(),
                result: Ok(std::sync::Arc::new(unarchived_delete())),
            },
        );
        key(&mut app, KeyCode::Char('.'));
        if w < 100 {
            key(&mut app, KeyCode::Char('x'));
        }
        let terminal = draw(&app, w, h);
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("live_tail_{w}x{h}"), terminal.backend());
        });
    }
}

/// On open, a run this host left paused holds db1: the status bar says so, with its age and
/// the commands that end it.
#[test]
fn unfinished_run_banner() {
    snapshot("unfinished_run", |app| {
        pitr_console::app::update(
            app,
            pitr_console::app::Msg::Unfinished(vec![
                pitr_console::app::unfinished::UnfinishedBanner {
                    run_id: "20240301-120501-db1".into(),
                    server: "db1".into(),
                    journal: "/var/lib/pitr-console/journals/db1-20240301-120501.jsonl".into(),
                    since: at(4300) - chrono::Duration::minutes(12),
                    state: "paused".into(),
                },
            ]),
        );
    });
}

#[test]
fn help_overlay() {
    snapshot("help_overlay", |app| {
        key(app, KeyCode::Char('?'));
    });
}

#[test]
fn not_recoverable_detail() {
    snapshot("not_recoverable_detail", |app| {
        go_to(app, "2024-03-01 12:30:30");
    });
}

#[test]
fn gap_zoomed_in() {
    snapshot("gap", |app| {
        go_to(app, "2024-03-01 12:25:00");
        key(app, KeyCode::Char('}'));
        key(app, KeyCode::Char('i'));
        key(app, KeyCode::Char('i'));
    });
}

#[test]
fn time_input_with_a_dst_error() {
    snapshot("time_input_error", |app| {
        go_to(app, "2024-03-31 02:30:00");
    });
}

#[test]
fn catalog_error_and_unknown_servers() {
    for (w, h) in SIZES {
        let mut app = App::new(
            &config(),
            "fixture.toml (--config)".into(),
            pitr_console::config::Role::Trainee,
            berlin(),
            None,
        );
        app.start(at(0));
        pitr_console::app::update(
            &mut app,
            pitr_console::app::Msg::Resize {
                width: w,
                height: h,
            },
        );
        pitr_console::app::update(
            &mut app,
            pitr_console::app::Msg::CatalogLoaded {
                repository: "archive".into(),
                result: Err(
                    "repository `archive`: local repositories are not supported yet".into(),
                ),
            },
        );
        let terminal = draw(&app, w, h);
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("catalog_error_{w}x{h}"), terminal.backend());
        });
    }
}

/// Cells of the timeline row labelled `TL n`, from the first axis column on.
fn row_of(buf: &Buffer, label: &str) -> u16 {
    (0..buf.area.height)
        .find(|&y| {
            let line: String = (0..12).map(|x| buf[(x, y)].symbol()).collect();
            line.contains(label)
        })
        .unwrap_or_else(|| panic!("no row labelled {label}"))
}

#[test]
fn gap_cells_are_red_and_recoverable_ones_green() {
    for (w, h) in SIZES {
        let app = app(w, h);
        let terminal = draw(&app, w, h);
        let buf = terminal.backend().buffer();
        let y = row_of(buf, "TL 1");
        let left = 1 + pitr_console::app::geometry::TIMELINE_LABEL_WIDTH;
        // The gap spans the minutes 30 and 31 after t0 (segments 30 and 31).
        for t in [at(30 * 60 + 10), at(31 * 60 + 50)] {
            let col = app.view.column_of(t).unwrap();
            let cell = &buf[(left + col, y)];
            assert_eq!(cell.fg, Color::Red, "{w}x{h}: gap cell at column {col}");
            assert_eq!(cell.symbol(), ui::timeline::GAP_CHAR);
        }
        // Inside b2's window (minutes 21..30) the bar is green, before b1's start it is not.
        let col = app.view.column_of(at(25 * 60)).unwrap();
        assert_eq!(buf[(left + col, y)].fg, Color::Green);
        let col = app.view.column_of(at(130)).unwrap();
        assert_ne!(buf[(left + col, y)].fg, Color::Green);
        // Every red bar cell is a gap cell.
        for x in left..buf.area.width - 1 {
            let cell = &buf[(x, y)];
            if cell.symbol() == ui::timeline::GAP_CHAR {
                assert_eq!(cell.fg, Color::Red);
            }
        }
    }
}

/// The transactions pane on the big DELETE of the fixture log, with one relation named by
/// the server and the target picked; up to 100x30 it takes the detail's place (`x`).
#[test]
fn transactions_pane() {
    for (w, h) in SIZES {
        let mut app = app_with_log(w, h);
        go_to(&mut app, "2024-03-01 12:50:45");
        key(&mut app, KeyCode::Char('.'));
        let orders = pitr_console::wal::RelFileNode {
            spc: 1663,
            db: 16384,
            rel: 16385,
        };
        pitr_console::app::update(
            &mut app,
            pitr_console::app::Msg::RelationNames {
                server: "db1".into(),
                result: Ok(vec![(orders, Some("public.orders".into()))]),
            },
        );
        key(&mut app, KeyCode::Char('b'));
        if h < 48 {
            key(&mut app, KeyCode::Char('x'));
        }
        let terminal = draw(&app, w, h);
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("transactions_{w}x{h}"), terminal.backend());
        });
        if w >= 100 {
            assert_big_row_is_yellow(terminal.backend().buffer());
        }
    }
}

fn assert_big_row_is_yellow(buf: &Buffer) {
    let area = buf.area;
    let y = (0..area.height)
        .find(|&y| {
            (0..area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
                .contains("      807  commit")
        })
        .expect("the big transaction is on screen");
    let x = (0..area.width)
        .find(|&x| buf[(x, y)].symbol() == "!")
        .expect("the big mark");
    assert_eq!(buf[(x, y)].fg, Color::Yellow);
}

#[test]
fn fetching_object_storage_wal_is_counted_while_the_catalog_loads() {
    let mut app = App::new(
        &config(),
        "x".into(),
        pitr_console::config::Role::Operator,
        pitr_console::domain::zone::Zone::UTC,
        None,
    );
    pitr_console::app::update(
        &mut app,
        pitr_console::app::Msg::CatalogProgress {
            repository: "archive".into(),
            progress: pitr_console::adapters::wal_fetch::FetchProgress {
                done: 3,
                total: 12,
                bytes: 48 << 20,
            },
        },
    );
    let terminal = draw(&app, 160, 48);
    let text: String = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(
        text.contains("fetched 3/12 WAL segments (48 MiB) through its tool"),
        "{text}"
    );
}

/// The middle size the console is walked at: the main screen's footer and the help keep
/// `? help` and cut no word.
#[test]
fn main_screen_and_help_at_100x30() {
    for (name, open_help) in [("main_screen", false), ("help_overlay", true)] {
        let mut app = app(100, 30);
        if open_help {
            key(&mut app, KeyCode::Char('?'));
        }
        let terminal = draw(&app, 100, 30);
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("{name}_100x30"), terminal.backend());
        });
    }
}

/// Every key is in the help: `/` finds the decision keys from the main screen.
#[test]
fn the_help_searches_every_context() {
    let mut app = app(80, 24);
    key(&mut app, KeyCode::Char('?'));
    key(&mut app, KeyCode::Char('/'));
    for c in "promote".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    let terminal = draw(&app, 80, 24);
    let text = format!("{:?}", terminal.backend());
    assert!(text.contains("Decision: promote or roll back"), "{text}");
    assert!(!text.contains("zoom in"), "{text}");
    key(&mut app, KeyCode::Esc);
    assert!(matches!(app.mode, pitr_console::app::Mode::Normal));
}
