//! Where a lab keeps its parts, and where labs live by default.

use nix::unistd::Uid;
use std::path::{Path, PathBuf};

/// Default lab directory when running as root: `postgres` must reach and own it, so it
/// cannot sit under /root, and /var/lib survives reboots (unlike /tmp).
pub const ROOT_DEFAULT_DIR: &str = "/var/lib/pitr-console/lab";

/// Written first when a build starts, so `lab down` can clean up after a failed build
/// without ever deleting a directory the lab did not create.
pub const MARKER: &str = ".pitr-console-lab";
pub const RECORD: &str = "lab.json";
pub const CONFIG: &str = "pitr-console.toml";

/// The layout of one lab directory.
#[derive(Debug, Clone)]
pub struct LabPaths {
    pub dir: PathBuf,
}

impl LabPaths {
    pub fn new(dir: &Path) -> LabPaths {
        LabPaths {
            dir: dir.to_path_buf(),
        }
    }
    pub fn pgdata(&self) -> PathBuf {
        self.dir.join("pgdata")
    }
    pub fn wal_archive(&self) -> PathBuf {
        self.dir.join("wal-archive")
    }
    pub fn backups(&self) -> PathBuf {
        self.dir.join("backups")
    }
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.join("run")
    }
    pub fn log_dir(&self) -> PathBuf {
        self.dir.join("log")
    }
    pub fn log_file(&self) -> PathBuf {
        self.log_dir().join("postgresql.log")
    }
    /// pg_ctl's own output, and the server's until its logging collector takes over.
    pub fn startup_log(&self) -> PathBuf {
        self.log_dir().join("startup.log")
    }
    pub fn journal_dir(&self) -> PathBuf {
        self.dir.join("journal")
    }
    pub fn archive_script(&self) -> PathBuf {
        self.dir.join("archive-wal.sh")
    }
    pub fn marker(&self) -> PathBuf {
        self.dir.join(MARKER)
    }
    pub fn record(&self) -> PathBuf {
        self.dir.join(RECORD)
    }
    pub fn config(&self) -> PathBuf {
        self.dir.join(CONFIG)
    }
}

/// Where `lab up` builds when no `--dir` is given: as root a system directory `postgres`
/// can own, otherwise the user's data directory.
pub fn default_dir() -> PathBuf {
    if Uid::effective().is_root() {
        return PathBuf::from(ROOT_DEFAULT_DIR);
    }
    directories::ProjectDirs::from("", "", "pitr-console")
        .map(|d| d.data_dir().join("lab"))
        .unwrap_or_else(|| std::env::temp_dir().join("pitr-console-lab"))
}

/// The default lab, when one has been built (the configuration fallback uses it).
pub fn find_existing() -> Option<PathBuf> {
    let dir = default_dir();
    LabPaths::new(&dir).record().is_file().then_some(dir)
}
