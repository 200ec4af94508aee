//! Reports rendered from a fixed journal: a side restore where replay failed once and was
//! retried, paused, verified and promoted; then the same run as a drill.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use pitr_console::config::Role;
use pitr_console::domain::backup::{Backup, BackupFormat};
use pitr_console::domain::lsn::Lsn;
use pitr_console::domain::segment::SegmentSize;
use pitr_console::domain::target::RecoveryTarget;
use pitr_console::domain::timeline::TimelineId;
use pitr_console::domain::zone::Zone;
use pitr_console::engine::drill::{Checklist, DrillRecord, ItemStatus, PhaseId, Rpo};
use pitr_console::engine::journal::{sha256_hex, Body, JournalState, Record};
use pitr_console::engine::plan_view::StepView;
use pitr_console::engine::recovery::{
    CheckSpec, FinalAction, RecoveryInputs, RestoreMode, ServerSpec,
};
use pitr_console::engine::step::Branch;
use pitr_console::engine::{Decision, Phase, RunStatus};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap()
}

fn lsn(s: &str) -> Lsn {
    s.parse().unwrap()
}

fn inputs(journal_dir: &Path) -> RecoveryInputs {
    RecoveryInputs {
        server: ServerSpec {
            name: "db1".into(),
            pgdata: "/srv/pg/15/main".into(),
            bin_dir: "/usr/lib/postgresql/15/bin".into(),
            port: 5432,
            run_as: Some("postgres".into()),
            dsn: "host=/var/run/postgresql port=5432 user=postgres dbname=shop".into(),
            socket_dir: Some("/var/run/postgresql".into()),
            service: Default::default(),
            config_file: None,
            patroni: None,
        },
        backup: Backup {
            id: "20261101T020000".into(),
            label: Some("nightly".into()),
            format: BackupFormat::Plain,
            location: "/srv/pg/backups/20261101T020000".into(),
            timeline: TimelineId(1),
            start_lsn: lsn("0/5000028"),
            stop_lsn: lsn("0/5000138"),
            start_time: Utc.with_ymd_and_hms(2026, 11, 1, 2, 0, 0).unwrap(),
            stop_time: Utc.with_ymd_and_hms(2026, 11, 1, 2, 0, 41).unwrap(),
            stop_time_exact: true,
            segment_size: SegmentSize::DEFAULT,
            system_identifier: Some(7300000000000000001),
            size_bytes: Some(52_428_800),
            manifest_wal_ranges: vec![],
            has_manifest: true,
            pg_major: None,
            incremental: None,
        },
        restore_command: "cp /srv/pg/wal/%f %p".into(),
        target: RecoveryTarget::Time {
            at: Utc.with_ymd_and_hms(2026, 11, 1, 8, 41, 59).unwrap(),
            inclusive: false,
        },
        action: FinalAction::Promote,
        mode: RestoreMode::Side {
            dir: "/srv/pg/drill".into(),
            port: 56001,
        },
        apps: vec![],
        checks: vec![CheckSpec {
            name: "orders present".into(),
            sql: "select count(*) > 0 from orders".into(),
        }],
        safety_dump_dir: journal_dir.join("dumps"),
        journal_dir: journal_dir.to_path_buf(),
        time_column: None,
        replay_timeout_secs: 600,
        tool_restore: None,
        new_host: false,
        chain: vec![],
        wal_version: None,
        timeline: None,
        prediction: None,
        backup_check: Default::default(),
        replay_stall_secs: 60,
        wal_spool: None,
        role: Role::Drill,
    }
}

const STEPS: &[(&str, &str, &str)] = &[
    (
        "preflight",
        "Preflight checks",
        "check WAL 000000010000000000000005 .. 000000010000000000000009",
    ),
    (
        "snapshot",
        "Snapshot \"before\"",
        "psql -c 'select row counts'",
    ),
    (
        "restore",
        "Restore the base backup",
        "cp -a /srv/pg/backups/20261101T020000/. /srv/pg/drill",
    ),
    (
        "write_config",
        "Write the recovery configuration",
        "write /srv/pg/drill/postgresql.auto.conf",
    ),
    (
        "start",
        "Start the recovered server",
        "pg_ctl -D /srv/pg/drill start",
    ),
    (
        "replay",
        "Follow WAL replay to the target",
        "poll pg_last_wal_replay_lsn()",
    ),
    (
        "verify",
        "Verify at the target",
        "select count(*) > 0 from orders",
    ),
    ("decide", "Promote or roll back", "ask"),
    ("promote", "Promote", "select pg_promote()"),
    ("summary", "Write the summary", "write summary"),
];

