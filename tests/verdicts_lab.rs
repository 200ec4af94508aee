//! The verdicts PostgreSQL keeps, on real labs: a target picked on timeline 1 after a
//! promote to timeline 2 reaches timeline 1's state; instants past a window's last
//! transaction end are refused with alternatives that work; `--latest` over a gap needs
//! the operator's explicit word; refusals come as JSON with --json. Ports 57000-57099.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use chrono::{DateTime, Utc};
use lab_support::{build, cli, psql, stop, Out};
use pitr_console::lab::LabRecord;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Sides(Vec<PathBuf>);

impl Drop for Sides {
    fn drop(&mut self) {
        for d in &self.0 {
            stop(d);
        }
    }
}

fn json(o: &Out) -> serde_json::Value {
    serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", o.stdout, o.stderr))
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f UTC").to_string()
}

fn count(rec: &LabRecord, port: u16) -> u64 {
    psql(rec, port, "select count(*) from orders")
        .parse()
        .unwrap()
}

/// Switches WAL and waits until the archive holds the finished segment.
fn archive_now(rec: &LabRecord) {
    let name = psql(rec, rec.port, "select pg_walfile_name(pg_switch_wal())");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let archived = std::fs::read_dir(&rec.wal_archive)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&name));
        if archived {
            return;
        }
        assert!(Instant::now() < deadline, "{name} was not archived");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn side_args<'a>(dir: &'a Path, port: &'a str) -> [&'a str; 4] {
    ["--restore-to", dir.to_str().unwrap(), "--port", port]
}

#[test]
fn a_target_on_timeline_1_after_a_promote_to_timeline_2_reaches_timeline_1() {
    let (guard, rec) = build(57001, false);
    let state = guard.path("state");
    let cfg = rec.config_file.clone();
    let inc = rec.first_incident().unwrap().clone();
    let mut sides = Sides(Vec::new());

    // The first incident: back to just before the DELETE, in place, promoted: timeline 2.
    let o = cli(
        &cfg,
        &state,
        &[
            "recover",
            "--server",
            "lab",
            "--time",
            &utc(inc.commit_time.unwrap()),
            "--exclusive",
            "--action",
            "promote",
            "--yes",
        ],
    );
    o.expect(0);
    assert_eq!(count(&rec, rec.port), inc.rows_before);
    psql(
        &rec,
        rec.port,
        "insert into orders (customer, amount) select 1, 1 from generate_series(1, 7)",
    );
    archive_now(&rec);

    // The DELETE's xid ended on timeline 1 only: on timeline 2's path it never ends.
    let o = cli(
        &cfg,
        &state,
        &["plan", "--server", "lab", "--xid", &inc.xid.to_string()],
    );
    o.expect(3);
    assert!(o.stderr.contains("never commits or aborts"), "{}", o.stderr);

    // On timeline 1 it does, and the recovery reaches timeline 1's state after the DELETE.
    let plan = cli(
        &cfg,
        &state,
        &[
            "plan",
            "--server",
            "lab",
            "--xid",
            &inc.xid.to_string(),
            "--timeline",
            "1",
            "--json",
        ],
    );
    plan.expect(0);
    let p = json(&plan);
    assert_eq!(p["timeline"], 1);
    assert_eq!(p["prediction"]["last_kept"]["xid"], inc.xid);
    let side1 = guard.path("side1");
    sides.0.push(side1.clone());
    let xid = inc.xid.to_string();
    let mut args = vec![
        "recover",
        "--server",
        "lab",
        "--xid",
        &xid,
        "--timeline",
        "1",
    ];
    args.extend(side_args(&side1, "57011"));
    let o = cli(&cfg, &state, &args);
    o.expect(0);
    assert!(
        o.stdout.contains("reached the predicted stop"),
        "{}",
        o.stdout
    );
    assert_eq!(count(&rec, 57011), inc.rows_after);
    let auto = std::fs::read_to_string(side1.join("postgresql.auto.conf")).unwrap();
    assert!(auto.contains("recovery_target_timeline = '1'"), "{auto}");
    stop(&side1);

    // Unknown xids: refused while the index has read everything, unless forced.
    let o = cli(
        &cfg,
        &state,
        &[
            "plan",
            "--server",
            "lab",
            "--xid",
            "4000000000",
            "--timeline",
            "1",
        ],
    );
    o.expect(3);
    let o = cli(
        &cfg,
        &state,
        &[
            "plan",
            "--server",
            "lab",
            "--xid",
            "4000000000",
            "--timeline",
            "1",
            "--force-unknown-xid",
        ],
    );
    o.expect(0);
    for impossible in ["0", "2", "4294967296"] {
        let o = cli(
            &cfg,
            &state,
            &["plan", "--server", "lab", "--xid", impossible],
        );
        o.expect(2);
    }

    // Timeline 2's own end: its seven rows are there with --latest.
    let side2 = guard.path("side2");
    sides.0.push(side2.clone());
    let mut args = vec!["recover", "--server", "lab", "--latest"];
    args.extend(side_args(&side2, "57012"));
    let o = cli(&cfg, &state, &args);
    o.expect(0);
    assert_eq!(count(&rec, 57012), inc.rows_before + 7);
}

