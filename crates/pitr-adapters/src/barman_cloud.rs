//! Catalog source, WAL fetching and restore commands for `kind = "barman-cloud"`
//! repositories: Barman's cloud tools on an S3 API.
//!
//! Backups come from `barman-cloud-backup-list --format json`, which prints each backup's
//! whole backup.info (LSNs, ISO times, timeline, segment size, system identifier), so no
//! `barman-cloud-backup-show` per backup is needed. The tools have no WAL listing: the WAL
//! is listed with boto3, the S3 client the tools themselves use, from the same venv, with
//! the same endpoint, profile and credentials, under `PREFIX/SERVER/wals/` (the layout
//! `barman-cloud-wal-archive` writes). History files and segments are fetched with
//! `barman-cloud-wal-restore`, which decompresses them. Restores go through
//! `barman-cloud-restore`; replay's restore_command is `barman-cloud-wal-restore`.
//!
//! Credentials are never in a command line, an environment addition or a journal: the
//! tools read the environment or a profile; only a credentials file's path is passed.

use super::repo_tool;
use super::wal_fetch::SegmentFetch;
use crate::config::{RepositoryConfig, ServerConfig};
use crate::domain::backup::{Backup, BackupFormat};
use crate::domain::catalog::{ArchivedSegment, Catalog, Compression};
use crate::domain::lsn::Lsn;
use crate::domain::restore_command::shell_quote;
use crate::domain::segment::{SegmentSize, WalSegment};
use crate::domain::timeline::{TimelineHistory, TimelineId};
use crate::engine::inputs::ToolRestore;
use crate::engine::ports::CommandSpec;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where scripts/install-object-storage puts the tools.
pub const DEFAULT_TOOLS: &str = "/opt/pitr-console/cloud-venv/bin";

const HINT: &str = "install them with scripts/install-object-storage (a venv with `pip install 'barman[cloud]'`), or set `cloud_tools` to their directory";

/// Lists `s3://BUCKET/KEYPREFIX`: one JSON object a line, `{"key", "size", "modified"}`.
const LIST_OBJECTS: &str = r#"import boto3, json, sys
endpoint, profile, bucket, prefix = sys.argv[1:5]
s3 = boto3.Session(profile_name=profile or None).client("s3", endpoint_url=endpoint or None)
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
    for o in page.get("Contents", []):
        print(json.dumps({"key": o["Key"], "size": o["Size"], "modified": o["LastModified"].isoformat()}))
"#;

pub struct BarmanCloud {
    /// `s3://BUCKET/PREFIX` as the tools take it.
    pub destination: String,
    pub bucket: String,
    /// The key prefix without slashes at either end (may be empty).
    pub prefix: String,
    pub server: String,
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
    pub credentials_file: Option<PathBuf>,
    pub tools: PathBuf,
}

