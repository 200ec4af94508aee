//! `pitr-console check`: gathers, for one configured server, the facts `domain::health`
//! judges — the running server's archiver, its repository's catalog, the restore command
//! run as the server user on the newest archived segment, and the free space where a
//! restore would go. Everything is read-only; nothing is written outside a temporary
//! directory the restore command fills and that is removed again.

use super::prepare::find_repository;
use crate::adapters::catalog::{load_view, restore_for};
use crate::config::{Config, ServerConfig};
use crate::domain::health::{self, ArchiverFacts, Finding, Level, Probe, Thresholds};
use crate::domain::restore_command::expand;
use crate::domain::target::RecoveryTarget;
use crate::engine::ports::{CommandSpec, Ports};
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct ServerHealth {
    pub server: String,
    pub repository: String,
    pub level: Level,
    pub findings: Vec<Finding>,
}

const ARCHIVER_SQL: &str = "select current_setting('archive_mode'), pg_is_in_recovery()::text, \
last_archived_wal, extract(epoch from last_archived_time)::text, last_failed_wal, \
extract(epoch from last_failed_time)::text, failed_count::text, \
case when pg_is_in_recovery() then null else pg_walfile_name(pg_current_wal_lsn()) end \
from pg_stat_archiver";

/// How long the restore command may take to fetch one segment.
const RESTORE_TIMEOUT: Duration = Duration::from_secs(120);

pub async fn server_health(
    config: &Config,
    server: &ServerConfig,
    ports: &Ports,
    index_dir: Option<&Path>,
    now: DateTime<Utc>,
) -> ServerHealth {
    let t = config.health;
    let mut findings = Vec::new();
    let repo = match find_repository(config, server) {
        Ok(r) => r,
        Err(e) => {
            return ServerHealth {
                server: server.name.clone(),
                repository: server.repository.clone(),
                level: Level::Critical,
                findings: vec![critical(Probe::NewestBackup, e.to_string())],
            }
        }
    };
    let view = load_view(repo, index_dir);
    let segment_bytes = view
        .as_ref()
        .map_or(16 << 20, |v| v.catalog.segment_size.bytes());
    findings.push(archiver(ports, server, now, segment_bytes, &t).await);
    match &view {
        Err(e) => findings.push(critical(
            Probe::NewestBackup,
            format!("repository `{}` cannot be read: {e}", repo.name),
        )),
        Ok(view) => {
            findings.push(health::newest_backup(&view.catalog, now, &t));
            findings.extend(health::wal_continuity(&view.catalog, &view.coverage));
            findings.push(restore_command(ports, repo, server, view).await);
            let needed = view
                .catalog
                .backups
                .iter()
                .max_by_key(|b| b.stop_time)
                .and_then(|b| b.size_bytes);
            findings.push(free_space(ports, server, needed).await);
        }
    }
    ServerHealth {
        server: server.name.clone(),
        repository: repo.name.clone(),
        level: health::worst(&findings),
        findings,
    }
}

fn critical(probe: Probe, text: String) -> Finding {
    Finding {
        probe,
        level: Level::Critical,
        text,
    }
}

fn epoch(text: Option<&String>) -> Option<DateTime<Utc>> {
    let secs: f64 = text?.parse().ok()?;
    Utc.timestamp_micros((secs * 1e6) as i64).single()
}

async fn archiver(
    ports: &Ports,
    server: &ServerConfig,
    now: DateTime<Utc>,
    segment_bytes: u64,
    t: &Thresholds,
) -> Finding {
    let rows = match ports.sql.rows(&server.dsn, ARCHIVER_SQL).await {
        Ok(r) => r,
        Err(e) => {
            return critical(
                Probe::Archiver,
                format!(
                    "cannot ask server {} about its archiver: {}",
                    server.name, e.message
                ),
            )
        }
    };
    let Some(row) = rows.into_iter().next() else {
        return critical(Probe::Archiver, "pg_stat_archiver returned no row".into());
    };
    let cell = |i: usize| row.get(i).cloned().flatten();
    let facts = ArchiverFacts {
        archive_mode: cell(0).unwrap_or_default(),
        in_recovery: cell(1).as_deref() == Some("true"),
        last_archived_wal: cell(2),
        last_archived_time: epoch(cell(3).as_ref()),
        last_failed_wal: cell(4),
        last_failed_time: epoch(cell(5).as_ref()),
        failed_count: cell(6).and_then(|c| c.parse().ok()).unwrap_or(0),
        current_wal: cell(7),
    };
    health::archiver(&facts, now, segment_bytes, t)
}

