//! A compact real-PostgreSQL fixture for recovery tests: one template cluster per test
//! binary (archive, a plain base backup, a workload with a DELETE), copied per test.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use pitr_console::domain::backup::{Backup, BackupFormat};
use pitr_console::domain::lsn::Lsn;
use pitr_console::domain::segment::{SegmentSize, WalSegment};
use pitr_console::domain::target::RecoveryTarget;
use pitr_console::domain::timeline::TimelineId;
use pitr_console::domain::wal_spool::{runs_of, WalSpool};
use pitr_console::engine::recovery::{
    FinalAction, RecoveryInputs, RestoreMode, ServerSpec, TimeColumn,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const BIN: &str = "/usr/lib/postgresql/15/bin";
const TEMPLATE_PORT: u16 = 55600;

/// What the workload did, for expected counts: 1000 rows in the backup, 500 more, a
/// restore point, a DELETE of ids 1..=300 (xid `delete_xid`), then 100 more rows.
#[derive(Clone, Debug)]
pub struct Facts {
    pub before_delete_time: DateTime<Utc>,
    pub delete_commit_time: DateTime<Utc>,
    pub delete_xid: u64,
    pub lsn_before_delete: Lsn,
    pub backup_start: Lsn,
    pub backup_stop: Lsn,
}

pub struct Template {
    pub dir: PathBuf,
    pub facts: Facts,
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
        "runuser -u postgres -- sh -c {}",
        shell_words(cmd)
    ))
}

fn shell_words(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub fn psql(sock: &Path, port: u16, sql: &str) -> String {
    as_pg(&format!(
        "{BIN}/psql -X -A -t -q -h {} -p {port} -d postgres -c \"{sql}\"",
        sock.display()
    ))
}

static TEMPLATE: OnceLock<Template> = OnceLock::new();

pub fn template() -> &'static Template {
    TEMPLATE.get_or_init(build_template)
}

fn build_template() -> Template {
    // Remove templates of earlier test processes that are gone.
    for e in std::fs::read_dir("/tmp").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(pid) = name.strip_prefix("pitr-engine-fx-") {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = PathBuf::from(format!("/tmp/pitr-engine-fx-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("archive")).unwrap();
    std::fs::create_dir_all(dir.join("backups")).unwrap();
    sh(&format!("chown -R postgres:postgres {}", dir.display()));
    let d = dir.display();
    as_pg(&format!(
        "{BIN}/initdb -D {d}/primary -A trust -U postgres --no-sync >/dev/null"
    ));
    as_pg(&format!(
        "cat >> {d}/primary/postgresql.conf <<EOF\nport = {TEMPLATE_PORT}\nlisten_addresses = ''\nunix_socket_directories = '{d}'\nfsync = off\nwal_level = replica\narchive_mode = on\narchive_command = 'cp %p ../archive/%f'\ntrack_commit_timestamp = on\nEOF"
    ));
    let _guard = Server {
        pgdata: dir.join("primary"),
    };
    as_pg(&format!(
        "{BIN}/pg_ctl start -D {d}/primary -w -l {d}/primary.log >/dev/null"
    ));
    let sock = dir.clone();
    let q = |sql: &str| psql(&sock, TEMPLATE_PORT, sql);
    q("create table t(id int primary key, created_at timestamptz not null default clock_timestamp(), v text)");
    q("insert into t(id, v) select g, 'row ' || g from generate_series(1, 1000) g");
    as_pg(&format!(
        "{BIN}/pg_basebackup -h {d} -p {TEMPLATE_PORT} -D {d}/backups/b1 -Fp -X stream -c fast"
    ));
    let label = std::fs::read_to_string(dir.join("backups/b1/backup_label")).unwrap();
    let backup_start: Lsn = label
        .lines()
        .find_map(|l| l.strip_prefix("START WAL LOCATION: "))
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    q("insert into t(id, v) select g, 'row ' || g from generate_series(1001, 1500) g");
    q("select pg_create_restore_point('before_delete')");
    let lsn_before_delete: Lsn = q("select pg_current_wal_insert_lsn()").parse().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let before_delete_time = parse_time(&q(
        "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
    ));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let delete_xid: u64 = q("delete from t where id <= 300; select txid_current()")
        .lines()
        .last()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let delete_commit_time = parse_time(&q(&format!(
        "select to_char(pg_xact_commit_timestamp('{delete_xid}'::xid) at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
    )));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    q("insert into t(id, v) select g, 'row ' || g from generate_series(1501, 1600) g");
    let last = q("select pg_walfile_name(pg_current_wal_lsn())");
    q("select pg_switch_wal()");
    for _ in 0..100 {
        if dir.join("archive").join(&last).exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        dir.join("archive").join(&last).exists(),
        "segment {last} not archived"
    );
    as_pg(&format!(
        "{BIN}/pg_ctl stop -D {d}/primary -m fast -w >/dev/null"
    ));
    let stop_line = std::fs::read_dir(dir.join("archive"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".backup"))
        .unwrap();
    let text = std::fs::read_to_string(stop_line.path()).unwrap();
    let backup_stop: Lsn = text
        .lines()
        .find_map(|l| l.strip_prefix("STOP WAL LOCATION: "))
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    Template {
        dir,
        facts: Facts {
            before_delete_time,
            delete_commit_time,
            delete_xid,
            lsn_before_delete,
            backup_start,
            backup_stop,
        },
    }
}

fn parse_time(s: &str) -> DateTime<Utc> {
    chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S%.f")
        .unwrap()
        .and_utc()
}

/// Stops a server on drop, so a failing test leaves nothing running.
pub struct Server {
    pub pgdata: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &format!("{BIN}/pg_ctl"),
                "stop",
                "-D",
            ])
            .arg(&self.pgdata)
            .args(["-m", "immediate", "-w"])
            .output();
    }
}

