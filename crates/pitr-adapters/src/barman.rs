//! Catalog source and restore commands for `kind = "barman"` repositories.
//!
//! Backups come from `barman -f json list-backups` and one `show-backup` each (list-backups
//! gives neither begin time nor LSN). WAL comes from the server's `xlog.db` (name, size,
//! time, compression of every archived file), read where Barman runs, so gaps are the
//! files Barman really holds. Restores go through `barman recover`.

use super::repo_tool::{self, SshOptions, ToolHost};
use crate::config::{RepositoryConfig, RestoreMethod, ServerConfig};
use crate::domain::backup::{Backup, BackupFormat};
use crate::domain::catalog::{ArchivedSegment, Catalog, Compression};
use crate::domain::lsn::Lsn;
use crate::domain::restore_command::shell_quote;
use crate::domain::segment::{SegmentSize, WalSegment};
use crate::domain::target::RecoveryTarget;
use crate::domain::timeline::{TimelineHistory, TimelineId};
use crate::engine::inputs::ToolRestore;
use crate::engine::ports::{shell_quote as port_quote, CommandSpec};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const HINT: &str = "install Barman there, e.g. `apt-get install barman barman-cli`, or run scripts/install-fleet-deps";

pub struct Barman {
    pub server: String,
    pub tool: ToolHost,
    pub config: Option<PathBuf>,
    pub remote_ssh_command: Option<String>,
    pub method: RestoreMethod,
}

impl Barman {
    pub fn from_config(repo: &RepositoryConfig) -> Result<Barman, String> {
        let server = repo
            .barman_server
            .clone()
            .ok_or("kind = \"barman\" needs `barman_server` (the server's name in Barman)")?;
        let b = Barman {
            server,
            tool: ToolHost {
                host: repo.ssh_host.clone().or_else(|| repo.barman_host.clone()),
                user: repo
                    .ssh_user
                    .clone()
                    .or_else(|| repo.barman_user.clone())
                    .unwrap_or_else(|| "barman".into()),
                ssh: SshOptions {
                    port: repo.ssh_port,
                    identity: repo.ssh_identity.clone(),
                    known_hosts: repo.ssh_known_hosts.clone(),
                },
            },
            config: repo.barman_config.clone(),
            remote_ssh_command: repo.barman_remote_ssh_command.clone(),
            method: repo.restore_method.unwrap_or(RestoreMethod::BarmanRecover),
        };
        let own_key = repo.ssh_identity.is_some() || repo.ssh_known_hosts.is_some();
        if b.method == RestoreMethod::BarmanWalRestore && own_key {
            return Err("restore_method = \"barman-wal-restore\" takes no ssh identity or known_hosts (barman-wal-restore has no such options); use restore_method = \"get-wal\", whose restore_command passes ssh_identity and ssh_known_hosts to ssh".to_string());
        }
        Ok(b)
    }

    /// `barman [-c CONFIG] args...` (`-f json` goes before the subcommand when asked).
    fn words(&self, args: &[&str]) -> Vec<String> {
        let mut w = Vec::new();
        if let Some(c) = &self.config {
            w.push("-c".to_string());
            w.push(c.display().to_string());
        }
        w.extend(args.iter().map(|a| a.to_string()));
        w
    }

    fn command(&self, args: &[&str]) -> CommandSpec {
        self.tool.command("barman", &self.words(args))
    }

    fn json(&self, args: &[&str]) -> Result<Value, String> {
        let mut full = vec!["-f", "json"];
        full.extend_from_slice(args);
        let spec = self.command(&full);
        let out = repo_tool::output(&spec, "Barman", HINT)?;
        serde_json::from_str(&out).map_err(|e| {
            format!(
                "`{}` printed something that is not JSON ({e}): {}",
                spec.display(),
                out.chars().take(200).collect::<String>()
            )
        })
    }

