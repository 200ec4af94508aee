//! A Debian/Ubuntu cluster as postgresql-common makes it (`pg_createcluster 15 NAME`):
//! data in /var/lib/postgresql/15/NAME, configuration and its `conf.d` include in
//! /etc/postgresql/15/NAME, started and stopped with `pg_ctlcluster`. The operator's story:
//! a configuration that forgets where the configuration lives is stopped before anything
//! moves; a side restore runs on its own port with production's configuration under its
//! own overrides; an in-place recovery starts the restored data with the cluster's
//! configuration, and the roll back restarts the original with pg_ctlcluster.
//!
//! The test creates its own cluster and drops it at the end (`pg_dropcluster --stop`).
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use pitr_console::engine::journal::JournalState;
use pitr_console::engine::RunStatus;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const CLUSTER: &str = "pitrfleet";
const PORT: u16 = 57601;
const SIDE_PORT: u16 = 57602;
const SOCKET: &str = "/var/run/postgresql";

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        out.status.success(),
        "`{cmd}`: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn psql(port: u16, sql: &str) -> String {
    sh(&format!(
        "runuser -u postgres -- {PG_BIN}/psql -X -A -t -q -h {SOCKET} -p {port} -d postgres -c \"{sql}\""
    ))
}

fn count(port: u16) -> u64 {
    psql(port, "select count(*) from t").parse().unwrap()
}

fn have_postgresql_common() -> bool {
    if Path::new("/usr/bin/pg_createcluster").exists() && Path::new(PG_BIN).exists() {
        return true;
    }
    println!("SKIPPED: postgresql-common not installed; run scripts/install-test-deps");
    false
}

/// The cluster and everything the test made; dropped and removed also when it fails.
struct DebianCluster {
    tmp: PathBuf,
}

impl DebianCluster {
    fn pgdata() -> PathBuf {
        PathBuf::from(format!("/var/lib/postgresql/15/{CLUSTER}"))
    }

    fn config_dir() -> PathBuf {
        PathBuf::from(format!("/etc/postgresql/15/{CLUSTER}"))
    }

