//! What a lab build produced, kept in `<dir>/lab.json` so tests and operators can check the
//! console's findings against the truth.

use super::error::LabError;
use crate::domain::backup::BackupFormat;
use crate::domain::lsn::Lsn;
use crate::domain::timeline::TimelineId;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabRecord {
    pub dir: PathBuf,
    pub port: u16,
    pub pgdata: PathBuf,
    pub bin_dir: PathBuf,
    pub pg_version: String,
    pub socket_dir: PathBuf,
    pub wal_archive: PathBuf,
    pub backups_dir: PathBuf,
    pub config_file: PathBuf,
    pub log_file: PathBuf,
    pub database: String,
    /// OS user owning the files and running the server.
    pub server_user: String,
    /// Database superuser (initdb names it after the OS user).
    pub superuser: String,
    pub system_identifier: u64,
    pub segment_size: u64,
    pub timeline: TimelineId,
    pub scale: u32,
    pub with_gap: bool,
    /// With `--incremental`: the last backup is incremental on the first.
    #[serde(default)]
    pub incremental: bool,
    pub created_at: DateTime<Utc>,
    pub backups: Vec<LabBackup>,
    pub restore_points: Vec<RestorePoint>,
    /// The first is the one the build made; `lab incident` appends.
    pub incidents: Vec<Incident>,
    /// With `--with-gap`: the archived segment removed between backup 2 and the incident.
    pub missing_segment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabBackup {
    pub id: String,
    pub format: BackupFormat,
    pub path: PathBuf,
    pub label: String,
    /// As the server recorded them in the backup history file.
    pub start_lsn: Lsn,
    pub stop_lsn: Lsn,
    pub timeline: TimelineId,
    /// That file's name in the WAL archive (`<segment>.<offset>.backup`).
    pub history_file: String,
    /// An incremental backup's parent (the id of the backup whose manifest it was taken on).
    #[serde(default)]
    pub incremental_on: Option<String>,
    /// Client-side clock around the pg_basebackup run.
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestorePoint {
    pub name: String,
    pub lsn: Lsn,
    pub time: DateTime<Utc>,
}

/// A destructive DELETE, as the server saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub statement: String,
    /// Server clock just before the transaction began and just after it committed.
    pub time_before: DateTime<Utc>,
    pub time_after: DateTime<Utc>,
    /// The commit timestamp itself (track_commit_timestamp is on in the lab): a recovery
    /// target time strictly before it keeps the rows.
    pub commit_time: Option<DateTime<Utc>>,
    pub xid: u64,
    pub lsn_before: Lsn,
    pub lsn_after: Lsn,
    pub rows_before: u64,
    pub rows_after: u64,
    pub deleted: u64,
}

impl LabRecord {
    pub fn load(path: &Path) -> Result<LabRecord, LabError> {
        let text = std::fs::read_to_string(path)
            .map_err(LabError::io(path, "could not read the lab record"))?;
        serde_json::from_str(&text).map_err(|e| LabError::Record {
            path: path.to_path_buf(),
            problem: format!("not a lab record written by `pitr-console lab up`: {e}"),
        })
    }

    /// Writes through a temporary file and a rename so a crash never leaves half a record.
    pub fn save(&self, path: &Path) -> Result<(), LabError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| LabError::Record {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })?;
        write_atomically(path, &text)
    }

    /// The incident the build made.
    pub fn first_incident(&self) -> Option<&Incident> {
        self.incidents.first()
    }

    /// What to print after `lab up`: what was built and how to open the console.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Lab in {} (PostgreSQL {}, port {}, server user {}, database {}, WAL segments of {} KiB)",
            self.dir.display(),
            self.pg_version,
            self.port,
            self.server_user,
            self.database,
            self.segment_size / 1024
        );
        let _ = writeln!(s, "  WAL archive: {}", self.wal_archive.display());
        let _ = writeln!(s, "  Backups in {}:", self.backups_dir.display());
        for b in &self.backups {
            let _ = writeln!(
                s,
                "    {:<19} {:<5} timeline {}  start {}  stop {}  finished {}{}",
                b.id,
                format!("{:?}", b.format).to_lowercase(),
                b.timeline,
                b.start_lsn,
                b.stop_lsn,
                utc(b.finished_at),
                b.incremental_on
                    .as_ref()
                    .map(|p| format!("  incremental on {p}"))
                    .unwrap_or_default()
            );
        }
        for rp in &self.restore_points {
            let _ = writeln!(
                s,
                "  Restore point {:<16} at {}  {}",
                rp.name,
                rp.lsn,
                utc(rp.time)
            );
        }
        for (i, inc) in self.incidents.iter().enumerate() {
            let _ = writeln!(
                s,
                "  Incident {}: `{}` deleted {} of {} rows (xid {})",
                i + 1,
                inc.statement,
                inc.deleted,
                inc.rows_before,
                inc.xid
            );
            if let Some(t) = inc.commit_time {
                let _ = writeln!(s, "    committed at {}", utc(t));
            }
            let _ = writeln!(
                s,
                "    between {} and {}, WAL {} .. {}",
                utc(inc.time_before),
                utc(inc.time_after),
                inc.lsn_before,
                inc.lsn_after
            );
        }
        if let Some(seg) = &self.missing_segment {
            let _ = writeln!(
                s,
                "  Missing from the archive on purpose (--with-gap): {seg}"
            );
        }
        let _ = write!(
            s,
            "Open the console: pitr-console --config {}",
            self.config_file.display()
        );
        if super::paths::find_existing().as_deref() == Some(self.dir.as_path()) {
            let _ = write!(s, "  (or just `pitr-console`)");
        }
        s
    }
}

fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn write_atomically(path: &Path, text: &str) -> Result<(), LabError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(LabError::io(&tmp, "could not write"))?;
    std::fs::rename(&tmp, path).map_err(LabError::io(path, "could not replace"))
}
