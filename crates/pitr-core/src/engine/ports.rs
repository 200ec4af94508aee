//! What the engine needs from the outside world. Adapters implement these against real
//! processes, PostgreSQL and files; engine unit tests use fakes.

use crate::domain::lsn::Lsn;
use crate::domain::patroni::{ClusterState, NodeStatus};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What kind of failure a port met, for callers that act on it (retry a timeout, name the
/// user for a permission) rather than only show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortErrorKind {
    /// A file, user, or object the call needed does not exist.
    NotFound,
    /// The user this runs as may not do it there.
    Permission,
    /// The file system is full.
    NoSpace,
    /// No answer in the time allowed.
    Timeout,
    /// The other side (a host, a server, an API) cannot be reached or the connection was lost.
    Unreachable,
    /// The other side answered with an error (a remote command, an HTTP status, SQL).
    Remote,
    /// The input is refused as unsafe or malformed (a link planted in a backup, a bad URL).
    Refused,
    Other,
}

/// A port failed: the message says what, where, and what might work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PortError {
    pub kind: PortErrorKind,
    pub message: String,
}

impl PortError {
    pub fn new(kind: PortErrorKind, message: impl Into<String>) -> PortError {
        PortError {
            kind,
            message: message.into(),
        }
    }

    pub fn other(message: impl Into<String>) -> PortError {
        PortError::new(PortErrorKind::Other, message)
    }

    /// `what` with the OS error named (`No space left on device (ENOSPC)`), and for the
    /// two an operator meets most, what to do.
    pub fn io(what: impl std::fmt::Display, err: std::io::Error) -> PortError {
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => PortErrorKind::NotFound,
            std::io::ErrorKind::PermissionDenied => PortErrorKind::Permission,
            std::io::ErrorKind::StorageFull => PortErrorKind::NoSpace,
            std::io::ErrorKind::TimedOut => PortErrorKind::Timeout,
            _ => PortErrorKind::Other,
        };
        let Some(code) = err.raw_os_error() else {
            return PortError::new(kind, format!("{what}: {err}"));
        };
        let text = err.to_string();
        let text = text.split(" (os error").next().unwrap_or(&text);
        let errno = nix::errno::Errno::from_raw(code);
        let hint = match errno {
            nix::errno::Errno::ENOSPC => {
                ": the file system is full; free space there or choose another directory"
            }
            nix::errno::Errno::EACCES | nix::errno::Errno::EPERM => {
                ": the user this runs as may not do this there; check the owner and mode of the directory and its parents"
            }
            _ => "",
        };
        PortError::new(kind, format!("{what}: {text} ({errno:?}){hint}"))
    }
}

#[cfg(test)]
mod port_error_tests {
    use super::PortError;

    #[test]
    fn os_errors_are_named_with_what_to_do() {
        let e = PortError::io(
            "cannot copy /a to /b",
            std::io::Error::from_raw_os_error(28),
        );
        assert_eq!(
            e.message,
            "cannot copy /a to /b: No space left on device (ENOSPC): the file system is full; free space there or choose another directory"
        );
        assert_eq!(e.kind, super::PortErrorKind::NoSpace);
        let e = PortError::io("cannot create /s", std::io::Error::from_raw_os_error(13));
        assert!(
            e.message
                .starts_with("cannot create /s: Permission denied (EACCES): the user"),
            "{}",
            e.message
        );
        assert_eq!(e.kind, super::PortErrorKind::Permission);
        let e = PortError::io("x", std::io::Error::other("plain"));
        assert_eq!(e.message, "x: plain");
    }
}

/// One command to run, shown to the operator exactly as `display()` renders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandSpec {
    pub program: String,
    pub args: Vec<String>,
    /// OS user to run it as (through runuser or sudo), when not the console's own.
    pub run_as: Option<String>,
    /// Environment additions (e.g. `LC_ALL=C` for parseable tool output).
    pub env: Vec<(String, String)>,
    /// Secrets for the child (`PGPASSWORD`): in its environment only, never in its argv,
    /// never shown (`display` prints `***`) and never serialized into a journal or plan.
    #[serde(skip)]
    pub secret_env: Vec<(String, String)>,
    /// Send standard output to this file (created mode 0600) instead of capturing it.
    pub stdout_to: Option<PathBuf>,
    pub timeout: Option<Duration>,
    /// Run through `sh -c` (operator-configured command lines).
    pub shell: bool,
}

impl CommandSpec {
    pub fn new(program: impl Into<String>) -> CommandSpec {
        CommandSpec {
            program: program.into(),
            args: Vec::new(),
            run_as: None,
            env: Vec::new(),
            secret_env: Vec::new(),
            stdout_to: None,
            timeout: None,
            shell: false,
        }
    }

