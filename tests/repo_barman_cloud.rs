//! Seed 002's flow against object storage: a real PostgreSQL 15 archiving with
//! `barman-cloud-wal-archive` into an S3 API (moto_server on loopback, started and stopped
//! here), two `barman-cloud-backup`s around an incident (a DELETE), then the console: the
//! catalog with exact times read from WAL it fetched, `catalog --json`, a time after the
//! newest backup reached through the CLI (which picks the latest backup before it), and side
//! restores to the DELETE's xid and to a restore point.
//!
//! The tools come from scripts/install-object-storage (scripts/test runs it): the test fails,
//! not skips, when they are missing. Credentials live in a shared credentials file whose
//! secret must appear in no journal and no output.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod repo_support;

use chrono::{DateTime, Utc};
use pitr_console::adapters::wal_fetch::FetchProgress;
use pitr_console::domain::assess::Recoverability;
use pitr_console::domain::target::RecoveryTarget;
use repo_support::{as_pg, sh, Primary, ROWS_AT_BEFORE_DELETE, ROWS_AT_END};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const TOOLS: &str = "/opt/pitr-console/cloud-venv/bin";
const S3_PORT: u16 = 57700;
const PG_PORT: u16 = 57701;
const SECRET: &str = "pitr-secret-never-logged";
const DEST: &str = "s3://pgarch/arch";

/// moto_server on loopback, killed and reaped on drop.
struct Moto(Child);

impl Moto {
    fn start(log: &Path) -> Moto {
        let log = std::fs::File::create(log).unwrap();
        let child = Command::new(format!("{TOOLS}/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &S3_PORT.to_string()])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Moto(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", S3_PORT)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server not listening in 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `AWS_SHARED_CREDENTIALS_FILE=F TOOL --endpoint-url U --aws-profile pitr`, for the shell.
fn tool(creds: &Path, name: &str) -> String {
    format!(
        "AWS_SHARED_CREDENTIALS_FILE={} {TOOLS}/{name} --endpoint-url http://127.0.0.1:{S3_PORT} --aws-profile pitr",
        creds.display()
    )
}

fn now_utc(p: &Primary) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&p.psql(
        "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD\\\"T\\\"HH24:MI:SS.US\\\"Z\\\"')",
    ))
    .unwrap()
    .with_timezone(&Utc)
}

/// The binary with its own HOME (so its WAL index and fetched WAL live in the test's
/// directory) and state directory.
fn cli(config: &Path, home: &Path, args: &[&str]) -> (i32, String, String) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_pitr-console"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("PITR_CONSOLE_STATE_DIR", home.join("state"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let r = (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    eprintln!(
        "$ pitr-console {} -> exit {} in {:.1} s",
        args.join(" "),
        r.0,
        started.elapsed().as_secs_f64()
    );
    r
}

