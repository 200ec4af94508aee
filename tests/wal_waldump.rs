//! The native reader against pg_waldump on archives written by a real PostgreSQL 15, 16 and 18.
//! Segments are 1 MiB so that records cross many segment boundaries in a small archive.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod wal_cluster;

use pitr_console::domain::lsn::Lsn;
use pitr_console::wal::{WalIndex, XactKind};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use wal_cluster::{pg_bin_or_skip, segment_names, waldump, waldump_of, Cluster};

const SEG: u64 = 1 << 20;
const PAGE: u64 = 8192;

const WORKLOAD: &str = r#"
CREATE TABLE t (id serial PRIMARY KEY, v text);
INSERT INTO t (v) SELECT repeat('x', 100) FROM generate_series(1, 5000);
BEGIN; INSERT INTO t (v) VALUES ('aborted'); ROLLBACK;
SELECT pg_create_restore_point('rp_one');
BEGIN; INSERT INTO t (v) VALUES ('a'); SAVEPOINT s; INSERT INTO t (v) VALUES ('b'); ROLLBACK TO s;
  SAVEPOINT s2; INSERT INTO t (v) VALUES ('c'); RELEASE s2; COMMIT;
BEGIN; INSERT INTO t (v) VALUES ('p1'); PREPARE TRANSACTION 'p1';
COMMIT PREPARED 'p1';
BEGIN; INSERT INTO t (v) VALUES ('p2'); PREPARE TRANSACTION 'p2';
ROLLBACK PREPARED 'p2';
CHECKPOINT;
UPDATE t SET v = v || 'y';
SELECT pg_create_restore_point('rp_two');
CREATE TABLE big (b text);
ALTER TABLE big ALTER COLUMN b SET STORAGE EXTERNAL;
INSERT INTO big SELECT string_agg(md5(i::text), '') FROM generate_series(1, 20000) i;
DO $$ BEGIN FOR i IN 1..1500 LOOP INSERT INTO t (v) VALUES (i::text); COMMIT; END LOOP; END $$;
SELECT pg_switch_wal();
CHECKPOINT;
DO $$ BEGIN FOR i IN 1..300 LOOP UPDATE t SET v = v WHERE id = i; IF i % 7 = 0 THEN ROLLBACK; ELSE COMMIT; END IF; END LOOP; END $$;
"#;

/// (LSN, xid, Unix microseconds, kind) of every commit and abort pg_waldump prints.
type Ends = BTreeSet<(Lsn, u32, i64, &'static str)>;

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let rest = &line[line
        .find(key)
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        + key.len()..];
    rest.trim_start().split([',', ' ']).next().unwrap()
}

fn parse_time(desc: &str) -> i64 {
    let at = desc
        .find(" UTC")
        .unwrap_or_else(|| panic!("no time in {desc}"));
    let t =
        chrono::NaiveDateTime::parse_from_str(&desc[at - 26..at], "%Y-%m-%d %H:%M:%S%.6f").unwrap();
    t.and_utc().timestamp_micros()
}

fn waldump_ends(out: &str) -> Ends {
    let mut set = Ends::new();
    for line in out.lines().filter(|l| l.starts_with("rmgr: Transaction")) {
        let desc = &line[line.find("desc: ").unwrap() + 6..];
        let op = desc.split([' ', ':']).next().unwrap();
        let tx: u32 = field(line, "tx:").parse().unwrap();
        let lsn: Lsn = field(line, "lsn:").parse().unwrap();
        let (kind, xid) = match op {
            "COMMIT" => ("commit", tx),
            "ABORT" => ("abort", tx),
            "COMMIT_PREPARED" => (
                "commit_prepared",
                desc[16..].split(':').next().unwrap().parse().unwrap(),
            ),
            "ABORT_PREPARED" => (
                "abort_prepared",
                desc[15..].split(':').next().unwrap().parse().unwrap(),
            ),
            _ => continue,
        };
        set.insert((lsn, xid, parse_time(desc), kind));
    }
    set
}

fn kind_name(k: XactKind) -> &'static str {
    match k {
        XactKind::Commit => "commit",
        XactKind::Abort => "abort",
        XactKind::CommitPrepared => "commit_prepared",
        XactKind::AbortPrepared => "abort_prepared",
    }
}

