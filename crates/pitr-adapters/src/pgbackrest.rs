//! Catalog source and restore commands for `kind = "pgbackrest"` repositories.
//!
//! Backups come from `pgbackrest info --output=json`. `info` gives only the lowest and
//! highest archived segment, so the WAL comes from `pgbackrest repo-ls --recurse` of the
//! stanza's archive (works for any repository type: posix, S3, Azure, GCS, SFTP).

use super::repo_tool::{self, ToolHost};
use crate::config::{RepositoryConfig, RestoreMethod};
use crate::domain::backup::{Backup, BackupFormat};
use crate::domain::catalog::{ArchivedSegment, Catalog, Compression};
use crate::domain::lsn::Lsn;
use crate::domain::restore_command::shell_quote;
use crate::domain::segment::{SegmentSize, WalSegment};
use crate::domain::target::RecoveryTarget;
use crate::domain::timeline::{TimelineHistory, TimelineId};
use crate::engine::inputs::ToolRestore;
use crate::engine::ports::CommandSpec;
use chrono::DateTime;
use serde_json::Value;
use std::path::{Path, PathBuf};

const HINT: &str =
    "install pgBackRest there, e.g. `apt-get install pgbackrest`, or run scripts/install-fleet-deps";

pub struct PgBackRest {
    pub stanza: String,
    pub tool: ToolHost,
    pub config: Option<PathBuf>,
    pub method: RestoreMethod,
}

impl PgBackRest {
    pub fn from_config(repo: &RepositoryConfig) -> Result<PgBackRest, String> {
        let stanza = repo
            .stanza
            .clone()
            .ok_or("kind = \"pgbackrest\" needs `stanza`")?;
        Ok(PgBackRest {
            stanza,
            tool: ToolHost {
                host: None,
                user: repo
                    .pgbackrest_user
                    .clone()
                    .unwrap_or_else(|| "postgres".into()),
                ssh: Default::default(),
            },
            config: repo.pgbackrest_config.clone(),
            method: repo.restore_method.unwrap_or(RestoreMethod::Pgbackrest),
        })
    }

    /// `--config=FILE --stanza=S` (the order pgBackRest itself writes in restore_command).
    fn global(&self) -> Vec<String> {
        let mut w = Vec::new();
        if let Some(c) = &self.config {
            w.push(format!("--config={}", c.display()));
        }
        w.push(format!("--stanza={}", self.stanza));
        w
    }

    fn run(&self, args: &[String]) -> Result<String, String> {
        let mut w = self.global();
        w.extend(args.iter().cloned());
        repo_tool::output(&self.tool.command("pgbackrest", &w), "pgBackRest", HINT)
    }