/// Every file under `dir` (but `skip`) that holds `needle`.
fn files_holding(dir: &Path, needle: &str, skip: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() && path != skip && meta.len() < 64 << 20 {
                let bytes = std::fs::read(&path).unwrap_or_default();
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(path);
                }
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_storage_backups_catalog_and_recover_to_a_time_an_xid_and_a_restore_point() {
    assert!(
        Path::new(TOOLS).join("barman-cloud-backup").exists()
            && Path::new(TOOLS).join("moto_server").exists(),
        "Barman's cloud tools and moto are not in {TOOLS}: run scripts/install-object-storage (scripts/test does)"
    );
    let started = Instant::now();
    let dir = PathBuf::from(format!("/tmp/pitr-repo-cloud-{}", std::process::id()));
    let creds = PathBuf::from(format!("/tmp/pitr-cloud-creds-{}", std::process::id()));
    std::fs::write(
        &creds,
        format!("[pitr]\naws_access_key_id = pitr\naws_secret_access_key = {SECRET}\nregion = us-east-1\n"),
    )
    .unwrap();
    sh(&format!(
        "chown postgres: {0} && chmod 600 {0}",
        creds.display()
    ));
    let moto_log = PathBuf::from(format!("/tmp/pitr-cloud-moto-{}.log", std::process::id()));
    let _moto = Moto::start(&moto_log);
    sh(&format!(
        "AWS_SHARED_CREDENTIALS_FILE={} AWS_PROFILE=pitr {TOOLS}/python3 -c \"import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:{S3_PORT}').create_bucket(Bucket='pgarch')\"",
        creds.display()
    ));

    // Production archives every segment into the bucket.
    let archive = format!("{} {DEST} db %p", tool(&creds, "barman-cloud-wal-archive"));
    let mut p = Primary::new("cloud", PG_PORT, &archive);
    assert_eq!(p.dir, dir);
    let backup = || {
        as_pg(&format!(
            "{} -h {} -p {PG_PORT} {DEST} db",
            tool(&creds, "barman-cloud-backup"),
            dir.display()
        ))
    };
    p.create_table();
    backup();
    let w = p.workload_after_backup();
    // The newest backup is taken after the incident; the time to reach lies after it.
    backup();
    p.psql("insert into t(id, v) select g, 'row ' || g from generate_series(1601, 1650) g");
    std::thread::sleep(Duration::from_millis(1100));
    let after_newest = now_utc(&p);
    std::thread::sleep(Duration::from_millis(1100));
    p.psql("insert into t(id, v) select g, 'row ' || g from generate_series(1651, 1700) g");
    p.switch_and_wait_archived();
    let rows_after_newest = ROWS_AT_END + 50;
    let setup = started.elapsed();

    let d = dir.display();
    let (config_file, config) = p.write_config(&format!(
        "kind = \"barman-cloud\"\ndestination = \"{DEST}\"\ncloud_server = \"db\"\n\
         endpoint_url = \"http://127.0.0.1:{S3_PORT}\"\naws_profile = \"pitr\"\n\
         aws_credentials_file = \"{}\"",
        creds.display()
    ));

    // The catalog, with the WAL fetched and read: exact times past the newest backup.
    let index_dir = dir.join("index");
    let t = Instant::now();
    let seen = Mutex::new(Vec::new());
    let view = pitr_console::adapters::catalog::load_view_reporting(
        &config.repositories[0],
        Some(&index_dir),
        &|p: FetchProgress| seen.lock().unwrap().push(p),
    )
    .unwrap();
    let first_load = t.elapsed();
    let progress = seen.into_inner().unwrap();
    let c = &view.catalog;
    assert_eq!(c.backups.len(), 2, "{:?}", c.backups);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let (a, b) = (&c.backups[0], &c.backups[1]);
    assert!(a.stop_lsn < b.start_lsn && b.stop_time < after_newest);
    let fetched = progress.len();
    assert!(
        fetched >= 3,
        "every segment from the first backup on: {progress:?}"
    );
    assert_eq!(progress.iter().map(|p| p.done).max(), Some(fetched));
    let index = view.index.as_ref().expect("the fetched WAL is indexed");
    let tl = &view.coverage.timelines[0];
    assert!(tl.gaps.is_empty(), "{:?}", tl.gaps);
    let r = Recoverability {
        catalog: c,
        coverage: &view.coverage,
        times: view.times.as_ref(),
    };
    for at in [w.before_delete, after_newest] {
        let v = r.at_time(b.timeline, at);
        assert!(v.is_recoverable(), "{at} recoverable: {v:?}");
    }
    let rp = index
        .restore_point("before_delete")
        .expect("the restore point is read from fetched WAL")
        .clone();
    // The DELETE is the first transaction to end after the restore point.
    let delete = index
        .tx_ends()
        .iter()
        .find(|t| t.timeline == rp.timeline && t.lsn > rp.lsn)
        .expect("the DELETE's commit")
        .clone();
    assert!(delete.time() > w.before_delete);

    // A second load fetches nothing.
    let t = Instant::now();
    let again = Mutex::new(0usize);
    let view2 = pitr_console::adapters::catalog::load_view_reporting(
        &config.repositories[0],
        Some(&index_dir),
        &|_| *again.lock().unwrap() += 1,
    )
    .unwrap();
    let second_load = t.elapsed();
    assert_eq!(*again.lock().unwrap(), 0, "the cached copy is reused");
    assert!(view2.index.is_some());

    // `catalog --json`: the same shape as every other kind, exact times, no secret.
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (code, out, err) = cli(
        &config_file,
        &home,
        &["catalog", "--server", "db1", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "archive",
            "backups",
            "format_version",
            "repository",
            "segment_size",
            "servers",
            "timelines",
            "times_estimated",
            "warnings",
            "windows"
        ]
    );
    assert_eq!(json["backups"][0]["format"], "tool");
    assert_eq!(json["backups"].as_array().unwrap().len(), 2);
    assert!(!out.contains(SECRET) && !err.contains(SECRET));

    // Seed 002: pick a time, restore the latest backup before it, replay to it, validate.
    let side = dir.join("side-cli");
    p.guard(side.clone());
    let at = after_newest.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let t = Instant::now();
    let (code, out, err) = cli(
        &config_file,
        &home,
        &[
            "recover",
            "--server",
            "db1",
            "--time",
            &at,
            "--exclusive",
            "--restore-to",
            side.to_str().unwrap(),
            "--port",
            "57704",
        ],
    );
    let cli_recover = t.elapsed();
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&b.id),
        "the newest backup before the time is used: {out}"
    );
    assert!(out.contains("paused at"), "{out}");
    assert_eq!(
        p.count_at(57704),
        rows_after_newest,
        "rows at the time after the newest backup"
    );
    let journal = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("roll back: pitr-console resume "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no roll-back line: {out}"))
        .to_string();
    let (code, out, err) = cli(
        &config_file,
        &home,
        &["resume", &journal, "--action", "roll-back", "--yes"],
    );
    assert_eq!(code, 0, "{out}\n{err}");

    // The monthly drill through object storage: same restore, timed, signed off.
    let drill_side = dir.join("side-drill");
    p.guard(drill_side.clone());
    let (code, out, err) = cli(
        &config_file,
        &home,
        &[
            "--role",
            "drill",
            "drill",
            "--server",
            "db1",
            "--time",
            &at,
            "--exclusive",
            "--restore-to",
            drill_side.to_str().unwrap(),
            "--port",
            "57705",
            "--performed-by",
            "Alice Ops",
            "--verified-by",
            "Bob DBA",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        p.count_at(57705),
        rows_after_newest,
        "the drill's side instance holds the rows at the time"
    );
    assert!(out.contains("RTO"), "{out}");

    // Beside production, through the engine: the DELETE's xid, then the restore point.
    let t = Instant::now();
    let rows = repo_support::side_recovery(
        &mut p,
        &config,
        &view,
        RecoveryTarget::Xid {
            xid: u64::from(delete.xid),
            inclusive: false,
        },
        57702,
        "xid",
    )
    .await;
    assert_eq!(
        rows, ROWS_AT_BEFORE_DELETE,
        "stopped just before the DELETE's xid"
    );
    let xid_recover = t.elapsed();
    let rows = repo_support::side_recovery(
        &mut p,
        &config,
        &view,
        RecoveryTarget::Name {
            name: "before_delete".into(),
        },
        57703,
        "restore-point",
    )
    .await;
    assert_eq!(rows, ROWS_AT_BEFORE_DELETE, "at the restore point");
    assert_eq!(
        p.count_at(PG_PORT),
        ROWS_AT_END + 100,
        "production untouched"
    );

    // The secret is in no journal, plan or log the console wrote.
    let leaks = files_holding(&dir, SECRET, &creds);
    assert!(leaks.is_empty(), "the secret leaked into {leaks:?}");
    let _ = std::fs::remove_file(&creds);
    let _ = std::fs::remove_file(&moto_log);
    eprintln!(
        "barman-cloud: setup (moto, cluster, 2 backups, workload) {:.1} s, first catalog load with {fetched} segments fetched {:.2} s, cached load {:.2} s, CLI side recovery to a time {:.1} s, side xid recovery {:.1} s, total {:.1} s ({d})",
        setup.as_secs_f64(),
        first_load.as_secs_f64(),
        second_load.as_secs_f64(),
        cli_recover.as_secs_f64(),
        xid_recover.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