    pub fn read_catalog(&self, name: &str) -> Result<Catalog, String> {
        let mut warnings = Vec::new();
        let listed =
            parse_list_backups(&self.json(&["list-backups", &self.server])?, &self.server)?;
        let server = parse_show_server(&self.json(&["show-server", &self.server])?, &self.server)?;
        let mut shown = Vec::new();
        for b in listed {
            if !matches!(b.status.as_str(), "DONE" | "WAITING_FOR_WALS") {
                warnings.push(format!(
                    "backup {} has status {}: not listed (only DONE backups can be restored)",
                    b.backup_id, b.status
                ));
                continue;
            }
            if b.status == "WAITING_FOR_WALS" {
                warnings.push(format!(
                    "backup {}: Barman still waits for WAL it needs (status WAITING_FOR_WALS)",
                    b.backup_id
                ));
            }
            match self
                .json(&["show-backup", &self.server, &b.backup_id])
                .and_then(|v| parse_show_backup(&v, &self.server))
            {
                Ok(s) => shown.push((b, s)),
                Err(e) => warnings.push(format!("backup {}: {e}; not listed", b.backup_id)),
            }
        }
        let pairs: Vec<(Lsn, String)> = shown
            .iter()
            .map(|(_, s)| (s.begin_lsn, s.begin_wal.clone()))
            .collect();
        let segment_size = repo_tool::segment_size(server.xlog_segment_size, &pairs, &mut warnings);

        let xlog_db = format!("{}/xlog.db", server.wals_directory.trim_end_matches('/'));
        let spec = self.tool.command("cat", &[xlog_db]);
        let text = repo_tool::output(&spec, "Barman", HINT)?;
        let entries = parse_xlog_db(&text, &mut warnings);
        let (segments, history_files) = split_xlog(entries, segment_size, &mut warnings);
        let mut histories = Vec::new();
        for (tli, name) in history_files {
            match self.history(tli, &name) {
                Ok(h) => histories.push(h),
                Err(err) => warnings.push(format!("{name}: {err}; ignored")),
            }
        }
        histories.sort_by_key(|h| h.timeline);
        let mut backups: Vec<Backup> = shown
            .into_iter()
            .map(|(l, s)| Backup {
                location: format!("barman:{}/{}", self.server, l.backup_id),
                id: l.backup_id,
                label: l.backup_name,
                format: BackupFormat::Tool,
                timeline: s.timeline,
                start_lsn: s.begin_lsn,
                stop_lsn: s.end_lsn,
                start_time: s.begin_time,
                stop_time: s.end_time,
                stop_time_exact: true,
                segment_size,
                system_identifier: server.system_identifier,
                size_bytes: s.size_bytes.or(l.size_bytes),
                manifest_wal_ranges: Vec::new(),
                has_manifest: false,
                pg_major: None,
                incremental: None,
            })
            .collect();
        backups.sort_by(|a, b| (a.start_lsn, &a.id).cmp(&(b.start_lsn, &b.id)));
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

    /// A history file's text through `barman get-wal` (it decompresses).
    fn history(&self, tli: TimelineId, name: &str) -> Result<TimelineHistory, String> {
        let spec = self.command(&["get-wal", &self.server, name]);
        let text = repo_tool::output(&spec, "Barman", HINT)?;
        TimelineHistory::parse(tli, &text).map_err(|e| e.to_string())
    }

    /// The restore: `barman recover` into `dest`, and the restore_command replay uses.
    pub fn restore(
        &self,
        server: &ServerConfig,
        backup: &Backup,
        target: &RecoveryTarget,
        dest: &Path,
    ) -> (ToolRestore, String) {
        let dest_s = dest.display().to_string();
        let mut args: Vec<String> = vec!["recover".into()];
        match self.method {
            RestoreMethod::BarmanRecover => args.extend(target_args(target)),
            _ => args.push("--get-wal".into()),
        }
        if self.tool.host.is_some() {
            args.push("--remote-ssh-command".into());
            args.push(self.remote_ssh(server));
        }
        args.extend([self.server.clone(), backup.id.clone(), dest_s.clone()]);
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut commands = vec![self.command(&words)];
        let server_user = server.run_as.as_deref();
        if self.tool.host.is_none() && server_user.is_some_and(|u| u != self.tool.user) {
            // Barman wrote the files as its own user; the server must own them.
            let owner = server_user.unwrap_or_default();
            commands.push(CommandSpec::new("chown").args(["-R", &format!("{owner}:"), &dest_s]));
        }
        if dest == server.pgdata {
            // Barman sets `archive_command = false` in the restored postgresql.conf (keeping
            // the original as .origin). Right for a copy; wrong for production recovered in
            // place, which must archive its new timeline once promoted.
            let conf = shell_quote(&format!("{dest_s}/postgresql.conf"));
            commands.push(
                CommandSpec::shell(format!(
                    "if [ -f {conf}.origin ]; then cp -p {conf}.origin {conf}; fi"
                ))
                .run_as(server_user),
            );
        }
        let restore_command = match self.method {
            RestoreMethod::BarmanRecover => {
                let wal = shell_quote(&format!("{dest_s}/barman_wal"));
                format!("test -f {wal}/%f && cp {wal}/%f \"%p\"")
            }
            RestoreMethod::BarmanWalRestore => {
                let mut c = format!("barman-wal-restore -U {}", shell_quote(&self.tool.user));
                if let Some(p) = self.tool.ssh.port {
                    c.push_str(&format!(" --port {p}"));
                }
                if let Some(cfg) = &self.config {
                    c.push_str(&format!(" -c {}", shell_quote(&cfg.display().to_string())));
                }
                format!(
                    "{c} {} {} %f %p",
                    shell_quote(self.tool.host.as_deref().unwrap_or("localhost")),
                    shell_quote(&self.server)
                )
            }
            _ => self.get_wal_command(server_user),
        };
        (
            ToolRestore {
                tool: "barman".into(),
                commands,
                verify: vec![
                    // pg_verifybackup on the backup's manifest (backup_method = postgres).
                    self.command(&["verify-backup", &self.server, &backup.id]),
                    // Every WAL file from the backup's begin to its end archived.
                    self.command(&["check-backup", &self.server, &backup.id]),
                ],
            },
            restore_command,
        )
    }

    /// The atomic `barman get-wal` form: a half-written file never reaches `%p`.
    fn get_wal_command(&self, server_user: Option<&str>) -> String {
        let mut barman = vec!["barman".to_string()];
        barman.extend(
            self.words(&["get-wal", &self.server])
                .iter()
                .map(|w| shell_quote(w)),
        );
        barman.push("%f".into());
        let fetch = match &self.tool.host {
            Some(host) => format!(
                "{} {} {}",
                self.tool.ssh.shell_line(),
                port_quote(&format!("{}@{host}", self.tool.user)),
                port_quote(&barman.join(" "))
            ),
            None if server_user != Some(self.tool.user.as_str()) => {
                format!(
                    "sudo -n -u {} {}",
                    shell_quote(&self.tool.user),
                    barman.join(" ")
                )
            }
            None => barman.join(" "),
        };
        format!(
            "test -f \"%p\" || (umask 077; tmp=\"%p.tmp.$$\"; {fetch} > \"$tmp\" && mv \"$tmp\" \"%p\" || {{ rm -f \"$tmp\"; exit 1; }})"
        )
    }

    /// How Barman's host reaches the database host for a remote recover: as the server's OS
    /// user, on the server's ssh port, never asking (BatchMode) and never accepting an unknown
    /// host key, with the key and known_hosts of Barman's own user there (the console's
    /// files are not on that host). `barman_remote_ssh_command` replaces it whole.
    fn remote_ssh(&self, server: &ServerConfig) -> String {
        if let Some(c) = &self.remote_ssh_command {
            return c.clone();
        }
        let host = if server.is_local() {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "localhost".into())
        } else {
            server.host.clone()
        };
        let port = server
            .ssh_port
            .map_or(String::new(), |p| format!(" -p {p}"));
        format!(
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes{port} {}@{host}",
            server.run_as.as_deref().unwrap_or("postgres")
        )
    }
}

