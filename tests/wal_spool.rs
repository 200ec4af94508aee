//! WAL staged ahead of replay, on a real lab: a side recovery served from the spool reaches
//! what one without it reaches; a segment taken out of the spool, or damaged there, comes
//! from the archive and the journal names it; the spool never holds more than its bound;
//! nothing of it is left afterwards; replay goes on without the console. Ports 58000-58029.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use lab_support::{build, psql, LabGuard};
use pitr_console::lab::LabRecord;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");

/// The lab's configuration with `wal_spool_mib` set (a top-level key, so it goes first).
fn config(guard: &LabGuard, rec: &LabRecord, spool_mib: u64) -> PathBuf {
    let text = std::fs::read_to_string(&rec.config_file).unwrap();
    let path = guard.path(&format!("spool-{spool_mib}.toml"));
    std::fs::write(&path, format!("wal_spool_mib = {spool_mib}\n{text}")).unwrap();
    path
}

/// `recover --latest` onto a side instance, promoted; returns its journal's text.
fn recover_latest(guard: &mut LabGuard, cfg: &Path, dir: &Path, port: u16) -> String {
    guard.side(dir);
    let out = Command::new(BIN)
        .arg("--config")
        .arg(cfg)
        .args(["recover", "--server", "lab", "--latest", "--restore-to"])
        .arg(dir)
        .args(["--port", &port.to_string(), "--action", "promote", "--yes"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let journal = stdout
        .lines()
        .filter_map(|l| l.rsplit_once("Journal: ").map(|(_, j)| j.trim()))
        .next_back()
        .unwrap_or_else(|| panic!("no journal line in:\n{stdout}"));
    std::fs::read_to_string(journal).unwrap()
}

fn rows(rec: &LabRecord, port: u16) -> String {
    psql(
        rec,
        port,
        "select count(*), coalesce(sum(id), 0) from orders",
    )
}

/// The run's spools beside `dir` (`<dir>.pitr-<run>-wal`).
fn spools_beside(dir: &Path) -> Vec<PathBuf> {
    let stem = dir.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with(&format!("{stem}.pitr-")) && n.ends_with("-wal")
        })
        .collect()
}

fn is_segment(name: &str) -> bool {
    name.len() == 24 && name.chars().all(|c| c.is_ascii_hexdigit())
}

#[test]
fn through_the_spool_replay_reaches_what_it_reaches_without() {
    let (mut guard, rec) = build(58000, false);
    let with = config(&guard, &rec, 64);
    let without = config(&guard, &rec, 0);

    let plan = Command::new(BIN)
        .arg("--config")
        .arg(&with)
        .args(["plan", "--server", "lab", "--latest"])
        .output()
        .unwrap();
    let plan = String::from_utf8_lossy(&plan.stdout);
    assert!(plan.contains("Stage the WAL replay needs"), "{plan}");
    assert!(plan.contains("at most 64 MiB (64 segments)"), "{plan}");

    let spooled_dir = guard.path("spooled");
    let journal = recover_latest(&mut guard, &with, &spooled_dir, 58001);
    let plain_dir = guard.path("plain");
    let plain = recover_latest(&mut guard, &without, &plain_dir, 58002);

    assert_eq!(rows(&rec, 58001), rows(&rec, 58002));
    assert_eq!(
        rows(&rec, 58001),
        rows(&rec, rec.port),
        "latest holds every row"
    );
    let served = journal
        .lines()
        .find(|l| l.contains("served to replay from the spool"))
        .unwrap_or_else(|| panic!("no spool summary in the journal:\n{journal}"));
    assert!(!served.contains(", 0 served"), "{served}");
    assert!(!journal.contains("were not in the spool"), "{journal}");
    assert!(
        !plain.contains("WAL spool"),
        "no spool without wal_spool_mib"
    );
    assert!(
        spools_beside(&spooled_dir).is_empty(),
        "the spool is removed when replay ends"
    );
}

