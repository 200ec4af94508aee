//! Where a side instance may be restored: a plain absolute path that is not production's
//! data directory, one of its tablespaces or the repository, nor contains any of them, so a
//! restore there (and its roll back, which moves the directory aside) cannot touch them.

use crate::config::{RepositoryConfig, ServerConfig};
use crate::domain::paths::{check_plain_path, overlaps};
use std::path::{Path, PathBuf};

/// Where a side instance goes when the operator names no place: `<name>` beside the
/// server's data directory (where its OS user can write, and the engine puts the side
/// instance's log next to it; `fallback` when pgdata has no parent), on the server's port + 1.
/// The console's side restores and drills all place it so.
pub fn default_place(pgdata: &Path, port: u16, name: &str, fallback: &Path) -> (PathBuf, u16) {
    let parent = pgdata.parent().unwrap_or(fallback);
    (parent.join(name), port.saturating_add(1))
}

pub fn check(server: &ServerConfig, repo: &RepositoryConfig, dir: &Path) -> Result<(), String> {
    check_plain_path("--restore-to", dir).map_err(|e| e.to_string())?;
    let dir = resolved(dir);
    let mut guarded: Vec<(String, PathBuf)> = vec![(
        format!("server {}'s pgdata", server.name),
        server.pgdata.clone(),
    )];
    if server.is_local() {
        guarded.extend(
            tablespaces(&server.pgdata)
                .into_iter()
                .map(|t| (format!("a tablespace of server {}", server.name), t)),
        );
    }
    for (what, p) in [
        ("backups", &repo.backups),
        ("wal_archive", &repo.wal_archive),
    ] {
        if let Some(p) = p {
            guarded.push((format!("repository {}'s {what}", repo.name), p.clone()));
        }
    }
    for (what, p) in guarded {
        let p = resolved(&p);
        if overlaps(&dir, &p) {
            return Err(format!(
                "--restore-to {} overlaps {what} ({}): choose a directory outside it, e.g. {}",
                dir.display(),
                p.display(),
                p.with_file_name(format!(
                    "{}-side",
                    p.file_name()
                        .map_or("restore".into(), |n| n.to_string_lossy())
                ))
                .display()
            ));
        }
    }
    Ok(())
}

/// The path with its existing part's symlinks resolved, so a link cannot hide an overlap.
fn resolved(p: &Path) -> PathBuf {
    let mut missing = Vec::new();
    let mut cur = p.to_path_buf();
    loop {
        if let Ok(real) = cur.canonicalize() {
            return missing.iter().rev().fold(real, |acc, n| acc.join(n));
        }
        match (cur.file_name().map(|n| n.to_os_string()), cur.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name);
                cur = parent.to_path_buf();
            }
            _ => return p.to_path_buf(),
        }
    }
}

/// Where production's tablespaces live (the targets of `pg_tblspc/*`).
fn tablespaces(pgdata: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(pgdata.join("pg_tblspc")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(pgdata: &Path) -> ServerConfig {
        toml::from_str::<ServerConfig>(&format!(
            "name = \"db1\"\npgdata = \"{}\"\ndsn = \"\"\nrepository = \"r\"",
            pgdata.display()
        ))
        .unwrap()
    }

    #[test]
    fn inside_or_around_production_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let pgdata = root.path().join("data");
        let ts = root.path().join("ts1");
        std::fs::create_dir_all(pgdata.join("pg_tblspc")).unwrap();
        std::fs::create_dir(&ts).unwrap();
        std::os::unix::fs::symlink(&ts, pgdata.join("pg_tblspc/16500")).unwrap();
        let repo = RepositoryConfig {
            name: "r".into(),
            wal_archive: Some(root.path().join("wal")),
            ..Default::default()
        };
        let s = server(&pgdata);
        for bad in [
            pgdata.join("side"),
            root.path().to_path_buf(),
            ts.join("x"),
            root.path().join("wal/side"),
        ] {
            let e = check(&s, &repo, &bad).unwrap_err();
            assert!(e.contains("overlaps"), "{e}");
        }
        assert!(check(&s, &repo, &root.path().join("side")).is_ok());
        let e = check(&s, &repo, Path::new("/x/dq\"x$(id>PWN)")).unwrap_err();
        assert!(e.contains("is not allowed"), "{e}");
    }
}