    /// An operator's command line, run by `sh -c`.
    pub fn shell(line: impl Into<String>) -> CommandSpec {
        let mut c = CommandSpec::new("sh");
        c.args = vec!["-c".into(), line.into()];
        c.shell = true;
        c
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, a: I) -> Self {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }

    pub fn run_as(mut self, user: Option<&str>) -> Self {
        self.run_as = user.map(str::to_string);
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn secret_env(mut self, k: &str, v: &str) -> Self {
        self.secret_env.push((k.into(), v.into()));
        self
    }

    pub fn stdout_to(mut self, p: &Path) -> Self {
        self.stdout_to = Some(p.to_path_buf());
        self
    }

    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// The command line as the operator reads it in the plan and the journal.
    pub fn display(&self) -> String {
        let mut s = String::new();
        if let Some(u) = &self.run_as {
            s.push_str(&format!("(as {u}) "));
        }
        for (k, v) in &self.env {
            s.push_str(&format!("{k}={} ", shell_quote(v)));
        }
        for (k, _) in &self.secret_env {
            s.push_str(&format!("{k}=*** "));
        }
        if self.shell {
            s.push_str(self.args.get(1).map(String::as_str).unwrap_or(""));
        } else {
            s.push_str(&shell_quote(&self.program));
            for a in &self.args {
                s.push(' ');
                s.push_str(&shell_quote(a));
            }
        }
        if let Some(p) = &self.stdout_to {
            s.push_str(&format!(" > {}", shell_quote(&p.display().to_string())));
        }
        s
    }
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,%+@".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResult {
    /// None when killed by a signal or the timeout.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    /// Standard output and error interleaved, the last few KiB only.
    pub output: String,
    pub duration: Duration,
}

impl CommandResult {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// Where the links of a restored backup may not lead, beyond what the backup itself says:
/// the run's own knowledge of the server, handed to the file copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkFence {
    /// No link may point into (or above) these: production's data directory and the one
    /// moved aside, the console's journal, dump and state directories, the repository.
    pub forbidden: Vec<PathBuf>,
    /// Where a backup that says nothing of its tablespaces (no tablespace_map, no manifest)
    /// may link them (oid -> location): production's own for a restore in place, none
    /// beside it; None when production could not be asked.
    pub tablespaces: Option<std::collections::BTreeMap<String, PathBuf>>,
}

/// Receives each output line as it is produced.
pub type LineSink<'a> = &'a (dyn Fn(&str) + Send + Sync);

pub trait CommandRunner: Send + Sync {
    /// Runs the command to its end (or timeout). A non-zero exit is a result, not an error;
    /// an error means it could not be started or waited for.
    fn run<'a>(
        &'a self,
        cmd: &'a CommandSpec,
        lines: LineSink<'a>,
    ) -> BoxFuture<'a, Result<CommandResult, PortError>>;

    /// The host the commands run on, for the journal; None for this machine.
    fn host(&self) -> Option<String> {
        None
    }
}

/// The sessions holding locks others wait for (or an ACCESS EXCLUSIVE lock on a table):
/// who blocked the console's statement.
pub const BLOCKERS_SQL: &str = "select a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''), coalesce(a.state, ''), \
coalesce(to_char(now() - a.xact_start, 'HH24:MI:SS'), ''), l.mode, coalesce(l.relation::regclass::text, l.locktype), left(coalesce(a.query, ''), 120) \
from pg_locks l join pg_stat_activity a on a.pid = l.pid \
where l.granted and a.pid <> pg_backend_pid() and (l.mode = 'AccessExclusiveLock' and l.locktype = 'relation' \
or exists (select 1 from pg_locks w where not w.granted and w.locktype = l.locktype and w.relation is not distinct from l.relation and w.transactionid is not distinct from l.transactionid)) \
order by a.xact_start limit 5";

/// Replay as seen from a server in recovery (or just out of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayStatus {
    pub in_recovery: bool,
    pub replay_lsn: Option<Lsn>,
    pub last_replay_time: Option<DateTime<Utc>>,
    /// `not paused`, `pause requested` or `paused`; None out of recovery.
    pub pause_state: Option<String>,
}

/// Rows as text, NULL as None (the simple query protocol's view of any type).
pub type Rows = Vec<Vec<Option<String>>>;

pub trait Sql: Send + Sync {
    fn rows<'a>(&'a self, dsn: &'a str, sql: &'a str) -> BoxFuture<'a, Result<Rows, PortError>>;

    fn replay_status<'a>(&'a self, dsn: &'a str) -> BoxFuture<'a, Result<ReplayStatus, PortError>>;

    /// The first column of the first row.
    fn scalar<'a>(
        &'a self,
        dsn: &'a str,
        sql: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, PortError>> {
        Box::pin(async move {
            let rows = self.rows(dsn, sql).await?;
            Ok(rows
                .into_iter()
                .next()
                .and_then(|r| r.into_iter().next().flatten()))
        })
    }
}

