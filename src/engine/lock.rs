//! One run per server at a time: an exclusive lock on `<journal_dir>/<server>.lock`.
//! The kernel drops the lock when its holder dies, so a stale lock cannot block a resume.

use chrono::{DateTime, Utc};
use fs4::fs_std::FileExt;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub run_id: String,
    pub pid: u32,
    pub since: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("server {server} is busy: run {} (pid {}) holds {} since {}; wait for it to finish, or stop that process and resume its journal", .holder.run_id, .holder.pid, .path.display(), .holder.since)]
    Held {
        server: String,
        path: PathBuf,
        holder: LockHolder,
    },
    #[error("server {server} is busy: {} is locked by another process (holder unknown)", .path.display())]
    HeldUnknown { server: String, path: PathBuf },
    #[error("cannot use lock file {}: {err}", .path.display())]
    Io { path: PathBuf, err: std::io::Error },
}

/// Held while alive; dropping it releases the server.
#[derive(Debug)]
pub struct ServerLock {
    _file: File,
    path: PathBuf,
}

impl ServerLock {
    pub fn acquire(dir: &Path, server: &str, run_id: &str) -> Result<ServerLock, LockError> {
        let path = dir.join(format!("{server}.lock"));
        let io = |err| LockError::Io {
            path: path.clone(),
            err,
        };
        super::journal::create_private_dir(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        if !file.try_lock_exclusive().map_err(io)? {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(match serde_json::from_str::<LockHolder>(&text) {
                Ok(holder) => LockError::Held {
                    server: server.to_string(),
                    path,
                    holder,
                },
                Err(_) => LockError::HeldUnknown {
                    server: server.to_string(),
                    path,
                },
            });
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
        Ok(ServerLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_the_first_named() {
        let dir = tempfile::tempdir().unwrap();
        let first = ServerLock::acquire(dir.path(), "db1", "run-a").unwrap();
        let err = ServerLock::acquire(dir.path(), "db1", "run-b")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("run-a") && err.contains(&std::process::id().to_string()),
            "{err}"
        );
        assert!(ServerLock::acquire(dir.path(), "db2", "run-c").is_ok());
        drop(first);
        assert!(ServerLock::acquire(dir.path(), "db1", "run-b").is_ok());
    }
}
