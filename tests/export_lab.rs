//! Selective recovery (seed 004: "export specific rows, import to production"): after the
//! bad DELETE, a side restore to just before it, and the deleted orders pulled out of it
//! into a file — CSV for the rows a WHERE selects, pg_dump's custom format for the whole
//! table — each with its own journal and sha256. Production is never touched.
//!
//! Ports 57910-57911.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use lab_support::{build, cli, psql};
use pitr_console::engine::journal::JournalState;
use pitr_console::engine::RunStatus;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

const LAB_PORT: u16 = 57910;
const SIDE_PORT: u16 = 57911;

#[test]
fn the_deleted_rows_come_out_of_a_side_restore_into_a_file() {
    let (mut guard, rec) = build(LAB_PORT, false);
    let state = guard.path("state");
    let side_dir = guard.path("side");
    guard.side(&side_dir);
    let cfg = rec.config_file.clone();
    let run = |args: &[&str]| cli(&cfg, &state, args);
    let inc = rec.first_incident().unwrap().clone();
    let production = psql(&rec, LAB_PORT, "select count(*) from orders");

    let o = run(&[
        "recover",
        "--server",
        "lab",
        "--xid",
        &inc.xid.to_string(),
        "--exclusive",
        "--restore-to",
        side_dir.to_str().unwrap(),
        "--port",
        &SIDE_PORT.to_string(),
    ]);
    o.expect(0);
    let journal = o.journal();

    // The rows the DELETE took, as CSV with a header.
    let filter = inc
        .statement
        .split_once(" WHERE ")
        .map(|(_, w)| w.trim_end_matches(';').to_string())
        .expect("the lab's DELETE has a WHERE");
    let o = run(&[
        "export", &journal, "--table", "orders", "--format", "csv", "--where", &filter,
    ]);
    o.expect(0);
    assert!(
        o.stdout.contains(&format!(", {} rows", inc.deleted)),
        "{}",
        o.stdout
    );
    let file = o
        .stdout
        .lines()
        .next()
        .and_then(|l| l.rsplit_once(" to "))
        .map(|(_, f)| std::path::PathBuf::from(f.trim()))
        .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("id,"),
        "a header line: {}",
        &text[..40.min(text.len())]
    );
    assert_eq!(text.lines().count() as u64, inc.deleted + 1);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let own = o
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("journal "))
        .unwrap();
    let state_of = JournalState::read(std::path::Path::new(own)).unwrap();
    assert_eq!(state_of.ended, Some(RunStatus::Completed));

    // The whole table in pg_dump's custom format: pg_restore can read it.
    let o = run(&["export", &journal, "--table", "orders"]);
    o.expect(0);
    let dump = o
        .stdout
        .lines()
        .next()
        .and_then(|l| l.rsplit_once(" to "))
        .map(|(_, f)| f.trim().to_string())
        .unwrap();
    let list = Command::new(rec.bin_dir.join("pg_restore"))
        .args(["--list", &dump])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&list.stdout);
    assert!(listing.contains("TABLE DATA public orders"), "{listing}");

    // Refusals: a table that is not there (the text never reaches SQL unresolved), --where
    // with the custom format, an in-place journal is not a side restore.
    let o = run(&["export", &journal, "--table", "orders; drop table orders"]);
    o.expect(2);
    assert!(o.stderr.contains("invalid name syntax"), "{}", o.stderr);
    let o = run(&["export", &journal, "--table", "no_such_table"]);
    o.expect(2);
    assert!(
        o.stderr.contains("no table `no_such_table`"),
        "{}",
        o.stderr
    );
    let o = run(&["export", &journal, "--table", "orders", "--where", "id < 5"]);
    o.expect(2);
    assert!(o.stderr.contains("--format csv"), "{}", o.stderr);
    assert_eq!(
        psql(&rec, SIDE_PORT, "select count(*) from orders"),
        inc.rows_before.to_string()
    );
    assert_eq!(
        psql(&rec, LAB_PORT, "select count(*) from orders"),
        production
    );
}