/// `barman recover` options for a target; a pausing target pauses there.
fn target_args(target: &RecoveryTarget) -> Vec<String> {
    let mut a = Vec::new();
    let exclusive = |a: &mut Vec<String>, inclusive: bool| {
        if !inclusive {
            a.push("--exclusive".into());
        }
    };
    match target {
        RecoveryTarget::Time { at, inclusive } => {
            a.push("--target-time".into());
            a.push(at.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string());
            exclusive(&mut a, *inclusive);
        }
        RecoveryTarget::Xid { xid, inclusive } => {
            a.push("--target-xid".into());
            a.push(xid.to_string());
            exclusive(&mut a, *inclusive);
        }
        RecoveryTarget::Lsn { lsn, inclusive } => {
            a.push("--target-lsn".into());
            a.push(lsn.to_string());
            exclusive(&mut a, *inclusive);
        }
        RecoveryTarget::Name { name } => {
            a.push("--target-name".into());
            a.push(name.clone());
        }
        RecoveryTarget::Immediate => a.push("--target-immediate".into()),
        // Barman refuses a target action without a target.
        RecoveryTarget::Latest => return a,
    }
    a.push("--target-action".into());
    a.push("pause".into());
    a
}

#[derive(Debug, Deserialize)]
pub struct ListedBackup {
    pub backup_id: String,
    pub backup_name: Option<String>,
    pub status: String,
    pub size_bytes: Option<u64>,
}

