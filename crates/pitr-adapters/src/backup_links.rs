//! Which symbolic links a base backup may hold, and where they may point.
//!
//! PostgreSQL puts a link at `pg_tblspc/<oid>` for each tablespace and, with a relocated
//! WAL directory, at `pg_wal`. A backup is written by whoever can write the repository, so
//! each link is checked before it is restored: at one of those places, to an absolute path
//! outside the directory being restored and the places the run fences off (production's
//! data directory, the console's own directories, the repository), and for a tablespace to
//! where the backup itself says (its `tablespace_map` line, else a tablespace its
//! `backup_manifest` lists files of). A backup that says nothing of its tablespaces (no
//! map, no manifest: restored only with --allow-unverified-backup) may link only to a
//! tablespace production has, by oid and location.

use crate::engine::ports::{LinkFence, PortError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// What a backup says about its tablespaces.
#[derive(Debug, Default)]
pub struct LinkRules {
    /// `tablespace_map`: oid -> location, when the backup has one.
    map: Option<BTreeMap<String, PathBuf>>,
    /// The tablespace oids `backup_manifest` lists files under, when it has one.
    manifest: Option<BTreeSet<String>>,
    /// What the run knows beyond the backup.
    fence: LinkFence,
}

impl LinkRules {
    /// The rules of the backup whose files are in `dir` (its `tablespace_map` and
    /// `backup_manifest`, when present and readable).
    pub fn of_backup(dir: &Path, fence: &LinkFence) -> LinkRules {
        LinkRules::of_texts(
            std::fs::read_to_string(dir.join("tablespace_map"))
                .ok()
                .as_deref(),
            std::fs::read(dir.join("backup_manifest")).ok().as_deref(),
            fence,
        )
    }

    /// The rules of a backup from its `tablespace_map` and `backup_manifest` contents, read
    /// wherever the backup lives (another host's, over SSH).
    pub fn of_texts(
        tablespace_map: Option<&str>,
        manifest: Option<&[u8]>,
        fence: &LinkFence,
    ) -> LinkRules {
        LinkRules {
            fence: fence.clone(),
            map: tablespace_map.map(parse_map),
            manifest: manifest.and_then(manifest_tablespaces),
        }
    }

    /// The backup's `tablespace_map`, found inside its archive (a tar backup's base.tar).
    pub fn use_map(&mut self, text: &str) {
        self.map = Some(parse_map(text));
    }

    /// Refuses the link at `rel` (relative to the restored directory `dest`) pointing at
    /// `target` unless PostgreSQL would have put it there; `whence` names the backup.
    pub fn check(
        &self,
        rel: &Path,
        target: &Path,
        dest: &Path,
        whence: &Path,
    ) -> Result<(), PortError> {
        let refuse = |why: String| {
            Err(PortError::new(crate::engine::ports::PortErrorKind::Refused, format!(
                "{} in {} is a symbolic link to {}: {why}, so it was not restored: check who wrote this backup, or choose another",
                rel.display(),
                whence.display(),
                target.display()
            )))
        };
        let oid = match place(rel) {
            Some(Place::Wal) => None,
            Some(Place::Tablespace(oid)) => Some(oid),
            None => {
                return refuse(
                    "a backup may hold links only at pg_tblspc/<oid> and pg_wal".to_string(),
                )
            }
        };
        if !target.is_absolute() || target.components().any(|c| c == Component::ParentDir) {
            return refuse(
                "PostgreSQL links to absolute locations, without `..`, and nothing else is followed"
                    .to_string(),
            );
        }
        if target.starts_with(dest) || dest.starts_with(target) {
            return refuse(format!(
                "it points into (or above) the restored directory {}",
                dest.display()
            ));
        }
        if let Some(f) = self
            .fence
            .forbidden
            .iter()
            .find(|f| target.starts_with(f) || f.starts_with(target))
        {
            return refuse(format!(
                "it points into (or above) {}, which no restored server may write (production's data, or the console's or the repository's files)",
                f.display()
            ));
        }
        let Some(oid) = oid else { return Ok(()) };
        if let Some(map) = &self.map {
            return match map.get(&oid) {
                Some(p) if p == target => Ok(()),
                Some(p) => refuse(format!(
                    "the backup's tablespace_map puts tablespace {oid} at {}",
                    p.display()
                )),
                None => refuse(format!(
                    "the backup's tablespace_map has no tablespace {oid}"
                )),
            };
        }
        if let Some(oids) = &self.manifest {
            return match oids.contains(&oid) {
                true => Ok(()),
                false => refuse(format!(
                    "the backup's backup_manifest lists no file of tablespace {oid}"
                )),
            };
        }
        // Nothing in the backup says where its tablespaces go: only where production's
        // own tablespace of that oid is.
        match self.fence.tablespaces.as_ref().map(|t| t.get(&oid)) {
            Some(Some(p)) if p == target => Ok(()),
            Some(Some(p)) => refuse(format!(
                "the backup has neither tablespace_map nor backup_manifest, and production's tablespace {oid} is at {}",
                p.display()
            )),
            Some(None) => refuse(format!(
                "the backup has neither tablespace_map nor backup_manifest, and tablespace {oid} is not one of production's (in place, the only ones such a backup may link to; beside production, none)"
            )),
            None => refuse(
                "the backup has neither tablespace_map nor backup_manifest, and production's tablespaces could not be asked (is it running?)".to_string(),
            ),
        }
    }
}

enum Place {
    Wal,
    Tablespace(String),
}

fn place(rel: &Path) -> Option<Place> {
    let parts: Vec<_> = rel.components().map(|c| c.as_os_str()).collect();
    match parts.as_slice() {
        [one] if *one == "pg_wal" => Some(Place::Wal),
        [dir, oid] if *dir == "pg_tblspc" => oid
            .to_str()
            .filter(|o| !o.is_empty() && o.bytes().all(|b| b.is_ascii_digit()))
            .map(|o| Place::Tablespace(o.to_string())),
        _ => None,
    }
}

/// `<oid> <path>` lines; PostgreSQL escapes a newline or backslash in the path with `\`.
fn parse_map(text: &str) -> BTreeMap<String, PathBuf> {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(oid, path)| {
            let mut out = String::new();
            let mut chars = path.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' {
                    chars.next().unwrap_or(c)
                } else {
                    c
                });
            }
            (oid.to_string(), PathBuf::from(out))
        })
        .collect()
}