/// A per-test copy of the template: its primary runs on `port`.
pub struct Lab {
    pub dir: PathBuf,
    pub port: u16,
    pub facts: Facts,
    guards: Vec<Server>,
}

impl Lab {
    pub fn new(name: &str, port: u16) -> Lab {
        private_state_dir();
        let t = template();
        let dir = PathBuf::from(format!("{}-{name}", t.dir.display()));
        let _ = std::fs::remove_dir_all(&dir);
        sh(&format!("cp -a {} {}", t.dir.display(), dir.display()));
        let d = dir.display();
        as_pg(&format!("{BIN}/pg_ctl start -D {d}/primary -w -l {d}/primary.log -o '-p {port} -k {d}' >/dev/null"));
        Lab {
            guards: vec![Server {
                pgdata: dir.join("primary"),
            }],
            dir,
            port,
            facts: t.facts.clone(),
        }
    }

    pub fn pgdata(&self) -> PathBuf {
        self.dir.join("primary")
    }

    pub fn psql(&self, port: u16, sql: &str) -> String {
        psql(&self.dir, port, sql)
    }

    /// Registers another data directory whose server must be stopped at the end.
    pub fn guard(&mut self, pgdata: PathBuf) {
        self.guards.push(Server { pgdata });
    }

    pub fn inputs(&self, target: RecoveryTarget, mode: RestoreMode) -> RecoveryInputs {
        let d = &self.dir;
        RecoveryInputs {
            server: ServerSpec {
                name: "db1".into(),
                pgdata: self.pgdata(),
                bin_dir: BIN.into(),
                port: self.port,
                run_as: Some("postgres".into()),
                dsn: format!(
                    "host={} port={} user=postgres dbname=postgres",
                    d.display(),
                    self.port
                ),
                socket_dir: Some(d.clone()),
                service: Default::default(),
                config_file: None,
                patroni: None,
            },
            backup: Backup {
                id: "b1".into(),
                label: None,
                format: BackupFormat::Plain,
                location: d.join("backups/b1").display().to_string(),
                timeline: TimelineId(1),
                start_lsn: self.facts.backup_start,
                stop_lsn: self.facts.backup_stop,
                start_time: Utc::now(),
                stop_time: Utc::now(),
                stop_time_exact: false,
                segment_size: SegmentSize::DEFAULT,
                system_identifier: None,
                size_bytes: None,
                manifest_wal_ranges: vec![],
                has_manifest: true,
                pg_major: None,
                incremental: None,
            },
            restore_command: format!("cp {}/archive/%f %p", d.display()),
            target,
            action: FinalAction::Pause,
            mode,
            apps: vec![],
            checks: vec![],
            safety_dump_dir: d.join("dumps"),
            journal_dir: d.join("journal"),
            time_column: Some(TimeColumn {
                table: "public.t".into(),
                column: "created_at".into(),
            }),
            replay_timeout_secs: 120,
            role: pitr_console::config::Role::Operator,
            tool_restore: None,
            new_host: false,
            chain: vec![],
            wal_version: None,
            timeline: None,
            prediction: None,
            backup_check: Default::default(),
            replay_stall_secs: 60,
            wal_spool: self.spool(),
        }
    }

    /// The archive's segments from the backup's on, staged ahead of replay as planning
    /// stages a local repository's.
    fn spool(&self) -> Option<WalSpool> {
        let size = SegmentSize::DEFAULT;
        let first = self.facts.backup_start.segment_number(size.bytes());
        let mut segments: Vec<WalSegment> = std::fs::read_dir(self.dir.join("archive"))
            .ok()?
            .flatten()
            .filter_map(|e| WalSegment::parse_file_name(&e.file_name().to_string_lossy(), size))
            .filter(|s| s.number >= first)
            .collect();
        segments.sort();
        segments.dedup();
        (!segments.is_empty()).then(|| WalSpool {
            runs: runs_of(&segments),
            segment_size: size,
            limit_mib: 1024,
            parallel: 3,
        })
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.guards.clear();
        if std::env::var_os("PITR_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
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
