//! The drill's checks outside the engine's run: the backup's integrity before restoring it,
//! and the site's application smoke command against the restored instance. Both only read.

use super::run_as::Switch;
use crate::domain::backup::{Backup, BackupFormat};
use crate::engine::drill::ItemStatus;
use crate::engine::journal::sha256_hex;
use crate::engine::recovery::RecoveryInputs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The last non-empty lines of a command's output, for the checklist's detail.
fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let kept: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    kept[kept.len().saturating_sub(lines)..].join(" / ")
}

/// Verifies `backup` against its manifest with `pg_verifybackup` (WAL is checked by replay,
/// so `--no-parse-wal`). A tar backup is first checked by its manifest's own checksum, then
/// its base archive is extracted into `scratch` (a new directory, removed afterwards) for
/// pg_verifybackup, which reads plain directories only.
pub fn verify_backup(
    backup: &Backup,
    inputs: &RecoveryInputs,
    scratch: &Path,
) -> (ItemStatus, String) {
    let dir = PathBuf::from(&backup.location);
    match (backup.format, backup.has_manifest) {
        (BackupFormat::Tool, _) => (
            ItemStatus::Noted,
            "held by the backup tool: verify it with the tool (barman check-backup, pgbackrest verify)".into(),
        ),
        (_, false) => (
            ItemStatus::Failed,
            format!(
                "{} has no backup_manifest and no checksum to verify against; take backups with a manifest (pg_basebackup's default since PostgreSQL 13)",
                dir.display()
            ),
        ),
        (BackupFormat::Plain, true) => pg_verifybackup(&dir, inputs),
        (BackupFormat::Tar, true) => {
            let (status, detail) = manifest_checksum(&dir.join("backup_manifest"));
            if status != ItemStatus::Passed {
                return (status, detail);
            }
            verify_tar(&dir, inputs, scratch)
        }
    }
}

fn pg_verifybackup(dir: &Path, inputs: &RecoveryInputs) -> (ItemStatus, String) {
    let program = inputs.server.bin_dir.join("pg_verifybackup");
    let mut cmd = Switch::to(inputs.server.run_as.as_deref()).command(&program);
    cmd.arg("--no-parse-wal").arg(dir);
    match cmd.output() {
        Ok(o) if o.status.success() => (
            ItemStatus::Passed,
            format!("pg_verifybackup --no-parse-wal: {}", tail(&o.stdout, 1)),
        ),
        Ok(o) => (
            ItemStatus::Failed,
            format!(
                "pg_verifybackup {} failed ({}): {}",
                dir.display(),
                o.status,
                tail(&o.stderr, 3)
            ),
        ),
        Err(e) => (
            ItemStatus::Failed,
            format!("cannot run {}: {e}", program.display()),
        ),
    }
}

/// Extracts `base.tar*` and the manifest into `scratch` as the server user, verifies, and
/// removes `scratch` again.
fn verify_tar(dir: &Path, inputs: &RecoveryInputs, scratch: &Path) -> (ItemStatus, String) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let Some(base) = names.iter().find(|n| n.starts_with("base.tar")) else {
        return (
            ItemStatus::Failed,
            format!("{}: no base.tar to verify", dir.display()),
        );
    };
    if scratch.exists() {
        return (
            ItemStatus::Failed,
            format!(
                "{} exists: remove it, the verification extracts there",
                scratch.display()
            ),
        );
    }
    let others: Vec<&String> = names
        .iter()
        .filter(|n| {
            n.contains(".tar") && !n.starts_with("base.tar") && !n.starts_with("pg_wal.tar")
        })
        .collect();
    let switch = Switch::to(inputs.server.run_as.as_deref());
    let extract = switch
        .command("mkdir")
        .arg(scratch)
        .status()
        .and_then(|_| {
            switch
                .command("tar")
                .arg("-xf")
                .arg(dir.join(base))
                .arg("-C")
                .arg(scratch)
                .output()
        })
        .and_then(|o| {
            switch
                .command("cp")
                .arg(dir.join("backup_manifest"))
                .arg(scratch)
                .status()
                .map(|_| o)
        });
    let result = match extract {
        Ok(o) if o.status.success() => {
            let (status, detail) = pg_verifybackup(scratch, inputs);
            let extra = if others.is_empty() {
                String::new()
            } else {
                format!(
                    " (tablespace archives not verified: {})",
                    others
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            (status, format!("{base} extracted and {detail}{extra}"))
        }
        Ok(o) => (
            ItemStatus::Failed,
            format!("cannot extract {base}: {}", tail(&o.stderr, 3)),
        ),
        Err(e) => (ItemStatus::Failed, format!("cannot extract {base}: {e}")),
    };
    if let Err(e) = switch.command("rm").arg("-rf").arg(scratch).status() {
        tracing::warn!(dir = %scratch.display(), error = %e, "could not remove the verification copy");
    }
    result
}

/// A manifest ends with `"Manifest-Checksum": "<sha256 of everything before that line>"`.
fn manifest_checksum(path: &Path) -> (ItemStatus, String) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return (ItemStatus::Failed, format!("{}: {e}", path.display())),
    };
    let key = "\"Manifest-Checksum\": \"";
    let Some(at) = text.rfind(key) else {
        return (
            ItemStatus::Failed,
            format!("{}: no Manifest-Checksum line", path.display()),
        );
    };
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let want: String = text[at + key.len()..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    let got = sha256_hex(&text.as_bytes()[..line_start]);
    if got == want.to_lowercase() {
        (
            ItemStatus::Passed,
            "tar backup: its manifest's checksum verified (pg_verifybackup reads plain backups only)".into(),
        )
    } else {
        (
            ItemStatus::Failed,
            format!(
                "{}: the manifest's checksum does not match its content (edited or damaged)",
                path.display()
            ),
        )
    }
}

/// `key=value` of a DSN (`dbname`, `user`).
fn dsn_value(dsn: &str, key: &str) -> Option<String> {
    dsn.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
}

/// Runs the smoke command with `sh -c`, pointed at the side instance through libpq's
/// environment.
pub fn smoke(
    command: &str,
    inputs: &RecoveryInputs,
    dir: &Path,
    port: u16,
) -> (ItemStatus, String) {
    let host = inputs
        .server
        .socket_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .env("PGHOST", &host)
        .env("PGPORT", port.to_string())
        .env("PITR_DRILL_DIR", dir);
    for (key, var) in [("dbname", "PGDATABASE"), ("user", "PGUSER")] {
        if let Some(v) = dsn_value(&inputs.server.dsn, key) {
            cmd.env(var, v);
        }
    }
    match cmd.output() {
        Ok(o) if o.status.success() => (
            ItemStatus::Passed,
            format!("`{command}` exited 0: {}", tail(&o.stdout, 1)),
        ),
        Ok(o) => (
            ItemStatus::Failed,
            format!("`{command}` failed ({}): {}", o.status, tail(&o.stderr, 3)),
        ),
        Err(e) => (ItemStatus::Failed, format!("cannot run sh: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_checksum_checks_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let body = "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": []\n,";
        let text = format!(
            "{body}\n\"Manifest-Checksum\": \"{}\"}}\n",
            sha256_hex(format!("{body}\n").as_bytes())
        );
        let path = dir.path().join("backup_manifest");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(manifest_checksum(&path).0, ItemStatus::Passed);
        std::fs::write(&path, text.replace("[]", "[ ]")).unwrap();
        assert_eq!(manifest_checksum(&path).0, ItemStatus::Failed);
        assert_eq!(
            dsn_value("host=/x dbname=shop user=pg", "dbname").as_deref(),
            Some("shop")
        );
    }
}
