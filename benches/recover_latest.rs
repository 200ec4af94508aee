//! `recover --latest` end to end against the same work done by hand, on a lab scaled so
//! restore plus replay takes 20 s or more; and the engine's restore copy against `cp -a`.
//!
//! `cargo bench --bench recover_latest` (as root, PostgreSQL 15 installed). Environment:
//! PITR_BENCH_SCALE (default 1500: replay alone takes 25 s on a quiet 2-core machine),
//! PITR_BENCH_ROUNDS (default 3), PITR_BENCH_DIR (build the lab there, or reuse the one
//! there, and keep it). Ports 55780-55782.
//! Targets (issue 3): engine / hand <= 1.10, engine copy >= 90% of cp -a.

use pitr_console::adapters::fs::LocalFs;
use pitr_console::engine::journal::{Body, JournalState};
use pitr_console::engine::ports::Fs;
use pitr_console::lab::{self, LabOptions, LabRecord};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");
const LAB_PORT: u16 = 55780;
const ENGINE_PORT: u16 = 55781;
const HAND_PORT: u16 = 55782;

/// Tears the lab down at the end, unless it lives in PITR_BENCH_DIR (kept for reuse).
struct LabGuard {
    dir: PathBuf,
    keep: bool,
    _parent: Option<tempfile::TempDir>,
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if let Err(e) = lab::down(&self.dir) {
            eprintln!("could not tear down the lab in {}: {e}", self.dir.display());
        }
    }
}

/// A side instance's data directory: its server stopped and the directory removed on drop.
struct Side(PathBuf);