/// Called with the bytes done so far; may be called from a blocking thread.
pub type ByteProgress<'a> = &'a (dyn Fn(u64) + Send + Sync);

/// Files and directories. Blocking: the engine calls the long ones on a blocking thread.
pub trait Fs: Send + Sync {
    fn exists(&self, p: &Path) -> bool;
    /// True when `p` is missing or an empty directory.
    fn is_absent_or_empty(&self, p: &Path) -> Result<bool, PortError>;
    /// Rename in place (same file system); never copies, never deletes.
    fn rename(&self, from: &Path, to: &Path) -> Result<(), PortError>;
    /// Copies a directory tree to `to` (which must not exist), keeping modes and symlinks,
    /// files owned by `owner` when given. Returns the bytes copied.
    fn copy_tree(
        &self,
        from: &Path,
        to: &Path,
        owner: Option<&str>,
        fence: &LinkFence,
        progress: ByteProgress<'_>,
    ) -> Result<u64, PortError>;
    /// Extracts a tar (plain, .gz, .zst or .lz4 by name) into `to`, created if missing.
    /// Progress counts archive bytes read.
    fn extract_tar(
        &self,
        archive: &Path,
        to: &Path,
        owner: Option<&str>,
        fence: &LinkFence,
        progress: ByteProgress<'_>,
    ) -> Result<u64, PortError>;
    /// Bytes under `p` (files only, symlinks not followed).
    fn tree_size(&self, p: &Path) -> Result<u64, PortError>;
    /// Bytes available to unprivileged users on the file system holding `p`.
    fn free_space(&self, p: &Path) -> Result<u64, PortError>;
    fn read_to_string(&self, p: &Path) -> Result<String, PortError>;
    /// Writes (or appends to) a file, mode `mode`, owned by `owner` when given.
    fn write_file(
        &self,
        p: &Path,
        contents: &[u8],
        append: bool,
        mode: u32,
        owner: Option<&str>,
    ) -> Result<(), PortError>;
    fn create_dir_all(&self, p: &Path, mode: u32, owner: Option<&str>) -> Result<(), PortError>;
    fn sha256(&self, p: &Path) -> Result<String, PortError>;
    /// Names of the entries of a directory.
    fn list_dir(&self, p: &Path) -> Result<Vec<String>, PortError>;
    fn file_size(&self, p: &Path) -> Result<u64, PortError>;

    /// The host the files are on, for the journal; None for this machine.
    fn host(&self) -> Option<String> {
        None
    }
}

/// Patroni's REST API, addressed by the base URL of one member (`http://host:8008`).
pub trait PatroniApi: Send + Sync {
    /// `GET /cluster`: members, roles, timelines, lag, pause.
    fn cluster<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<ClusterState, PortError>>;
    /// `GET /patroni`: the member's own view (pause as it has seen it).
    fn node<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<NodeStatus, PortError>>;
    /// `PATCH /config {"pause": ...}`.
    fn set_pause<'a>(&'a self, url: &'a str, pause: bool) -> BoxFuture<'a, Result<(), PortError>>;
    /// `POST /reinitialize` on the member at `url`.
    fn reinitialize<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<String, PortError>>;
    /// `GET /config`: the cluster's dynamic configuration.
    fn config<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<serde_json::Value, PortError>>;
    /// `PATCH /config` with `patch` (a `null` value removes the key).
    fn patch_config<'a>(
        &'a self,
        url: &'a str,
        patch: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<(), PortError>>;
    /// `POST /failover {"candidate": ...}`: the leader hands its key to `candidate`.
    fn failover<'a>(
        &'a self,
        url: &'a str,
        candidate: &'a str,
    ) -> BoxFuture<'a, Result<String, PortError>>;
}

/// The ports a run uses, cheap to clone.
#[derive(Clone)]
pub struct Ports {
    pub commands: Arc<dyn CommandRunner>,
    pub sql: Arc<dyn Sql>,
    pub fs: Arc<dyn Fs>,
    pub patroni: Arc<dyn PatroniApi>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_and_marks_the_user() {
        let c = CommandSpec::new("/usr/bin/pg_ctl")
            .args(["stop", "-D", "/var/lib/pg data", "-m", "fast"])
            .run_as(Some("postgres"));
        assert_eq!(
            c.display(),
            "(as postgres) /usr/bin/pg_ctl stop -D '/var/lib/pg data' -m fast"
        );
        let s = CommandSpec::shell("systemctl stop api").stdout_to(Path::new("/tmp/x"));
        assert_eq!(s.display(), "systemctl stop api > /tmp/x");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