#[test]
fn a_segment_missing_or_damaged_in_the_spool_comes_from_the_archive() {
    let (mut guard, rec) = build(58010, false);
    // Three 1 MiB segments ahead of replay at most.
    let cfg = config(&guard, &rec, 3);
    let dir = guard.path("side");

    // The first segment staged is taken out, the second cut short, while the backup is
    // still being restored; the watcher notes how many staged segments wait at once.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (done, dir) = (done.clone(), dir.clone());
        std::thread::spawn(move || {
            let mut most = 0;
            let mut tampered: Vec<String> = Vec::new();
            while !done.load(Ordering::SeqCst) {
                for spool in spools_beside(&dir) {
                    let names: Vec<String> = std::fs::read_dir(&spool)
                        .into_iter()
                        .flatten()
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| is_segment(n))
                        .collect();
                    most = most.max(names.len());
                    for n in names {
                        if tampered.len() < 2 && !tampered.contains(&n) {
                            let p = spool.join(&n);
                            if tampered.is_empty() {
                                let _ = std::fs::remove_file(&p);
                            } else {
                                let _ = std::fs::OpenOptions::new()
                                    .write(true)
                                    .open(&p)
                                    .and_then(|f| f.set_len(8192));
                            }
                            tampered.push(n);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            (most, tampered)
        })
    };
    let journal = recover_latest(&mut guard, &cfg, &dir, 58011);
    done.store(true, Ordering::SeqCst);
    let (most, tampered) = watcher.join().unwrap();

    assert_eq!(
        rows(&rec, 58011),
        rows(&rec, rec.port),
        "latest holds every row"
    );
    assert_eq!(tampered.len(), 2, "the watcher saw the spool: {tampered:?}");
    assert!(
        most <= 3,
        "{most} staged segments waited at once, the bound is 3"
    );
    let missed = journal
        .lines()
        .find(|l| l.contains("were not in the spool at full size"))
        .unwrap_or_else(|| panic!("no fallback named in the journal:\n{journal}"));
    for n in &tampered {
        assert!(missed.contains(n.as_str()), "{n} not named: {missed}");
    }
    assert!(
        spools_beside(&dir).is_empty(),
        "nothing of the spool is left"
    );
}

#[test]
fn replay_goes_on_from_the_archive_when_the_console_is_killed() {
    let (mut guard, rec) = build(58020, false);
    // One segment ahead at most, so most of the WAL is still to fetch when the console dies.
    let cfg = config(&guard, &rec, 1);
    let dir = guard.path("side");
    guard.side(&dir);
    let journals = rec.dir.join("journal");
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["recover", "--server", "lab", "--latest", "--restore-to"])
        .arg(&dir)
        .args(["--port", "58021", "--action", "promote", "--yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let started =
        |j: &Path| std::fs::read_to_string(j).is_ok_and(|t| t.contains("\"step\":\"replay\""));
    loop {
        assert!(std::time::Instant::now() < deadline, "replay never started");
        let found = std::fs::read_dir(&journals)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| started(&e.path()));
        if found {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // The server, on its own: the restore_command falls back to the archive for whatever
    // the spool does not hold, so --latest still ends out of recovery with every row.
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    loop {
        assert!(std::time::Instant::now() < deadline, "replay never ended");
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--", "psql", "-X", "-A", "-t", "-h"])
            .arg(&rec.socket_dir)
            .args(["-p", "58021", "-d", &rec.database, "-c"])
            .arg("select pg_is_in_recovery()")
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).trim() == "f" {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(rows(&rec, 58021), rows(&rec, rec.port));
    let spool = spools_beside(&dir);
    assert_eq!(
        spool.len(),
        1,
        "the killed console left its spool: {spool:?}"
    );
    let log = std::fs::read_to_string(spool[0].join("requests")).unwrap_or_default();
    assert!(
        log.lines().any(|l| l.starts_with("archive 0000")),
        "segments came from the archive: {log}"
    );
}