fn our_ends(ix: &WalIndex, below: Lsn) -> Ends {
    ix.tx_ends()
        .iter()
        .filter(|t| t.lsn < below)
        .map(|t| (t.lsn, t.xid, t.time_us, kind_name(t.kind)))
        .collect()
}

fn restore_points_of(out: &str) -> BTreeSet<(Lsn, String)> {
    out.lines()
        .filter_map(|l| {
            let name = l.split("desc: RESTORE_POINT ").nth(1)?;
            Some((field(l, "lsn:").parse().unwrap(), name.trim().to_string()))
        })
        .collect()
}

fn index(dir: &Path, cache_dir: &Path, name: &str) -> WalIndex {
    WalIndex::open_or_build(dir, &cache_dir.join(format!("{name}.idx")), None).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for n in segment_names(from) {
        std::fs::copy(from.join(&n), to.join(&n)).unwrap();
    }
}

/// Where the record pg_waldump printed last ends, i.e. where the next would start.
fn end_after(lsn: Lsn, tot: u64) -> Lsn {
    let (mut pos, mut left) = (lsn.0, tot);
    while left > 0 {
        let take = left.min(PAGE - pos % PAGE);
        pos += take;
        left -= take;
        if left > 0 {
            pos += if pos % SEG == 0 { 40 } else { 24 };
        }
    }
    Lsn((pos + 7) & !7)
}

fn last_record_end(full_dump: &str) -> Lsn {
    let line = full_dump.lines().rfind(|l| l.starts_with("rmgr:")).unwrap();
    let tot: u64 = line
        .split("len (rec/tot):")
        .nth(1)
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    end_after(field(line, "lsn:").parse().unwrap(), tot)
}

fn run_workload(port: u16, conf: &[&str]) -> Cluster {
    run_workload_on(Path::new(wal_cluster::PG_BIN), port, conf)
}

fn run_workload_on(bin: &Path, port: u16, conf: &[&str]) -> Cluster {
    let mut c = Cluster::init_with(bin, port, 1, conf, None);
    c.start();
    c.psql(WORKLOAD);
    c.switch_and_wait_archived();
    c.stop();
    c
}

fn assert_matches_waldump(c: &Cluster) -> (WalIndex, Ends) {
    let names = segment_names(&c.archive);
    let (first, last) = (names.first().unwrap(), names.last().unwrap());
    let (ok, out, err) = waldump_of(&c.bin, &c.archive, first, last, &["--rmgr=Transaction"]);
    assert!(ok, "pg_waldump failed: {err}");
    let expected = waldump_ends(&out);
    let ix = index(&c.archive, &c.root, "index");
    assert!(ix.warnings().is_empty(), "{:?}", ix.warnings());
    let ours = our_ends(&ix, Lsn(u64::MAX));
    assert!(
        expected.len() > 1800,
        "workload too small: {}",
        expected.len()
    );
    assert_eq!(ours, expected);
    for k in ["commit_prepared", "abort_prepared", "abort"] {
        assert!(expected.iter().any(|e| e.3 == k), "no {k} in the workload");
    }
    let (_, out, _) = waldump_of(&c.bin, &c.archive, first, last, &["--rmgr=XLOG"]);
    let checkpoints: BTreeSet<(Lsn, Lsn)> = out
        .lines()
        // Not CHECKPOINT_REDO (17+): it marks where a redo starts, it is no checkpoint.
        .filter(|l| {
            l.contains("desc: CHECKPOINT_ONLINE") || l.contains("desc: CHECKPOINT_SHUTDOWN")
        })
        .map(|l| {
            let redo = field(l, "redo").trim_end_matches(';');
            (field(l, "lsn:").parse().unwrap(), redo.parse().unwrap())
        })
        .collect();
    let ours: BTreeSet<(Lsn, Lsn)> = ix.checkpoints().iter().map(|c| (c.lsn, c.redo)).collect();
    assert_eq!(ours, checkpoints, "checkpoints");
    let rps: BTreeSet<(Lsn, String)> = ix
        .restore_points()
        .iter()
        .map(|p| (p.lsn, p.name.clone()))
        .collect();
    assert_eq!(rps, restore_points_of(&out));
    assert_eq!(rps.len(), 2);
    (ix, expected)
}