impl BarmanCloud {
    pub fn from_config(repo: &RepositoryConfig) -> Result<BarmanCloud, String> {
        let destination = repo
            .destination
            .clone()
            .ok_or("kind = \"barman-cloud\" needs `destination` (e.g. \"s3://bucket/prefix\")")?;
        let (bucket, prefix) = split_destination(&destination)?;
        let server = repo.cloud_server.clone().ok_or(
            "kind = \"barman-cloud\" needs `cloud_server` (the SERVER_NAME the tools were given)",
        )?;
        if server.is_empty() || server.contains('/') {
            return Err(format!(
                "`cloud_server` = {server:?} cannot be a server name in the bucket (empty, or holds `/`)"
            ));
        }
        Ok(BarmanCloud {
            destination: destination.trim_end_matches('/').to_string(),
            bucket,
            prefix,
            server,
            endpoint_url: repo.endpoint_url.clone(),
            profile: repo.aws_profile.clone(),
            credentials_file: repo.aws_credentials_file.clone(),
            tools: repo
                .cloud_tools
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_TOOLS)),
        })
    }

    fn program(&self, name: &str) -> String {
        self.tools.join(name).display().to_string()
    }

    /// The options every tool takes, then the destination and server name.
    fn common(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(u) = &self.endpoint_url {
            a.extend(["--endpoint-url".to_string(), u.clone()]);
        }
        if let Some(p) = &self.profile {
            a.extend(["--aws-profile".to_string(), p.clone()]);
        }
        a.extend([self.destination.clone(), self.server.clone()]);
        a
    }

    /// `tool [common options] DEST SERVER extra...` as `user` (None: the console's user).
    fn command(&self, tool: &str, extra: &[String], user: Option<&str>) -> CommandSpec {
        let mut spec = CommandSpec::new(self.program(tool))
            .args(self.common())
            .args(extra.iter().cloned())
            .run_as(user)
            .env("LC_ALL", "C");
        if let Some(f) = &self.credentials_file {
            spec = spec.env("AWS_SHARED_CREDENTIALS_FILE", &f.display().to_string());
        }
        spec
    }

    fn run(&self, tool: &str, extra: &[String]) -> Result<String, String> {
        repo_tool::output(&self.command(tool, extra, None), "barman-cloud", HINT)
    }

    pub fn read_catalog(&self, name: &str) -> Result<Catalog, String> {
        let listed = self.run(
            "barman-cloud-backup-list",
            &["--format".into(), "json".into()],
        )?;
        let listed = parse_backup_list(&listed)?;
        let objects = self.list_wal_objects()?;
        Ok(catalog_from(
            name,
            &self.server,
            listed,
            &objects,
            |tli, file| self.history(tli, file),
        ))
    }

    fn list_wal_objects(&self) -> Result<Vec<ListedObject>, String> {
        let key_prefix = self.key_prefix("wals/");
        let mut spec = CommandSpec::new(self.program("python3"))
            .args([
                "-c".to_string(),
                LIST_OBJECTS.to_string(),
                self.endpoint_url.clone().unwrap_or_default(),
                self.profile.clone().unwrap_or_default(),
                self.bucket.clone(),
                key_prefix,
            ])
            .env("LC_ALL", "C");
        if let Some(f) = &self.credentials_file {
            spec = spec.env("AWS_SHARED_CREDENTIALS_FILE", &f.display().to_string());
        }
        let out = repo_tool::output(&spec, "barman-cloud (boto3)", HINT).map_err(|e| {
            // The script itself is long and the same each time: name what was listed.
            let tail = e.rsplit_once("failed: ").map_or(e.as_str(), |(_, t)| t);
            format!(
                "listing the WAL under {}/{}/wals failed: {tail}",
                self.destination, self.server
            )
        })?;
        out.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .map_err(|e| format!("the WAL listing printed an unexpected line ({e}): {l}"))
            })
            .collect()
    }

    /// `PREFIX/SERVER/rest` as an S3 key prefix.
    fn key_prefix(&self, rest: &str) -> String {
        if self.prefix.is_empty() {
            format!("{}/{rest}", self.server)
        } else {
            format!("{}/{}/{rest}", self.prefix, self.server)
        }
    }

    /// A history file's text, fetched with `barman-cloud-wal-restore` into a fresh
    /// directory of our own (created, never reused, so nothing else can be there).
    fn history(&self, tli: TimelineId, file: &str) -> Result<TimelineHistory, String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "pitr-console-history-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let dest = dir.join(file);
        let fetched = self
            .run(
                "barman-cloud-wal-restore",
                &[file.to_string(), dest.display().to_string()],
            )
            .and_then(|_| std::fs::read_to_string(&dest).map_err(|e| format!("{file}: {e}")));
        let _ = std::fs::remove_file(&dest);
        let _ = std::fs::remove_dir(&dir);
        TimelineHistory::parse(tli, &fetched?).map_err(|e| e.to_string())
    }

    /// The restore: `barman-cloud-restore` into `dest` as the server's user, and the
    /// restore_command replay runs (as that user too, by the server itself).
    pub fn restore(
        &self,
        server: &ServerConfig,
        backup: &Backup,
        dest: &Path,
    ) -> (ToolRestore, String) {
        let user = server.run_as.as_deref();
        let restore = self.command(
            "barman-cloud-restore",
            &[backup.id.clone(), dest.display().to_string()],
            user,
        );
        (
            ToolRestore {
                tool: "barman-cloud-restore".into(),
                commands: vec![restore],
                // WAL-G and the cloud tools have no check of one base backup.
                verify: Vec::new(),
            },
            self.restore_command(),
        )
    }

    /// `[AWS_SHARED_CREDENTIALS_FILE=F] /abs/barman-cloud-wal-restore OPTS DEST SERVER %f %p`.
    pub fn restore_command(&self) -> String {
        let mut words = Vec::new();
        if let Some(f) = &self.credentials_file {
            words.push(format!(
                "AWS_SHARED_CREDENTIALS_FILE={}",
                shell_quote(&f.display().to_string())
            ));
        }
        words.push(shell_quote(&self.program("barman-cloud-wal-restore")));
        words.extend(self.common().iter().map(|w| shell_quote(w)));
        words.push("%f %p".into());
        words.join(" ")
    }
}

