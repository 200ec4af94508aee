//! `recover --latest` end to end against the same work done by hand, on 16 MiB segments
//! (real clusters' default) and on the lab's 1 MiB, in the same run: the engine with its WAL
//! spool, the engine without it (`wal_spool_mib = 0`), the hand-run runbook, and the runbook
//! with PostgreSQL's replay prefetch settings raised; and the engine's restore copy against
//! `cp -a`. Prints the machine's load average and appends one JSON line per segment size to
//! `$CARGO_TARGET_DIR/bench-results.jsonl` (default `target/`), to compare across commits.
//!
//! `cargo bench --bench recover_latest` (as root, PostgreSQL 15 installed). Environment:
//! PITR_BENCH_SCALE (default 600), PITR_BENCH_ROUNDS (default 2), PITR_BENCH_SEGMENTS
//! (segment sizes in MiB, default "16,1"), PITR_BENCH_DIR (build the labs there and keep
//! them). Ports PITR_BENCH_PORT (default 55780) and the two after it. pgBackRest is not a peer here yet.
//! Targets (issue 16): engine / hand <= 0.80 on both sizes.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use pitr_console::adapters::fs::LocalFs;
use pitr_console::engine::journal::{Body, JournalState};
use pitr_console::engine::ports::{Fs, LinkFence};
use pitr_console::lab::{self, LabOptions, LabRecord};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");
/// The lab's port; the engine's side instance runs on the next, the hand-run one on the
/// one after (PITR_BENCH_PORT, default 55780).
fn lab_port() -> u16 {
    env_num("PITR_BENCH_PORT", 55780) as u16
}

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
fn engine_run(config: &Path, dir: &Path) -> Duration {
    let started = Instant::now();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(["recover", "--server", "lab", "--latest", "--restore-to"])
        .arg(dir)
        .args([
            "--port",
            &(lab_port() + 1).to_string(),
            "--action",
            "promote",
        ])
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

/// Replay settings PostgreSQL 15 offers beyond its defaults (try, 10, 512kB).
const TUNED: &str =
    "recovery_prefetch = on\nmaintenance_io_concurrency = 64\nwal_decode_buffer_size = '4MB'\n";

/// The same work by hand: extract the backup, write the settings (with `TUNED` when
/// `tuned`), start, poll until the server has replayed everything and promoted.
fn hand_run(rec: &LabRecord, dir: &Path, tuned: bool) -> Duration {
    let backup = &rec.backups.last().unwrap().path;
    let d = dir.display();
    let hand_port = lab_port() + 2;
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
        "cat >> {d}/postgresql.auto.conf <<'EOF'\nrestore_command = 'cp {}/%f \"%p\"'\nrecovery_target_timeline = 'latest'\nrecovery_target_action = 'pause'\nhot_standby = on\nport = {hand_port}\nunix_socket_directories = '{}'\narchive_mode = off\nlogging_collector = off\n{}EOF\ntouch {d}/recovery.signal",
        rec.wal_archive.display(),
        rec.socket_dir.display(),
        if tuned { TUNED } else { "" }
    ));
    phases.push(("settings", started.elapsed()));
    as_pg(&format!(
        "pg_ctl start -D {d} -w -t 600 -l {d}.pitr-hand.log -o '-p {hand_port}' >/dev/null"
    ));
    loop {
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--", "psql", "-X", "-A", "-t", "-h"])
            .arg(&rec.socket_dir)
            .args([
                "-p",
                &(lab_port() + 2).to_string(),
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
    let n = v.len();
    if n.is_multiple_of(2) {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    } else {
        v[n / 2]
    }
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
            .copy_tree(src, &b, Some("postgres"), &LinkFence::default(), &|_| {})
            .unwrap();
        engine.push(bytes as f64 / t.elapsed().as_secs_f64() / 1e6);
        let _ = std::fs::remove_dir_all(&a);
        let _ = std::fs::remove_dir_all(&b);
    }
    (median(cp), median(engine), bytes)
}

/// Stops the lab's archive from growing and waits until the archiver has caught up with a
/// WAL switch: an archive still growing moves `--latest` past the plan's prediction while
/// the engine runs, and verification fails.
fn settle_archive(rec: &LabRecord) {
    // Autovacuum after the workload writes (and archives) more WAL while the runs go on:
    // done now, then off, so every run replays the same archive.
    let psql = |sql: &str| {
        Command::new("runuser")
            .args(["-u", "postgres", "--", "psql", "-X", "-A", "-t", "-h"])
            .arg(&rec.socket_dir)
            .args(["-p", &rec.port.to_string(), "-d", &rec.database, "-c", sql])
            .output()
            .unwrap()
    };
    psql("alter system set autovacuum = off");
    psql("select pg_reload_conf()");
    psql("vacuum analyze");
    let out = psql("select pg_walfile_name(pg_switch_wal())");
    let last = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(last.len() == 24, "pg_switch_wal: {last:?}");
    let started = Instant::now();
    while !std::fs::read_dir(&rec.wal_archive)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with(&last))
    {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{last} never archived"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "archive settled at {last} after {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The 1, 5 and 15 minute load averages.
fn load() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut v = text
        .split_whitespace()
        .map(|w| w.parse().unwrap_or(f64::NAN));
    [(); 3].map(|_| v.next().unwrap_or(f64::NAN))
}

fn commit() -> String {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Appends `line` to the results file all benches share.
pub fn append_result(line: &serde_json::Value) {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let path = dir.join("bench-results.jsonl");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes()));
    match written {
        Ok(()) => println!("result appended to {}", path.display()),
        Err(e) => eprintln!("could not append to {}: {e}", path.display()),
    }
}

/// A lab for one segment size, in PITR_BENCH_DIR (kept) or a temp dir (removed).
fn lab_guard(segment_mib: u32) -> LabGuard {
    match std::env::var_os("PITR_BENCH_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir).join(format!("seg{segment_mib}"));
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
    }
}

/// Which run of a round: the figures are kept per kind.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Engine,
    EngineNoSpool,
    Hand,
    HandTuned,
}

