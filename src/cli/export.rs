//! `pitr-console export JOURNAL --table T [--where SQL] [--format custom|csv]`: a table, or
//! some of its rows, pulled out of a side restore into a new file beside its journal, with
//! its own journal (file, size, sha256, rows). Read-only on the side instance; production
//! is not touched, so every role may export.

use super::exit::Failure;
use super::repair::{read_journal, side_restore};
use crate::adapters::export::{self, ExportFormat, Exported};
use crate::config::Config;
use crate::engine::event::{Phase, RunStatus, StepStatus};
use crate::engine::journal::{sha256_hex, Body, Journal};
use crate::engine::ports::{CommandRunner, CommandSpec};
use crate::engine::recovery::new_run_id;
use serde_json::{json, Map};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The journal of a side restore whose instance still runs (paused or promoted).
    pub journal: PathBuf,
    /// The table, as psql would name it (orders, sales.orders, "My Table").
    #[arg(long)]
    pub table: String,
    /// Only the rows matching this SQL condition on the table's columns (CSV only).
    #[arg(long = "where")]
    pub filter: Option<String>,
    /// custom: `pg_dump -Fc -t` (schema and rows, for pg_restore); csv: the rows with a header.
    #[arg(long, value_parser = parse_format, default_value = "custom")]
    pub format: ExportFormat,
}

fn parse_format(s: &str) -> Result<ExportFormat, String> {
    s.parse()
}

// Over 100 lines on purpose: the export story top to bottom: refusals, side instance, file, journal.
#[allow(clippy::too_many_lines)]
pub fn run(config: Option<&Config>, args: ExportArgs) -> Result<(), Failure> {
    if args.filter.is_some() && args.format == ExportFormat::Custom {
        return Err(Failure::bad_input(
            "--where selects rows, which pg_dump cannot: use --format csv with --where, or drop --where to dump the whole table",
        ));
    }
    let state = read_journal(&args.journal)?;
    let side = side_restore(config, &state)?;
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| Failure::step_failed(format!("cannot start the async runtime: {e}")))?;
    let table = rt
        .block_on(export::resolve_table(&side.side_dsn, &args.table))
        .map_err(|e| Failure::bad_input(format!("export refused: {e}")))?;
    let dir = side
        .journal
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let run_id = format!("export-{}", new_run_id());
    let stem = side.journal.with_extension("");
    let file = PathBuf::from(format!(
        "{}.{run_id}-{}.{}",
        stem.display(),
        crate::domain::paths::file_part(&table),
        args.format.extension()
    ));
    let inputs = json!({ "export": {
        "side_journal": side.journal,
        "side_run": side.run_id,
        "table": table,
        "where": args.filter,
        "format": args.format,
        "file": file,
    }});
    let journal_failed = |e| Failure::step_failed(format!("export not started: {e}"));
    let mut journal = Journal::create(&dir, &side.server, &run_id).map_err(journal_failed)?;
    journal
        .write(Body::Run {
            run_id: run_id.clone(),
            server: side.server.clone(),
            target: format!("export {table} from side restore {}", side.run_id),
            checksum: sha256_hex(inputs.to_string().as_bytes()),
            steps: Vec::new(),
            inputs,
        })
        .map_err(journal_failed)?;
    let started = std::time::Instant::now();
    let result = match args.format {
        ExportFormat::Csv => rt
            .block_on(export::csv(
                &side.side_dsn,
                &table,
                args.filter.as_deref(),
                &file,
            ))
            .map_err(|e| e.to_string()),
        ExportFormat::Custom => rt.block_on(pg_dump(&side, &state, &table, &file)),
    };
    let outcome =
        |ok: bool, error: Option<String>, facts: Map<String, serde_json::Value>| Body::Outcome {
            index: 0,
            step: "export".into(),
            phase: Phase::Run,
            ok,
            status: ok.then_some(StepStatus::Done),
            duration_ms: started.elapsed().as_millis() as u64,
            error,
            facts,
        };
    match result {
        Ok(done) => {
            let mut facts = Map::new();
            facts.insert("exported".into(), json!(done));
            journal
                .write(outcome(true, None, facts))
                .and_then(|_| {
                    journal.write(Body::End {
                        status: RunStatus::Completed,
                    })
                })
                .map_err(|e| Failure::step_failed(format!("exported, but not journaled: {e}")))?;
            println!(
                "exported {} from side restore {} (port {}) to {}\n  {} bytes{}, sha256 {}\n  journal {}",
                done.table,
                side.run_id,
                side.side_port,
                done.file.display(),
                done.bytes,
                done.rows.map(|r| format!(", {r} rows")).unwrap_or_default(),
                done.sha256,
                journal.path().display()
            );
            Ok(())
        }
        Err(e) => {
            let _ = journal.write(outcome(false, Some(e.clone()), Map::new()));
            let _ = journal.write(Body::End {
                status: RunStatus::Aborted {
                    step: Some("export".into()),
                },
            });
            Err(Failure::step_failed(format!(
                "export failed: {e}; the side instance and production are unchanged"
            )))
        }
    }
}

/// `pg_dump -Fc -t TABLE` as the server user (peer authentication on the side's socket),
/// its output into a new file the console opens (0600, never an existing one).
async fn pg_dump(
    side: &super::repair::SideRestore,
    state: &crate::engine::journal::JournalState,
    table: &str,
    file: &Path,
) -> Result<Exported, String> {
    let inputs: crate::engine::recovery::RecoveryInputs =
        serde_json::from_value(state.inputs.clone()).map_err(|e| e.to_string())?;
    let (dsn, password) = crate::engine::redact::take_password(&side.side_dsn);
    export::create(file).map_err(|e| format!("cannot create {}: {e}", file.display()))?;
    let mut cmd = CommandSpec::new(inputs.server.bin_dir.join("pg_dump").display().to_string())
        .args(["-Fc", "--lock-wait-timeout=10s", "-t", table, "-d", &dsn])
        .run_as(inputs.server.run_as.as_deref())
        .stdout_to(file);
    if let Some(p) = password {
        cmd = cmd.secret_env("PGPASSWORD", &p);
    }
    let r = crate::adapters::process::LocalCommands
        .run(&cmd, &|_| {})
        .await
        .map_err(|e| e.message)?;
    if !r.success() {
        return Err(format!(
            "pg_dump exited {}: {}",
            r.exit_code.map_or("by signal".into(), |c| c.to_string()),
            r.output.trim()
        ));
    }
    let (bytes, sha256) = export::digest(file).map_err(|e| e.message)?;
    Ok(Exported {
        table: table.to_string(),
        file: file.to_path_buf(),
        bytes,
        sha256,
        rows: None,
    })
}
