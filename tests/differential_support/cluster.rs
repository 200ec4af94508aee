//! A PostgreSQL data directory (15, or the version `bin_dir` names) driven through its own programs as the server user: the
//! primary the incidents happen on, and the side copies the harness restores by itself.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN_DIR: &str = "/usr/lib/postgresql/15/bin";
pub const SERVER_USER: &str = "postgres";

/// A command run as the server user when the test runs as root (initdb refuses root).
pub fn as_server_user(program: &str) -> Command {
    let mut c = if nix::unistd::Uid::effective().is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", SERVER_USER, "--", program]);
        c
    } else {
        Command::new(program)
    };
    for var in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGSERVICE",
        "PGOPTIONS",
    ] {
        c.env_remove(var);
    }
    c.current_dir("/tmp").stdin(Stdio::null());
    c
}

/// The PostgreSQL binaries the clusters run on: 15's, or `PITR_DIFFERENTIAL_PG_BIN` (the
/// PostgreSQL 18 variant of the test sets it before anything starts).
pub fn bin_dir() -> String {
    std::env::var("PITR_DIFFERENTIAL_PG_BIN").unwrap_or_else(|_| BIN_DIR.to_string())
}

pub fn bin(program: &str) -> String {
    format!("{}/{program}", bin_dir())
}

/// Runs `cmd`, panicking with its stderr when it fails: the harness's own setup must work.
pub fn must(mut cmd: Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not start: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A directory the server user owns, under a temp dir the test removes.
pub fn server_dir(path: &Path) {
    must(
        {
            let mut c = as_server_user("mkdir");
            c.arg("-p").arg(path);
            c
        },
        "mkdir",
    );
}

#[derive(Debug, Clone)]
pub struct Pg {
    pub pgdata: PathBuf,
    pub port: u16,
    pub socket_dir: PathBuf,
    pub log: PathBuf,
}

impl Pg {
    pub fn pg_ctl(&self, args: &[&str]) -> Output {
        let mut c = as_server_user(&bin("pg_ctl"));
        c.arg("-D").arg(&self.pgdata).args(args);
        c.output().expect("pg_ctl runs")
    }

    /// Starts the server; false when it exited during startup (read the log for why).
    pub fn start(&self) -> bool {
        let log = self.log.display().to_string();
        self.pg_ctl(&["-l", &log, "-w", "-t", "120", "start"])
            .status
            .success()
    }

    pub fn stop(&self, mode: &str) {
        if self.pgdata.join("postmaster.pid").exists() {
            let _ = self.pg_ctl(&["-m", mode, "-w", "-t", "60", "stop"]);
        }
    }

    pub fn running(&self) -> bool {
        self.pgdata.join("postmaster.pid").exists() && self.pg_ctl(&["status"]).status.success()
    }

    /// A psql script (meta-commands allowed); its rows, tab-separated. None when psql fails (server gone).
    pub fn try_psql(&self, sql: &str) -> Option<Vec<Vec<String>>> {
        let mut c = as_server_user(&bin("psql"));
        c.args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-F",
            "\t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
        ])
        .arg(&self.socket_dir)
        .args([
            "-p",
            &self.port.to_string(),
            "-U",
            SERVER_USER,
            "-d",
            "postgres",
        ])
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().ok()?;
        child.stdin.take()?.write_all(sql.as_bytes()).ok()?;
        let out = child.wait_with_output().ok()?;
        if !out.status.success() {
            return None;
        }
        Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| l.split('\t').map(str::to_string).collect())
                .collect(),
        )
    }

    pub fn psql(&self, sql: &str) -> Vec<Vec<String>> {
        self.try_psql(sql).unwrap_or_else(|| {
            panic!(
                "psql on port {} failed: {sql}\n{}",
                self.port,
                self.log_tail()
            )
        })
    }

    /// The first column of the only row.
    pub fn one(&self, sql: &str) -> String {
        let rows = self.psql(sql);
        rows.first()
            .and_then(|r| r.first())
            .cloned()
            .unwrap_or_else(|| panic!("no row from {sql}"))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(12)..].join("\n")
    }

    /// Polls until `ready` or `limit` passes; false on timeout.
    pub fn wait(&self, limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        while !ready() {
            if start.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        true
    }
}
