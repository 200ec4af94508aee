//! Repair on a real lab, as a DBA would after a bad DELETE: production went on working,
//! so instead of rewinding it, the deleted rows are pulled back from a side restore made
//! to just before the DELETE, and the later work stays.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use chrono::{DateTime, Utc};
use lab_support::{build, cli, psql};
use pitr_console::engine::journal::JournalState;
use pitr_console::engine::RunStatus;
use std::path::Path;

const LAB_PORT: u16 = 57500;
const SIDE_PORT: u16 = 57501;

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f UTC").to_string()
}

/// The number after `label` on its line of the comparison.
fn figure(stdout: &str, label: &str) -> u64 {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `{label}` in\n{stdout}"))
}

#[test]
fn deleted_rows_come_back_from_a_side_restore_and_later_work_stays() {
    let (mut guard, rec) = build(LAB_PORT, false);
    let state_dir = guard.path("state");
    let side_dir = guard.path("side");
    guard.side(&side_dir);
    let cfg = rec.config_file.clone();
    let run = |args: &[&str]| cli(&cfg, &state_dir, args);
    let count = |sql: &str| -> u64 { psql(&rec, LAB_PORT, sql).parse().unwrap() };
    let inc = rec.first_incident().unwrap().clone();

    // Production went on after the DELETE: the lab's workload made 20 more commits.
    let production = count("select count(*) from orders");
    // A side restore to just before the DELETE, left paused there.
    let o = run(&[
        "recover",
        "--server",
        "lab",
        "--time",
        &utc(inc.commit_time.unwrap()),
        "--exclusive",
        "--restore-to",
        side_dir.to_str().unwrap(),
        "--port",
        &SIDE_PORT.to_string(),
    ]);
    o.expect(0);
    let journal = o
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("roll back: pitr-console resume "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    assert_eq!(
        psql(&rec, SIDE_PORT, "select count(*) from orders"),
        inc.rows_before.to_string()
    );
    let last_before_work: u64 = psql(&rec, SIDE_PORT, "select max(id) from orders")
        .parse()
        .unwrap();
    let later = format!("select count(*) from orders where id > {last_before_work}");
    assert_eq!(count(&later), 800, "the work done after the DELETE");

    // Look first: exactly the deleted orders are missing; the later work is only in production.
    let o = run(&["repair", &journal, "--table", "orders", "--dry-run"]);
    o.expect(0);
    assert_eq!(figure(&o.stdout, "missing in production:"), inc.deleted);
    assert_eq!(figure(&o.stdout, "different:"), 0);
    assert_eq!(
        figure(&o.stdout, "only in production:"),
        production - inc.rows_after
    );
    assert!(o.stdout.contains("compared by id"), "{}", o.stdout);
    assert!(o.stdout.contains("nothing written"));
    assert_eq!(count("select count(*) from orders"), production);

    // Refusals leave production as it is: a trainee, no terminal and no --yes, a hostile
    // table name, a second statement in --where, a column production has and the side not.
    let o = run(&[
        "--role", "trainee", "repair", &journal, "--table", "orders", "--yes",
    ]);
    o.expect(5);
    let o = run(&["repair", &journal, "--table", "orders"]);
    o.expect(2);
    assert!(o.stderr.contains("--yes"), "{}", o.stderr);
    let o = run(&[
        "repair",
        &journal,
        "--table",
        "orders; drop table orders",
        "--yes",
    ]);
    o.expect(2);
    assert!(o.stderr.contains("no table"), "{}", o.stderr);
    let o = run(&[
        "repair",
        &journal,
        "--table",
        "orders",
        "--where",
        "true); drop table orders; select (1",
        "--yes",
    ]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("nothing changed"), "{}", o.stderr);
    psql(&rec, LAB_PORT, "alter table orders add column note text");
    let o = run(&["repair", &journal, "--table", "orders", "--yes"]);
    o.expect(2);
    assert!(
        o.stderr
            .contains("column note (text) exists in production only"),
        "{}",
        o.stderr
    );
    psql(&rec, LAB_PORT, "alter table orders drop column note");
    let o = run(&[
        "repair", &journal, "--table", "orders", "--key", "nope", "--yes",
    ]);
    o.expect(2);
    assert!(o.stderr.contains("no column `nope`"), "{}", o.stderr);
    assert_eq!(count("select count(*) from orders"), production);

    // The repair: the deleted orders come back, the 800 stay.
    let o = run(&["repair", &journal, "--table", "orders", "--yes"]);
    o.expect(0);
    assert!(
        o.stdout
            .contains(&format!("committed: {} rows inserted", inc.deleted)),
        "{}",
        o.stdout
    );
    assert_eq!(
        count("select count(*) from orders"),
        production + inc.deleted
    );
    assert_eq!(count(&later), 800, "the later work kept");
    let o = run(&["repair", &journal, "--table", "orders", "--dry-run"]);
    o.expect(0);
    assert_eq!(figure(&o.stdout, "missing in production:"), 0);
    assert_eq!(figure(&o.stdout, "different:"), 0);
    let repairs: Vec<_> = std::fs::read_dir(Path::new(&journal).parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.to_string_lossy().contains("-repair-") && p.extension().is_some_and(|x| x == "jsonl")
        })
        .collect();
    assert_eq!(
        repairs.len(),
        1,
        "one journal per committed repair: {repairs:?}"
    );
    let state = JournalState::read(&repairs[0]).unwrap();
    assert_eq!(state.ended, Some(RunStatus::Completed));
    assert_eq!(
        state.facts["applied"]["inserted"].as_array().unwrap().len(),
        inc.deleted as usize,
        "every key recorded"
    );

    // Undo from the side restore's journal: the deleted orders go again, the 800 still stay.
    let o = run(&["repair", "--undo", &journal, "--yes"]);
    o.expect(0);
    assert!(
        o.stdout
            .contains(&format!("committed: {} rows removed", inc.deleted)),
        "{}",
        o.stdout
    );
    assert_eq!(count("select count(*) from orders"), production);
    assert_eq!(count(&later), 800, "the later work kept");
    let o = run(&["repair", "--undo", &journal, "--yes"]);
    o.expect(2);
    let state = JournalState::read(&repairs[0]).unwrap();
    assert_eq!(state.ended, Some(RunStatus::RolledBack));
    let o = run(&["journal", "show", repairs[0].to_str().unwrap()]);
    o.expect(0);
    assert!(o.stdout.contains("hash chain intact"), "{}", o.stdout);

    // Overwrite: ten rows changed in production since get their side values back, and
    // undo puts the changed values back again.
    psql(
        &rec,
        LAB_PORT,
        "update orders set amount = 0 where id in (select id from orders where customer >= 400 order by id limit 10)",
    );
    let o = run(&[
        "repair",
        &journal,
        "--table",
        "orders",
        "--where",
        "customer >= 400",
        "--mode",
        "overwrite",
        "--yes",
    ]);
    o.expect(0);
    assert_eq!(
        figure(&o.stdout, "missing in production:"),
        0,
        "{}",
        o.stdout
    );
    assert_eq!(figure(&o.stdout, "different:"), 10, "{}", o.stdout);
    assert!(
        o.stdout.contains("0 rows inserted, 10 overwritten"),
        "{}",
        o.stdout
    );
    assert_eq!(count("select count(*) from orders where amount = 0"), 0);
    let o = run(&["repair", "--undo", &journal, "--yes"]);
    o.expect(0);
    assert!(o.stdout.contains("10 put back"), "{}", o.stdout);
    assert_eq!(count("select count(*) from orders where amount = 0"), 10);
    assert_eq!(count("select count(*) from orders"), production);
}
