//! `pitr-console check` on a real lab, as monitoring would run it before any incident:
//! healthy first, then each way a recovery would fail later is seen now — a segment the
//! server user cannot read, a hole in the WAL after the newest backup, an archiver that
//! fails — with the exit code Nagios-style checks expect (0 ok, 1 warning, 2 critical).
//!
//! Port 57900.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use lab_support::{build, psql};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");
const LAB_PORT: u16 = 57900;

fn check(config: &Path, state: &Path) -> (i32, serde_json::Value) {
    let out = Command::new(BIN)
        .env("PITR_CONSOLE_STATE_DIR", state)
        .arg("--config")
        .arg(config)
        .args(["check", "--json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!(
        "$ pitr-console check --json -> exit {:?}\n{stdout}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e})"));
    (out.status.code().unwrap_or(-1), json)
}

/// The findings of one probe on the lab's server, as (level, text).
fn probe(report: &serde_json::Value, name: &str) -> Vec<(String, String)> {
    report["servers"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["probe"] == name)
        .map(|f| {
            (
                f["level"].as_str().unwrap().to_string(),
                f["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn segments(archive: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(archive)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.len() == 24 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    names.sort();
    names
}

#[test]
fn check_sees_what_would_break_a_recovery_before_the_incident() {
    let (guard, rec) = build(LAB_PORT, false);
    let state = guard.path("state");
    let cfg = rec.config_file.clone();

    // A healthy lab: every probe ok.
    let (code, report) = check(&cfg, &state);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["level"], "ok");
    for p in [
        "archiver",
        "newest_backup",
        "wal_continuity",
        "restore_command",
        "free_space",
    ] {
        assert!(!probe(&report, p).is_empty(), "no {p} finding");
    }

    // The newest segment unreadable by the server user: root (the console) could read it,
    // PostgreSQL's restore_command could not.
    let names = segments(&rec.wal_archive);
    let newest = rec.wal_archive.join(names.last().unwrap());
    let mode = std::fs::metadata(&newest).unwrap().permissions().mode();
    nix::unistd::chown(&newest, Some(nix::unistd::Uid::from_raw(0)), None).unwrap();
    std::fs::set_permissions(&newest, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, report) = check(&cfg, &state);
    assert_eq!(code, 2, "{report:#}");
    let restore = probe(&report, "restore_command");
    assert_eq!(restore[0].0, "critical", "{restore:?}");
    assert!(restore[0].1.contains("run as postgres"), "{restore:?}");
    // The console runs the same probes in the background and says so in the servers pane.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = pitr_console::config::load(&cfg).unwrap();
    let index_dir = guard.path("index");
    let health = rt.block_on(async {
        let mut c = lab_support::Console::open(
            &config,
            pitr_console::config::Role::Operator,
            &index_dir,
            chrono::Utc::now(),
        )
        .await;
        c.until("the console's check", Duration::from_secs(60), |a| {
            a.servers[0].health.is_some()
        })
        .await;
        c.app.servers[0].health.clone().unwrap().1
    });
    assert_eq!(health.level, pitr_console::domain::health::Level::Critical);
    assert!(
        health
            .findings
            .iter()
            .any(|f| f.text.contains("run as postgres")),
        "{health:?}"
    );
    // And a plan that needs it is refused before anything runs (issue 9: such a segment is
    // damaged for PostgreSQL, though root can read it).
    let plan = Command::new(BIN)
        .env("PITR_CONSOLE_STATE_DIR", &state)
        .arg("--config")
        .arg(&cfg)
        .args(["plan", "--server", "lab", "--latest"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&plan.stderr);
    assert_eq!(plan.status.code(), Some(3), "{said}");
    assert!(
        said.contains("postgres cannot read") && said.contains(names.last().unwrap()),
        "{said}"
    );
    let pg = nix::unistd::User::from_name(&rec.server_user)
        .unwrap()
        .unwrap();
    nix::unistd::chown(&newest, Some(pg.uid), Some(pg.gid)).unwrap();
    std::fs::set_permissions(&newest, std::fs::Permissions::from_mode(mode)).unwrap();

    // A hole after the newest backup: every later instant would be lost.
    let hole = names[names.len() - 2].clone();
    let aside = guard.path("aside");
    std::fs::create_dir_all(&aside).unwrap();
    std::fs::rename(rec.wal_archive.join(&hole), aside.join(&hole)).unwrap();
    let (code, report) = check(&cfg, &state);
    assert_eq!(code, 2, "{report:#}");
    let continuity = probe(&report, "wal_continuity");
    assert!(
        continuity
            .iter()
            .any(|(level, text)| level == "critical" && text.contains(&hole)),
        "{continuity:?}"
    );
    std::fs::rename(aside.join(&hole), rec.wal_archive.join(&hole)).unwrap();
    assert_eq!(check(&cfg, &state).0, 0);

    // The archiver failing: critical at once, before any threshold of age.
    psql(&rec, LAB_PORT, "alter system set archive_command = 'false'");
    psql(&rec, LAB_PORT, "select pg_reload_conf()");
    psql(
        &rec,
        LAB_PORT,
        "create table check_probe as select 1 as x; select pg_switch_wal()",
    );
    let started = Instant::now();
    while psql(&rec, LAB_PORT, "select failed_count from pg_stat_archiver") == "0" {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the archiver never failed"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let (code, report) = check(&cfg, &state);
    assert_eq!(code, 2, "{report:#}");
    let archiver = probe(&report, "archiver");
    assert_eq!(archiver[0].0, "critical", "{archiver:?}");
    assert!(
        archiver[0].1.contains("archive_command is failing"),
        "{archiver:?}"
    );
}