    fn json(&self, args: &[&str]) -> Result<Value, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let out = self.run(&args)?;
        serde_json::from_str(&out).map_err(|e| {
            format!(
                "`pgbackrest {}` printed something that is not JSON ({e}): {}",
                args.join(" "),
                out.chars().take(200).collect::<String>()
            )
        })
    }

    pub fn read_catalog(&self, name: &str) -> Result<Catalog, String> {
        let mut warnings = Vec::new();
        let info = parse_info(&self.json(&["info", "--output=json"])?, &self.stanza)?;
        if info.status_code != 0 {
            warnings.push(format!(
                "pgBackRest reports stanza `{}` status {}: {}",
                self.stanza, info.status_code, info.status_message
            ));
        }
        let pairs: Vec<(Lsn, String)> = info
            .backups
            .iter()
            .map(|b| (b.start_lsn, b.archive_start.clone()))
            .collect();
        let segment_size = repo_tool::segment_size(None, &pairs, &mut warnings);

        let mut segments = Vec::new();
        let mut histories = Vec::new();
        for archive_id in &info.archive_ids {
            let path = format!("archive/{}/{archive_id}", self.stanza);
            let listing = self.json(&["repo-ls", "--recurse", "--output=json", &path])?;
            let files = parse_repo_ls(&listing, segment_size, &mut warnings)?;
            segments.extend(files.segments);
            for (tli, file) in files.histories {
                let text = self.run(&["repo-get".into(), format!("{path}/{file}")]);
                match text.and_then(|t| TimelineHistory::parse(tli, &t).map_err(|e| e.to_string()))
                {
                    Ok(h) => histories.push(h),
                    Err(e) => warnings.push(format!("{path}/{file}: {e}; ignored")),
                }
            }
        }
        segments.sort_by_key(|s| (s.segment, s.partial));
        segments.dedup_by_key(|s| (s.segment, s.partial));
        histories.sort_by_key(|h| h.timeline);
        histories.dedup_by_key(|h| h.timeline);
        let backups = info
            .backups
            .into_iter()
            .map(|b| Backup {
                location: format!("pgbackrest:{}/{}", self.stanza, b.label),
                id: b.label,
                label: Some(b.kind),
                format: BackupFormat::Tool,
                timeline: b.timeline,
                start_lsn: b.start_lsn,
                stop_lsn: b.stop_lsn,
                start_time: b.start_time,
                stop_time: b.stop_time,
                stop_time_exact: true,
                segment_size,
                system_identifier: b.system_identifier,
                size_bytes: b.size_bytes,
                manifest_wal_ranges: Vec::new(),
                has_manifest: false,
                pg_major: None,
                incremental: None,
            })
            .collect();
        Ok(Catalog {
            repository: name.to_string(),
            segment_size,
            backups,
            segments,
            histories,
            warnings,
            damaged: Vec::new(),
        })
    }

    /// The restore: `pgbackrest restore` into `dest`, and the restore_command replay uses.
    /// The console always restores into an empty directory (the original is moved aside,
    /// never overwritten), so `--delta` never applies.
    pub fn restore(
        &self,
        backup: &Backup,
        target: &RecoveryTarget,
        dest: &Path,
    ) -> (ToolRestore, String) {
        let mut args = self.global();
        args.push(format!("--pg1-path={}", dest.display()));
        args.push("restore".into());
        args.push(format!("--set={}", backup.id));
        match self.method {
            RestoreMethod::ArchiveGet => args.push("--type=none".into()),
            _ => args.extend(target_args(target)),
        }
        let command = self.tool.command("pgbackrest", &args);
        // archive-get refuses to run when the server's data directory is not pg1-path.
        let mut rc: Vec<String> = vec!["pgbackrest".into()];
        rc.extend(self.global().iter().map(|w| shell_quote(w)));
        rc.push(shell_quote(&format!("--pg1-path={}", dest.display())));
        rc.push("archive-get %f \"%p\"".into());
        (
            ToolRestore {
                tool: "pgbackrest".into(),
                commands: vec![command],
                verify: vec![self.verify(backup)],
            },
            rc.join(" "),
        )
    }
}

impl PgBackRest {
    /// `pgbackrest verify`: every file of every backup against its checksum, and the
    /// archive's WAL (2.45 verifies the whole stanza; `--set` came in 2.55). It exits 0 even
    /// when it finds damage and reports a damaged backup only in its info-level log
    /// (`backup: ID, status: invalid` with the missing and invalid files before it), so that
    /// log is printed and read.
    fn verify(&self, backup: &Backup) -> CommandSpec {
        let mut line = vec!["pgbackrest".to_string()];
        line.extend(self.global().iter().map(|w| shell_quote(w)));
        line.push("--log-level-console=info verify".into());
        let bad = shell_quote(&format!("backup: {}, status: invalid", backup.id));
        let script = format!(
            "out=$({} 2>&1); rc=$?; printf '%s\\n' \"$out\"; [ $rc -eq 0 ] || exit $rc; if printf '%s\\n' \"$out\" | grep -qF -- {bad}; then echo \"pgbackrest verify reports backup {} invalid\"; exit 1; fi",
            line.join(" "),
            backup.id
        );
        self.tool.command("sh", &["-c".to_string(), script])
    }
}