#[test]
fn plain_wal_matches_waldump_also_compressed_incremental_and_damaged() {
    let c = run_workload(55401, &[]);
    let (ix, expected) = assert_matches_waldump(&c);

    // The prepared transaction's commit carries its own xid and its changes.
    let cp = ix
        .tx_ends()
        .iter()
        .find(|t| t.kind == XactKind::CommitPrepared)
        .unwrap();
    assert!(
        cp.xid != 0 && cp.records >= 2 && !ix.relations(cp).is_empty(),
        "{cp:?}"
    );
    assert_eq!(ix.tx_end_by_xid(cp.xid).unwrap().lsn, cp.lsn);
    let rp = ix.restore_point("rp_two").unwrap();
    assert!(
        ix.last_commit_at_or_before(rp.timeline, rp.time())
            .unwrap()
            .lsn
            < rp.lsn
    );
    let big = ix.tx_ends().iter().max_by_key(|t| t.bytes).unwrap();
    assert!(big.bytes > 500_000 && big.records > 100, "{big:?}");
    assert!(ix.checkpoints().len() >= 2);
    let seg = ix.segments().find(|s| s.tx_ends > 0).unwrap();
    assert!(seg.first_tx_end <= seg.last_tx_end);
    assert_eq!(ix.runs().len(), 1, "{:?}", ix.runs());

    // Reopening reads nothing; a half archive then the rest gives the same index.
    let again = index(&c.archive, &c.root, "index");
    assert_eq!(
        (again.build_stats().segments_read, again.tx_ends()),
        (0, ix.tx_ends())
    );
    let names = segment_names(&c.archive);
    let half = c.root.join("half");
    std::fs::create_dir_all(&half).unwrap();
    for (i, n) in names.iter().enumerate() {
        std::fs::copy(c.archive.join(n), half.join(n)).unwrap();
        if i == names.len() / 2 {
            let part = index(&half, &c.root, "incremental");
            assert_eq!(part.build_stats().segments_read, i + 1);
        }
    }
    let inc = index(&half, &c.root, "incremental");
    assert_eq!(
        inc.build_stats().segments_read,
        names.len() - names.len() / 2 - 1
    );
    assert_eq!(inc.tx_ends(), ix.tx_ends());

    // A corrupt cache is rebuilt with a warning.
    std::fs::write(c.root.join("incremental.idx"), b"PITRWALIDX01 garbage").unwrap();
    let rebuilt = index(&half, &c.root, "incremental");
    assert!(rebuilt.warnings().iter().any(|w| w.contains("rebuilding")));
    assert_eq!(rebuilt.tx_ends(), ix.tx_ends());

    // The same archive compressed by the usual command-line tools.
    let mixed = c.root.join("mixed");
    std::fs::create_dir_all(&mixed).unwrap();
    for (i, n) in names.iter().enumerate() {
        let src = c.archive.join(n);
        let (tool, args, ext): (&str, &[&str], &str) = match i % 4 {
            0 => ("gzip", &["-c"], ".gz"),
            1 => ("zstd", &["-q", "-c"], ".zst"),
            2 => ("lz4", &["-q", "-c"], ".lz4"),
            _ => ("cat", &[], ""),
        };
        let suffix = if i + 1 == names.len() { ".partial" } else { "" };
        let out = Command::new(tool).args(args).arg(&src).output().unwrap();
        assert!(out.status.success(), "{tool} failed");
        std::fs::write(mixed.join(format!("{n}{suffix}{ext}")), out.stdout).unwrap();
    }
    let cx = index(&mixed, &c.root, "mixed");
    assert!(cx.warnings().is_empty(), "{:?}", cx.warnings());
    assert_eq!(our_ends(&cx, Lsn(u64::MAX)), expected);

    // A missing segment splits the archive into two runs; commits after it still count.
    let gap = c.root.join("gap");
    copy_dir(&c.archive, &gap);
    std::fs::remove_file(gap.join(&names[3])).unwrap();
    let gx = index(&gap, &c.root, "gap");
    let runs = gx.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let missing = u64::from_str_radix(&names[3][16..], 16).unwrap();
    assert_eq!(runs[0].end, Lsn(missing * SEG));
    assert!(runs[0].end_reason.as_deref().unwrap().contains(&names[3]));
    assert_eq!(runs[1].start, Lsn((missing + 1) * SEG));
    let later = |lsn: Lsn| lsn.0 >= (missing + 2) * SEG;
    let after_gap = gx.tx_ends().iter().filter(|t| later(t.lsn)).count();
    assert_eq!(after_gap, expected.iter().filter(|e| later(e.0)).count());
    assert!(after_gap > 0);

    // Damage in the middle of the archive: the valid run ends where pg_waldump stops.
    let victim = &names[names.len() / 2];
    let victim_no = u64::from_str_radix(&victim[16..], 16).unwrap();
    let commit_in_victim = expected
        .iter()
        .find(|e| e.0 .0 / SEG == victim_no && e.0 .0 % SEG > SEG / 3 && e.0 .0 % PAGE < PAGE - 64)
        .expect("a commit in the middle of the victim segment")
        .0;
    type Damage = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, Damage)> = vec![
        (
            "truncated",
            Box::new(|b: &mut Vec<u8>| b.truncate(SEG as usize / 2 + 1000)),
        ),
        (
            "bit-flipped",
            Box::new(move |b: &mut Vec<u8>| b[(commit_in_victim.0 % SEG) as usize + 30] ^= 0x10),
        ),
        (
            "zero-filled",
            Box::new(|b: &mut Vec<u8>| b.iter_mut().for_each(|x| *x = 0)),
        ),
        (
            "other-version",
            Box::new(|b: &mut Vec<u8>| {
                for p in (0..b.len()).step_by(PAGE as usize) {
                    b[p..p + 2].copy_from_slice(&0xD113u16.to_le_bytes());
                }
            }),
        ),
    ];
    for (what, damage) in cases {
        let dir = c.root.join(what);
        copy_dir(&c.archive, &dir);
        let mut bytes = std::fs::read(dir.join(victim)).unwrap();
        damage(&mut bytes);
        std::fs::write(dir.join(victim), bytes).unwrap();
        let (ok, out, err) = waldump(&dir, &names[0], names.last().unwrap(), &[]);
        assert!(!ok, "{what}: pg_waldump did not notice: {err}");
        let theirs = last_record_end(&out);
        let dx = index(&dir, &c.root, what);
        let broken = dx.segments().find(|s| &s.file_name == victim).unwrap();
        let end = broken
            .valid_end
            .unwrap_or_else(|| panic!("{what}: no break in {victim}"));
        assert_eq!(
            end, theirs,
            "{what}: we end at {end}, pg_waldump at {theirs} ({err})"
        );
        let warning = broken.warning.clone().unwrap();
        assert!(
            warning.contains(victim.as_str()) && warning.contains("offset"),
            "{warning}"
        );
        assert_eq!(dx.runs()[0].end, end);
        assert_eq!(our_ends(&dx, end), waldump_ends(&out), "{what}");
    }
}

