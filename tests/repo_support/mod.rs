//! A real primary for the backup-tool tests (Barman, pgBackRest): its own temp dir owned by
//! `postgres`, its own ports, a workload with a DELETE, and a driver for side recoveries.
//! The tools run as `postgres` with configs in the same temp dir: one OS user owns the
//! cluster, the tool's repository and the restored directory, so no sudo and no ssh are
//! needed and nothing under /etc is touched.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use pitr_console::adapters::catalog::{load_view, restore_for, RepositoryView};
use pitr_console::adapters::fs::local_ports;
use pitr_console::config::Config;
use pitr_console::domain::assess::Recoverability;
use pitr_console::domain::target::RecoveryTarget;
use pitr_console::engine::recovery::{self, FinalAction, RecoveryInputs, RestoreMode, ServerSpec};
use pitr_console::engine::{Decision, EngineEvent, Question, RunStatus};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const BIN: &str = "/usr/lib/postgresql/15/bin";

/// True when `tool` is on PATH; otherwise says loudly that the test is skipped.
pub fn tool_present(tool: &str, test: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).exists()))
        .unwrap_or(false);
    if !found {
        eprintln!(
            "SKIPPED {test}: `{tool}` is not installed (run scripts/install-fleet-deps as root)"
        );
    }
    found
}

pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn as_pg(cmd: &str) -> String {
    sh(&format!(
        "cd /tmp && runuser -u postgres -- sh -c '{}'",
        cmd.replace('\'', r"'\''")
    ))
}

/// A primary in `/tmp/pitr-repo-<name>-<pid>`, stopped and removed on drop.
pub struct Primary {
    pub dir: PathBuf,
    pub port: u16,
    extra_servers: Vec<PathBuf>,
}

/// What the workload did: 1000 rows before the backup; after it 500 more, a restore point
/// `before_delete`, the instant `before_delete`, a DELETE of 300 rows, then 100 more.
pub struct Workload {
    pub before_delete: DateTime<Utc>,
}

pub const ROWS_AT_BEFORE_DELETE: i64 = 1500;
pub const ROWS_AT_END: i64 = 1300;

