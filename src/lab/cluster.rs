//! Driving the lab's PostgreSQL server through its own programs (initdb, pg_ctl, psql,
//! pg_basebackup), run as the server's OS user.

use super::binaries::PgBinaries;
use super::error::LabError;
use super::paths::LabPaths;
use crate::adapters::run_as::Switch;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Libpq variables that would redirect psql or pg_basebackup away from the lab's server.
const LIBPQ_ENV: [&str; 8] = [
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGSERVICE",
    "PGOPTIONS",
    "PGPASSFILE",
];

pub struct Cluster {
    pub bins: PgBinaries,
    pub paths: LabPaths,
    pub port: u16,
    /// The OS user owning the files and running the server (None: the current user).
    pub os_user: Option<String>,
    /// The database superuser initdb creates: named after the OS user.
    pub superuser: String,
}

impl Cluster {
    fn switch(&self) -> Switch {
        Switch::to(self.os_user.as_deref())
    }

    /// A command for a server program, run as the server user from the lab directory (a
    /// working directory that user can enter).
    pub fn command(&self, program: &str) -> Command {
        let mut c = self.switch().command(self.bins.path(program));
        c.current_dir(&self.paths.dir);
        for var in LIBPQ_ENV {
            c.env_remove(var);
        }
        c.env("PGAPPNAME", "pitr-console-lab");
        c
    }

    /// Any command (mkdir, chmod...) as the server user.
    pub fn command_as_user(&self, program: &str) -> Command {
        let mut c = self.switch().command(program);
        c.current_dir(&self.paths.dir);
        c
    }

    pub fn run(&self, mut cmd: Command) -> Result<Output, LabError> {
        cmd.stdin(Stdio::null());
        let shown = describe(&cmd);
        let out = cmd.output().map_err(|e| LabError::Command {
            command: shown.clone(),
            status: "could not start".into(),
            detail: e.to_string(),
        })?;
        check(&shown, out, &self.paths)
    }

    pub fn initdb(&self, segment_mib: u32) -> Result<(), LabError> {
        let mut c = self.command("initdb");
        c.arg("-D")
            .arg(self.paths.pgdata())
            .args(["--data-checksums", "--auth=trust", "--encoding=UTF8"])
            .args(["--locale=C", "--wal-segsize"])
            .arg(segment_mib.to_string())
            .arg("-U")
            .arg(&self.superuser);
        self.run(c).map(drop)
    }

    pub fn start(&self) -> Result<(), LabError> {
        let mut c = self.command("pg_ctl");
        c.arg("-D")
            .arg(self.paths.pgdata())
            .arg("-l")
            .arg(self.paths.startup_log())
            .args(["-w", "-t", "60", "start"])
            .stdout(Stdio::null());
        self.run(c).map(drop)
    }

    pub fn stop(&self, mode: &str) -> Result<(), LabError> {
        let mut c = self.command("pg_ctl");
        c.arg("-D")
            .arg(self.paths.pgdata())
            .args(["-m", mode, "-w", "-t", "60", "stop"]);
        self.run(c).map(drop)
    }

    /// `pg_ctl status`: exit 0 when a server runs on the data directory, 3 when not.
    pub fn is_running(&self) -> Result<bool, LabError> {
        if !self.paths.pgdata().join("postmaster.pid").exists() {
            return Ok(false);
        }
        let mut c = self.command("pg_ctl");
        c.arg("-D").arg(self.paths.pgdata()).arg("status");
        let shown = describe(&c);
        let out = c
            .stdin(Stdio::null())
            .output()
            .map_err(|e| LabError::Command {
                command: shown,
                status: "could not start".into(),
                detail: e.to_string(),
            })?;
        Ok(out.status.success())
    }

    /// Runs a psql script against `db` and returns its unaligned, tab-separated rows.
    /// Each statement is its own transaction unless the script says BEGIN.
    pub fn psql(&self, db: &str, script: &str) -> Result<Vec<Vec<String>>, LabError> {
        let mut c = self.command("psql");
        c.args(["-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"])
            .arg("-h")
            .arg(self.paths.socket_dir())
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-U")
            .arg(&self.superuser)
            .arg("-d")
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let shown = describe(&c);
        let spawn_err = |e: std::io::Error| LabError::Command {
            command: shown.clone(),
            status: "could not start".into(),
            detail: e.to_string(),
        };
        let mut child = c.spawn().map_err(spawn_err)?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(script.as_bytes()).map_err(spawn_err)?;
        }
        let out = child.wait_with_output().map_err(spawn_err)?;
        let out = check(&shown, out, &self.paths)?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect())
    }

    /// One row of `cols` columns from a single-row query.
    pub fn row(&self, db: &str, sql: &str, cols: usize) -> Result<Vec<String>, LabError> {
        let rows = self.psql(db, sql)?;
        match rows.as_slice() {
            [row] if row.len() == cols => Ok(row.clone()),
            _ => Err(LabError::Output {
                what: format!("psql `{}`", sql.trim()),
                output: format!("{rows:?}"),
                expected: "exactly one row",
            }),
        }
    }

    /// Polls `ready` every 100 ms until it says yes or `limit` passes.
    pub fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        mut ready: impl FnMut() -> Result<bool, LabError>,
    ) -> Result<(), LabError> {
        let start = Instant::now();
        while !ready()? {
            if start.elapsed() > limit {
                return Err(LabError::Timeout {
                    what: what.to_string(),
                    secs: limit.as_secs(),
                    log: self.paths.log_file(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn check(shown: &str, out: Output, paths: &LabPaths) -> Result<Output, LabError> {
    if out.status.success() {
        return Ok(out);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
    let mut detail: String = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
    if detail.is_empty() {
        detail = String::from_utf8_lossy(&out.stdout).trim().to_string();
    }
    Err(LabError::Command {
        command: shown.to_string(),
        status: out.status.to_string(),
        detail: format!("{detail}\n(server log: {})", log_hint(paths)),
    })
}

fn log_hint(paths: &LabPaths) -> String {
    let main = paths.log_file();
    let path = if main.exists() {
        main
    } else {
        paths.startup_log()
    };
    path.display().to_string()
}