const KINDS: [Kind; 4] = [
    Kind::Engine,
    Kind::EngineNoSpool,
    Kind::Hand,
    Kind::HandTuned,
];

fn bench_size(segment_mib: u32, scale: u32, rounds: u32) {
    let load_before = load();
    let guard = lab_guard(segment_mib);
    let t = Instant::now();
    let rec = lab::up(&LabOptions {
        dir: Some(guard.dir.clone()),
        port: Some(lab_port()),
        scale,
        with_gap: false,
        wal_segment_mib: Some(segment_mib),
        ..Default::default()
    })
    .unwrap();
    settle_archive(&rec);
    let archived = LocalFs.tree_size(&rec.wal_archive).unwrap_or_default();
    println!(
        "== {segment_mib} MiB segments: lab at scale {scale} built in {:.0} s; {:.0} MB archived; backup 2 ends at {}",
        t.elapsed().as_secs_f64(),
        archived as f64 / 1e6,
        rec.backups[1].stop_lsn,
    );
    let scratch = guard.dir.parent().unwrap().to_path_buf();
    let no_spool = scratch.join("no-spool.toml");
    let text = std::fs::read_to_string(&rec.config_file).unwrap();
    std::fs::write(&no_spool, format!("wal_spool_mib = 0\n{text}")).unwrap();
    let mut times: Vec<(Kind, Vec<Duration>)> = KINDS.iter().map(|k| (*k, Vec::new())).collect();
    for round in 0..rounds as usize {
        // Rotate which goes first, so none always gets the warmest cache.
        for i in 0..KINDS.len() {
            let kind = KINDS[(i + round) % KINDS.len()];
            let side = Side(scratch.join(format!("run-{round}-{i}")));
            let took = match kind {
                Kind::Engine => engine_run(&rec.config_file, &side.0),
                Kind::EngineNoSpool => engine_run(&no_spool, &side.0),
                Kind::Hand => hand_run(&rec, &side.0, false),
                Kind::HandTuned => hand_run(&rec, &side.0, true),
            };
            times
                .iter_mut()
                .find(|(k, _)| *k == kind)
                .unwrap()
                .1
                .push(took);
        }
        let last = |k: Kind| {
            times
                .iter()
                .find(|(x, _)| *x == k)
                .unwrap()
                .1
                .last()
                .unwrap()
                .as_secs_f64()
        };
        println!(
            "round {}: engine {:.2} s, engine without spool {:.2} s, hand {:.2} s, hand tuned {:.2} s",
            round + 1,
            last(Kind::Engine),
            last(Kind::EngineNoSpool),
            last(Kind::Hand),
            last(Kind::HandTuned)
        );
    }
    let of = |k: Kind| times.iter().find(|(x, _)| *x == k).unwrap().1.clone();
    // The machine is shared: a round's runs see similar load, rounds differ. The median of
    // the per-round ratios is the figure.
    let ratio = |a: Kind, b: Kind| {
        median(
            of(a)
                .iter()
                .zip(of(b).iter())
                .map(|(x, y)| x.as_secs_f64() / y.as_secs_f64())
                .collect(),
        )
    };
    let (spool_hand, plain_hand, spool_plain, tuned_hand) = (
        ratio(Kind::Engine, Kind::Hand),
        ratio(Kind::EngineNoSpool, Kind::Hand),
        ratio(Kind::Engine, Kind::EngineNoSpool),
        ratio(Kind::HandTuned, Kind::Hand),
    );
    let load_after = load();
    println!(
        "recover --latest, {segment_mib} MiB segments (means of {rounds}): engine {:.2} s, without spool {:.2} s, hand {:.2} s, hand tuned {:.2} s",
        mean(&of(Kind::Engine)),
        mean(&of(Kind::EngineNoSpool)),
        mean(&of(Kind::Hand)),
        mean(&of(Kind::HandTuned)),
    );
    println!(
        "  median ratios: engine/hand {spool_hand:.3} (target <= 0.80), engine without spool/hand {plain_hand:.3}, spool/no spool {spool_plain:.3}, hand tuned/hand {tuned_hand:.3}"
    );
    let (cp, copy, bytes) = copy_throughput(&rec, &scratch);
    println!(
        "  restore copy of {:.0} MB (plain backup): cp -a {cp:.0} MB/s, engine {copy:.0} MB/s = {:.0}% of cp -a",
        bytes as f64 / 1e6,
        100.0 * copy / cp
    );
    println!(
        "  load average before {:.2} {:.2} {:.2}, after {:.2} {:.2} {:.2} ({} cores)",
        load_before[0],
        load_before[1],
        load_before[2],
        load_after[0],
        load_after[1],
        load_after[2],
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let secs = |k: Kind| of(k).iter().map(Duration::as_secs_f64).collect::<Vec<_>>();
    append_result(&serde_json::json!({
        "bench": "recover_latest",
        "commit": commit(),
        "at": chrono::Utc::now().to_rfc3339(),
        "segment_mib": segment_mib,
        "scale": scale,
        "archived_bytes": archived,
        "rounds": rounds,
        "engine_s": secs(Kind::Engine),
        "engine_no_spool_s": secs(Kind::EngineNoSpool),
        "hand_s": secs(Kind::Hand),
        "hand_tuned_s": secs(Kind::HandTuned),
        "ratio_engine_hand": spool_hand,
        "ratio_engine_no_spool_hand": plain_hand,
        "ratio_spool_no_spool": spool_plain,
        "ratio_hand_tuned_hand": tuned_hand,
        "copy_mb_s": copy,
        "cp_a_mb_s": cp,
        "load_before": load_before,
        "load_after": load_after,
    }));
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let scale = env_num("PITR_BENCH_SCALE", 600);
    let rounds = env_num("PITR_BENCH_ROUNDS", 2).max(1);
    let sizes: Vec<u32> = std::env::var("PITR_BENCH_SEGMENTS")
        .unwrap_or_else(|_| "16,1".into())
        .split(',')
        .filter_map(|w| w.trim().parse().ok())
        .collect();
    for size in sizes {
        bench_size(size, scale, rounds);
    }
}
