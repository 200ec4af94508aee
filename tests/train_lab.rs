//! The training exercise against a real lab: the answer for instants before and after the
//! incident's DELETE, and for its xid, as a trainee (it runs nothing).
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod drill_support;
mod lab_support;

use chrono::{DateTime, Duration, Utc};
use drill_support::{cli, fingerprint};
use lab_support::build;
use serde_json::Value;

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

#[test]
fn the_exercise_answers_right_before_and_after_the_incident() {
    let (_guard, record) = build(56000, false);
    let inc = record.first_incident().unwrap().clone();
    let commit = inc.commit_time.unwrap();
    let config = record.config_file.clone();
    let before_files = fingerprint(&record.pgdata);
    let ask = |args: &[&str]| -> Value {
        let mut all = vec!["--role", "trainee", "train", "--json"];
        all.extend_from_slice(args);
        let o = cli(&config, &all);
        o.expect(0);
        serde_json::from_str(&o.stdout).unwrap()
    };

    // The task, without a target.
    let o = cli(&config, &["--role", "trainee", "train"]);
    o.expect(0);
    assert!(
        o.stdout.contains(&format!("{} rows are gone", inc.deleted)),
        "{}",
        o.stdout
    );

    // Just before the DELETE's commit: the rows come back and nothing else is lost.
    let a = ask(&["--time", &utc(commit), "--exclusive"]);
    assert_eq!(a["verdict"], "rows_back", "{a:#}");
    assert_eq!(a["incident_commit"]["xid"], inc.xid);
    assert_eq!(a["stops_at"]["xid"], inc.xid);
    assert_eq!(a["commits_lost"], 0, "{a:#}");

    // A second after: too late.
    let a = ask(&["--time", &utc(commit + Duration::seconds(1))]);
    assert_eq!(a["verdict"], "rows_lost", "{a:#}");
    assert!(a["explanation"].as_str().unwrap().contains("stay deleted"));

    // Inclusive at the commit instant itself replays the DELETE.
    let a = ask(&["--time", &utc(commit)]);
    assert_eq!(a["verdict"], "rows_lost", "{a:#}");

    // By xid: exclusive stops just before it, inclusive replays it.
    let xid = inc.xid.to_string();
    let a = ask(&["--xid", &xid, "--exclusive"]);
    assert_eq!(
        (a["verdict"].clone(), a["commits_lost"].clone()),
        ("rows_back".into(), 0.into())
    );
    let a = ask(&["--xid", &xid]);
    assert_eq!(a["verdict"], "rows_lost");

    // Well before the DELETE: the rows come back, at the price of the workload in between.
    let early = inc.time_before - Duration::seconds(5);
    let a = ask(&["--time", &utc(early)]);
    assert_eq!(a["verdict"], "rows_back", "{a:#}");

    // The human answer, and nothing was touched.
    let o = cli(
        &config,
        &[
            "--role",
            "trainee",
            "train",
            "--time",
            &utc(commit),
            "--exclusive",
        ],
    );
    o.expect(0);
    assert!(
        o.stdout
            .contains("Right: replay stops just before the DELETE"),
        "{}",
        o.stdout
    );
    assert_eq!(
        fingerprint(&record.pgdata).1,
        before_files.1,
        "pg_control changed"
    );
}
