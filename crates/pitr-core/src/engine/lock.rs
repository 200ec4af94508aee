//! One run per server at a time, whatever journal directory or process it comes from.
//!
//! The lock belongs to the server: it is keyed by host and data directory and lives in the
//! per-host state directory (`state_dir`), never beside a journal. Two things are kept there:
//! - `<key>.lock`, flock'ed while a process drives a run (the kernel drops it when its holder
//!   dies, so a dead process never blocks a resume);
//! - `<key>.run`, the record of the run that has not ended yet. It outlives the process: a run
//!   paused at its decision, failed or aborted keeps the server until it is promoted, rolled
//!   back or abandoned, so a second run cannot snapshot a half-recovered server as "before".

use super::journal::sha256_hex;
use super::state_dir::StateDir;
use chrono::{DateTime, Utc};
use fs4::fs_std::FileExt;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The server a lock is for: where its data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerKey {
    pub server: String,
    pub host: String,
    pub pgdata: PathBuf,
}

impl ServerKey {
    /// `<server>-<16 hex of sha256(host, pgdata)>`: readable, and unique per data directory
    /// whatever the server is called in one configuration or another.
    fn stem(&self) -> String {
        let name: String = self
            .server
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let id = format!("{}\0{}", self.host, self.pgdata.display());
        format!("{name}-{}", &sha256_hex(id.as_bytes())[..16])
    }

