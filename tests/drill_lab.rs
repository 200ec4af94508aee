//! The headless drill on a real lab: a side restore to just before the incident, every
//! phase timed, RTO and RPO measured, signed off, the report written beside the journal.
//! And no path lets a trainee change anything.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod drill_support;
mod lab_support;

use drill_support::{assert_every_phase_timed, cli, fingerprint};
use lab_support::build;
use pitr_console::engine::drill::{DrillRecord, ItemStatus, PhaseId};
use std::path::{Path, PathBuf};

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.to_string_lossy().ends_with(suffix));
    v.sort();
    v
}

fn psql_count(socket: &Path, port: u16, db: &str) -> u64 {
    let out = std::process::Command::new("runuser")
        .args(["-u", "postgres", "--", "psql", "-X", "-A", "-t", "-q", "-h"])
        .arg(socket)
        .args([
            "-p",
            &port.to_string(),
            "-d",
            db,
            "-c",
            "select count(*) from orders",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn a_drill_on_the_lab_times_every_phase_and_signs_off() {
    let (mut guard, record) = build(56010, false);
    let inc = record.first_incident().unwrap().clone();
    let at = inc
        .commit_time
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string();
    let journal_dir = guard.path("journal");
    let lab_config = std::fs::read_to_string(&record.config_file).unwrap();
    let journal_line = lab_config
        .lines()
        .find(|l| l.starts_with("journal_dir"))
        .unwrap()
        .to_string();
    let config = guard.path("drill.toml");
    std::fs::write(
        &config,
        format!(
            "drill_smoke = \"psql -X -At -c 'select count(*) from orders'\"\n{}",
            lab_config.replace(
                &journal_line,
                &format!("journal_dir = \"{}\"", journal_dir.display())
            )
        ),
    )
    .unwrap();
    let production = fingerprint(&record.pgdata);

    // A trainee may not drill: exit 5, nothing restored, the refusal journaled.
    let side = guard.path("side-trainee");
    let side_text = side.display().to_string();
    let o = cli(
        &config,
        &[
            "--role",
            "trainee",
            "drill",
            "--server",
            "lab",
            "--time",
            &at,
            "--exclusive",
            "--restore-to",
            &side_text,
            "--port",
            "56012",
        ],
    );
    o.expect(5);
    assert!(o.stderr.contains("trainee"), "{}", o.stderr);
    assert!(
        !side.exists(),
        "a trainee's drill created {}",
        side.display()
    );
    assert!(
        files_ending(&journal_dir, ".jsonl").is_empty(),
        "a refused start writes nothing in the configured journal directory"
    );
    let refusals =
        PathBuf::from(std::env::var_os("PITR_CONSOLE_STATE_DIR").unwrap()).join("refusals");
    assert_eq!(
        files_ending(&refusals, ".jsonl").len(),
        1,
        "refusal journaled in the console's own refusals"
    );

    // The drill itself, as the drill role.
    let side = guard.path("side");
    let side_text = side.display().to_string();
    guard.side(&side);
    let o = cli(
        &config,
        &[
            "--role",
            "drill",
            "drill",
            "--server",
            "lab",
            "--time",
            &at,
            "--exclusive",
            "--restore-to",
            &side_text,
            "--port",
            "56011",
            "--performed-by",
            "Alice Ops",
        ],
    );
    eprintln!("{}", o.stdout);
    // The verifier has not signed yet: the drill is not passed until they do, later, with
    // a signature time of their own.
    o.expect(4);
    assert!(o.stdout.contains("Verified by: not signed"), "{}", o.stdout);
    let drills = files_ending(&journal_dir, "-drill.json");
    let journal = DrillRecord::load(&drills[0]).unwrap().journal.unwrap();
    let journal_text = journal.display().to_string();
    let o = cli(
        &config,
        &["sign-drill", &journal_text, "--verified-by", "Alice Ops"],
    );
    o.expect(2);
    assert!(o.stderr.contains("second pair of eyes"), "{}", o.stderr);
    let o = cli(
        &config,
        &["sign-drill", &journal_text, "--verified-by", "Bob DBA"],
    );
    o.expect(0);
    assert!(
        o.stdout.contains("[x] Verified by: Bob DBA"),
        "{}",
        o.stdout
    );
    let o = cli(
        &config,
        &["sign-drill", &journal_text, "--verified-by", "Carol"],
    );
    o.expect(2);
    assert!(
        o.stderr.contains("verified already, by Bob DBA"),
        "{}",
        o.stderr
    );
    assert_eq!(
        psql_count(&record.socket_dir, 56011, &record.database),
        inc.rows_before
    );
    assert_eq!(
        fingerprint(&record.pgdata).1,
        production.1,
        "production's pg_control changed"
    );

    let drills = files_ending(&journal_dir, "-drill.json");
    assert_eq!(drills.len(), 1, "{drills:?}");
    let d = DrillRecord::load(&drills[0]).unwrap();
    for p in d.phases.iter().filter(|p| p.id.timed()) {
        assert!(
            p.started.is_some() && p.finished.is_some() && p.duration_ms.is_some_and(|ms| ms > 0),
            "phase {:?} not timed: {p:?}",
            p.id
        );
    }
    let sum: u64 = d.phases.iter().filter_map(|p| p.duration_ms).sum();
    let rto = d.rto_ms.unwrap();
    assert!(
        rto > 0 && rto == sum,
        "the phases add up to the RTO: {rto} vs {sum}"
    );
    let (performed, verified) = (
        d.sign_off.performed_at.unwrap(),
        d.sign_off.verified_at.unwrap(),
    );
    assert!(verified > performed, "each signature has its own time");
    let rpo = d.rpo.as_ref().unwrap();
    assert!(
        rpo.seconds > 0.0 && rpo.chosen == inc.commit_time.unwrap(),
        "{rpo:?}"
    );
    for id in [
        "backup_located",
        "backup_verified",
        "expected_row_counts",
        "side_restore",
        "reached_target",
        "promoted",
        "checks",
        "smoke",
        "performed_by",
        "verified_by",
    ] {
        assert_eq!(
            d.item(id).unwrap().status,
            ItemStatus::Passed,
            "{id}: {:?}",
            d.item(id)
        );
    }
    assert_eq!(d.item("row_counts").unwrap().status, ItemStatus::Noted);
    assert!(d
        .item("backup_verified")
        .unwrap()
        .detail
        .contains("pg_verifybackup"));
    assert_eq!(d.sign_off.verified_by.as_deref(), Some("Bob DBA"));
    assert!(d.phase(PhaseId::Recovery).unwrap().duration_ms.unwrap() > 0);

    let reports = files_ending(&journal_dir, "-report.md");
    assert_eq!(reports.len(), 1);
    let md = std::fs::read_to_string(&reports[0]).unwrap();
    assert_every_phase_timed(&md);
    assert!(md.contains("RPO of the chosen instant: **"), "{md}");
    assert!(
        md.contains("Performed by: Alice Ops") && md.contains("Verified by: Bob DBA"),
        "{md}"
    );

    // `report` renders the same run again, drill included.
    let journal = DrillRecord::load(&drills[0]).unwrap().journal.unwrap();
    let journal_text = journal.display().to_string();
    let o = cli(&config, &["report", &journal_text]);
    o.expect(0);
    assert!(o.stdout.contains("# Restore drill"), "{}", o.stdout);

    // A failing smoke command and a missing verifier: exit 4, both in the report's problems.
    let failing = guard.path("drill-failing.toml");
    std::fs::write(
        &failing,
        std::fs::read_to_string(&config).unwrap().replacen(
            "drill_smoke = \"psql",
            "drill_smoke = \"echo app down >&2; exit 3; psql",
            1,
        ),
    )
    .unwrap();
    let side2 = guard.path("side2");
    guard.side(&side2);
    let xid = inc.xid.to_string();
    let o = cli(
        &failing,
        &[
            "--role",
            "drill",
            "drill",
            "--server",
            "lab",
            "--xid",
            &xid,
            "--exclusive",
            "--restore-to",
            &side2.display().to_string(),
            "--port",
            "56013",
            "--performed-by",
            "Alice Ops",
        ],
    );
    o.expect(4);
    assert!(
        o.stderr.contains("app down") && o.stderr.contains("Verified by: not signed"),
        "{}",
        o.stderr
    );
    // Said failed, with the phase; the one name given is not ticked as a sign-off of it.
    assert!(
        o.stderr.contains("the drill failed in Verification"),
        "{}",
        o.stderr
    );
    assert!(
        o.stdout
            .contains("[i] Performed by: Alice Ops, under a drill that failed in Verification")
            && o.stdout.contains("Not verified:"),
        "{}",
        o.stdout
    );
    let md = std::fs::read_to_string(
        files_ending(&journal_dir, "-report.md")
            .into_iter()
            // The failing drill's: the first one's report names xid 847 too now (its
            // prediction stops before it).
            .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .unwrap(),
    )
    .unwrap();
    let problems = md.split("## Problems found").nth(1).unwrap();
    assert!(
        problems.contains("Application smoke command passes") && problems.contains("app down"),
        "{problems}"
    );
    assert!(md.contains("Verified by: ________________"), "{md}");
    assert!(
        md.contains("**The drill failed in Verification**")
            && md.contains("### Not verified by this drill"),
        "{md}"
    );
    assert_eq!(
        psql_count(&record.socket_dir, 56013, &record.database),
        inc.rows_before
    );

    // A trainee cannot resume a run (any action), nor change the lab; nothing is touched.
    let side_before = fingerprint(&side);
    let journal_before = std::fs::read_to_string(&journal).unwrap();
    for action in ["promote", "roll-back", "pause"] {
        let o = cli(
            &config,
            &[
                "--role",
                "trainee",
                "resume",
                &journal_text,
                "--action",
                action,
                "--yes",
            ],
        );
        o.expect(5);
        assert!(o.stderr.contains("trainee"), "{}", o.stderr);
    }
    assert_eq!(
        fingerprint(&side),
        side_before,
        "a trainee's resume changed the side instance"
    );
    let journal_after = std::fs::read_to_string(&journal).unwrap();
    assert!(
        journal_after.starts_with(&journal_before),
        "the journal's history changed"
    );
    let lab_dir = record.dir.display().to_string();
    for cmd in [["lab", "incident"], ["lab", "down"]] {
        let o = cli(
            &config,
            &["--role", "trainee", cmd[0], cmd[1], "--dir", &lab_dir],
        );
        o.expect(5);
    }
    let after = pitr_console::lab::LabRecord::load(&record.dir.join("lab.json")).unwrap();
    assert_eq!(after.incidents.len(), record.incidents.len());
    assert_eq!(
        fingerprint(&record.pgdata).1,
        production.1,
        "production's pg_control changed"
    );
    cli(
        &config,
        &["--role", "trainee", "lab", "status", "--dir", &lab_dir],
    )
    .expect(0);
}
