//! Seed 004's "complete server failure": the host is gone, a new one has an empty data
//! directory, and the backups and WAL survived. The operator's story on a real lab: a
//! plain in-place recovery sees the empty pgdata and asks for --new-host instead of
//! failing half-way; the plan with --new-host has no snapshot, dump, stop or move steps
//! and says why; the recovery restores onto the empty directory and reaches the end of
//! the archive.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use lab_support::{build, psql, stop};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");
const PORT: u16 = 57610;

fn cli(config: &Path, state: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("PITR_CONSOLE_STATE_DIR", state)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "$ pitr-console {} -> {:?}",
        args.join(" "),
        out.status.code()
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn a_new_host_is_restored_onto_its_empty_data_directory() {
    let (guard, rec) = build(PORT, false);
    let state = guard.path("state");
    std::fs::create_dir_all(&state).unwrap();

    // The last rows reach the archive, then the host dies with its disk.
    let last = psql(&rec, PORT, "select pg_walfile_name(pg_switch_wal())");
    let deadline = Instant::now() + Duration::from_secs(30);
    while psql(
        &rec,
        PORT,
        "select coalesce(last_archived_wal, '') from pg_stat_archiver",
    ) < last
    {
        assert!(Instant::now() < deadline, "{last} not archived");
        std::thread::sleep(Duration::from_millis(100));
    }
    let rows: u64 = psql(&rec, PORT, "select count(*) from orders")
        .parse()
        .unwrap();
    stop(&rec.pgdata);
    let lost = guard.path("lost-disk");
    std::fs::rename(&rec.pgdata, &lost).unwrap();
    std::fs::create_dir(&rec.pgdata).unwrap();
    Command::new("chown")
        .arg("postgres:postgres")
        .arg(&rec.pgdata)
        .status()
        .unwrap();
    let cfg = &rec.config_file;

    // Without --new-host the empty directory is noticed before anything is done.
    let (code, out) = cli(
        cfg,
        &state,
        &["recover", "--server", "lab", "--latest", "--yes"],
    );
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("--new-host"), "{out}");
    assert!(
        !out.contains("Snapshot before"),
        "stopped at the preflight:\n{out}"
    );

    // The plan says what a new host skips.
    let (code, plan) = cli(
        cfg,
        &state,
        &["plan", "--server", "lab", "--latest", "--new-host"],
    );
    assert_eq!(code, 0, "{plan}");
    assert!(plan.contains("new host"), "{plan}");
    for skipped in [
        "Snapshot before",
        "Move the data directory aside",
        "Stop PostgreSQL",
    ] {
        assert!(!plan.contains(skipped), "{skipped} in\n{plan}");
    }
    let (code, out) = cli(
        cfg,
        &state,
        &[
            "plan",
            "--server",
            "lab",
            "--latest",
            "--new-host",
            "--restore-to",
            "/tmp/x",
            "--port",
            "57611",
        ],
    );
    assert_eq!(code, 2, "{out}");

    // The recovery itself.
    let (code, out) = cli(
        cfg,
        &state,
        &[
            "recover",
            "--server",
            "lab",
            "--latest",
            "--new-host",
            "--yes",
            "--action",
            "promote",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let now: u64 = psql(&rec, PORT, "select count(*) from orders")
        .parse()
        .unwrap();
    assert_eq!(now, rows);
    assert_eq!(psql(&rec, PORT, "select pg_is_in_recovery()"), "f");
    assert!(
        lost.join("PG_VERSION").exists(),
        "the old disk is not touched"
    );

    // A second --new-host onto the now full directory is refused.
    let (code, out) = cli(
        cfg,
        &state,
        &[
            "recover",
            "--server",
            "lab",
            "--latest",
            "--new-host",
            "--yes",
        ],
    );
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("is not empty"), "{out}");
}
