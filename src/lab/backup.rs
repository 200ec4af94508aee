//! Taking the lab's base backups with pg_basebackup.

use super::cluster::Cluster;
use super::error::LabError;
use super::record::LabBackup;
use super::workload::{lsn, number};
use crate::domain::backup::BackupFormat;
use crate::domain::timeline::TimelineId;
use chrono::Utc;
use std::path::PathBuf;

/// `pg_basebackup -X none`: the backup relies on the WAL archive, as in production setups
/// that keep WAL in one place; the server waits until the stop segment is archived, so the
/// backup history file (`<segment>.<offset>.backup`) is there when it returns. That file is
/// the server's own account of the backup's WAL range, which the record keeps.
/// `--no-sync`: a sandbox's backups need not survive a power cut, and syncing a thousand
/// small files costs seconds on every build.
/// `parent`: take an incremental backup on that backup's manifest (17+, plain only, since
/// pg_combinebackup reads plain backups alone).
pub fn take(
    c: &Cluster,
    id: &str,
    format: BackupFormat,
    label: &str,
    parent: Option<&LabBackup>,
) -> Result<LabBackup, LabError> {
    let path = c.paths.backups().join(id);
    let before = history_files(c)?;
    let started_at = Utc::now();
    let mut cmd = c.command("pg_basebackup");
    cmd.arg("-h")
        .arg(c.paths.socket_dir())
        .arg("-p")
        .arg(c.port.to_string())
        .arg("-U")
        .arg(&c.superuser)
        .arg("-D")
        .arg(&path)
        .args([
            "-X",
            "none",
            "--checkpoint=fast",
            "--no-sync",
            "--label",
            label,
        ]);
    match format {
        BackupFormat::Tar => cmd.args(["-F", "t", "--gzip"]),
        _ => cmd.args(["-F", "p"]),
    };
    if let Some(p) = parent {
        cmd.arg(format!(
            "--incremental={}",
            p.path.join("backup_manifest").display()
        ));
    }
    c.run(cmd)?;
    let finished_at = Utc::now();
    let new: Vec<PathBuf> = history_files(c)?
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    let [file] = new.as_slice() else {
        return Err(LabError::Output {
            what: format!(
                "the WAL archive {} after pg_basebackup",
                c.paths.wal_archive().display()
            ),
            output: format!("{new:?}"),
            expected: "exactly one new .backup history file",
        });
    };
    let text = std::fs::read_to_string(file)
        .map_err(LabError::io(file, "could not read the backup history file"))?;
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_string())
            .ok_or_else(|| LabError::Output {
                what: file.display().to_string(),
                output: text.clone(),
                expected: "START WAL LOCATION, STOP WAL LOCATION and START TIMELINE lines",
            })
    };
    let first_word = |v: String| v.split_whitespace().next().unwrap_or_default().to_string();
    let timeline = field("START TIMELINE:")?;
    Ok(LabBackup {
        id: id.to_string(),
        format,
        path,
        label: label.to_string(),
        start_lsn: lsn(&first_word(field("START WAL LOCATION:")?))?,
        stop_lsn: lsn(&first_word(field("STOP WAL LOCATION:")?))?,
        timeline: TimelineId(number(&timeline)? as u32),
        history_file: file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        incremental_on: parent.map(|p| p.id.clone()),
        started_at,
        finished_at,
    })
}

fn history_files(c: &Cluster) -> Result<Vec<PathBuf>, LabError> {
    let dir = c.paths.wal_archive();
    let entries =
        std::fs::read_dir(&dir).map_err(LabError::io(&dir, "could not list the WAL archive"))?;
    Ok(entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "backup"))
        .collect())
}
