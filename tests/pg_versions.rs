//! The lab stories on PostgreSQL 16 and 18 (binaries from scripts/install-pg-versions), and
//! PostgreSQL 18's incremental backups: a chain reaches past a hole in the archive that no
//! single backup can cross. Run through the binary, as an operator's script would.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use lab_support::{build_with, psql, LabGuard};
use pitr_console::lab::{LabOptions, LabRecord};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");

/// The binaries of `major`, or a loud skip (a failure under CI, which must install them).
fn installed(major: u32, test: &str) -> bool {
    match pitr_console::lab::binaries::PgBinaries::for_major(major) {
        Ok(_) => true,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("{test}: PostgreSQL {major} is not installed under CI: {e}")
        }
        Err(e) => {
            eprintln!(
                "\n*** SKIPPED {test}: PostgreSQL {major} not installed ({e}); run scripts/install-pg-versions ***\n"
            );
            false
        }
    }
}

/// Side instances stopped with the lab's own pg_ctl, also when the test fails.
struct Sides {
    bin: PathBuf,
    dirs: Vec<PathBuf>,
}

impl Sides {
    fn stop(&self, dir: &Path) {
        if dir.join("postmaster.pid").exists() {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["stop", "-m", "immediate", "-w", "-D"])
                .arg(dir)
                .output();
        }
    }
}

impl Drop for Sides {
    fn drop(&mut self) {
        for d in &self.dirs {
            self.stop(d);
        }
    }
}

