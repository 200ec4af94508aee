//! The drill from the console on a real lab, driven like the console drives it but without
//! a terminal: `D` on the instant of the incident, names typed, `r`; preparation, the side
//! restore through the engine bridge, verification and sign-off; the Markdown report holds
//! RTO per phase and the sign-off, and the side instance holds the deleted rows.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod drill_support;
mod lab_support;

use crossterm::event::KeyCode;
use drill_support::{assert_every_phase_timed, fingerprint};
use lab_support::{build, stop, Console};
use pitr_console::app::drill::DrillRun;
use pitr_console::config::Role;
use pitr_console::engine::drill::{ItemStatus, PhaseId};
use std::path::PathBuf;
use std::time::Duration;

/// Stops side instances the drill started under `dir`, also when the test fails.
struct Sides(PathBuf);

impl Drop for Sides {
    fn drop(&mut self) {
        for e in std::fs::read_dir(&self.0).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with("drill-") {
                stop(&e.path());
            }
        }
    }
}

#[test]
fn a_drill_from_the_console_ends_with_a_signed_report() {
    let (guard, record) = build(56020, false);
    let _sides = Sides(record.pgdata.parent().unwrap().to_path_buf());
    let incident = record.first_incident().unwrap().clone();
    let commit = incident.commit_time.unwrap();
    let production = fingerprint(&record.pgdata);
    let mut config = pitr_console::config::load(&record.config_file).unwrap();
    config.drill_smoke = Some("psql -X -At -c 'select count(*) from orders'".into());
    config.journal_dir = Some(guard.path("journal"));
    let index_dir = tempfile::tempdir().unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(async {
        let mut c = Console::open(&config, Role::Drill, index_dir.path(), commit).await;

        // Just before the DELETE committed, from the drill screen.
        c.app.cursor = commit;
        c.key(KeyCode::Char('D'));
        assert!(c.app.drill.is_some());
        c.key(KeyCode::Char('p'));
        c.type_text("Alice Ops");
        c.key(KeyCode::Enter);
        c.key(KeyCode::Char('v'));
        c.type_text("Bob DBA");
        c.key(KeyCode::Enter);
        c.key(KeyCode::Char('r'));
        assert_eq!(c.app.drill.as_ref().unwrap().run, DrillRun::Preparing);
        c.key(KeyCode::Esc);
        assert!(c.app.drill.is_some(), "a drill under way keeps its screen");
        c.until("the drill's end", Duration::from_secs(180), |a| {
            matches!(
                a.drill.as_ref().map(|d| &d.run),
                Some(DrillRun::Done { .. } | DrillRun::Failed(_))
            )
        })
        .await;
        c.app
    });

    let d = app.drill.as_ref().unwrap();
    let DrillRun::Done {
        report: Some(report),
    } = &d.run
    else {
        panic!(
            "the drill did not end with a report: {:?}\n{:#?}",
            d.run, d.record.problems
        );
    };
    let r = &d.record;
    for p in r.phases.iter().filter(|p| p.id.timed()) {
        assert!(
            p.duration_ms.is_some_and(|ms| ms > 0) && p.started.is_some() && p.finished.is_some(),
            "phase {:?} not timed: {p:?}",
            p.id
        );
    }
    assert!(r.rto_ms.is_some_and(|ms| ms > 0) && r.rpo.is_some());
    for id in [
        "backup_verified",
        "side_restore",
        "reached_target",
        "promoted",
        "checks",
        "smoke",
    ] {
        assert_eq!(
            r.item(id).unwrap().status,
            ItemStatus::Passed,
            "{id}: {:?}",
            r.item(id)
        );
    }
    assert_eq!(r.sign_off.performed_by.as_deref(), Some("Alice Ops"));
    assert!(r.phase(PhaseId::Recovery).unwrap().duration_ms.unwrap() > 0);
    let md = std::fs::read_to_string(report).unwrap();
    assert_every_phase_timed(&md);
    assert!(
        md.contains("Performed by: Alice Ops") && md.contains("Verified by: Bob DBA"),
        "{md}"
    );
    let journal = r.journal.clone().unwrap();
    let state = pitr_console::engine::journal::JournalState::read(&journal).unwrap();
    let inputs: pitr_console::engine::recovery::RecoveryInputs =
        serde_json::from_value(state.inputs).unwrap();
    let pitr_console::engine::recovery::RestoreMode::Side { dir, port } = inputs.mode else {
        panic!("the drill restored in place");
    };
    let out = std::process::Command::new("runuser")
        .args(["-u", "postgres", "--", "psql", "-X", "-A", "-t", "-q", "-h"])
        .arg(&record.socket_dir)
        .args([
            "-p",
            &port.to_string(),
            "-d",
            &record.database,
            "-c",
            "select count(*) from orders",
        ])
        .output()
        .unwrap();
    let rows: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(
        rows,
        incident.rows_before,
        "side instance in {}",
        dir.display()
    );
    assert_eq!(
        fingerprint(&record.pgdata).1,
        production.1,
        "production's pg_control changed"
    );
}