    fn drop_cluster() {
        let _ = Command::new("pg_dropcluster")
            .args(["--stop", "15", CLUSTER])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // pg_dropcluster keeps files it did not make (the test's conf.d include).
        let _ = std::fs::remove_dir_all(Self::config_dir());
        // What recoveries moved aside beside the data directory.
        for e in std::fs::read_dir("/var/lib/postgresql/15")
            .unwrap()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with(&format!("{CLUSTER}.pitr-")) {
                let p = e.path();
                if p.is_dir() {
                    let _ = Command::new(format!("{PG_BIN}/pg_ctl"))
                        .args(["stop", "-m", "immediate", "-D"])
                        .arg(&p)
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                    let _ = std::fs::remove_dir_all(&p);
                } else {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
    }

    /// `pg_createcluster`, its archive in a `conf.d` include, trust for the console's
    /// socket connections, a base backup and a workload with a DELETE after a restore point.
    fn create() -> DebianCluster {
        Self::drop_cluster();
        let tmp = PathBuf::from(format!("/tmp/pitr-fleet-debian-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("archive")).unwrap();
        std::fs::create_dir_all(tmp.join("backups")).unwrap();
        std::fs::create_dir_all(tmp.join("journal")).unwrap();
        sh(&format!("chown -R postgres:postgres {}", tmp.display()));
        // The console's own state directory stays the console user's.
        std::fs::create_dir_all(tmp.join("state")).unwrap();
        let c = DebianCluster { tmp };
        sh(&format!(
            "pg_createcluster 15 {CLUSTER} -p {PORT} >/dev/null"
        ));
        let conf = Self::config_dir();
        std::fs::write(
            conf.join("conf.d/pitr-archive.conf"),
            format!(
                "listen_addresses = ''\nfsync = off\nwal_level = replica\narchive_mode = on\n\
                 archive_command = 'test ! -f {a}/%f && cp %p {a}/%f'\n",
                a = c.tmp.join("archive").display()
            ),
        )
        .unwrap();
        std::fs::write(
            conf.join("pg_hba.conf"),
            "local all all trust\nlocal replication all trust\n",
        )
        .unwrap();
        sh(&format!("pg_ctlcluster 15 {CLUSTER} start"));
        psql(PORT, "create table t(id int primary key, v text)");
        psql(
            PORT,
            "insert into t select g, 'row ' || g from generate_series(1, 1000) g",
        );
        sh(&format!(
            "runuser -u postgres -- {PG_BIN}/pg_basebackup -h {SOCKET} -p {PORT} -D {}/backups/b1 -Fp -X stream -c fast",
            c.tmp.display()
        ));
        psql(
            PORT,
            "insert into t select g, 'row ' || g from generate_series(1001, 1500) g",
        );
        psql(PORT, "select pg_create_restore_point('before_delete')");
        psql(PORT, "delete from t where id <= 300");
        psql(PORT, "select pg_switch_wal()");
        let last = psql(PORT, "select pg_walfile_name(pg_current_wal_lsn())");
        psql(PORT, "select pg_switch_wal()");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !c.tmp.join("archive").join(&last).exists() {
            assert!(Instant::now() < deadline, "segment {last} not archived");
            std::thread::sleep(Duration::from_millis(100));
        }
        c
    }

    fn config(&self, control: Option<&str>) -> PathBuf {
        let t = self.tmp.display();
        let control = control.map_or(String::new(), |c| format!("control = \"{c}\"\n"));
        let text = format!(
            "timezone = \"UTC\"\njournal_dir = \"{t}/journal\"\n\
             [[repository]]\nname = \"local\"\nkind = \"local\"\nbackups = \"{t}/backups\"\nwal_archive = \"{t}/archive\"\n\
             [[server]]\nname = \"deb\"\nrun_as = \"postgres\"\npgdata = \"{}\"\nbin_dir = \"{PG_BIN}\"\nport = {PORT}\n\
             dsn = \"host={SOCKET} port={PORT} user=postgres dbname=postgres\"\nrepository = \"local\"\n{control}",
            Self::pgdata().display()
        );
        let path = self.tmp.join(format!(
            "{}.toml",
            if control.is_empty() {
                "plain"
            } else {
                "debian"
            }
        ));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn cli(&self, config: &Path, args: &[&str]) -> (i32, String) {
        let started = Instant::now();
        let out = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .args(args)
            .env("PITR_CONSOLE_STATE_DIR", self.tmp.join("state"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        eprintln!(
            "$ pitr-console {} -> exit {code} in {:.1} s",
            args.join(" "),
            started.elapsed().as_secs_f64()
        );
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (code, text)
    }

    fn status(&self) -> String {
        sh("pg_lsclusters --no-header")
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(CLUSTER))
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for DebianCluster {
    fn drop(&mut self) {
        let side = self.tmp.join("side");
        if side.exists() {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--", &format!("{PG_BIN}/pg_ctl")])
                .args(["stop", "-m", "immediate", "-D"])
                .arg(&side)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        Self::drop_cluster();
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

fn journal_of(out: &str) -> String {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("roll back: pitr-console resume "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no roll back line in:\n{out}"))
        .to_string()
}

#[test]
fn a_debian_cluster_recovers_in_place_and_rolls_back() {
    if !have_postgresql_common() {
        return;
    }
    let c = DebianCluster::create();
    assert_eq!(count(PORT), 1200);
    let pid_file = format!("/var/run/postgresql/15-{CLUSTER}.pid");
    let production_pid = std::fs::read_to_string(&pid_file).unwrap();

    // Configured as if the configuration lived in pgdata: refused before anything moves.
    let plain = c.config(None);
    let side = c.tmp.join("side");
    let side_arg = side.display().to_string();
    let side_port = SIDE_PORT.to_string();
    let (code, out) = c.cli(
        &plain,
        &[
            "recover",
            "--server",
            "deb",
            "--name",
            "before_delete",
            "--restore-to",
            &side_arg,
            "--port",
            &side_port,
        ],
    );
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains(&format!(
            "set config_dir = \"{}\"",
            DebianCluster::config_dir().display()
        )),
        "{out}"
    );
    assert!(!out.contains("no FATAL line"), "{out}");
    assert!(!side.exists(), "nothing restored after the refusal");
    // The refused run stays unfinished until given up; nothing of it is on disk to keep.
    let refused = out
        .split("Journal: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no journal in:\n{out}"))
        .trim_end_matches(['.', ';'])
        .to_string();
    let (code, out) = c.cli(&plain, &["abandon", &refused]);
    assert_eq!(code, 0, "{out}");

    // The side restore: its own port and data directory, production's configuration with
    // its include, no archiving, and production's pid file left alone.
    let debian = c.config(Some(&format!("pg_ctlcluster:15/{CLUSTER}")));
    let (code, out) = c.cli(
        &debian,
        &[
            "recover",
            "--server",
            "deb",
            "--name",
            "before_delete",
            "--restore-to",
            &side_arg,
            "--port",
            &side_port,
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(count(SIDE_PORT), 1500);
    assert_eq!(
        psql(SIDE_PORT, "show config_file"),
        DebianCluster::config_dir()
            .join("postgresql.conf")
            .display()
            .to_string()
    );
    assert_eq!(psql(SIDE_PORT, "show data_directory"), side_arg);
    assert_eq!(psql(SIDE_PORT, "show archive_mode"), "off");
    assert_eq!(psql(SIDE_PORT, "show external_pid_file"), "");
    assert_eq!(psql(SIDE_PORT, "show fsync"), "off", "conf.d is read");
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), production_pid);
    assert_eq!(count(PORT), 1200, "production untouched");
    let (code, out) = c.cli(
        &debian,
        &[
            "resume",
            &journal_of(&out),
            "--action",
            "roll-back",
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(!side.exists());

    // In place: the restored data starts as the cluster, with its configuration.
    let (code, out) = c.cli(
        &debian,
        &[
            "recover",
            "--server",
            "deb",
            "--name",
            "before_delete",
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let journal = journal_of(&out);
    let journaled = std::fs::read_to_string(&journal).unwrap();
    for cmd in ["stop -m fast", "start"] {
        let line = format!("pg_ctlcluster 15 {CLUSTER} {cmd}");
        assert!(journaled.contains(&line), "{line} not in {journaled}");
    }
    assert_eq!(count(PORT), 1500);
    assert_eq!(psql(PORT, "select pg_is_in_recovery()"), "t");
    assert!(c.status().contains("online,recovery"), "{}", c.status());
    assert_eq!(
        psql(PORT, "show config_file"),
        DebianCluster::config_dir()
            .join("postgresql.conf")
            .display()
            .to_string()
    );

    // Roll back: the original data back and restarted the way it was started.
    let (code, out) = c.cli(
        &debian,
        &["resume", &journal, "--action", "roll-back", "--yes"],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(count(PORT), 1200);
    assert_eq!(psql(PORT, "select pg_is_in_recovery()"), "f");
    let status = c.status();
    assert!(
        status.contains(" online ") && status.contains("postgresql-15-pitrfleet.log"),
        "{status}"
    );
    let state = JournalState::read(Path::new(&journal)).unwrap();
    assert!(
        matches!(state.ended, Some(RunStatus::RolledBack)),
        "{:?}",
        state.ended
    );
}
