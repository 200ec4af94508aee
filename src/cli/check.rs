//! `pitr-console check [--server S] [--json]`: could each server be recovered right now?
//! Exit 0 when every finding is ok, 1 for a warning, 2 for a critical one (the monitoring
//! convention; a configuration that cannot be read exits 2 as well).

use super::context::Context;
use super::exit::Failure;
use crate::adapters::ssh::SshPool;
use crate::domain::health::{self, Level, Probe};
use crate::planning::health::{server_health, ServerHealth};
use crate::planning::run_request;
use serde::Serialize;

#[derive(Serialize)]
struct Report<'a> {
    format_version: u32,
    level: Level,
    servers: &'a [ServerHealth],
}

/// Runs the checks; returns the exit code.
pub fn run(ctx: &Context, server: Option<&str>, json: bool) -> Result<i32, Failure> {
    let servers: Vec<_> = match server {
        Some(name) => vec![crate::planning::prepare::find_server(&ctx.config, name)
            .map_err(|e| Failure::bad_input(e.to_string()))?],
        None => ctx.config.servers.iter().collect(),
    };
    if servers.is_empty() {
        return Err(Failure::bad_input(format!(
            "{} configures no server to check",
            ctx.path.display()
        )));
    }
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| Failure::step_failed(format!("cannot start the async runtime: {e}")))?;
    let pool = SshPool::new();
    let index_dir = ctx.index_dir();
    let now = chrono::Utc::now();
    let results: Vec<ServerHealth> = servers
        .iter()
        .map(|s| {
            let ports = run_request::ports(Some(&ctx.config), &s.name, &pool);
            rt.block_on(server_health(
                &ctx.config,
                s,
                &ports,
                index_dir.as_deref(),
                now,
            ))
        })
        .collect();
    let level = health::worst(results.iter().flat_map(|r| &r.findings));
    if json {
        let report = Report {
            format_version: 1,
            level,
            servers: &results,
        };
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure::step_failed(format!("cannot write the report: {e}")))?;
        println!("{text}");
    } else {
        for r in &results {
            println!(
                "server {} (repository {}): {}",
                r.server,
                r.repository,
                r.level.word()
            );
            for f in &r.findings {
                println!(
                    "  {:<9} {:<16} {}",
                    f.level.word(),
                    probe_name(f.probe),
                    f.text
                );
            }
        }
    }
    Ok(level.exit_code())
}

fn probe_name(p: Probe) -> &'static str {
    match p {
        Probe::Archiver => "archiver",
        Probe::NewestBackup => "newest backup",
        Probe::WalContinuity => "WAL continuity",
        Probe::RestoreCommand => "restore command",
        Probe::FreeSpace => "free space",
    }
}
