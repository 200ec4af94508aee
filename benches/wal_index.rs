//! `cargo bench --bench wal_index`: builds the WAL index of a >= 500 MB archive written by
//! pgbench against a real PostgreSQL 15 (generated once, kept in target/wal-bench/archive),
//! and times, on a warm page cache, our cold index build against
//! `pg_waldump --rmgr=Transaction` (TZ=UTC) and `cat` of the same files.

#[path = "../tests/wal_cluster/mod.rs"]
mod wal_cluster;

use pitr_console::wal::WalIndex;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wal_cluster::{segment_names, Cluster, PG_BIN};

const MIN_BYTES: u64 = 520 << 20;
const ROUNDS: usize = 5;

fn archive_bytes(dir: &Path) -> u64 {
    segment_names(dir)
        .iter()
        .map(|n| std::fs::metadata(dir.join(n)).map_or(0, |m| m.len()))
        .sum()
}

fn generate(bench_dir: &Path, archive: &Path) {
    eprintln!(
        "generating a pgbench WAL archive of >= {} MiB in {}",
        MIN_BYTES >> 20,
        archive.display()
    );
    // WAL_BENCH_PORT lets a session that was handed a port range generate without clashes.
    let port = std::env::var("WAL_BENCH_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(55410);
    let mut c = Cluster::init(
        port,
        16,
        &["shared_buffers = 256MB", "checkpoint_timeout = 30s"],
        Some(bench_dir),
    );
    c.start();
    c.pgbench(&["-i", "-q", "-s", "10"]);
    while archive_bytes(&c.archive) < MIN_BYTES {
        c.pgbench(&["-c", "4", "-j", "2", "-T", "10"]);
        eprintln!("  archive: {} MiB", archive_bytes(&c.archive) >> 20);
    }
    c.switch_and_wait_archived();
    c.stop();
    std::fs::rename(&c.archive, archive).unwrap();
    std::fs::write(archive.join("COMPLETE"), b"").unwrap();
}

/// CPU seconds used so far by this process (all threads) and by its waited-for children,
/// from /proc/self/stat; the machine is shared, so CPU time is the steadier figure.
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_comm = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after_comm
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // Fields 14..17 of stat(5), counted after the command name: utime stime cutime cstime.
    let tick = 100.0;
    let get = |i: usize| f.get(i).copied().unwrap_or(0.0) / tick;
    (get(11) + get(12), get(13) + get(14))
}

/// Best wall time of ROUNDS runs, and the CPU seconds per run (own + children). What `f`
/// returns is dropped after the clock stops: building is timed, not tearing down.
fn best<T, F: FnMut() -> T>(mut f: F) -> (Duration, f64) {
    let (own0, kids0) = cpu_seconds();
    let wall = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            let out = f();
            let elapsed = t.elapsed();
            drop(out);
            elapsed
        })
        .min()
        .unwrap();
    let (own1, kids1) = cpu_seconds();
    (wall, (own1 - own0 + kids1 - kids0) / ROUNDS as f64)
}

/// Writes everything the index holds as text, to compare two builds of the reader:
/// `WAL_BENCH_DUMP=FILE cargo bench --bench wal_index`.
fn dump(ix: &WalIndex, path: &Path) {
    use std::fmt::Write;
    let mut out = String::new();
    for t in ix.tx_ends() {
        let _ = writeln!(out, "{t:?} {:?}", ix.relations(t));
    }
    for p in ix.restore_points() {
        let _ = writeln!(out, "{p:?}");
    }
    for c in ix.checkpoints() {
        let _ = writeln!(out, "{c:?}");
    }
    for s in ix.segments() {
        let _ = writeln!(out, "{s:?}");
    }
    let _ = writeln!(out, "{:?}", ix.runs());
    std::fs::write(path, out).unwrap();
}

fn main() {
    let bench_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/wal-bench");
    let archive = bench_dir.join("archive");
    if !archive.join("COMPLETE").exists() {
        let _ = std::fs::remove_dir_all(&archive);
        generate(&bench_dir, &archive);
    }
    let names = segment_names(&archive);
    let files: Vec<PathBuf> = names.iter().map(|n| archive.join(n)).collect();
    let bytes = archive_bytes(&archive);
    let mb = bytes as f64 / 1e6;

    let cat = || {
        let ok = Command::new("cat")
            .args(&files)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success());
    };
    cat(); // warm the page cache
    let t_cat = best(cat);

    let waldump = || {
        let ok = Command::new(Path::new(PG_BIN).join("pg_waldump"))
            .env("TZ", "UTC")
            .arg("-p")
            .arg(&archive)
            .args([&names[0], names.last().unwrap(), "--rmgr=Transaction"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success());
    };
    let t_waldump = best(waldump);

    let cache = bench_dir.join("index.bin");
    let mut tx_ends = 0;
    let t_ours = best(|| {
        let _ = std::fs::remove_file(&cache);
        let ix = WalIndex::open_or_build(&archive, &cache, None).unwrap();
        assert!(ix.warnings().is_empty(), "{:?}", ix.warnings());
        tx_ends = ix.tx_ends().len();
        ix
    });
    let t_warm_open = best(|| WalIndex::open_or_build(&archive, &cache, None).unwrap());
    if let Some(path) = std::env::var_os("WAL_BENCH_DUMP") {
        dump(
            &WalIndex::open_or_build(&archive, &cache, None).unwrap(),
            Path::new(&path),
        );
    }
    let cache_size = std::fs::metadata(&cache).map_or(0, |m| m.len());

    let rate = |d: Duration| mb / d.as_secs_f64();
    println!(
        "archive: {} segments, {:.0} MB, {} commits+aborts; best of {ROUNDS} runs, warm page cache",
        names.len(),
        mb,
        tx_ends
    );
    println!(
        "{:<32} {:>8} {:>9} {:>10}",
        "", "wall s", "MB/s", "CPU s/run"
    );
    for (what, (wall, cpu)) in [
        ("cat > /dev/null", t_cat),
        ("pg_waldump --rmgr=Transaction", t_waldump),
        ("WalIndex cold build", t_ours),
        ("WalIndex reopen (cached)", t_warm_open),
    ] {
        println!(
            "{what:<32} {:>8.3} {:>9.0} {:>10.3}",
            wall.as_secs_f64(),
            rate(wall),
            cpu
        );
    }
    println!("cache file: {:.1} MB", cache_size as f64 / 1e6);
    println!(
        "wall: ours vs pg_waldump {:.2}x, ours vs cat {:.0}%",
        t_waldump.0.as_secs_f64() / t_ours.0.as_secs_f64(),
        100.0 * t_cat.0.as_secs_f64() / t_ours.0.as_secs_f64()
    );
}