fn cli(config: &Path, args: &[&str]) -> (i32, String, String) {
    let state = config.parent().unwrap().join("state");
    let out = Command::new(BIN)
        .env("PITR_CONSOLE_STATE_DIR", &state)
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let o = (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    eprintln!("$ pitr-console {} -> exit {}", args.join(" "), o.0);
    o
}

/// Recovers to `target` on a side instance at `port`, promoted; returns the run's output.
fn side_recover(
    rec: &LabRecord,
    guard: &LabGuard,
    sides: &mut Sides,
    port: u16,
    target: &[&str],
) -> (PathBuf, String) {
    let dir = guard.parent.path().join(format!("side{port}"));
    sides.dirs.push(dir.clone());
    let port_text = port.to_string();
    let mut args = vec!["recover", "--server", "lab"];
    args.extend(target);
    args.extend([
        "--restore-to",
        dir.to_str().unwrap(),
        "--port",
        &port_text,
        "--action",
        "promote",
        "--yes",
    ]);
    let (code, out, err) = cli(&rec.config_file, &args);
    assert_eq!(code, 0, "{target:?}\nstdout:\n{out}\nstderr:\n{err}");
    (dir, out)
}

fn count(rec: &LabRecord, port: u16) -> u64 {
    psql(rec, port, "select count(*) from orders")
        .parse()
        .unwrap()
}

fn utc(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f UTC").to_string()
}

/// The stories of every lab: time, xid (inclusive and not), lsn and name targets, each
/// reaching the rows the record says.
fn lab_stories(rec: &LabRecord, guard: &LabGuard, sides: &mut Sides, first_port: u16) {
    let inc = rec.first_incident().unwrap().clone();
    let commit = utc(inc.commit_time.unwrap());
    let xid = inc.xid.to_string();
    let lsn = inc.lsn_before.to_string();
    let cases: Vec<(Vec<&str>, u64)> = vec![
        (vec!["--time", &commit, "--exclusive"], inc.rows_before),
        (vec!["--xid", &xid], inc.rows_after),
        (vec!["--xid", &xid, "--exclusive"], inc.rows_before),
        (vec!["--lsn", &lsn], inc.rows_before),
    ];
    for (n, (target, want)) in cases.into_iter().enumerate() {
        let port = first_port + n as u16;
        let (dir, _) = side_recover(rec, guard, sides, port, &target);
        assert_eq!(count(rec, port), want, "{target:?}");
        sides.stop(&dir);
    }
    let (dir, _) = side_recover(
        rec,
        guard,
        sides,
        first_port + 4,
        &["--name", "before_cleanup"],
    );
    // Before the incident and the last few inserts ahead of it.
    let at_rp = count(rec, first_port + 4);
    assert!(
        at_rp <= inc.rows_before && at_rp > inc.rows_after,
        "{at_rp}"
    );
    sides.stop(&dir);
}

#[test]
fn postgres_16_lab_stories() {
    if !installed(16, "postgres_16_lab_stories") {
        return;
    }
    let (guard, rec) = build_with(LabOptions {
        port: Some(57430),
        pg_version: Some(16),
        ..Default::default()
    });
    assert!(rec.pg_version.starts_with("16."), "{}", rec.pg_version);
    let (code, out, err) = cli(&rec.config_file, &["catalog"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("backup2-tar") && !out.contains("GAP"), "{out}");
    let mut sides = Sides {
        bin: rec.bin_dir.clone(),
        dirs: vec![],
    };
    lab_stories(&rec, &guard, &mut sides, 57431);
}

/// The acceptance: PostgreSQL 18, a full backup (1) and an incremental on it (3),
/// the WAL between them holed (--with-gap). A target after the incremental is reachable only
/// through the chain; targets before the hole through backup 1; PostgreSQL 15 binaries are
/// refused before anything runs.
#[test]
fn postgres_18_incremental_chain_crosses_a_hole_in_the_archive() {
    let test = "postgres_18_incremental_chain_crosses_a_hole_in_the_archive";
    if !installed(18, test) {
        return;
    }
    let (guard, rec) = build_with(LabOptions {
        port: Some(57410),
        pg_version: Some(18),
        incremental: true,
        with_gap: true,
        ..Default::default()
    });
    let mut sides = Sides {
        bin: rec.bin_dir.clone(),
        dirs: vec![],
    };
    let incr = rec.backups.last().unwrap();
    assert_eq!(incr.incremental_on.as_deref(), Some("backup1-plain"));

    // The catalog shows the chain; its window starts at the incremental's consistency point.
    let (code, out, err) = cli(&rec.config_file, &["catalog"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("incremental on backup1-plain"), "{out}");
    assert!(
        out.contains("from backup backup3-incremental")
            && out.contains(&format!("[{}", incr.stop_lsn)),
        "{out}"
    );

    // PostgreSQL 15 binaries for this PostgreSQL 18 backup: refused, nothing created.
    let cfg15 = guard.parent.path().join("pg15.toml");
    let text = std::fs::read_to_string(&rec.config_file).unwrap().replace(
        &format!("bin_dir = \"{}\"", rec.bin_dir.display()),
        "bin_dir = \"/usr/lib/postgresql/15/bin\"",
    );
    assert!(text.contains("/usr/lib/postgresql/15/bin"));
    std::fs::write(&cfg15, text).unwrap();
    let refused_dir = guard.parent.path().join("side-refused");
    let (code, out, err) = cli(
        &cfg15,
        &[
            "recover",
            "--server",
            "lab",
            "--name",
            "after_incremental",
            "--restore-to",
            refused_dir.to_str().unwrap(),
            "--port",
            "57419",
            "--action",
            "promote",
            "--yes",
        ],
    );
    let all = format!("{out}{err}");
    assert_ne!(code, 0, "{all}");
    assert!(all.contains("PostgreSQL versions disagree"), "{all}");
    assert!(all.contains(&rec.bin_dir.display().to_string()), "{all}");
    assert!(
        !refused_dir.exists(),
        "the refused run created {}",
        refused_dir.display()
    );

    // After the incremental, past the hole: only the chain gets there, combined.
    let (dir, out) = side_recover(
        &rec,
        &guard,
        &mut sides,
        57411,
        &["--name", "after_incremental"],
    );
    assert!(
        out.contains("combining the chain backup1-plain + backup3-incremental"),
        "{out}"
    );
    let inc = rec.first_incident().unwrap();
    assert!(count(&rec, 57411) >= inc.rows_after);
    let newest = psql(&rec, 57411, "select max(created_at) > (select max(created_at) from orders) - interval '1 hour' from orders");
    assert_eq!(newest, "t");
    assert!(
        rec.backups[0].path.join("backup_label").exists(),
        "backup 1 left usable"
    );
    sides.stop(&dir);

    // Before the hole, from backup 1: name, lsn and time of the first restore point agree,
    // and so does the last transaction it holds, as an xid target.
    let rp = rec
        .restore_points
        .iter()
        .find(|p| p.name == "before_batch")
        .unwrap();
    let (dir, _) = side_recover(&rec, &guard, &mut sides, 57412, &["--name", "before_batch"]);
    let at_rp = count(&rec, 57412);
    let last_xid = psql(
        &rec,
        57412,
        "select xmin from orders order by id desc limit 1",
    );
    sides.stop(&dir);
    let lsn = rp.lsn.to_string();
    let time = utc(rp.time);
    for (n, target) in [
        vec!["--lsn", lsn.as_str()],
        vec!["--time", time.as_str()],
        vec!["--xid", last_xid.as_str()],
    ]
    .into_iter()
    .enumerate()
    {
        let port = 57413 + n as u16;
        let (dir, _) = side_recover(&rec, &guard, &mut sides, port, &target);
        assert_eq!(count(&rec, port), at_rp, "{target:?}");
        sides.stop(&dir);
    }
}