#[test]
fn window_ends_and_latest_over_a_gap() {
    let (guard, rec) = build(57002, true);
    let state = guard.path("state");
    let cfg = rec.config_file.clone();
    let missing = rec.missing_segment.clone().unwrap();
    let inc = rec.first_incident().unwrap().clone();
    let mut sides = Sides(Vec::new());

    // In the gap: refused, as JSON, with the nearest instants and alternatives.
    let o = cli(
        &cfg,
        &state,
        &[
            "plan",
            "--server",
            "lab",
            "--time",
            &utc(inc.commit_time.unwrap()),
            "--json",
        ],
    );
    o.expect(3);
    let j = json(&o);
    assert_eq!(j["exit_code"], 3);
    assert_eq!(j["missing_segment"], missing.as_str());
    assert_eq!(j["nearest_before"]["estimated"], false, "{j}");
    let before: DateTime<Utc> = j["nearest_before"]["at"].as_str().unwrap().parse().unwrap();
    let alternatives = j["alternatives"].to_string();
    assert!(alternatives.contains("--xid"), "{alternatives}");

    // One microsecond later is the last transaction end itself: replay would never stop.
    let o = cli(
        &cfg,
        &state,
        &[
            "plan",
            "--server",
            "lab",
            "--time",
            &utc(before + chrono::Duration::microseconds(1)),
        ],
    );
    o.expect(3);

    // The instant offered is one PostgreSQL reaches, and verification compares it.
    let side1 = guard.path("side1");
    sides.0.push(side1.clone());
    let t = utc(before);
    let mut args = vec!["recover", "--server", "lab", "--time", &t];
    args.extend(side_args(&side1, "57021"));
    let o = cli(&cfg, &state, &args);
    o.expect(0);
    assert!(
        o.stdout.contains("reached the predicted stop"),
        "{}",
        o.stdout
    );
    stop(&side1);

    // --latest stops at the gap: refused without the explicit word, as JSON too.
    let side2 = guard.path("side2");
    sides.0.push(side2.clone());
    let mut args = vec!["recover", "--server", "lab", "--latest", "--json"];
    args.extend(side_args(&side2, "57022"));
    let o = cli(&cfg, &state, &args);
    o.expect(3);
    let j = json(&o);
    assert_eq!(j["wal_loss"]["missing_segment"], missing.as_str());
    assert!(!side2.exists());
    let mut args = vec![
        "recover",
        "--server",
        "lab",
        "--latest",
        "--accept-wal-loss",
    ];
    args.extend(side_args(&side2, "57022"));
    let o = cli(&cfg, &state, &args);
    o.expect(0);
    assert!(
        o.stdout.contains("reached the predicted stop"),
        "{}",
        o.stdout
    );
}