impl Primary {
    pub fn new(name: &str, port: u16, archive_command: &str) -> Primary {
        private_state_dir();
        let dir = PathBuf::from(format!("/tmp/pitr-repo-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        sh(&format!("chown postgres:postgres {}", dir.display()));
        let d = dir.display();
        as_pg(&format!(
            "{BIN}/initdb -D {d}/pg -A trust -U postgres --no-sync >/dev/null"
        ));
        let conf = format!(
            "port = {port}\nlisten_addresses = ''\nunix_socket_directories = '{d}'\nfsync = off\n\
             wal_level = replica\narchive_mode = on\narchive_command = '{}'\n",
            archive_command.replace('\'', "''")
        );
        std::fs::write(dir.join("extra.conf"), conf).unwrap();
        as_pg(&format!(
            "cat {d}/extra.conf >> {d}/pg/postgresql.conf && {BIN}/pg_ctl start -D {d}/pg -w -l {d}/pg.log >/dev/null"
        ));
        Primary {
            dir,
            port,
            extra_servers: Vec::new(),
        }
    }

    pub fn pgdata(&self) -> PathBuf {
        self.dir.join("pg")
    }

    pub fn psql_at(&self, port: u16, sql: &str) -> String {
        as_pg(&format!(
            "{BIN}/psql -X -A -t -q -h {} -p {port} -d postgres -c \"{sql}\"",
            self.dir.display()
        ))
    }

    pub fn psql(&self, sql: &str) -> String {
        self.psql_at(self.port, sql)
    }

    pub fn count_at(&self, port: u16) -> i64 {
        self.psql_at(port, "select count(*) from t")
            .parse()
            .unwrap()
    }

    pub fn create_table(&self) {
        self.psql("create table t(id int primary key, created_at timestamptz not null default clock_timestamp(), v text)");
        self.psql("insert into t(id, v) select g, 'row ' || g from generate_series(1, 1000) g");
    }

    /// The part after the backup; returns when the last segment is archived.
    pub fn workload_after_backup(&self) -> Workload {
        self.psql("insert into t(id, v) select g, 'row ' || g from generate_series(1001, 1500) g");
        self.psql("select pg_create_restore_point('before_delete')");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let before_delete = DateTime::parse_from_rfc3339(&self.psql(
            "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD\\\"T\\\"HH24:MI:SS.US\\\"Z\\\"')",
        ))
        .unwrap()
        .with_timezone(&Utc);
        std::thread::sleep(std::time::Duration::from_millis(1100));
        self.psql("delete from t where id <= 300");
        self.psql("insert into t(id, v) select g, 'row ' || g from generate_series(1501, 1600) g");
        assert_eq!(self.count_at(self.port), ROWS_AT_END);
        Workload { before_delete }
    }

    /// Switches to a new segment and waits until the server has archived the old one.
    pub fn switch_and_wait_archived(&self) {
        let seg = self.psql("select pg_walfile_name(pg_current_wal_lsn())");
        self.psql("select pg_switch_wal()");
        for _ in 0..200 {
            let last = self.psql("select coalesce(last_archived_wal, '') from pg_stat_archiver");
            if last.as_str() >= seg.as_str() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "segment {seg} not archived in 20 s; see {}/pg.log",
            self.dir.display()
        );
    }

    /// Registers another data directory whose server must be stopped at the end.
    pub fn guard(&mut self, pgdata: PathBuf) {
        self.extra_servers.push(pgdata);
    }

    /// The test's configuration file: `repository` (a TOML `[[repository]]` body named
    /// `repo`) and this primary as server `db1`.
    pub fn write_config(&self, repository: &str) -> (PathBuf, Config) {
        let d = self.dir.display();
        let text = format!(
            "[[repository]]\nname = \"repo\"\n{repository}\n\
             [[server]]\nname = \"db1\"\nrun_as = \"postgres\"\npgdata = \"{d}/pg\"\nbin_dir = \"{BIN}\"\n\
             port = {}\ndsn = \"host={d} port={} user=postgres dbname=postgres\"\nrepository = \"repo\"\n",
            self.port, self.port
        );
        let path = self.dir.join("pitr-console.toml");
        std::fs::write(&path, &text).unwrap();
        let config = pitr_console::config::load(&path).unwrap();
        (path, config)
    }
}

fn stop(pgdata: &Path) {
    let _ = Command::new("runuser")
        .args([
            "-u",
            "postgres",
            "--",
            &format!("{BIN}/pg_ctl"),
            "stop",
            "-D",
        ])
        .arg(pgdata)
        .args(["-m", "immediate", "-w"])
        .current_dir("/tmp")
        .output();
}

impl Drop for Primary {
    fn drop(&mut self) {
        for p in &self.extra_servers {
            stop(p);
        }
        stop(&self.pgdata());
        if std::env::var_os("PITR_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Checks the catalog the console reads: one tool-held backup, WAL from the backup on with
/// no gap, and `at` recoverable.
pub fn check_catalog(view: &RepositoryView, at: DateTime<Utc>) {
    let c = &view.catalog;
    assert_eq!(c.backups.len(), 1, "{:?}", c.backups);
    let b = &c.backups[0];
    assert_eq!(b.format, pitr_console::domain::backup::BackupFormat::Tool);
    assert!(b.start_lsn < b.stop_lsn && b.start_time <= b.stop_time);
    let first = b.start_lsn.segment_number(c.segment_size.bytes());
    assert!(
        c.segments.iter().any(|s| s.segment.number == first),
        "the backup's first segment is listed: {:?}",
        c.segments
    );
    let tl = &view.coverage.timelines[0];
    assert!(tl.gaps.is_empty(), "no gap: {:?}", tl.gaps);
    assert!(!view.coverage.windows.is_empty());
    let r = Recoverability {
        catalog: c,
        coverage: &view.coverage,
        times: view.times.as_ref(),
    };
    let v = r.at_time(b.timeline, at);
    assert!(v.is_recoverable(), "{at} recoverable: {v:?}");
}

/// `pitr-console --config FILE catalog --server db1 --json`: the same report shape as for
/// local repositories.
pub fn catalog_json(config: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_pitr-console"))
        .args(["--config"])
        .arg(config)
        .args(["catalog", "--server", "db1", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "catalog --json failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
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
    assert_eq!(v["backups"][0]["format"], "tool");
    v
}

/// The repository's view as the console loads it, checked against the workload, and the
/// CLI's JSON catalog with at least two archived segments. Returns the view and how long
/// loading it took.
pub fn load_and_check_catalog(
    config_file: &Path,
    config: &Config,
    before_delete: DateTime<Utc>,
) -> (RepositoryView, Duration) {
    let t = Instant::now();
    let view = load_view(&config.repositories[0], None).unwrap();
    let catalog_time = t.elapsed();
    check_catalog(&view, before_delete);
    let json = catalog_json(config_file);
    assert!(json["archive"]["segments"].as_u64().unwrap() >= 2, "{json}");
    // With an index directory, the WAL is fetched through the tool and indexed: the restore
    // point and the DELETE's commit are placed exactly, as for a local archive.
    let index_dir = config_file.parent().unwrap().join("index");
    let indexed = load_view(&config.repositories[0], Some(&index_dir)).unwrap();
    let index = indexed.index.as_ref().unwrap_or_else(|| {
        panic!(
            "no WAL index through the tool: {:?}",
            indexed.catalog.warnings
        )
    });
    let point = index
        .restore_point("before_delete")
        .expect("the restore point is in the fetched WAL");
    assert!(point.time() < before_delete, "{:?}", point.time());
    assert!(
        index.commits().any(|c| c.time() > before_delete),
        "the DELETE and the work after it are indexed"
    );
    (view, catalog_time)
}

/// Recovers `db1` beside production (side restore on `side_port`) through the repository,
/// pauses at `target`, counts the rows there, rolls back. Returns the count.
pub async fn side_recovery(
    p: &mut Primary,
    config: &Config,
    view: &RepositoryView,
    target: RecoveryTarget,
    side_port: u16,
    tag: &str,
) -> i64 {
    let dir = p.dir.join(format!("side-{tag}"));
    p.guard(dir.clone());
    let mode = RestoreMode::Side {
        dir,
        port: side_port,
    };
    recover(p, config, view, target, mode, Decision::RollBack, tag).await
}

/// Production itself, in place, paused just before the DELETE and promoted: the deleted
/// rows are back and the server is out of recovery.
pub async fn recover_in_place_before_delete(
    p: &mut Primary,
    config: &Config,
    view: &RepositoryView,
    w: &Workload,
) {
    let rows = recover(
        p,
        config,
        view,
        RecoveryTarget::Time {
            at: w.before_delete,
            inclusive: false,
        },
        RestoreMode::InPlace,
        Decision::Promote,
        "in-place",
    )
    .await;
    assert_eq!(
        rows, ROWS_AT_BEFORE_DELETE,
        "in place, paused before the DELETE"
    );
    assert_eq!(p.psql("select pg_is_in_recovery()"), "f");
    assert_eq!(p.count_at(p.port), ROWS_AT_BEFORE_DELETE);
}

/// Recovers `db1` through the repository in `mode`, pauses at `target`, counts the rows
/// there, then answers `decision` (promote or roll back). Returns the count.
pub async fn recover(
    p: &mut Primary,
    config: &Config,
    view: &RepositoryView,
    target: RecoveryTarget,
    mode: RestoreMode,
    decision: Decision,
    tag: &str,
) -> i64 {
    let repo = &config.repositories[0];
    let server = &config.servers[0];
    let backup = view.catalog.backups[0].clone();
    let (dest, port) = match &mode {
        RestoreMode::Side { dir, port } => (dir.clone(), *port),
        RestoreMode::InPlace => (p.pgdata(), p.port),
    };
    let want = if decision == Decision::Promote {
        RunStatus::Promoted
    } else {
        RunStatus::RolledBack
    };
    let how = restore_for(repo, server, &backup, &target, &dest).unwrap();
    let inputs = RecoveryInputs {
        server: ServerSpec {
            name: "db1".into(),
            pgdata: p.pgdata(),
            bin_dir: BIN.into(),
            port: p.port,
            run_as: Some("postgres".into()),
            dsn: format!(
                "host={} port={} user=postgres dbname=postgres",
                p.dir.display(),
                p.port
            ),
            socket_dir: Some(p.dir.clone()),
            service: Default::default(),
            config_file: None,
            patroni: None,
        },
        backup,
        restore_command: how.restore_command,
        target,
        action: FinalAction::Pause,
        mode,
        apps: vec![],
        checks: vec![],
        safety_dump_dir: p.dir.join("dumps"),
        journal_dir: p.dir.join(format!("journal-{tag}")),
        time_column: None,
        replay_timeout_secs: 120,
        role: Default::default(),
        tool_restore: how.tool_restore,
        new_host: false,
        chain: vec![],
        wal_version: None,
        timeline: None,
        prediction: None,
        backup_check: Default::default(),
        replay_stall_secs: 60,
        wal_spool: None,
    };
    let plan = recovery::plan(&inputs);
    let rendered = plan.render();
    let (runner, mut handle) = recovery::start(plan, local_ports(), Some("db1".into())).unwrap();
    let task = tokio::spawn(runner.run());
    let mut seen = None;
    let mut failed = Vec::new();
    let mut events = Vec::new();
    while let Some(e) = handle.events.recv().await {
        if let EngineEvent::NeedsDecision { question, .. } = &e {
            match question {
                Question::PromoteOrRollBack => seen = Some(p.count_at(port)),
                Question::FailedStep { id, error, .. } => failed.push(format!("{id}: {error}")),
                _ => {}
            }
            let answer = match question {
                Question::PromoteOrRollBack => decision.clone(),
                _ => Decision::RollBack,
            };
            handle.decisions.send(answer).unwrap();
        }
        let end = matches!(e, EngineEvent::RunFinished { .. });
        events.push(e);
        if end {
            break;
        }
    }
    let status = task.await.unwrap();
    let failures: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::StepFailed { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        status,
        want,
        "{tag}: {}\nplan:\n{rendered}",
        failures.join("\n")
    );
    seen.unwrap_or_else(|| {
        panic!(
            "{tag}: never paused at the target: {}\nplan:\n{rendered}",
            failed.join("\n")
        )
    })
}

/// Server locks and unfinished-run records of this test process in a directory of its own
/// (PITR_CONSOLE_STATE_DIR), never in the host's.
pub fn private_state_dir() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dir = std::env::temp_dir().join(format!("pitr-test-state-{}", std::process::id()));
        std::env::set_var("PITR_CONSOLE_STATE_DIR", dir);
    });
}
