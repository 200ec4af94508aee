//! The live tail on a real lab, as in an incident: a DELETE made a minute ago sits in WAL
//! the archive does not hold yet. The console lists it from the server's pg_wal, marked
//! "not yet archived", before anything is switched; the operator switches WAL from the
//! console (confirmed), the console waits for the archive and reads it again, and a side
//! restore to just before the DELETE has every row.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use chrono::Utc;
use crossterm::event::KeyCode;
use lab_support::{build, psql, Console};
use pitr_console::app::{update, App, Mode, Msg};
use pitr_console::config::Role;
use pitr_console::domain::target::RecoveryTarget;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");
const LAB_PORT: u16 = 57400;
const SIDE_PORT: u16 = 57401;

/// Drives the console with clock ticks too (probes are due on ticks), until `done`.
async fn ticking(c: &mut Console, what: &str, limit: Duration, done: impl Fn(&App) -> bool) {
    let deadline = Instant::now() + limit;
    while !done(&c.app) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        let cmds = update(&mut c.app, Msg::Tick { now: Utc::now() });
        c.commands.spawn(cmds);
        if let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(200), c.rx.recv()).await {
            let cmds = update(&mut c.app, msg);
            c.commands.spawn(cmds);
        }
    }
}

#[test]
fn a_delete_not_yet_archived_is_listed_switched_and_recovered_before() {
    let (mut guard, rec) = build(LAB_PORT, false);
    let side_dir = guard.path("side");
    guard.side(&side_dir);
    let state_dir = guard.path("state");
    let config = pitr_console::config::load(&rec.config_file).unwrap();
    let count = || -> u64 {
        psql(&rec, LAB_PORT, "select count(*) from orders")
            .parse()
            .unwrap()
    };

    // The incident: production's last archived segment is behind the DELETE, and work
    // went on after it.
    let rows_before = count();
    let answer = psql(
        &rec,
        LAB_PORT,
        "with gone as (delete from orders where id % 5 = 0 returning 1) \
         select count(*) || ' ' || txid_current() from gone",
    );
    let (deleted, xid) = answer.split_once(' ').unwrap();
    let (deleted, xid): (u64, u64) = (deleted.parse().unwrap(), xid.parse().unwrap());
    assert!(deleted > 100, "{answer}");
    for _ in 0..3 {
        psql(
            &rec,
            LAB_PORT,
            "insert into orders (customer, amount) values (1, 1)",
        );
    }
    let archived = psql(
        &rec,
        LAB_PORT,
        "select last_archived_wal from pg_stat_archiver",
    );
    let writing = psql(
        &rec,
        LAB_PORT,
        "select pg_walfile_name(pg_current_wal_lsn())",
    );
    assert!(
        archived < writing,
        "the DELETE is in WAL not archived yet: archived {archived}, writing {writing}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let _in_runtime = rt.enter();
    let index_dir = guard.path("index");
    let mut console = rt.block_on(Console::open(
        &config,
        Role::Operator,
        &index_dir,
        Utc::now(),
    ));
    let c = &mut console;
    assert!(
        c.app
            .data()
            .and_then(|d| d.index.as_ref())
            .is_some_and(|i| i.tx_end_by_xid(xid as u32).is_none()),
        "the archive's WAL does not have the DELETE"
    );

    // Before any switch: the server's pg_wal is read and the DELETE is in the pane.
    rt.block_on(ticking(
        c,
        "the unarchived WAL read from pg_wal",
        Duration::from_secs(30),
        |a| a.servers[0].tail.commits().is_some(),
    ));
    let tail = c.app.servers[0].tail.tail.clone().unwrap();
    assert!(tail.unarchived_bytes().unwrap() > 0, "{tail:?}");
    let mut found = None;
    for _ in 0..200 {
        let row = c.app.transactions.current_row().cloned();
        if row.as_ref().is_some_and(|r| u64::from(r.xid) == xid) {
            found = row;
            break;
        }
        c.key(KeyCode::Char('.'));
    }
    let row = found.unwrap_or_else(|| panic!("xid {xid} not in {:?}", c.app.transactions.rows));
    assert!(row.unarchived, "marked not yet archived: {row:?}");
    assert!(u64::from(row.records) > deleted, "{row:?}");
    let screen = render(&c.app);
    assert!(screen.contains("not yet archived"), "{screen}");
    c.key(KeyCode::Char('b'));
    assert_eq!(
        c.app.pending_target.as_ref().map(|p| p.target.clone()),
        Some(RecoveryTarget::Xid {
            xid,
            inclusive: false
        })
    );

    // A trainee may not switch; the operator confirms, the console waits for the archive
    // and reads the repository again.
    c.app.role = Role::Trainee;
    c.key(KeyCode::Char('W'));
    assert!(matches!(c.app.mode, Mode::Normal));
    assert!(
        c.app.servers[0]
            .tail
            .note
            .as_deref()
            .is_some_and(|n| n.contains("operator")),
        "{:?}",
        c.app.servers[0].tail.note
    );
    c.app.role = Role::Operator;
    c.key(KeyCode::Char('W'));
    assert!(matches!(c.app.mode, Mode::ConfirmSwitch { .. }));
    c.key(KeyCode::Char('n'));
    assert!(matches!(c.app.mode, Mode::Normal));
    assert_eq!(
        psql(
            &rec,
            LAB_PORT,
            "select pg_walfile_name(pg_current_wal_lsn())"
        ),
        writing
    );
    c.key(KeyCode::Char('W'));
    c.key(KeyCode::Char('y'));
    rt.block_on(ticking(
        c,
        "the switched segment archived and the repository read again",
        Duration::from_secs(60),
        |a| {
            a.servers[0].tail.switching.is_none()
                && a.data()
                    .and_then(|d| d.index.as_ref())
                    .is_some_and(|i| i.tx_end_by_xid(xid as u32).is_some())
        },
    ));
    let note = c.app.servers[0].tail.note.clone().unwrap_or_default();
    assert!(note.contains("WAL switched"), "{note}");
    drop(console);

    // A side restore to just before the DELETE has every row it deleted.
    let out = Command::new(BIN)
        .env("PITR_CONSOLE_STATE_DIR", &state_dir)
        .arg("--config")
        .arg(&rec.config_file)
        .args(["recover", "--server", "lab", "--xid", &xid.to_string()])
        .arg("--exclusive")
        .arg("--restore-to")
        .arg(&side_dir)
        .args(["--port", &SIDE_PORT.to_string()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        psql(&rec, SIDE_PORT, "select count(*) from orders"),
        rows_before.to_string()
    );
}

fn render(app: &App) -> String {
    let backend = ratatui::backend::TestBackend::new(160, 48);
    let mut terminal = ratatui::Terminal::new(backend).unwrap();
    terminal.draw(|f| pitr_console::ui::render(f, app)).unwrap();
    let buf = terminal.backend().buffer();
    let mut s = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}