impl Drop for Side {
    fn drop(&mut self) {
        if self.0.join("postmaster.pid").exists() {
            let _ = Command::new("runuser")
                .args([
                    "-u",
                    "postgres",
                    "--",
                    "pg_ctl",
                    "stop",
                    "-m",
                    "immediate",
                    "-w",
                    "-D",
                ])
                .arg(&self.0)
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.0);
        let parent = self.0.parent().unwrap_or(Path::new("/tmp"));
        let stem = self
            .0
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for e in std::fs::read_dir(parent).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&format!("{stem}.pitr-")) {
                let _ = std::fs::remove_dir_all(e.path());
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

fn sh(cmd: &str) {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        out.status.success(),
        "`{cmd}`: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn as_pg(cmd: &str) {
    sh(&format!(
        "runuser -u postgres -- sh -c '{}'",
        cmd.replace('\'', r"'\''")
    ));
}

fn env_num(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The engine: `pitr-console recover --latest` on a side instance, promoted, end to end.
fn engine_run(rec: &LabRecord, dir: &Path) -> Duration {
    let started = Instant::now();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&rec.config_file)
        .args(["recover", "--server", "lab", "--latest", "--restore-to"])
        .arg(dir)
        .args(["--port", &ENGINE_PORT.to_string(), "--action", "promote"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = started.elapsed();
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
        .unwrap_or_default();
    if let Ok(state) = JournalState::read(Path::new(journal)) {
        let steps: Vec<String> = state
            .records
            .iter()
            .filter_map(|r| match &r.body {
                Body::Outcome {
                    step, duration_ms, ..
                } if *duration_ms >= 50 => Some(format!("{step} {:.2}", *duration_ms as f64 / 1e3)),
                _ => None,
            })
            .collect();
        println!("  engine steps (s): {}", steps.join(", "));
    }
    took
}

/// The same work by hand: extract the backup, write the settings, start, poll until the
/// server has replayed everything and promoted.
fn hand_run(rec: &LabRecord, dir: &Path) -> Duration {
    let backup = &rec.backups.last().unwrap().path;
    let d = dir.display();
    let started = Instant::now();
    let mut phases = Vec::new();
    sh(&format!("mkdir -m 700 {d} && chown postgres:postgres {d}"));
    as_pg(&format!("tar -xzf {}/base.tar.gz -C {d}", backup.display()));
    if backup.join("pg_wal.tar.gz").exists() {
        as_pg(&format!(
            "tar -xzf {}/pg_wal.tar.gz -C {d}/pg_wal",
            backup.display()
        ));
    }
    phases.push(("extract", started.elapsed()));
    as_pg(&format!(
        "cat >> {d}/postgresql.auto.conf <<'EOF'\nrestore_command = 'cp {}/%f \"%p\"'\nrecovery_target_timeline = 'latest'\nrecovery_target_action = 'pause'\nhot_standby = on\nport = {HAND_PORT}\nunix_socket_directories = '{}'\narchive_mode = off\nlogging_collector = off\nEOF\ntouch {d}/recovery.signal",
        rec.wal_archive.display(),
        rec.socket_dir.display()
    ));
    phases.push(("settings", started.elapsed()));
    as_pg(&format!(
        "pg_ctl start -D {d} -w -t 600 -l {d}.pitr-hand.log -o '-p {HAND_PORT}' >/dev/null"
    ));
    loop {
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--", "psql", "-X", "-A", "-t", "-h"])
            .arg(&rec.socket_dir)
            .args([
                "-p",
                &HAND_PORT.to_string(),
                "-d",
                "lab",
                "-c",
                "select pg_is_in_recovery()",
            ])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).trim() == "f" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    phases.push(("replayed and promoted", started.elapsed()));
    let shown: Vec<String> = phases
        .iter()
        .map(|(p, t)| format!("{p} at {:.2}", t.as_secs_f64()))
        .collect();
    println!("  hand phases (s): {}", shown.join(", "));
    started.elapsed()
}

fn mean(v: &[Duration]) -> f64 {
    v.iter().map(Duration::as_secs_f64).sum::<f64>() / v.len() as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// MB/s of `cp -a` and of the engine's copy step (`LocalFs::copy_tree`, files handed to
/// postgres) on the plain backup, page cache warm for both, alternating.
fn copy_throughput(rec: &LabRecord, scratch: &Path) -> (f64, f64, u64) {
    let src = &rec.backups[0].path;
    let bytes = LocalFs.tree_size(src).unwrap();
    let (mut cp, mut engine) = (Vec::new(), Vec::new());
    sh(&format!(
        "cat $(find {} -type f) > /dev/null",
        src.display()
    ));
    for i in 0..5 {
        let a = scratch.join(format!("cp-{i}"));
        let t = Instant::now();
        sh(&format!("cp -a {} {}", src.display(), a.display()));
        cp.push(bytes as f64 / t.elapsed().as_secs_f64() / 1e6);
        let b = scratch.join(format!("engine-{i}"));
        let t = Instant::now();
        LocalFs
            .copy_tree(src, &b, Some("postgres"), &|_| {})
            .unwrap();
        engine.push(bytes as f64 / t.elapsed().as_secs_f64() / 1e6);
        let _ = std::fs::remove_dir_all(&a);
        let _ = std::fs::remove_dir_all(&b);
    }
    (median(cp), median(engine), bytes)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let scale = env_num("PITR_BENCH_SCALE", 1500);
    let rounds = env_num("PITR_BENCH_ROUNDS", 3).max(1);
    let guard = match std::env::var_os("PITR_BENCH_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).unwrap();
            sh(&format!("chown postgres:postgres {}", dir.display()));
            LabGuard {
                dir: dir.join("lab"),
                keep: true,
                _parent: None,
            }
        }
        None => {
            let parent = tempfile::Builder::new()
                .prefix("pitr-bench-")
                .tempdir_in("/tmp")
                .unwrap();
            sh(&format!(
                "chown postgres:postgres {}",
                parent.path().display()
            ));
            LabGuard {
                dir: parent.path().join("lab"),
                keep: false,
                _parent: Some(parent),
            }
        }
    };
    let t = Instant::now();
    let rec = lab::up(&LabOptions {
        dir: Some(guard.dir.clone()),
        port: Some(LAB_PORT),
        scale,
        with_gap: false,
        ..Default::default()
    })
    .unwrap();
    let last = rec
        .incidents
        .last()
        .map(|i| i.lsn_after)
        .unwrap_or_default();
    println!(
        "lab at scale {scale} built in {:.0} s; backup 2 {} .. WAL beyond {}",
        t.elapsed().as_secs_f64(),
        rec.backups[1].stop_lsn,
        last
    );
    let scratch = guard.dir.parent().unwrap().to_path_buf();
    let (mut engine, mut hand) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so neither always gets the warmer cache.
        for first_engine in [round % 2 == 0, round % 2 != 0] {
            if first_engine {
                let side = Side(scratch.join(format!("engine-{round}")));
                engine.push(engine_run(&rec, &side.0));
            } else {
                let side = Side(scratch.join(format!("hand-{round}")));
                hand.push(hand_run(&rec, &side.0));
            }
        }
        println!(
            "round {}: engine {:.2} s, hand {:.2} s",
            round + 1,
            engine.last().unwrap().as_secs_f64(),
            hand.last().unwrap().as_secs_f64()
        );
    }
    // The machine is shared: a round's two runs see similar load, rounds differ. The
    // median of the per-round ratios is the figure; the ratio of means is shown beside it.
    let paired: Vec<f64> = engine
        .iter()
        .zip(&hand)
        .map(|(e, h)| e.as_secs_f64() / h.as_secs_f64())
        .collect();
    let shown: Vec<String> = paired.iter().map(|r| format!("{r:.3}")).collect();
    println!(
        "recover --latest end to end: engine {:.2} s, hand-run {:.2} s (means of {rounds}); per-round ratios {}; median ratio {:.3}, ratio of means {:.3} (target <= 1.10)",
        mean(&engine),
        mean(&hand),
        shown.join(", "),
        median(paired.clone()),
        mean(&engine) / mean(&hand)
    );
    let (cp, copy, bytes) = copy_throughput(&rec, &scratch);
    println!(
        "restore copy of {:.0} MB (plain backup): cp -a {cp:.0} MB/s, engine {copy:.0} MB/s = {:.0}% of cp -a (target >= 90%)",
        bytes as f64 / 1e6,
        100.0 * copy / cp
    );
}
