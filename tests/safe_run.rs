//! One safe run per server, whatever happens: the stories of issue 10 replayed with the
//! binary on real labs. Each test has its own state directory (PITR_CONSOLE_STATE_DIR), so
//! the server locks and unfinished-run records are the test's own.
//! Ports 57200-57299.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use lab_support::{build, psql, LabGuard};
use pitr_console::engine::journal::{Body, JournalState};
use pitr_console::engine::{RunStatus, StepStatus};
use pitr_console::lab::LabRecord;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// The binary with the lab's configuration (or `config`) and the test's own state directory.
fn cli(guard: &LabGuard, config: &Path, args: &[&str]) -> Out {
    cli_env(guard, config, args, &[])
}

/// `cli` with more environment (a PATH that puts a wrapper first).
fn cli_env(guard: &LabGuard, config: &Path, args: &[&str], env: &[(&str, String)]) -> Out {
    let started = Instant::now();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("PITR_CONSOLE_STATE_DIR", guard.path("state"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let o = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!(
        "$ pitr-console {} -> exit {} in {:.1} s\n{}\n{}",
        args.join(" "),
        o.code,
        started.elapsed().as_secs_f64(),
        o.stdout,
        o.stderr
    );
    o
}

fn expect(o: &Out, code: i32) {
    assert_eq!(o.code, code, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
}

fn orders(record: &LabRecord) -> String {
    psql(record, record.port, "select count(*) from orders")
}

/// Every path under the data directory (server chatter excluded) and pg_control's bytes.
fn fingerprint(pgdata: &Path) -> (Vec<String>, Vec<u8>) {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if rel.starts_with("pg_stat_tmp") {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            }
            out.push(rel);
        }
    }
    let mut names = Vec::new();
    walk(pgdata, pgdata, &mut names);
    names.sort();
    let control = std::fs::read(pgdata.join("global/pg_control")).unwrap();
    (names, control)
}

fn moved_aside(record: &LabRecord) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(&record.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pgdata.pitr-") && !n.ends_with(".log"))
        .collect();
    v.sort();
    v
}

/// A journal path in a directory of its own (the server user may not write the test's dirs).
fn journal_in(guard: &LabGuard, dir: &str) -> PathBuf {
    let d = guard.path(dir);
    std::fs::create_dir_all(&d).unwrap();
    d.join("run.jsonl")
}

/// The lab's configuration with extra lines appended to its server (or to the file).
fn config_with(guard: &LabGuard, record: &LabRecord, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(&record.config_file).unwrap();
    let path = guard.path("safe.toml");
    std::fs::write(&path, format!("{text}\n{extra}\n")).unwrap();
    path
}

#[test]
fn a_damaged_backup_is_refused_before_production_is_touched() {
    let (guard, rec) = build(57201, false);
    let cfg = rec.config_file.clone();
    let file = psql(&rec, rec.port, "select pg_relation_filepath('orders')");
    let before_rows = orders(&rec);
    let plain: Vec<&PathBuf> = rec
        .backups
        .iter()
        .filter(|b| b.path.join(&file).exists())
        .map(|b| &b.path)
        .collect();
    assert!(!plain.is_empty(), "no plain backup holds {file}");
    for b in &plain {
        std::fs::remove_file(b.join(&file)).unwrap();
    }
    let before = fingerprint(&rec.pgdata);
    let o = cli(
        &guard,
        &cfg,
        &[
            "recover",
            "--server",
            "lab",
            "--name",
            "before_batch",
            "--yes",
        ],
    );
    assert_ne!(o.code, 0);
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(all.contains("is damaged: pg_verifybackup found"), "{all}");
    assert!(all.contains(&file), "the missing file is named: {all}");
    assert!(all.contains("Nothing was changed"), "{all}");
    assert!(
        o.stderr.contains("the server is free"),
        "a refused run does not hold the server: {}",
        o.stderr
    );
    assert_eq!(fingerprint(&rec.pgdata), before, "production was touched");
    assert!(moved_aside(&rec).is_empty());
    assert_eq!(orders(&rec), before_rows);
    let journal = std::fs::read_dir(rec.dir.join("journal"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .unwrap();
    let state = JournalState::read(&journal).unwrap();
    assert!(
        matches!(&state.ended, Some(RunStatus::Refused { reason }) if reason.contains("damaged")),
        "{:?}",
        state.ended
    );
}

#[test]
fn one_run_per_server_across_journal_dirs_until_it_ends() {
    let (guard, rec) = build(57211, false);
    let cfg = rec.config_file.clone();
    let original_rows = orders(&rec);
    psql(&rec, rec.port, "create database bench");
    psql(&rec, rec.port, "create database \"it's ../odd\"");
    let a = journal_in(&guard, "journals-a");
    let b = journal_in(&guard, "journals-b");

    // Paused at the target, waiting for a decision: the run holds the server.
    let o = cli(
        &guard,
        &cfg,
        &[
            "recover",
            "--server",
            "lab",
            "--name",
            "before_batch",
            "--yes",
            "--journal",
            a.to_str().unwrap(),
        ],
    );
    expect(&o, 0);
    assert!(o.stdout.contains("waiting for a decision"), "{}", o.stdout);
    let aside = moved_aside(&rec);
    assert_eq!(aside.len(), 1, "{aside:?}");
    // The whole server is in the safety dump: every database and the globals, each summed.
    let mut dumps: Vec<String> = std::fs::read_dir(guard.path("journals-a").join("dumps"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dumps.sort();
    for part in [
        format!("-{}.dump", rec.database),
        "-bench.dump".into(),
        "-it%27s%20%2E%2E%2Fodd.dump".into(),
        "-postgres.dump".into(),
        "-globals.sql".into(),
    ] {
        assert!(
            dumps.iter().any(|d| d.ends_with(&part)),
            "{part} in {dumps:?}"
        );
        let sum = format!("{part}.sha256");
        assert!(
            dumps.iter().any(|d| d.ends_with(&sum)),
            "{sum} in {dumps:?}"
        );
    }
    let paused = fingerprint(&rec.pgdata);

    // A second run from another journal directory is refused, naming the first and the way on.
    let o = cli(
        &guard,
        &cfg,
        &[
            "recover",
            "--server",
            "lab",
            "--name",
            "before_batch",
            "--yes",
            "--journal",
            b.to_str().unwrap(),
        ],
    );
    expect(&o, 5);
    assert!(o.stderr.contains("unfinished run"), "{}", o.stderr);
    assert!(o.stderr.contains("pitr-console abandon"), "{}", o.stderr);
    assert!(o.stderr.contains("--action roll-back"), "{}", o.stderr);
    assert!(!b.exists(), "no journal for the refused run");
    assert_eq!(moved_aside(&rec), aside, "nothing moved a second time");
    assert_eq!(fingerprint(&rec.pgdata), paused);

    // `lab up` on this lab is refused too.
    let o = cli(
        &guard,
        &cfg,
        &["lab", "up", "--dir", rec.dir.to_str().unwrap()],
    );
    expect(&o, 5);
    assert!(o.stderr.contains("unfinished run"), "{}", o.stderr);

    // Headless roll back from the decision: the original is back, and the server is free.
    let o = cli(
        &guard,
        &cfg,
        &[
            "resume",
            a.to_str().unwrap(),
            "--action",
            "roll-back",
            "--yes",
        ],
    );
    expect(&o, 0);
    assert!(o.stdout.contains("Rolled back"), "{}", o.stdout);
    assert_eq!(orders(&rec), original_rows);
    let state = JournalState::read(&a).unwrap();
    assert_eq!(state.ended, Some(RunStatus::RolledBack));

    // Promoted, then rolled back after promotion: the original back, the promoted kept.
    let c = journal_in(&guard, "journals-c");
    let o = cli(
        &guard,
        &cfg,
        &[
            "recover",
            "--server",
            "lab",
            "--name",
            "before_batch",
            "--yes",
            "--action",
            "promote",
            "--journal",
            c.to_str().unwrap(),
        ],
    );
    expect(&o, 0);
    assert_ne!(orders(&rec), original_rows, "the recovered data runs");
    let o = cli(&guard, &cfg, &["rollback", c.to_str().unwrap(), "--yes"]);
    expect(&o, 0);
    assert!(o.stdout.contains("WARNING"), "{}", o.stdout);
    assert_eq!(orders(&rec), original_rows, "the original runs again");
    assert!(
        moved_aside(&rec).iter().any(|n| n.ends_with("-restored")),
        "the promoted directory is kept: {:?}",
        moved_aside(&rec)
    );

    // The second way back: the first run's safety dump, restored into a new database
    // beside the live one, checked against its sha256; never over an existing database.
    let o = cli(
        &guard,
        &cfg,
        &["restore-dump", a.to_str().unwrap(), "--yes"],
    );
    expect(&o, 0);
    let run_a = JournalState::read(&a).unwrap().run_id;
    let into = format!(
        "{}_before_{}",
        rec.database,
        run_a.to_lowercase().replace('-', "_")
    );
    assert!(
        o.stdout.contains(&format!("into the new database {into}")),
        "{}",
        o.stdout
    );
    let restored = Command::new("runuser")
        .args(["-u", "postgres", "--", "psql", "-X", "-A", "-t", "-q", "-h"])
        .arg(&rec.socket_dir)
        .args(["-p", &rec.port.to_string(), "-d", &into])
        .args(["-c", "select count(*) from orders"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&restored.stdout).trim(),
        original_rows,
        "the dump holds the data as it was before the run"
    );
    assert_eq!(
        orders(&rec),
        original_rows,
        "the live database is untouched"
    );
    let o = cli(
        &guard,
        &cfg,
        &["restore-dump", a.to_str().unwrap(), "--yes"],
    );
    expect(&o, 5);
    assert!(
        o.stderr.contains("never writes over a database"),
        "{}",
        o.stderr
    );
    let said = JournalState::read(&a).unwrap().records.iter().any(|r| {
        matches!(&r.body, Body::Note { text, .. } if text.contains("restored into new database"))
    });
    assert!(said, "the restore is journaled in the run's journal");
}

#[test]
fn a_promote_run_that_failed_its_checks_rolls_back_headless() {
    let (guard, rec) = build(57221, false);
    let cfg = config_with(
        &guard,
        &rec,
        "[[check]]\nname = \"never\"\nsql = \"select false\"\n",
    );
    let original_rows = orders(&rec);
    let j = journal_in(&guard, "journals");
    let o = cli(
        &guard,
        &cfg,
        &[
            "recover",
            "--server",
            "lab",
            "--name",
            "before_batch",
            "--yes",
            "--action",
            "promote",
            "--journal",
            j.to_str().unwrap(),
        ],
    );
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("holds server lab"), "{}", o.stderr);
    assert!(
        o.stderr.contains("the original data is kept aside in"),
        "{}",
        o.stderr
    );
    let o = cli(
        &guard,
        &cfg,
        &[
            "resume",
            j.to_str().unwrap(),
            "--action",
            "roll-back",
            "--yes",
        ],
    );
    expect(&o, 0);
    assert!(o.stdout.contains("Rolled back"), "{}", o.stdout);
    assert_eq!(orders(&rec), original_rows);
    let state = JournalState::read(&j).unwrap();
    assert_eq!(state.ended, Some(RunStatus::RolledBack));
    let promoted = state.records.iter().any(|r| {
        matches!(&r.body, Body::Outcome { step, ok: true, status: Some(StepStatus::Done), .. } if step == "promote")
    });
    assert!(!promoted, "never promoted");
    let said = state.records.iter().any(|r| {
        matches!(&r.body, Body::Note { text, .. }
            if text.contains("overrides the action the run was started with (promote)"))
    });
    assert!(said, "the journal says the action was overridden");
}

#[test]
fn a_transaction_holding_a_lock_is_named_and_the_run_waits_no_longer() {
    let (guard, rec) = build(57231, false);
    let cfg = rec.config_file.clone();
    let before = fingerprint(&rec.pgdata);
    let mut holder = Command::new("runuser")
        .args(["-u", "postgres", "--", "psql", "-X", "-q", "-h"])
        .arg(&rec.socket_dir)
        .args(["-p", &rec.port.to_string(), "-d", &rec.database])
        .args([
            "-c",
            "set application_name = 'nightly-batch'",
            "-c",
            "begin; lock table orders in access exclusive mode; select pg_sleep(600);",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let j = journal_in(&guard, "journals");
    let started = Instant::now();
    let o = cli(
        &guard,
        &cfg,
        &[
            "recover",
            "--server",
            "lab",
            "--name",
            "before_batch",
            "--yes",
            "--journal",
            j.to_str().unwrap(),
        ],
    );
    let waited = started.elapsed().as_secs();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_ne!(o.code, 0);
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(all.contains("lock timeout"), "{all}");
    assert!(all.contains("blocked by pid"), "{all}");
    assert!(all.contains("nightly-batch"), "{all}");
    assert!(all.contains("pg_terminate_backend"), "{all}");
    assert!(waited < 120, "waited {waited} s");
    assert_eq!(fingerprint(&rec.pgdata), before, "production was touched");
    // The run stopped at the snapshot: rolled back headless, the server is free again.
    let o = cli(
        &guard,
        &cfg,
        &[
            "resume",
            j.to_str().unwrap(),
            "--action",
            "roll-back",
            "--yes",
        ],
    );
    expect(&o, 0);
    assert_eq!(
        JournalState::read(&j).unwrap().ended,
        Some(RunStatus::RolledBack)
    );
}

/// `pg_ctl` on the lab's data directory as the server user.
fn pg_ctl(rec: &LabRecord, args: &[&str]) {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(rec.bin_dir.join("pg_ctl"))
        .args(args)
        .arg("-D")
        .arg(&rec.pgdata)
        .current_dir("/tmp")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_ctl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `cp` first on PATH that holds every copy of an archived WAL segment until `release`
/// exists: the restore_command the recovered server runs waits as a slow or hung archive
/// (a stuck NFS mount, a tape) would.
fn holding_cp(guard: &LabGuard, rec: &LabRecord) -> (PathBuf, PathBuf) {
    let bin = guard.path("slow-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let release = guard.path("release-archive");
    let segment = format!("{}/{}", rec.wal_archive.display(), "?".repeat(24));
    let script = format!(
        "#!/bin/sh\nfor a; do case \"$a\" in {segment}) while [ ! -e {} ]; do sleep 0.2; done;; esac; done\nexec /bin/cp \"$@\"\n",
        release.display()
    );
    let cp = bin.join("cp");
    std::fs::write(&cp, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cp, std::fs::Permissions::from_mode(0o755)).unwrap();
    for d in [guard.parent.path(), bin.as_path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (bin, release)
}

#[test]
fn a_stalled_replay_is_reported_and_roll_back_restarts_production_as_it_ran() {
    let (guard, rec) = build(57241, false);
    // Production runs with an option on its command line, as a site's unit file might
    // start it: the roll back must bring it back with that option, not the config's.
    pg_ctl(
        &rec,
        &[
            "restart",
            "-w",
            "-l",
            rec.log_file.to_str().unwrap(),
            "-o",
            "-c work_mem=7MB",
        ],
    );
    assert_eq!(psql(&rec, rec.port, "show work_mem"), "7MB");
    let original_rows = orders(&rec);
    let text = std::fs::read_to_string(&rec.config_file).unwrap();
    let cfg = guard.path("stall.toml");
    std::fs::write(&cfg, format!("replay_stall_secs = 5\n{text}")).unwrap();
    let (bin, release) = holding_cp(&guard, &rec);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let j = journal_in(&guard, "journals");
    let started = Instant::now();
    let o = cli_env(
        &guard,
        &cfg,
        &[
            "recover",
            "--server",
            "lab",
            "--name",
            "before_batch",
            "--yes",
            "--journal",
            j.to_str().unwrap(),
        ],
        &[("PATH", path)],
    );
    let waited = started.elapsed().as_secs();
    std::fs::write(&release, "").unwrap();
    assert_ne!(o.code, 0);
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(
        all.contains("replay has not moved from") && all.contains("for 5 s (replay_stall_secs)"),
        "{all}"
    );
    assert!(
        all.contains("the recovering server runs but does not answer"),
        "connection errors during replay are shown: {all}"
    );
    assert!(all.contains("Last lines of"), "{all}");
    assert!(
        all.contains("Retry to wait longer, roll back to put everything back, or abort"),
        "{all}"
    );
    assert!(waited < 90, "the stall was reported after {waited} s");

    let o = cli(
        &guard,
        &cfg,
        &[
            "resume",
            j.to_str().unwrap(),
            "--action",
            "roll-back",
            "--yes",
        ],
    );
    expect(&o, 0);
    assert_eq!(orders(&rec), original_rows);
    assert_eq!(
        psql(&rec, rec.port, "show work_mem"),
        "7MB",
        "production restarted with the options it ran with"
    );
    assert_eq!(
        JournalState::read(&j).unwrap().ended,
        Some(RunStatus::RolledBack)
    );
}

#[test]
fn a_restored_server_running_as_a_standby_is_not_taken_for_the_recovered_one() {
    let (guard, rec) = build(57251, false);
    let original_rows = orders(&rec);
    // The backup was taken for a replica (`pg_basebackup -R`): it carries standby.signal,
    // which pg_verifybackup leaves out of its check as pg_basebackup -R writes it.
    for b in &rec.backups {
        if b.path.join("PG_VERSION").exists() {
            std::fs::write(b.path.join("standby.signal"), "").unwrap();
        }
    }
    let j = journal_in(&guard, "journals");
    let o = cli(
        &guard,
        &rec.config_file,
        &[
            "recover",
            "--server",
            "lab",
            "--name",
            "before_batch",
            "--yes",
            "--journal",
            j.to_str().unwrap(),
        ],
    );
    assert_ne!(o.code, 0);
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(
        all.contains("standby.signal exists: the restored server runs as a standby"),
        "{all}"
    );
    assert!(!all.contains("waiting for a decision"), "{all}");
    let o = cli(
        &guard,
        &rec.config_file,
        &[
            "resume",
            j.to_str().unwrap(),
            "--action",
            "roll-back",
            "--yes",
        ],
    );
    expect(&o, 0);
    assert_eq!(orders(&rec), original_rows);
    assert_eq!(psql(&rec, rec.port, "select pg_is_in_recovery()"), "f");
}

#[test]
fn a_side_dir_the_server_user_cannot_write_beside_is_refused_in_preflight() {
    let (guard, rec) = build(57261, false);
    let locked = guard.path("root-only");
    std::fs::create_dir_all(&locked).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    let side = locked.join("side");
    let o = cli(
        &guard,
        &rec.config_file,
        &[
            "--role",
            "drill",
            "recover",
            "--server",
            "lab",
            "--name",
            "before_batch",
            "--restore-to",
            side.to_str().unwrap(),
            "--port",
            "57262",
        ],
    );
    assert_ne!(o.code, 0);
    let all = format!("{}{}", o.stdout, o.stderr);
    assert!(
        all.contains(&format!(
            "{} cannot be written by postgres (EACCES)",
            locked.display()
        )),
        "{all}"
    );
    assert!(!side.exists(), "nothing restored");
}
