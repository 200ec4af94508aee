//! `pitr-console catalog`: backups, WAL runs, gaps and recoverable windows.

use super::context::Context;
use super::exit::Failure;
use crate::adapters::catalog::{load_view_reporting, RepositoryView};
use crate::domain::assess::show;
use crate::domain::coverage::WindowEnd;
use crate::domain::times::Stamp;
use crate::domain::zone::Zone;
use serde::Serialize;
use std::io::IsTerminal;

/// The stable JSON shape of `catalog --json` (documented in docs/catalog-json.md).
#[derive(Serialize)]
struct Report<'a> {
    format_version: u32,
    repository: &'a str,
    servers: Vec<&'a str>,
    segment_size: u64,
    /// True when some instant below is inferred rather than read from WAL or a backup.
    times_estimated: bool,
    backups: &'a [crate::domain::backup::Backup],
    timelines: &'a [crate::domain::coverage::TimelineCoverage],
    windows: &'a [crate::domain::coverage::RecoverableWindow],
    archive: ArchiveSummary<'a>,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct ArchiveSummary<'a> {
    segments: usize,
    partial: Vec<&'a str>,
    histories: Vec<u32>,
}

pub fn run(ctx: &Context, server: Option<&str>, json: bool) -> Result<(), Failure> {
    let repos: Vec<_> = match server {
        Some(name) => {
            let s = ctx
                .config
                .servers
                .iter()
                .find(|s| s.name == name)
                .ok_or_else(|| {
                    let known: Vec<_> =
                        ctx.config.servers.iter().map(|s| s.name.as_str()).collect();
                    Failure::bad_input(format!(
                        "no server named `{name}` in {}; configured: {}",
                        ctx.path.display(),
                        known.join(", ")
                    ))
                })?;
            ctx.config
                .repositories
                .iter()
                .filter(|r| r.name == s.repository)
                .collect()
        }
        None => ctx.config.repositories.iter().collect(),
    };
    let mut reports = Vec::new();
    for repo in repos {
        // Fetching object-storage WAL takes a while: say how far it is (stderr, so --json
        // stays clean; one line per update only on a terminal).
        let live = std::io::stderr().is_terminal();
        let view = load_view_reporting(repo, ctx.index_dir().as_deref(), &|p| {
            let line = format!(
                "fetching WAL of `{}`: {}/{} segments ({} MiB)",
                repo.name,
                p.done,
                p.total,
                p.bytes >> 20
            );
            match (live, p.done == p.total) {
                (true, false) => eprint!("\r{line}"),
                (true, true) => eprintln!("\r{line}"),
                (false, true) => eprintln!("{line}"),
                (false, false) => {}
            }
        })
        .map_err(Failure::bad_input)?;
        let servers = ctx
            .config
            .servers
            .iter()
            .filter(|s| s.repository == repo.name)
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>();
        if json {
            reports.push(serde_json::to_value(report(&view, servers)).map_err(Failure::bad_input)?);
        } else {
            print!("{}", text(&view, &servers, &ctx.zone));
        }
    }
    if json {
        let out = if server.is_some() && reports.len() == 1 {
            reports.remove(0)
        } else {
            serde_json::Value::Array(reports)
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(Failure::bad_input)?
        );
    }
    Ok(())
}

fn report<'a>(view: &'a RepositoryView, servers: Vec<&'a str>) -> Report<'a> {
    let c = &view.catalog;
    let stamps = view
        .coverage
        .windows
        .iter()
        .flat_map(|w| [w.start, w.end])
        .chain(
            view.coverage
                .timelines
                .iter()
                .flat_map(|t| t.runs.iter().flat_map(|r| [r.start, r.end])),
        );
    Report {
        format_version: 1,
        repository: &c.repository,
        servers,
        segment_size: c.segment_size.bytes(),
        times_estimated: stamps.flatten().any(|s| s.estimated),
        backups: &c.backups,
        timelines: &view.coverage.timelines,
        windows: &view.coverage.windows,
        archive: ArchiveSummary {
            segments: c.segments.iter().filter(|s| !s.partial).count(),
            partial: c
                .segments
                .iter()
                .filter(|s| s.partial)
                .map(|s| s.file_name.as_str())
                .collect(),
            histories: c.histories.iter().map(|h| h.timeline.0).collect(),
        },
        warnings: &c.warnings,
    }
}