/// `pgbackrest restore` options for a target; a pausing target pauses there.
fn target_args(target: &RecoveryTarget) -> Vec<String> {
    let (kind, value, inclusive) = match target {
        RecoveryTarget::Time { at, inclusive } => (
            "time",
            Some(at.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()),
            *inclusive,
        ),
        RecoveryTarget::Xid { xid, inclusive } => ("xid", Some(xid.to_string()), *inclusive),
        RecoveryTarget::Lsn { lsn, inclusive } => ("lsn", Some(lsn.to_string()), *inclusive),
        RecoveryTarget::Name { name } => ("name", Some(name.clone()), true),
        RecoveryTarget::Immediate => ("immediate", None, true),
        // pgBackRest allows no target action for the end of the archive.
        RecoveryTarget::Latest => return vec!["--type=default".into()],
    };
    let mut a = vec![format!("--type={kind}")];
    if let Some(v) = value {
        a.push(format!("--target={v}"));
    }
    if !inclusive {
        a.push("--target-exclusive".into());
    }
    a.push("--target-action=pause".into());
    a
}

#[derive(Debug, Clone, PartialEq)]
pub struct InfoBackup {
    pub label: String,
    /// full, diff or incr.
    pub kind: String,
    pub timeline: TimelineId,
    pub archive_start: String,
    pub start_lsn: Lsn,
    pub stop_lsn: Lsn,
    pub start_time: chrono::DateTime<chrono::Utc>,
    pub stop_time: chrono::DateTime<chrono::Utc>,
    pub size_bytes: Option<u64>,
    pub system_identifier: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    pub status_code: i64,
    pub status_message: String,
    /// `15-1`...: one archive directory per database history entry.
    pub archive_ids: Vec<String>,
    pub backups: Vec<InfoBackup>,
}

/// `pgbackrest info --output=json`: an array of stanzas; ours by name.
pub fn parse_info(v: &Value, stanza: &str) -> Result<Info, String> {
    let s = v
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|s| s.get("name").and_then(Value::as_str) == Some(stanza))
        })
        .ok_or_else(|| format!("pgbackrest info lists no stanza `{stanza}` (is `stanza` right, and stanza-create done?)"))?;
    let status = s.get("status");
    let status_code = status
        .and_then(|st| st.get("code"))
        .and_then(Value::as_i64)
        .unwrap_or(-1);
    let status_message = status
        .and_then(|st| st.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("no status")
        .to_string();
    let archive_ids = s
        .get("archive")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.get("id").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let sysids: Vec<(i64, u64)> = s
        .get("db")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|d| Some((d.get("id")?.as_i64()?, d.get("system-id")?.as_u64()?)))
                .collect()
        })
        .unwrap_or_default();
    let mut backups = Vec::new();
    for b in s
        .get("backup")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        backups.push(parse_backup(b, &sysids)?);
    }
    Ok(Info {
        status_code,
        status_message,
        archive_ids,
        backups,
    })
}

fn parse_backup(b: &Value, sysids: &[(i64, u64)]) -> Result<InfoBackup, String> {
    let label = b
        .get("label")
        .and_then(Value::as_str)
        .ok_or("a backup in pgbackrest info has no `label`")?
        .to_string();
    let get = |path: &[&str]| -> Result<&Value, String> {
        path.iter().try_fold(b, |v, k| v.get(*k)).ok_or(format!(
            "backup {label}: pgbackrest info has no `{}`",
            path.join(".")
        ))
    };
    let text = |path: &[&str]| -> Result<String, String> {
        get(path)?
            .as_str()
            .map(str::to_string)
            .ok_or(format!("backup {label}: `{}` is not text", path.join(".")))
    };
    let lsn = |path: &[&str]| -> Result<Lsn, String> {
        text(path)?
            .parse()
            .map_err(|e| format!("backup {label}: `{}`: {e}", path.join(".")))
    };
    let time = |path: &[&str]| -> Result<chrono::DateTime<chrono::Utc>, String> {
        get(path)?
            .as_i64()
            .and_then(|t| DateTime::from_timestamp(t, 0))
            .ok_or(format!(
                "backup {label}: `{}` is not an epoch",
                path.join(".")
            ))
    };
    let archive_start = text(&["archive", "start"])?;
    let timeline = repo_tool::timeline_of(&archive_start).ok_or(format!(
        "backup {label}: archive.start `{archive_start}` is not a segment name"
    ))?;
    let db_id = b
        .get("database")
        .and_then(|d| d.get("id"))
        .and_then(Value::as_i64);
    Ok(InfoBackup {
        kind: text(&["type"]).unwrap_or_else(|_| "full".into()),
        timeline,
        start_lsn: lsn(&["lsn", "start"])?,
        stop_lsn: lsn(&["lsn", "stop"])?,
        start_time: time(&["timestamp", "start"])?,
        stop_time: time(&["timestamp", "stop"])?,
        size_bytes: b
            .get("info")
            .and_then(|i| i.get("size"))
            .and_then(Value::as_u64),
        system_identifier: sysids
            .iter()
            .find(|(id, _)| Some(*id) == db_id)
            .map(|(_, s)| *s),
        archive_start,
        label,
    })
}