/// The oids of `pg_tblspc/<oid>/...` paths among the manifest's files.
fn manifest_tablespaces(bytes: &[u8]) -> Option<BTreeSet<String>> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        #[serde(rename = "Files")]
        files: Vec<File>,
    }
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(rename = "Path")]
        path: Option<String>,
    }
    let m: Manifest = serde_json::from_slice(bytes).ok()?;
    Some(
        m.files
            .iter()
            .filter_map(|f| f.path.as_deref()?.strip_prefix("pg_tblspc/"))
            .filter_map(|rest| rest.split_once('/').map(|(oid, _)| oid.to_string()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rules: &LinkRules, rel: &str, target: &str) -> Result<(), String> {
        rules
            .check(
                Path::new(rel),
                Path::new(target),
                Path::new("/srv/restore"),
                Path::new("/repo/b1"),
            )
            .map_err(|e| e.message)
    }

    #[test]
    fn links_go_only_where_postgresql_puts_them() {
        let none = LinkRules::default();
        assert!(check(&none, "pg_wal", "/srv/wal").is_ok());
        let e = check(&none, "pg_tblspc/16384", "/srv/ts1").unwrap_err();
        assert!(e.contains("could not be asked"), "{e}");
        for (rel, target) in [
            ("postgresql.auto.conf", "/etc/passwd"),
            ("pg_tblspc/x", "/srv/ts"),
            ("base/1/1259", "/srv/x"),
        ] {
            let e = check(&none, rel, target).unwrap_err();
            assert!(
                e.contains("links only at pg_tblspc/<oid> and pg_wal"),
                "{e}"
            );
        }
        for target in ["../../etc", "/srv/../etc", "ts"] {
            let e = check(&none, "pg_tblspc/16384", target).unwrap_err();
            assert!(e.contains("absolute locations"), "{e}");
        }
        for target in ["/srv/restore/base", "/srv", "/"] {
            let e = check(&none, "pg_wal", target).unwrap_err();
            assert!(e.contains("into (or above) the restored directory"), "{e}");
        }
    }

    #[test]
    fn a_tablespace_points_where_the_backup_says() {
        let mapped = LinkRules {
            map: Some(parse_map("16384 /srv/ts\\ one\n")),
            ..Default::default()
        };
        assert!(check(&mapped, "pg_tblspc/16384", "/srv/ts one").is_ok());
        let e = check(&mapped, "pg_tblspc/16384", "/etc").unwrap_err();
        assert!(
            e.contains("tablespace_map puts tablespace 16384 at /srv/ts one"),
            "{e}"
        );
        let e = check(&mapped, "pg_tblspc/16999", "/srv/ts one").unwrap_err();
        assert!(e.contains("has no tablespace 16999"), "{e}");

        let manifest = br#"{"PostgreSQL-Backup-Manifest-Version": 1, "Files": [
            {"Path": "base/1/1259", "Size": 8192},
            {"Path": "pg_tblspc/16384/PG_15_202209061/5/16385", "Size": 0}]}"#;
        let listed = LinkRules {
            manifest: manifest_tablespaces(manifest),
            ..Default::default()
        };
        assert!(check(&listed, "pg_tblspc/16384", "/srv/ts").is_ok());
        let e = check(&listed, "pg_tblspc/16999", "/etc").unwrap_err();
        assert!(e.contains("lists no file of tablespace 16999"), "{e}");
    }

    #[test]
    fn a_backup_that_says_nothing_of_its_tablespaces_links_only_to_productions() {
        let fence = LinkFence {
            forbidden: vec![PathBuf::from("/srv/pgdata"), PathBuf::from("/var/lib/pitr")],
            tablespaces: Some(BTreeMap::from([(
                "16384".to_string(),
                PathBuf::from("/srv/ts"),
            )])),
        };
        let bare = LinkRules {
            fence,
            ..Default::default()
        };
        assert!(check(&bare, "pg_tblspc/16384", "/srv/ts").is_ok());
        let e = check(&bare, "pg_tblspc/16384", "/srv/other").unwrap_err();
        assert!(
            e.contains("production's tablespace 16384 is at /srv/ts"),
            "{e}"
        );
        let e = check(&bare, "pg_tblspc/16999", "/srv/ts").unwrap_err();
        assert!(
            e.contains("tablespace 16999 is not one of production's"),
            "{e}"
        );
        for target in ["/srv/pgdata/pg_wal", "/var/lib/pitr/journal", "/var"] {
            let e = check(&bare, "pg_wal", target).unwrap_err();
            assert!(
                e.contains("which no restored server may write"),
                "{target}: {e}"
            );
        }
    }
}