#[test]
fn lz4_wal_compression_matches_waldump() {
    let c = run_workload(55402, &["wal_compression = lz4"]);
    assert_matches_waldump(&c);
}

#[test]
fn zstd_wal_compression_matches_waldump() {
    let c = run_workload(55403, &["wal_compression = zstd"]);
    assert_matches_waldump(&c);
}

/// PostgreSQL 16 and 18 changed the page magic (0xD113, 0xD118) but, by their sources, no
/// layout the index reads: these runs check that against each version's own pg_waldump.
fn matches_waldump_on(major: u32, port: u16, test: &str) {
    let Some(bin) = pg_bin_or_skip(major, test) else {
        return;
    };
    let c = run_workload_on(&bin, port, &["wal_compression = pglz"]);
    let (ix, _) = assert_matches_waldump(&c);
    let magic = std::fs::read(c.archive.join(&segment_names(&c.archive)[0])).unwrap();
    let expected = if major == 16 { 0xD113u16 } else { 0xD118 };
    assert_eq!(u16::from_le_bytes([magic[0], magic[1]]), expected);
    assert_eq!(ix.runs().len(), 1, "{:?}", ix.runs());
}

#[test]
fn postgres_16_wal_matches_its_waldump() {
    matches_waldump_on(16, 57401, "postgres_16_wal_matches_its_waldump");
}

#[test]
fn postgres_18_wal_matches_its_waldump() {
    matches_waldump_on(18, 57402, "postgres_18_wal_matches_its_waldump");
}