    fn describe(&self) -> String {
        format!(
            "server {} ({}:{})",
            self.server,
            self.host,
            self.pgdata.display()
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub run_id: String,
    pub pid: u32,
    pub since: DateTime<Utc>,
}

/// A run that has not ended: it holds its server until promoted, rolled back or abandoned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnfinishedRun {
    pub run_id: String,
    pub server: String,
    pub host: String,
    pub pgdata: PathBuf,
    pub journal: PathBuf,
    pub since: DateTime<Utc>,
}

impl UnfinishedRun {
    /// What the operator can do about it, as commands.
    pub fn next_steps(&self) -> String {
        let j = self.journal.display();
        format!(
            "continue it with `pitr-console resume {j}` (add `--action roll-back --yes` to put everything back, `--action promote --yes` to keep it), or give it up with `pitr-console abandon {j}` (everything stays on disk)"
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{} is busy: run {} (pid {}) drives it since {} (lock {}); wait for it to finish, or stop that process and resume its journal", .key.describe(), .holder.run_id, .holder.pid, .holder.since, .path.display())]
    Held {
        key: Box<ServerKey>,
        path: PathBuf,
        holder: Box<LockHolder>,
    },
    #[error("{} is busy: {} is locked by another process (holder unknown)", .key.describe(), .path.display())]
    HeldUnknown { key: Box<ServerKey>, path: PathBuf },
    #[error("{} has an unfinished run {} (journal {}, since {}): a new run would take the half-recovered server for the original. {}", .key.describe(), .run.run_id, .run.journal.display(), .run.since, .run.next_steps())]
    Unfinished {
        key: Box<ServerKey>,
        run: Box<UnfinishedRun>,
    },
    #[error("lock file {} is a symbolic link, which the console never follows: someone else may write the state directory; move the link aside, check who made it, and retry", .path.display())]
    Link { path: PathBuf },
    #[error("cannot use lock file {}: {err}", .path.display())]
    Io { path: PathBuf, err: std::io::Error },
    #[error(transparent)]
    StateDir(#[from] super::state_dir::StateDirError),
}

/// Held while alive; dropping it releases the server to other processes (the unfinished
/// record, if any, stays).
#[derive(Debug)]
pub struct ServerLock {
    file: File,
    path: PathBuf,
    record: PathBuf,
    key: ServerKey,
    run_id: String,
    /// The pid of a process that had held the lock and died (from the lock file).
    pub taken_over: Option<LockHolder>,
}

/// A holder that lets go on purpose empties the lock file first, still holding the flock:
/// a holder found in it later is one that died (killed, crashed) without letting go.
impl Drop for ServerLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0).and_then(|_| self.file.sync_data());
    }
}

impl ServerLock {
    /// Takes the server for `run_id`. Refused while another process holds it, and while
    /// another run has not ended.
    pub fn acquire(
        state: &StateDir,
        key: &ServerKey,
        run_id: &str,
    ) -> Result<ServerLock, LockError> {
        let stem = key.stem();
        let path = state.path().join(format!("{stem}.lock"));
        let record = state.path().join(format!("{stem}.run"));
        let io = |err| LockError::Io {
            path: path.clone(),
            err,
        };
        // O_NOFOLLOW: a link planted in place of the lock file is refused, not followed.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| match e.raw_os_error() {
                Some(nix::libc::ELOOP) => LockError::Link { path: path.clone() },
                _ => io(e),
            })?;
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        let previous = serde_json::from_str::<LockHolder>(&text).ok();
        if !file.try_lock_exclusive().map_err(io)? {
            return Err(match previous {
                Some(holder) => LockError::Held {
                    key: Box::new(key.clone()),
                    path,
                    holder: Box::new(holder),
                },
                None => LockError::HeldUnknown {
                    key: Box::new(key.clone()),
                    path,
                },
            });
        }
        if let Some(run) = read_record(&record)? {
            if run.run_id != run_id {
                return Err(LockError::Unfinished {
                    key: Box::new(key.clone()),
                    run: Box::new(run),
                });
            }
        }
        let holder = LockHolder {
            run_id: run_id.to_string(),
            pid: std::process::id(),
            since: Utc::now(),
        };
        let text = serde_json::to_string(&holder).unwrap_or_default();
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(text.as_bytes()))
            .and_then(|_| file.sync_data())
            .map_err(io)?;
        Ok(ServerLock {
            file,
            path,
            record,
            key: key.clone(),
            run_id: run_id.to_string(),
            taken_over: previous.filter(|p| p.pid != std::process::id()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What to tell the operator when the lock was last held by a process that has died.
    pub fn takeover_note(&self) -> Option<String> {
        self.taken_over.as_ref().map(|old| {
            format!(
                "the server's lock was last held by pid {} (run {}, since {}), which has ended; taken over",
                old.pid, old.run_id, old.since
            )
        })
    }

    /// Records the run as unfinished: from here on it holds the server across processes.
    pub fn claim(&self, journal: &Path) -> Result<(), LockError> {
        let run = UnfinishedRun {
            run_id: self.run_id.clone(),
            server: self.key.server.clone(),
            host: self.key.host.clone(),
            pgdata: self.key.pgdata.clone(),
            journal: std::path::absolute(journal).unwrap_or_else(|_| journal.to_path_buf()),
            since: Utc::now(),
        };
        write_record(&self.record, &run)
    }

    /// The run ended (promoted, rolled back, refused): the server is free again.
    pub fn release_run(&self) -> Result<(), LockError> {
        remove_record(&self.record)
    }
}

/// The unfinished run of `key`, if any.
pub fn unfinished(state: &StateDir, key: &ServerKey) -> Result<Option<UnfinishedRun>, LockError> {
    read_record(&state.path().join(format!("{}.run", key.stem())))
}

/// Every unfinished run recorded on this host (for `abandon`, which is given a journal).
pub fn all_unfinished(state: &StateDir) -> Vec<(PathBuf, UnfinishedRun)> {
    let Ok(dir) = std::fs::read_dir(state.path()) else {
        return Vec::new();
    };
    dir.flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "run"))
        .filter_map(|p| read_record(&p).ok().flatten().map(|r| (p, r)))
        .collect()
}

/// Forgets an unfinished run (the operator abandoned it): removes its record only.
pub fn forget(record: &Path) -> Result<(), LockError> {
    remove_record(record)
}

fn read_record(path: &Path) -> Result<Option<UnfinishedRun>, LockError> {
    let io = |err| LockError::Io {
        path: path.to_path_buf(),
        err,
    };
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io)?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| io(std::io::Error::other(format!("unreadable run record: {e}"))))
}

/// Written to a temp file, fsynced, renamed over the record, the directory fsynced: a crash
/// leaves the old record or the new one, never half of one.
fn write_record(path: &Path, run: &UnfinishedRun) -> Result<(), LockError> {
    let io = |err| LockError::Io {
        path: path.to_path_buf(),
        err,
    };
    let tmp = path.with_extension("run.tmp");
    let text = serde_json::to_string_pretty(run).map_err(|e| io(std::io::Error::other(e)))?;
    let _ = std::fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(io)?;
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    sync_parent(path).map_err(io)
}