pub struct ArchiveFiles {
    pub segments: Vec<ArchivedSegment>,
    /// History files by timeline, with their path under the archive id.
    pub histories: Vec<(TimelineId, String)>,
}

/// `pgbackrest repo-ls --recurse --output=json archive/STANZA/ID`: an object keyed by
/// path. Segments are `DIR/SEGMENT[.partial]-SHA1[.gz|.lz4|.zst|.bz2]`.
pub fn parse_repo_ls(
    v: &Value,
    segment_size: SegmentSize,
    warnings: &mut Vec<String>,
) -> Result<ArchiveFiles, String> {
    let entries = v
        .as_object()
        .ok_or("pgbackrest repo-ls printed no JSON object")?;
    let mut segments = Vec::new();
    let mut histories = Vec::new();
    for (path, meta) in entries {
        if meta.get("type").and_then(Value::as_str) != Some("file") {
            continue;
        }
        let file = path.rsplit('/').next().unwrap_or(path);
        if let Some(tli) = file.strip_suffix(".history") {
            if let Some(t) = u32::from_str_radix(tli, 16).ok().filter(|_| tli.len() == 8) {
                histories.push((TimelineId(t), path.clone()));
            }
            continue;
        }
        if file.starts_with("archive.info") || file.ends_with(".backup") {
            continue;
        }
        let Some(hex) = file.get(0..24) else {
            warnings.push(format!("archive file {path}: not a WAL segment; ignored"));
            continue;
        };
        let rest = &file[24..];
        let partial = rest.starts_with(".partial");
        let compression = if rest.ends_with(".gz") {
            Compression::Gzip
        } else if rest.ends_with(".zst") {
            Compression::Zstd
        } else if rest.ends_with(".lz4") {
            Compression::Lz4
        } else {
            Compression::None
        };
        match WalSegment::parse_file_name(hex, segment_size) {
            Some(segment) if rest.starts_with('-') || partial => segments.push(ArchivedSegment {
                segment,
                file_name: path.clone(),
                compression,
                partial,
                size_bytes: meta.get("size").and_then(Value::as_u64).unwrap_or(0),
                archived_at: meta
                    .get("time")
                    .and_then(Value::as_i64)
                    .and_then(|t| DateTime::from_timestamp(t, 0)),
            }),
            _ => warnings.push(format!(
                "archive file {path}: not a WAL segment for {} MiB segments; ignored",
                segment_size.bytes() >> 20
            )),
        }
    }
    Ok(ArchiveFiles {
        segments,
        histories,
    })
}

#[cfg(test)]
mod tests;

/// The WAL index's copy of a stanza's WAL: `pgbackrest archive-get` for each segment, as the
/// repository's user (who then writes the console's `incoming/`, handed over to it).
impl crate::wal_fetch::SegmentFetch for PgBackRest {
    fn command(&self, name: &str, dest: &Path) -> CommandSpec {
        let mut w = self.global();
        w.push("archive-get".into());
        w.push(name.to_string());
        w.push(dest.display().to_string());
        self.tool.command("pgbackrest", &w)
    }
    fn run_as(&self) -> Option<String> {
        Some(self.tool.user.clone())
    }
    fn tool(&self) -> &str {
        "pgBackRest"
    }
    fn hint(&self) -> &str {
        HINT
    }
}