/// `barman -f json list-backups SERVER`: `{"SERVER": [{backup_id, status, ...}]}`.
pub fn parse_list_backups(v: &Value, server: &str) -> Result<Vec<ListedBackup>, String> {
    let list = v.get(server).ok_or_else(|| {
        format!("list-backups printed no entry for server `{server}` (is barman_server right?)")
    })?;
    serde_json::from_value(list.clone())
        .map_err(|e| format!("list-backups for `{server}`: unexpected shape: {e}"))
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShownBackup {
    pub timeline: TimelineId,
    pub begin_wal: String,
    pub begin_lsn: Lsn,
    pub end_lsn: Lsn,
    pub begin_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub size_bytes: Option<u64>,
}

/// `barman -f json show-backup SERVER ID`: its `base_backup_information` block.
pub fn parse_show_backup(v: &Value, server: &str) -> Result<ShownBackup, String> {
    let info = v
        .get(server)
        .and_then(|s| s.get("base_backup_information"))
        .ok_or("show-backup printed no base_backup_information")?;
    let field = |k: &str| info.get(k).ok_or(format!("show-backup has no `{k}`"));
    let text = |k: &str| -> Result<String, String> {
        field(k)?
            .as_str()
            .map(str::to_string)
            .ok_or(format!("show-backup's `{k}` is not text"))
    };
    let lsn = |k: &str| -> Result<Lsn, String> {
        text(k)?
            .parse()
            .map_err(|e| format!("show-backup's `{k}`: {e}"))
    };
    let time = |k: &str| -> Result<DateTime<Utc>, String> {
        let iso = text(k).ok().and_then(|t| parse_time(&t));
        let epoch = info.get(format!("{k}_timestamp")).and_then(number);
        iso.or_else(|| epoch.and_then(|e| DateTime::from_timestamp(e as i64, 0)))
            .ok_or(format!(
                "show-backup's `{k}` is not a time this console reads"
            ))
    };
    let timeline = field("timeline")?
        .as_u64()
        .and_then(|t| u32::try_from(t).ok())
        .filter(|t| *t > 0)
        .ok_or("show-backup's `timeline` is not a timeline number")?;
    Ok(ShownBackup {
        timeline: TimelineId(timeline),
        begin_wal: text("begin_wal")?,
        begin_lsn: lsn("begin_lsn")?,
        end_lsn: lsn("end_lsn")?,
        begin_time: time("begin_time")?,
        end_time: time("end_time")?,
        size_bytes: info
            .get("disk_usage_bytes")
            .and_then(number)
            .map(|n| n as u64),
    })
}

/// Barman prints times as `2026-11-21 06:06:18.310212+00:00`.
fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%:z")
        .or_else(|_| DateTime::parse_from_rfc3339(t))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// A JSON number, or a number written as a string (Barman's `*_timestamp` fields).
fn number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerInfo {
    pub wals_directory: String,
    pub xlog_segment_size: Option<u64>,
    pub system_identifier: Option<u64>,
}

/// `barman -f json show-server SERVER`: where the WAL lives, and the segment size when the
/// server was reachable.
pub fn parse_show_server(v: &Value, server: &str) -> Result<ServerInfo, String> {
    let s = v
        .get(server)
        .ok_or_else(|| format!("show-server printed no entry for server `{server}`"))?;
    let wals_directory = s
        .get("wals_directory")
        .and_then(Value::as_str)
        .ok_or("show-server gives no `wals_directory`")?
        .to_string();
    let system_identifier = ["postgres_systemid", "streaming_systemid"]
        .iter()
        .find_map(|k| {
            s.get(*k)
                .and_then(|v| v.as_str())
                .and_then(|t| t.parse().ok())
        });
    Ok(ServerInfo {
        wals_directory,
        xlog_segment_size: s
            .get("xlog_segment_size")
            .and_then(number)
            .map(|n| n as u64),
        system_identifier,
    })
}

/// The archived segments (sorted, one per segment) and the history files of xlog.db.
pub fn split_xlog(
    entries: Vec<XlogEntry>,
    segment_size: SegmentSize,
    warnings: &mut Vec<String>,
) -> (Vec<ArchivedSegment>, Vec<(TimelineId, String)>) {
    let mut segments = Vec::new();
    let mut histories = Vec::new();
    for e in entries {
        if let Some(tli) = e.name.strip_suffix(".history") {
            match u32::from_str_radix(tli, 16) {
                Ok(t) if tli.len() == 8 => histories.push((TimelineId(t), e.name)),
                _ => warnings.push(format!(
                    "xlog.db lists {}: not a history file name; ignored",
                    e.name
                )),
            }
            continue;
        }
        if e.name.ends_with(".backup") {
            continue;
        }
        match WalSegment::parse_file_name(&e.name, segment_size) {
            Some(segment) => segments.push(ArchivedSegment {
                segment,
                file_name: e.name,
                compression: e.compression,
                partial: false,
                size_bytes: e.size,
                archived_at: e.time,
            }),
            None => warnings.push(format!(
                "xlog.db lists {}: not a WAL segment name for {} MiB segments; ignored",
                e.name,
                segment_size.bytes() >> 20
            )),
        }
    }
    segments.sort_by_key(|s| s.segment);
    segments.dedup_by_key(|s| s.segment);
    (segments, histories)
}

#[derive(Debug, Clone, PartialEq)]
pub struct XlogEntry {
    pub name: String,
    pub size: u64,
    pub time: Option<DateTime<Utc>>,
    pub compression: Compression,
}

/// Barman's WAL index, one file a line: `name<TAB>size<TAB>epoch<TAB>compression`.
pub fn parse_xlog_db(text: &str, warnings: &mut Vec<String>) -> Vec<XlogEntry> {
    let mut entries = Vec::new();
    let mut odd_compressions: HashMap<String, usize> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let (Some(name), Some(size)) = (f.first(), f.get(1).and_then(|s| s.parse().ok())) else {
            warnings.push(format!(
                "xlog.db line {}: expected `name<TAB>size<TAB>time<TAB>compression`; ignored",
                i + 1
            ));
            continue;
        };
        let time = f
            .get(2)
            .and_then(|t| t.parse::<f64>().ok())
            .and_then(|t| DateTime::from_timestamp(t as i64, ((t.fract()) * 1e9) as u32));
        let compression = match f.get(3).copied().unwrap_or("None") {
            "gzip" | "pygzip" | "pigz" => Compression::Gzip,
            "zstd" => Compression::Zstd,
            "lz4" => Compression::Lz4,
            "None" | "" => Compression::None,
            other => {
                *odd_compressions.entry(other.to_string()).or_default() += 1;
                Compression::None
            }
        };
        entries.push(XlogEntry {
            name: name.to_string(),
            size,
            time,
            compression,
        });
    }
    for (c, n) in odd_compressions {
        warnings.push(format!(
            "{n} WAL files are compressed with {c}, which this console shows as uncompressed; Barman decompresses them on restore"
        ));
    }
    entries
}

#[cfg(test)]
mod tests;

/// The WAL index's copy of a Barman server's WAL: `barman get-wal` (which decompresses) for
/// each segment, over SSH when Barman is on another host, its output written by the console.
impl crate::wal_fetch::SegmentFetch for Barman {
    fn command(&self, name: &str, dest: &Path) -> CommandSpec {
        self.command(&["get-wal", &self.server, name])
            .stdout_to(dest)
    }
    fn tool(&self) -> &str {
        "Barman"
    }
    fn hint(&self) -> &str {
        HINT
    }
}