/// Writes the fixture journal with fixed times, chaining each record to the previous line
/// exactly as the engine does.
fn write_journal(dir: &Path) -> PathBuf {
    let path = dir.join("db1-20261101T090000Z-ab12.jsonl");
    let inputs = inputs(dir);
    let steps: Vec<StepView> = STEPS
        .iter()
        .enumerate()
        .map(|(index, (id, title, cmd))| StepView {
            index,
            id: id.to_string(),
            title: title.to_string(),
            commands: vec![cmd.to_string()],
            undo: vec![],
            destructive: false,
            branch: if *id == "summary" {
                Branch::Final
            } else {
                Branch::Main
            },
        })
        .collect();
    let mut bodies = vec![(
        0,
        Body::Run {
            run_id: "20261101T090000Z-ab12".into(),
            server: "db1".into(),
            target: inputs.target.to_string(),
            checksum: "c0ffee".into(),
            steps,
            inputs: serde_json::to_value(&inputs).unwrap(),
        },
    )];
    let mut at = 0i64;
    let durations = [2, 3, 95, 1, 6, 40, 4, 0, 2, 1];
    for (i, (id, _, cmd)) in STEPS.iter().enumerate() {
        let intent = Body::Intent {
            index: i,
            step: id.to_string(),
            phase: Phase::Run,
            commands: vec![cmd.to_string()],
        };
        let mut facts = Map::new();
        match *id {
            "snapshot" => {
                facts.insert(
                    "row_counts".into(),
                    json!({"public.orders": 1000, "public.customers": 50}),
                );
            }
            "replay" => {
                // The first attempt fails (archive mount gone); the retry succeeds.
                bodies.push((at, intent.clone()));
                at += 12;
                bodies.push((
                    at,
                    Body::Outcome {
                        index: i,
                        step: id.to_string(),
                        phase: Phase::Run,
                        ok: false,
                        status: None,
                        duration_ms: 12_000,
                        error: Some("restore_command failed: /srv/pg/wal not mounted".into()),
                        facts: Map::new(),
                    },
                ));
                bodies.push((
                    at + 30,
                    Body::Decision {
                        question: "replay failed".into(),
                        decision: Decision::Retry,
                    },
                ));
                at += 31;
                facts.insert("replay_lsn".into(), json!("0/9001F40"));
                facts.insert("last_replay_time".into(), json!("2026-11-01T08:41:58.750Z"));
            }
            "verify" => {
                facts.insert(
                    "row_counts_after".into(),
                    json!({"public.orders": 1180, "public.customers": 50}),
                );
                facts.insert(
                    "checklist".into(),
                    json!([
                        {"item": "paused at the target", "ok": true, "required": true, "detail": "paused at 0/9001F40"},
                        {"item": "orders present", "ok": true, "required": true, "detail": "returned t"},
                        {"item": "row counts against the snapshot", "ok": true, "required": false, "detail": "public.orders: 1000 -> 1180"}
                    ]),
                );
            }
            "decide" => {
                bodies.push((at, intent.clone()));
                bodies.push((
                    at,
                    Body::Decision {
                        question: "promote or roll back".into(),
                        decision: Decision::Promote,
                    },
                ));
                facts.insert("decision".into(), json!("promote"));
            }
            _ => {}
        }
        if *id != "decide" {
            bodies.push((at, intent));
        }
        at += durations[i];
        bodies.push((
            at,
            Body::Outcome {
                index: i,
                step: id.to_string(),
                phase: Phase::Run,
                ok: true,
                status: None,
                duration_ms: durations[i] as u64 * 1000,
                error: None,
                facts,
            },
        ));
    }
    bodies.push((
        at,
        Body::End {
            status: RunStatus::Promoted,
        },
    ));
    let mut prev = "0".repeat(64);
    let mut text = String::new();
    for (seq, (secs, body)) in bodies.into_iter().enumerate() {
        let record = Record {
            seq: seq as u64,
            time: t0() + Duration::seconds(secs),
            user: "alice".into(),
            host: "ops1".into(),
            pid: 4242,
            prev: prev.clone(),
            body,
        };
        let line = serde_json::to_string(&record).unwrap();
        prev = sha256_hex(line.as_bytes());
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn drill_record(state: &JournalState) -> DrillRecord {
    let mut d = DrillRecord::new(&Checklist::builtin(), "db1", &state.target, t0());
    d.add_time(PhaseId::Preparation, t0() - Duration::seconds(20), t0());
    d.set(
        "backup_located",
        ItemStatus::Passed,
        "20261101T020000 (plain, consistent 2026-11-01 02:00:41+00:00)",
    );
    d.set(
        "backup_verified",
        ItemStatus::Passed,
        "pg_verifybackup: backup successfully verified",
    );
    d.apply_journal(state);
    d.add_time(
        PhaseId::Verification,
        t0() + Duration::seconds(200),
        t0() + Duration::seconds(203),
    );
    d.set(
        "smoke",
        ItemStatus::Passed,
        "`curl -fs http://127.0.0.1:8080/health` exited 0",
    );
    d.rpo = Some(Rpo {
        chosen: Utc.with_ymd_and_hms(2026, 11, 1, 8, 41, 59).unwrap(),
        newest_commit: Utc.with_ymd_and_hms(2026, 11, 1, 8, 58, 12).unwrap(),
        newest_segment: "00000001000000000000000B".into(),
        seconds: 973.0,
    });
    d.sign(
        Some("Alice Ops".into()),
        Some("Bob DBA".into()),
        t0() + Duration::seconds(400),
    );
    d.finish(t0() + Duration::seconds(401));
    d
}

fn scrub(text: &str, dir: &Path) -> String {
    text.replace(&dir.display().to_string(), "[JOURNAL_DIR]")
}

#[test]
fn report_of_a_recovery_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_journal(dir.path());
    let report = pitr_console::report::load(&path).unwrap();
    assert_eq!(report.outcome, "recovered and promoted");
    assert_eq!(report.steps.len(), STEPS.len());
    let replay = report.steps.iter().find(|s| s.id == "replay").unwrap();
    assert_eq!(replay.attempts, 2);
    assert_eq!(replay.duration_ms, Some(52_000));
    assert!(
        report.problems.iter().any(|p| p.contains("not mounted")),
        "{:?}",
        report.problems
    );
    let md = pitr_console::report::markdown(&report, &Zone::UTC);
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("report_recovery_run", scrub(&md, dir.path()));
    });
    let json: Value = serde_json::from_str(&pitr_console::report::json(&report)).unwrap();
    assert_eq!(json["steps"][5]["outcome"], "done");
    assert_eq!(json["checklist"][1]["item"], "orders present");
    assert_eq!(json["drill"], Value::Null);
}