// Over 100 lines on purpose: the catalog report top to bottom, section by section.
#[allow(clippy::too_many_lines)]
fn text(view: &RepositoryView, servers: &[&str], zone: &Zone) -> String {
    use std::fmt::Write;
    let c = &view.catalog;
    let when = |s: Option<Stamp>| s.map_or("?".to_string(), |s| show(zone, s));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Repository {} (servers: {}), segment size {}",
        c.repository,
        if servers.is_empty() {
            "none".to_string()
        } else {
            servers.join(", ")
        },
        bytesize::ByteSize(c.segment_size.bytes())
    );
    let _ = writeln!(out, "\nBackups ({}):", c.backups.len());
    for b in &c.backups {
        let _ = writeln!(
            out,
            "  {:<28} tl {} {:?}  start {} @ {}  consistent {} @ {}{}",
            b.id,
            b.timeline,
            b.format,
            b.start_lsn,
            zone.format(b.start_time),
            b.stop_lsn,
            show(
                zone,
                if b.stop_time_exact {
                    Stamp::exact(b.stop_time)
                } else {
                    Stamp::estimate(b.stop_time)
                }
            ),
            chain_note(&c.backups, b),
        );
    }
    for t in &view.coverage.timelines {
        let parent = t
            .parent
            .map(|(p, lsn)| format!(" (branched from timeline {p} at {lsn})"))
            .unwrap_or_default();
        let _ = writeln!(out, "\nTimeline {}{parent}:", t.timeline);
        for r in &t.runs {
            let _ = writeln!(
                out,
                "  WAL   {}..{} ({} segments)  {} .. {}",
                r.first,
                r.last,
                r.segments,
                when(r.start),
                when(r.end)
            );
        }
        for g in &t.gaps {
            let _ = writeln!(
                out,
                "  GAP   {} missing{}  {} .. {}",
                g.first_missing,
                if g.missing_count > 1 {
                    format!(
                        " (+{} more, through {})",
                        g.missing_count - 1,
                        g.last_missing
                    )
                } else {
                    String::new()
                },
                when(g.start),
                when(g.end)
            );
        }
    }
    let _ = writeln!(out, "\nRecoverable windows:");
    if view.coverage.windows.is_empty() {
        let _ = writeln!(
            out,
            "  none: no backup has the WAL it needs to become consistent"
        );
    }
    for w in &view.coverage.windows {
        let why = match &w.ends_because {
            WindowEnd::EndOfArchive { last_segment } => format!("end of archive ({last_segment})"),
            WindowEnd::Gap { missing_segment } => format!("gap: {missing_segment} missing"),
        };
        let _ = writeln!(
            out,
            "  tl {} from backup {}: {} .. {}  [{} .. {}], ends at {why}",
            w.timeline,
            w.backup_id,
            when(w.start),
            when(w.end),
            w.start_lsn,
            w.end_lsn
        );
    }
    if view
        .coverage
        .windows
        .iter()
        .any(|w| w.start.is_some_and(|s| s.estimated) || w.end.is_some_and(|s| s.estimated))
    {
        let _ = writeln!(
            out,
            "\n  ~ marks a time estimated from archive file times, not read from WAL."
        );
    }
    for w in &c.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

/// `  incremental on P (chain F + ... + B)` for an incremental backup, its broken chain named.
fn chain_note(all: &[crate::domain::backup::Backup], b: &crate::domain::backup::Backup) -> String {
    if b.incremental.is_none() {
        return String::new();
    }
    match crate::domain::backup_chain::chain(all, b) {
        Ok(chain) => {
            let ids: Vec<&str> = chain.iter().map(|m| m.id.as_str()).collect();
            format!(
                "  incremental on {} (restored as the chain {})",
                chain[chain.len() - 2].id,
                ids.join(" + ")
            )
        }
        Err(e) => format!("  BROKEN CHAIN: {e}"),
    }
}