fn remove_record(path: &Path) -> Result<(), LockError> {
    match std::fs::remove_file(path) {
        Ok(()) => sync_parent(path).map_err(|err| LockError::Io {
            path: path.to_path_buf(),
            err,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(LockError::Io {
            path: path.to_path_buf(),
            err,
        }),
    }
}

fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) => File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(server: &str, pgdata: &str) -> ServerKey {
        ServerKey {
            server: server.into(),
            host: "h1".into(),
            pgdata: pgdata.into(),
        }
    }

    #[test]
    fn second_holder_is_refused_with_the_first_named() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(&dir.path().join("state")).unwrap();
        let first = ServerLock::acquire(&state, &key("db1", "/d1"), "run-a").unwrap();
        let err = ServerLock::acquire(&state, &key("db1", "/d1"), "run-b")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("run-a") && err.contains(&std::process::id().to_string()),
            "{err}"
        );
        assert!(ServerLock::acquire(&state, &key("db2", "/d2"), "run-c").is_ok());
        drop(first);
        assert!(ServerLock::acquire(&state, &key("db1", "/d1"), "run-b").is_ok());
    }

    #[test]
    fn the_same_data_directory_under_another_name_is_the_same_server() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(&dir.path().join("state")).unwrap();
        let a = key("prod", "/srv/pg");
        let b = key("prod", "/srv/pg");
        let _first = ServerLock::acquire(&state, &a, "run-a").unwrap();
        assert!(ServerLock::acquire(&state, &b, "run-b").is_err());
        let other_host = ServerKey {
            host: "h2".into(),
            ..b
        };
        assert!(ServerLock::acquire(&state, &other_host, "run-c").is_ok());
    }

    #[test]
    fn an_unfinished_run_holds_the_server_after_its_process_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(&dir.path().join("state")).unwrap();
        let k = key("db1", "/d1");
        let first = ServerLock::acquire(&state, &k, "run-a").unwrap();
        first.claim(Path::new("/j/db1-run-a.jsonl")).unwrap();
        drop(first);
        let err = ServerLock::acquire(&state, &k, "run-b").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, LockError::Unfinished { .. }), "{text}");
        assert!(
            text.contains("/j/db1-run-a.jsonl") && text.contains("pitr-console abandon"),
            "{text}"
        );
        // Its own resume may go on; once it ended the server is free.
        let again = ServerLock::acquire(&state, &k, "run-a").unwrap();
        assert!(unfinished(&state, &k).unwrap().is_some());
        again.release_run().unwrap();
        drop(again);
        assert!(ServerLock::acquire(&state, &k, "run-b").is_ok());
    }

    #[test]
    fn a_link_in_place_of_the_lock_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(&dir.path().join("state")).unwrap();
        let k = key("db1", "/d1");
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "").unwrap();
        std::os::unix::fs::symlink(&target, state.path().join(format!("{}.lock", k.stem())))
            .unwrap();
        assert!(matches!(
            ServerLock::acquire(&state, &k, "run-a"),
            Err(LockError::Link { .. })
        ));
    }

    #[test]
    fn only_a_holder_that_died_is_reported_as_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(&dir.path().join("state")).unwrap();
        let k = key("db1", "/d1");
        drop(ServerLock::acquire(&state, &k, "run-a").unwrap());
        let clean = ServerLock::acquire(&state, &k, "run-b").unwrap();
        assert!(
            clean.takeover_note().is_none(),
            "a clean release is no takeover"
        );
        drop(clean);
        // A process killed while it held the lock leaves its holder line behind.
        let dead = LockHolder {
            run_id: "run-c".into(),
            pid: 999_999,
            since: Utc::now(),
        };
        std::fs::write(
            state.path().join(format!("{}.lock", k.stem())),
            serde_json::to_string(&dead).unwrap(),
        )
        .unwrap();
        let taken = ServerLock::acquire(&state, &k, "run-d").unwrap();
        let note = taken.takeover_note().unwrap();
        assert!(note.contains("pid 999999 (run run-c"), "{note}");
    }
}