#[test]
fn report_of_a_drill_holds_rto_per_phase_and_sign_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_journal(dir.path());
    let state = JournalState::read(&path).unwrap();
    let d = drill_record(&state);
    // Wall time on one clock: from the restore's start to replay's end, the failed first
    // attempt and the operator's 30 s before choosing to retry included.
    assert_eq!(
        d.phase(PhaseId::Recovery).unwrap().duration_ms,
        Some((95 + 1 + 6 + 12 + 31 + 40) * 1000)
    );
    let phases: u64 = d
        .phases
        .iter()
        .filter(|p| p.id.timed())
        .filter_map(|p| p.duration_ms)
        .sum();
    assert_eq!(Some(phases), d.rto_ms, "the phases add up to the RTO");
    d.save(&DrillRecord::path_for(&path)).unwrap();
    let report = pitr_console::report::load(&path).unwrap();
    let (md_path, json_path) = pitr_console::report::write(&report, &Zone::UTC).unwrap();
    let md = std::fs::read_to_string(&md_path).unwrap();
    assert!(md.contains("**Total RTO**") && md.contains("Performed by: Alice Ops"));
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("report_drill", scrub(&md, dir.path()));
    });
    let json: Value = serde_json::from_str(&std::fs::read_to_string(json_path).unwrap()).unwrap();
    assert_eq!(json["drill"]["sign_off"]["verified_by"], "Bob DBA");
    assert_eq!(json["drill"]["phases"][0]["duration_ms"], 25_000);
}

#[test]
fn report_command_renders_any_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_journal(dir.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pitr-console"))
        .args(["--tz", "UTC", "report"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("# Recovery run 20261101T090000Z-ab12 on server db1"));
    assert!(dir
        .path()
        .join("db1-20261101T090000Z-ab12-report.md")
        .exists());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pitr-console"))
        .args(["report", "--json"])
        .arg(dir.path().join("missing.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn report_of_a_run_refused_by_role() {
    let dir = tempfile::tempdir().unwrap();
    let path = pitr_console::engine::roles::journal_role_refusal(
        dir.path(),
        "db1",
        "latest (end of the archive)",
        Role::Trainee,
        "refused by role trainee: a trainee may explore and plan",
    )
    .unwrap();
    let report = pitr_console::report::load(&path).unwrap();
    assert_eq!(report.role.as_deref(), Some("trainee"));
    assert!(report
        .outcome
        .starts_with("refused: refused by role trainee"));
    assert!(report.problems.iter().any(|p| p.contains("run refused")));
    let md = pitr_console::report::markdown(&report, &Zone::UTC);
    assert!(
        md.contains("No steps (the run was refused before it was planned)."),
        "{md}"
    );
}