/// Runs the restore command a recovery would write, as the server user, on the newest
/// archived segment, into a temporary directory, and checks the size of what it wrote.
async fn restore_command(
    ports: &Ports,
    repo: &crate::config::RepositoryConfig,
    server: &ServerConfig,
    view: &crate::adapters::catalog::RepositoryView,
) -> Finding {
    let f = |level, text| Finding {
        probe: Probe::RestoreCommand,
        level,
        text,
    };
    let Some(backup) = view.catalog.backups.iter().max_by_key(|b| b.stop_time) else {
        return f(
            Level::Critical,
            "no backup to build a restore command for".into(),
        );
    };
    let Some(segment) = view
        .catalog
        .segments
        .iter()
        .filter(|s| !s.partial)
        .max_by_key(|s| (s.segment.timeline, s.segment.number))
    else {
        return f(
            Level::Critical,
            "the archive holds no WAL segment to fetch".into(),
        );
    };
    let command = match restore_for(
        repo,
        server,
        backup,
        &RecoveryTarget::Latest,
        &server.pgdata,
    ) {
        Ok(r) => r.restore_command,
        Err(e) => return f(Level::Critical, e.to_string()),
    };
    let name = &segment.file_name;
    // The same shell PostgreSQL runs it with; the directory is the server user's own.
    let script = format!(
        "d=$(mktemp -d) || exit 97; trap 'rm -rf \"$d\"' EXIT; {} || exit $?; wc -c < \"$d/RECOVERYXLOG\"",
        expand(&command, name, "$d/RECOVERYXLOG")
    );
    let mut spec = CommandSpec::new("sh");
    spec.args = vec!["-c".into(), script];
    spec.run_as = server.run_as.clone();
    spec.timeout = Some(RESTORE_TIMEOUT);
    let user = server.run_as.as_deref().unwrap_or("the console's user");
    match ports.commands.run(&spec, &|_| {}).await {
        Err(e) => f(
            Level::Critical,
            format!(
                "the restore command could not be run as {user}: {}",
                e.message
            ),
        ),
        Ok(r) if !r.success() => f(
            Level::Critical,
            format!(
                "the restore command, run as {user}, failed to fetch {name} (exit {}): {}",
                if r.timed_out {
                    format!("timed out after {} s", RESTORE_TIMEOUT.as_secs())
                } else {
                    r.exit_code.map_or("by signal".into(), |c| c.to_string())
                },
                tail(&r.output)
            ),
        ),
        Ok(r) => {
            let wrote: Option<u64> = r.output.lines().last().and_then(|l| l.trim().parse().ok());
            let expected = view.catalog.segment_size.bytes();
            if wrote == Some(expected) {
                f(
                    Level::Ok,
                    format!(
                        "the restore command, run as {user}, fetched {name} ({} MiB)",
                        expected >> 20
                    ),
                )
            } else {
                f(
                    Level::Critical,
                    format!(
                        "the restore command, run as {user}, wrote {} bytes for {name}; a segment has {expected}: PostgreSQL would refuse it",
                        wrote.map_or("an unknown number of".into(), |w| w.to_string())
                    ),
                )
            }
        }
    }
}

/// Free space beside the data directory, where a side restore or the moved-aside original
/// goes, read with `df` on the server's host.
async fn free_space(ports: &Ports, server: &ServerConfig, needed: Option<u64>) -> Finding {
    let place = server
        .pgdata
        .parent()
        .unwrap_or(&server.pgdata)
        .display()
        .to_string();
    let mut spec = CommandSpec::new("df");
    spec.args = vec!["-Pk".into(), place.clone()];
    spec.env = vec![("LC_ALL".into(), "C".into())];
    spec.timeout = Some(Duration::from_secs(30));
    let available = match ports.commands.run(&spec, &|_| {}).await {
        Ok(r) if r.success() => r
            .output
            .lines()
            .find(|l| l.starts_with('/'))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|k| k.parse::<u64>().ok())
            .map(|k| k * 1024),
        _ => None,
    };
    match available {
        Some(a) => health::free_space(a, needed, &place),
        None => Finding {
            probe: Probe::FreeSpace,
            level: Level::Warning,
            text: format!("`df -Pk {place}` gave no answer: free space unknown"),
        },
    }
}

/// The last lines of a command's output, on one line.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}
