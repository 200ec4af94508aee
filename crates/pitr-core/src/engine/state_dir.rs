//! The per-host state directory: what belongs to a server rather than to one journal (run
//! locks, the record of unfinished runs, the journal key). One per host and user, so two
//! journal directories can never hide a run from each other.
//!
//! It is trusted only when it is a real directory (not a link), owned by the effective user,
//! and writable by nobody else; otherwise another local user could plant or replace what the
//! console reads from it.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Environment variable that overrides the configured and default locations (tests, sites
/// that keep state on another filesystem).
pub const STATE_DIR_ENV: &str = "PITR_CONSOLE_STATE_DIR";

#[derive(Debug, thiserror::Error)]
pub enum StateDirError {
    #[error("state directory {}: {err}", .path.display())]
    Io { path: PathBuf, err: std::io::Error },
    #[error("state directory {} is a symbolic link; point {STATE_DIR_ENV} or `state_dir` at a real directory", .path.display())]
    Link { path: PathBuf },
    #[error("state directory {} is owned by uid {owner}, not by this user (uid {me}); use a directory of your own", .path.display())]
    Owner { path: PathBuf, owner: u32, me: u32 },
    #[error("state directory {} has mode {mode:o}: group or others may write to it; run `chmod go-w {}`", .path.display(), .path.display())]
    Mode { path: PathBuf, mode: u32 },
    #[error("no state directory: set {STATE_DIR_ENV} or `state_dir` in the configuration")]
    Unknown,
}

/// A state directory that was checked for owner and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// Creates `path` (0700) when missing, then checks it.
    pub fn open(path: &Path) -> Result<StateDir, StateDirError> {
        let io = |err| StateDirError::Io {
            path: path.to_path_buf(),
            err,
        };
        if std::fs::symlink_metadata(path).is_err() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(io)?;
        }
        check_private_dir(path)?;
        Ok(StateDir {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Refuses a directory that is a link, belongs to another user or that others may write.
pub fn check_private_dir(path: &Path) -> Result<(), StateDirError> {
    let meta = std::fs::symlink_metadata(path).map_err(|err| StateDirError::Io {
        path: path.to_path_buf(),
        err,
    })?;
    if meta.file_type().is_symlink() {
        return Err(StateDirError::Link {
            path: path.to_path_buf(),
        });
    }
    if !meta.is_dir() {
        return Err(StateDirError::Io {
            path: path.to_path_buf(),
            err: std::io::Error::other("not a directory"),
        });
    }
    let me = nix::unistd::Uid::effective().as_raw();
    if meta.uid() != me {
        return Err(StateDirError::Owner {
            path: path.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(StateDirError::Mode {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// The configuration's `state_dir`, set once by whoever loaded the configuration, so that every
/// run of this process (CLI, console, drill) takes its locks in the same place.
static CONFIGURED: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();

/// Records the configured state directory for `current`. Later calls are ignored.
pub fn configure(configured: Option<&Path>) {
    let _ = CONFIGURED.set(configured.map(Path::to_path_buf));
}

/// The state directory of this process: `locate` with the configured one, opened and checked.
pub fn current() -> Result<StateDir, StateDirError> {
    let configured = CONFIGURED.get().cloned().flatten();
    let path = locate(configured.as_deref()).ok_or(StateDirError::Unknown)?;
    StateDir::open(&path)
}

/// Where the state directory is: the environment override, else the configured one, else
/// `/var/lib/pitr-console/state` for root and the user's state directory otherwise.
pub fn locate(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(STATE_DIR_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Some(p) = configured {
        return Some(p.to_path_buf());
    }
    if nix::unistd::Uid::effective().is_root() {
        return Some(PathBuf::from("/var/lib/pitr-console/state"));
    }
    if let Some(p) = std::env::var_os("XDG_STATE_HOME").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p).join("pitr-console"));
    }
    std::env::var_os("HOME")
        .filter(|p| !p.is_empty())
        .map(|h| PathBuf::from(h).join(".local/state/pitr-console"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_state_directory_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(&dir.path().join("state")).unwrap();
        let mode = std::fs::metadata(state.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn a_directory_others_may_write_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = StateDir::open(&path).unwrap_err().to_string();
        assert!(err.contains("chmod go-w"), "{err}");
    }

    #[test]
    fn a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(matches!(
            StateDir::open(&link),
            Err(StateDirError::Link { .. })
        ));
    }
}