impl SegmentFetch for BarmanCloud {
    /// With its spool in our own `incoming/`: the tool first delivers any file of that
    /// name found in its spool (default /var/tmp/walrestore, shared by every server on
    /// the host), which must never be another server's.
    fn command(&self, name: &str, dest: &Path) -> CommandSpec {
        let spool = dest.parent().unwrap_or(dest).join("spool");
        BarmanCloud::command(
            self,
            "barman-cloud-wal-restore",
            &[
                "--spool-dir".into(),
                spool.display().to_string(),
                name.to_string(),
                dest.display().to_string(),
            ],
            None,
        )
    }
    fn tool(&self) -> &str {
        "barman-cloud"
    }
    fn hint(&self) -> &str {
        HINT
    }
}

/// `s3://BUCKET[/PREFIX]` into bucket and prefix, with what is wrong when it is not one.
pub fn split_destination(d: &str) -> Result<(String, String), String> {
    let Some(rest) = d.strip_prefix("s3://") else {
        return Err(format!(
            "`destination` = {d:?} is not an S3 URL; write \"s3://BUCKET/PREFIX\""
        ));
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !bucket_ok {
        return Err(format!(
            "`destination` = {d:?}: bucket {bucket:?} is not an S3 bucket name (3 to 63 lowercase letters, digits, `-` or `.`)"
        ));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|p| p == "..") {
        return Err(format!(
            "`destination` = {d:?}: the prefix may not hold `..`"
        ));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

/// One backup of `barman-cloud-backup-list --format json` (its backup.info).
#[derive(Debug, Clone, Deserialize)]
pub struct ListedBackup {
    pub backup_id: String,
    pub backup_name: Option<String>,
    pub status: String,
    pub timeline: Option<u32>,
    pub begin_wal: Option<String>,
    pub begin_xlog: Option<String>,
    pub end_xlog: Option<String>,
    pub begin_time_iso: Option<String>,
    pub end_time_iso: Option<String>,
    pub xlog_segment_size: Option<u64>,
    pub systemid: Option<String>,
    pub cluster_size: Option<u64>,
    pub size: Option<u64>,
}

#[derive(Deserialize)]
struct BackupList {
    backups_list: Vec<ListedBackup>,
}

pub fn parse_backup_list(json: &str) -> Result<Vec<ListedBackup>, String> {
    serde_json::from_str::<BackupList>(json)
        .map(|l| l.backups_list)
        .map_err(|e| {
            format!(
                "`barman-cloud-backup-list --format json` printed an unexpected shape ({e}): {}",
                json.chars().take(200).collect::<String>()
            )
        })
}

/// One object under `PREFIX/SERVER/wals/`.
#[derive(Debug, Clone, Deserialize)]
pub struct ListedObject {
    pub key: String,
    pub size: u64,
    pub modified: Option<String>,
}

/// What one WAL object's name says.
#[derive(Debug, PartialEq, Eq)]
enum WalObject<'a> {
    Segment {
        bare: &'a str,
        compression: Compression,
        partial: bool,
    },
    History(TimelineId),
    /// `.backup` labels: the backup list already tells what they hold.
    BackupLabel,
}

/// Classifies a WAL object's file name by the suffixes `barman-cloud-wal-archive` writes.
fn classify(file: &str) -> Option<WalObject<'_>> {
    let (rest, compression) = [
        (".gz", Compression::Gzip),
        (".zst", Compression::Zstd),
        (".lz4", Compression::Lz4),
        // Shown as uncompressed: only the tool reads these, and it decompresses them.
        (".bz2", Compression::None),
        (".xz", Compression::None),
        (".snappy", Compression::None),
    ]
    .iter()
    .find_map(|(suffix, c)| file.strip_suffix(suffix).map(|r| (r, *c)))
    .unwrap_or((file, Compression::None));
    if let Some(tli) = rest.strip_suffix(".history") {
        return (tli.len() == 8)
            .then(|| u32::from_str_radix(tli, 16).ok())
            .flatten()
            .filter(|t| *t > 0)
            .map(|t| WalObject::History(TimelineId(t)));
    }
    if rest.len() > 24 && rest.ends_with(".backup") {
        return Some(WalObject::BackupLabel);
    }
    let (bare, partial) = match rest.strip_suffix(".partial") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    (bare.len() == 24 && bare.bytes().all(|b| b.is_ascii_hexdigit())).then_some(
        WalObject::Segment {
            bare,
            compression,
            partial,
        },
    )
}

fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// One listed backup as the console's `Backup`, or why it cannot be.
fn backup_from(l: &ListedBackup, server: &str, size: SegmentSize) -> Result<Backup, String> {
    let need = |v: &Option<String>, k: &str| {
        v.clone().ok_or(format!(
            "backup {} has no `{k}` in its backup.info",
            l.backup_id
        ))
    };
    let lsn = |k: &str, v: &Option<String>| -> Result<Lsn, String> {
        need(v, k)?
            .parse()
            .map_err(|e| format!("backup {}: `{k}`: {e}", l.backup_id))
    };
    let time = |k: &str, v: &Option<String>| -> Result<DateTime<Utc>, String> {
        parse_time(&need(v, k)?).ok_or(format!(
            "backup {}: `{k}` is not an ISO time (barman-cloud 3.x prints it; older tools do not)",
            l.backup_id
        ))
    };
    let timeline = l
        .timeline
        .filter(|t| *t > 0)
        .ok_or(format!("backup {} has no timeline", l.backup_id))?;
    Ok(Backup {
        location: format!("barman-cloud:{server}/{}", l.backup_id),
        id: l.backup_id.clone(),
        label: l.backup_name.clone(),
        format: BackupFormat::Tool,
        timeline: TimelineId(timeline),
        start_lsn: lsn("begin_xlog", &l.begin_xlog)?,
        stop_lsn: lsn("end_xlog", &l.end_xlog)?,
        start_time: time("begin_time_iso", &l.begin_time_iso)?,
        stop_time: time("end_time_iso", &l.end_time_iso)?,
        stop_time_exact: true,
        segment_size: size,
        system_identifier: l.systemid.as_deref().and_then(|s| s.parse().ok()),
        size_bytes: l.cluster_size.or(l.size),
        manifest_wal_ranges: Vec::new(),
        has_manifest: false,
        pg_major: None,
        incremental: None,
    })
}

/// Builds the catalog from the backup list and the WAL objects; `history` fetches one
/// history file's text.
pub fn catalog_from(
    name: &str,
    server: &str,
    listed: Vec<ListedBackup>,
    objects: &[ListedObject],
    history: impl Fn(TimelineId, &str) -> Result<TimelineHistory, String>,
) -> Catalog {
    let mut warnings = Vec::new();
    let done: Vec<&ListedBackup> = listed
        .iter()
        .filter(|b| {
            let ok = b.status == "DONE";
            if !ok {
                warnings.push(format!(
                    "backup {} has status {}: not listed (only DONE backups can be restored)",
                    b.backup_id, b.status
                ));
            }
            ok
        })
        .collect();
    let stated = done.iter().find_map(|b| b.xlog_segment_size);
    let pairs: Vec<(Lsn, String)> = done
        .iter()
        .filter_map(|b| Some((b.begin_xlog.as_ref()?.parse().ok()?, b.begin_wal.clone()?)))
        .collect();
    let size = repo_tool::segment_size(stated, &pairs, &mut warnings);
    let mut backups = Vec::new();
    for b in done {
        match backup_from(b, server, size) {
            Ok(b) => backups.push(b),
            Err(e) => warnings.push(format!("{e}; not listed")),
        }
    }
    backups.sort_by(|a, b| (a.start_lsn, &a.id).cmp(&(b.start_lsn, &b.id)));

    let mut segments = Vec::new();
    let mut histories = Vec::new();
    for o in objects {
        let file = o.key.rsplit('/').next().unwrap_or_default();
        match classify(file) {
            Some(WalObject::Segment {
                bare,
                compression,
                partial,
            }) => match WalSegment::parse_file_name(bare, size) {
                Some(segment) => segments.push(ArchivedSegment {
                    segment,
                    file_name: file.to_string(),
                    compression,
                    partial,
                    size_bytes: o.size,
                    archived_at: o.modified.as_deref().and_then(parse_time),
                }),
                None => warnings.push(format!(
                    "{}: not a WAL segment name for {} MiB segments; ignored",
                    o.key,
                    size.bytes() >> 20
                )),
            },
            Some(WalObject::History(tli)) => match history(tli, file) {
                Ok(h) => histories.push(h),
                Err(e) => warnings.push(format!("{file}: {e}; ignored")),
            },
            Some(WalObject::BackupLabel) => {}
            None => warnings.push(format!(
                "{}: not a WAL file name barman-cloud writes; ignored",
                o.key
            )),
        }
    }
    // A complete segment wins over a .partial one of the same number.
    segments.sort_by_key(|s| (s.segment, s.partial));
    segments.dedup_by_key(|s| s.segment);
    histories.sort_by_key(|h| h.timeline);
    Catalog {
        repository: name.to_string(),
        segment_size: size,
        backups,
        segments,
        histories,
        warnings,
        damaged: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
