//! The headless commands (`plan`, `recover`, `resume`, `journal show`) run as scripts run
//! them: the binary, against real labs built in temp directories the server user owns.
//! Expected row counts come from the lab's record, or from a copy recovered to just
//! before the incident (which still holds every row the incident deleted).
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use chrono::{DateTime, Utc};
use lab_support::{build, psql, stop, LabGuard};
use pitr_console::engine::journal::JournalState;
use pitr_console::engine::RunStatus;
use pitr_console::lab::LabRecord;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");

/// Stops the side instances a test started, also when it fails.
#[derive(Default)]
struct SideServers(Vec<PathBuf>);

impl SideServers {
    fn add(&mut self, dir: &Path) {
        self.0.push(dir.to_path_buf());
    }
}

impl Drop for SideServers {
    fn drop(&mut self) {
        for d in &self.0 {
            stop(d);
        }
    }
}

/// The lab's configuration plus a time column, so time targets check for newer rows.
fn config_with_time_column(guard: &LabGuard, record: &LabRecord) -> PathBuf {
    let text = std::fs::read_to_string(&record.config_file).unwrap();
    assert!(text.contains("control = \"pg_ctl\"\n"), "{text}");
    let text = text.replacen(
        "control = \"pg_ctl\"\n",
        "control = \"pg_ctl\"\ntime_column = \"orders.created_at\"\n",
        1,
    );
    let path = guard.parent.path().join("cli.toml");
    std::fs::write(&path, text).unwrap();
    path
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn cli(config: &Path, args: &[&str]) -> Out {
    let started = Instant::now();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let o = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!(
        "$ pitr-console {} -> exit {} in {:.1} s",
        args.join(" "),
        o.code,
        started.elapsed().as_secs_f64()
    );
    o
}

fn expect(o: &Out, code: i32) {
    assert_eq!(o.code, code, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
}

fn count(record: &LabRecord, port: u16) -> u64 {
    psql(record, port, "select count(*) from orders")
        .parse()
        .unwrap()
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f UTC").to_string()
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

/// Nothing beside the data directory either: no `<pgdata>.pitr-*`.
fn moved_aside(record: &LabRecord) -> Vec<String> {
    std::fs::read_dir(&record.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pgdata.pitr-"))
        .collect()
}

fn journals(record: &LabRecord) -> Vec<PathBuf> {
    let mut j: Vec<PathBuf> = std::fs::read_dir(record.dir.join("journal"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .collect()
        })
        .unwrap_or_default();
    j.sort();
    j
}

/// The newest archived segment of the lab's timeline.
fn last_segment(record: &LabRecord) -> String {
    std::fs::read_dir(&record.wal_archive)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 24 && n.chars().all(|c| c.is_ascii_hexdigit()))
        .max()
        .unwrap()
}

#[test]
fn headless_recovery_on_the_lab() {
    let (guard, rec) = build(55751, false);
    let cfg = config_with_time_column(&guard, &rec);
    let inc = rec.first_incident().unwrap().clone();
    let commit = utc(inc.commit_time.unwrap());
    let side = |n: u16| guard.parent.path().join(format!("side{n}"));
    let mut sides = SideServers::default();

    // A trainee is refused before anything is touched, and the refusal is journaled.
    let before = fingerprint(&rec.pgdata);
    let o = cli(
        &cfg,
        &[
            "--role",
            "trainee",
            "recover",
            "--server",
            "lab",
            "--time",
            &commit,
            "--exclusive",
            "--action",
            "promote",
            "--yes",
        ],
    );
    expect(&o, 5);
    assert!(o.stderr.contains("trainee"), "{}", o.stderr);
    assert_eq!(
        fingerprint(&rec.pgdata),
        before,
        "trainee changed the data dir"
    );
    assert!(moved_aside(&rec).is_empty());
    assert!(
        journals(&rec).is_empty(),
        "a refused start writes nothing in the configured journal directory"
    );
    let refusals =
        PathBuf::from(std::env::var_os("PITR_CONSOLE_STATE_DIR").unwrap()).join("refusals");
    let refused: Vec<PathBuf> = std::fs::read_dir(&refusals)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    let state = JournalState::read(&refused[0]).unwrap();
    assert!(
        matches!(&state.ended, Some(RunStatus::Refused { reason }) if reason.contains("refused by role trainee")),
        "{:?}",
        state.ended
    );
    assert!(state.finished.is_empty() && state.started.is_empty());
    // A trainee may plan.
    let o = cli(
        &cfg,
        &["--role", "trainee", "plan", "--server", "lab", "--latest"],
    );
    expect(&o, 0);
    assert!(
        o.stdout.contains("would be refused by role trainee"),
        "{}",
        o.stdout
    );

    // A drill may not restore in place...
    let o = cli(
        &cfg,
        &[
            "--role",
            "drill",
            "recover",
            "--server",
            "lab",
            "--immediate",
            "--yes",
        ],
    );
    expect(&o, 5);
    assert!(o.stderr.contains("--restore-to"), "{}", o.stderr);
    assert_eq!(
        fingerprint(&rec.pgdata),
        before,
        "drill changed the data dir"
    );

    // ...but beside production. Left paused at the target for a decision (no terminal).
    let dir0 = side(0);
    sides.add(&dir0);
    let o = cli(
        &cfg,
        &[
            "--role",
            "drill",
            "recover",
            "--server",
            "lab",
            "--time",
            &commit,
            "--exclusive",
            "--restore-to",
            dir0.to_str().unwrap(),
            "--port",
            "55760",
        ],
    );
    expect(&o, 0);
    assert!(o.stdout.contains("paused at"), "{}", o.stdout);
    assert_eq!(count(&rec, 55760), inc.rows_before);
    assert_eq!(psql(&rec, 55760, "select pg_is_in_recovery()"), "t");
    // This copy holds every row up to the incident: it tells what earlier targets see.
    let rp = rec
        .restore_points
        .iter()
        .find(|r| r.name == "before_cleanup")
        .unwrap();
    let at_rp: u64 = psql(
        &rec,
        55760,
        &format!(
            "select count(*) from orders where created_at <= '{}'",
            utc(rp.time)
        ),
    )
    .parse()
    .unwrap();
    let first_rp = rec
        .restore_points
        .iter()
        .find(|r| r.name == "before_batch")
        .unwrap();
    let at_first_rp: u64 = psql(
        &rec,
        55760,
        &format!(
            "select count(*) from orders where created_at <= '{}'",
            utc(first_rp.time)
        ),
    )
    .parse()
    .unwrap();
    let b2 = rec.backups.last().unwrap();
    let at_backup: u64 = psql(
        &rec,
        55760,
        &format!(
            "select count(*) from orders where created_at < '{}'",
            utc(b2.started_at)
        ),
    )
    .parse()
    .unwrap();
    assert!(at_backup < at_rp && at_rp < inc.rows_before);
    // The decision comes later, from the journal: roll back removes the side instance.
    let journal = o
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("roll back: pitr-console resume "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let o = cli(
        &cfg,
        &["resume", &journal, "--action", "roll-back", "--yes"],
    );
    expect(&o, 0);
    assert!(!dir0.exists(), "side directory moved aside on roll back");

    let o = cli(&cfg, &["plan", "--server", "lab", "--name", "before_batch"]);
    expect(&o, 0);
    assert!(
        o.stdout.contains("the WAL index places") && o.stdout.contains("backup backup1-plain"),
        "{}",
        o.stdout
    );
    // Two servers, an application each and one for both: the lab's plan stops its own and
    // the shared one, never the other server's.
    let apps_cfg = guard.parent.path().join("cli-apps.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let repo = text
        .lines()
        .find_map(|l| l.strip_prefix("repository = "))
        .unwrap()
        .to_string();
    std::fs::write(
        &apps_cfg,
        format!(
            "{text}\n[[server]]\nname = \"reports\"\npgdata = \"/srv/reports\"\ndsn = \"host=/tmp port=5999\"\nport = 5999\nrepository = {repo}\n\
             [[app]]\nname = \"shop\"\nstop = \"echo stop-shop\"\nstart = \"echo start-shop\"\nservers = [\"lab\"]\n\
             [[app]]\nname = \"dashboards\"\nstop = \"echo stop-dashboards\"\nstart = \"echo start-dashboards\"\nservers = [\"reports\"]\n\
             [[app]]\nname = \"proxy\"\nstop = \"echo stop-proxy\"\nstart = \"echo start-proxy\"\n"
        ),
    )
    .unwrap();
    let o = cli(
        &apps_cfg,
        &["plan", "--server", "lab", "--name", "before_batch"],
    );
    expect(&o, 0);
    assert!(
        o.stdout.contains("stop-shop")
            && o.stdout.contains("stop-proxy")
            && !o.stdout.contains("dashboards"),
        "{}",
        o.stdout
    );

    // Each target kind, on side instances, promoted there.
    let production = count(&rec, rec.port);
    let xid = inc.xid.to_string();
    let lsn = inc.lsn_before.to_string();
    let cases: Vec<(Vec<&str>, u64)> = vec![
        (vec!["--time", &commit], inc.rows_after),
        (vec!["--xid", &xid], inc.rows_after),
        (vec!["--xid", &xid, "--exclusive"], inc.rows_before),
        (vec!["--lsn", &lsn], inc.rows_before),
        (vec!["--name", "before_cleanup"], at_rp),
        // Before backup 2: the WAL index places it, so backup 1 (plain, copied) is chosen.
        (vec!["--name", "before_batch"], at_first_rp),
        (vec!["--immediate"], at_backup),
        (vec!["--latest"], production),
    ];
    for (n, (target, want)) in cases.into_iter().enumerate() {
        let port = 55761 + n as u16;
        let dir = side(n as u16 + 1);
        sides.add(&dir);
        let port_text = port.to_string();
        let mut args = vec!["recover", "--server", "lab"];
        args.extend(&target);
        args.extend([
            "--restore-to",
            dir.to_str().unwrap(),
            "--port",
            &port_text,
            "--action",
            "promote",
            "--json",
        ]);
        let o = cli(&cfg, &args);
        expect(&o, 0);
        let events: Vec<serde_json::Value> = o
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert!(events.iter().all(|e| e["event"].is_string()));
        let last = events.last().unwrap();
        assert_eq!(last["event"], "run_finished");
        assert_eq!(last["status"]["status"], "promoted", "{target:?}");
        assert_eq!(count(&rec, port), want, "{target:?}");
        assert_eq!(psql(&rec, port, "select pg_is_in_recovery()"), "f");
        // Promoted by the console or (--latest) by itself: its recovery settings are gone.
        let auto = std::fs::read_to_string(dir.join("postgresql.auto.conf")).unwrap();
        assert!(!auto.contains("# pitr-console run"), "{target:?}: {auto}");
        stop(&dir);
    }
    assert_eq!(count(&rec, rec.port), production, "production untouched");

    // Past the archive's end: refused, the last segment named, nothing touched.
    let later = utc(Utc::now() + chrono::Duration::hours(1));
    let before = fingerprint(&rec.pgdata);
    let o = cli(
        &cfg,
        &["recover", "--server", "lab", "--time", &later, "--yes"],
    );
    expect(&o, 3);
    assert!(o.stderr.contains(&last_segment(&rec)), "{}", o.stderr);
    assert!(o.stderr.contains("Nearest recoverable"), "{}", o.stderr);
    assert_eq!(fingerprint(&rec.pgdata), before);
    assert!(moved_aside(&rec).is_empty());

    // In place, to just before the incident, promoted: the deleted rows are back.
    let jfile = guard.parent.path().join("in-place.jsonl");
    let o = cli(
        &cfg,
        &[
            "recover",
            "--server",
            "lab",
            "--time",
            &commit,
            "--exclusive",
            "--action",
            "promote",
            "--yes",
            "--journal",
            jfile.to_str().unwrap(),
        ],
    );
    expect(&o, 0);
    assert_eq!(count(&rec, rec.port), inc.rows_before);
    assert_eq!(psql(&rec, rec.port, "select pg_is_in_recovery()"), "f");
    assert_eq!(
        moved_aside(&rec).len(),
        2,
        "original kept aside, with its log"
    );
    let o = cli(
        &cfg,
        &["journal", "show", jfile.to_str().unwrap(), "--json"],
    );
    expect(&o, 0);
    let j: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(j["ended"]["status"], "promoted");
    let planned: Vec<&str> = j["records"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let finished: Vec<&str> = j["finished"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(planned, finished, "every step journaled as finished");
    for step in [
        "stop_server",
        "move_aside",
        "restore",
        "replay",
        "verify",
        "promote",
    ] {
        assert!(planned.contains(&step), "{step} in {planned:?}");
    }
    assert!(o.stdout.contains("no row newer than the target"));
    let text = cli(&cfg, &["journal", "show", jfile.to_str().unwrap()]);
    expect(&text, 0);
    assert!(
        text.stdout.contains("hash chain intact"),
        "{}{}",
        text.stdout,
        text.stderr
    );
}

#[test]
fn refusals_in_a_lab_with_a_gap() {
    let (guard, rec) = build(55752, true);
    let missing = rec.missing_segment.clone().unwrap();
    let inc = rec.first_incident().unwrap();
    let side = guard.parent.path().join("side");
    let _sides = {
        let mut s = SideServers::default();
        s.add(&side);
        s
    };
    let o = cli(
        &rec.config_file,
        &[
            "recover",
            "--server",
            "lab",
            "--time",
            &utc(inc.commit_time.unwrap()),
            "--exclusive",
            "--restore-to",
            side.to_str().unwrap(),
            "--port",
            "55790",
        ],
    );
    expect(&o, 3);
    assert!(o.stderr.contains(&missing), "{}", o.stderr);
    assert!(
        o.stderr.contains("Nearest recoverable instants: before"),
        "{}",
        o.stderr
    );
    assert!(!side.exists());
    let early = utc(rec.backups[0].started_at - chrono::Duration::hours(1));
    let o = cli(
        &rec.config_file,
        &["plan", "--server", "lab", "--time", &early],
    );
    expect(&o, 3);
    assert!(
        o.stderr.contains("before the earliest consistency point"),
        "{}",
        o.stderr
    );
    let o = cli(&rec.config_file, &["plan", "--server", "lab", "--latest"]);
    expect(&o, 0);
    assert!(
        o.stdout.contains("WARNING") && o.stdout.contains(&missing),
        "{}",
        o.stdout
    );
}

#[test]
fn bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "timezone = \"UTC\"\n[[repository]]\nname = \"r\"\nkind = \"local\"\nbackups = \"/nonexistent/b\"\nwal_archive = \"/nonexistent/w\"\n\n[[server]]\nname = \"db1\"\npgdata = \"/nonexistent/pgdata\"\ndsn = \"host=/tmp port=5432\"\nrepository = \"r\"\n",
    )
    .unwrap();
    let o = cli(
        &cfg,
        &[
            "--tz",
            "Europe/Berlin",
            "recover",
            "--server",
            "db1",
            "--time",
            "2026-03-29 02:30:00",
        ],
    );
    expect(&o, 2);
    assert!(
        o.stderr.contains("2026-03-29 01:59:59+01:00")
            && o.stderr.contains("2026-03-29 03:00:00+02:00"),
        "{}",
        o.stderr
    );
    let o = cli(
        &cfg,
        &[
            "--tz",
            "Europe/Berlin",
            "plan",
            "--server",
            "db1",
            "--time",
            "2026-10-25 02:30:00",
        ],
    );
    expect(&o, 2);
    assert!(
        o.stderr.contains("+02:00") && o.stderr.contains("+01:00"),
        "{}",
        o.stderr
    );
    let o = cli(&cfg, &["plan", "--server", "nope", "--latest"]);
    expect(&o, 2);
    assert!(o.stderr.contains("db1"), "{}", o.stderr);
    expect(
        &cli(
            &cfg,
            &["plan", "--server", "db1", "--latest", "--immediate"],
        ),
        2,
    );
    expect(&cli(&cfg, &["plan", "--server", "db1", "--lsn", "12"]), 2);
    expect(
        &cli(
            &cfg,
            &["plan", "--server", "db1", "--latest", "--exclusive"],
        ),
        2,
    );
}
