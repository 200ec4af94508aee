//! `pitr-console lab ...`: the embedded default sandbox.

use super::exit::Failure;
use crate::lab::{self, LabOptions};
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Build the lab (or reuse the one in DIR) and print what it holds.
    Up {
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long)]
        port: Option<u16>,
        /// Multiplies the workload (rows and WAL volume).
        #[arg(long, default_value_t = 1)]
        scale: u32,
        /// Remove one archived segment after the second backup.
        #[arg(long)]
        with_gap: bool,
        /// Run the lab on the PostgreSQL binaries in this directory.
        #[arg(long, value_name = "DIR")]
        pg_bin: Option<PathBuf>,
        /// Run the lab on installed PostgreSQL N (/usr/lib/postgresql/N/bin, then the cache of
        /// scripts/install-pg-versions).
        #[arg(long, value_name = "N")]
        pg_version: Option<u32>,
        /// PostgreSQL 17+: add an incremental backup on backup 1, taken after the incident.
        #[arg(long)]
        incremental: bool,
        /// Open the console on the lab afterwards.
        #[arg(long)]
        open: bool,
    },
    /// Whether the lab's server runs, and what the lab recorded.
    Status {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Stop the lab's server and remove the lab's directory.
    Down {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Another incident now: a DELETE of many rows, recorded.
    Incident {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// The lab a command acts on: `--dir`, else the lab whose configuration `--config` names,
/// else the default lab. A `--config` that is not a lab's is refused rather than ignored,
/// so that `lab down` never removes a lab the operator did not mean.
fn lab_dir(dir: Option<PathBuf>, config: Option<&Path>) -> Result<PathBuf, Failure> {
    if let Some(dir) = dir {
        return Ok(dir);
    }
    match config {
        None => Ok(lab::default_dir()),
        Some(file) => file
            .parent()
            .filter(|d| d.join("lab.json").is_file())
            .map(Path::to_path_buf)
            .ok_or_else(|| {
                Failure::bad_input(format!(
                    "{} is not a lab's configuration (no lab.json beside it); name the lab with --dir",
                    file.display()
                ))
            }),
    }
}

/// A run that has not ended on the lab's server holds it: rebuilding or removing the lab
/// under it would lose what the run kept aside.
fn refuse_unfinished(dir: &Path, what: &str) -> Result<(), Failure> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let runs = super::unfinished::unfinished_under(&dir)?;
    let Some(run) = runs.first() else {
        return Ok(());
    };
    Err(Failure::refused(format!(
        "`{what}` refused: server {} of the lab in {} has an unfinished run {} (journal {}). {}",
        run.server,
        dir.display(),
        run.run_id,
        run.journal.display(),
        run.next_steps()
    )))
}

pub fn run(
    cmd: LabCommand,
    config: Option<&Path>,
    role: Option<crate::config::Role>,
    tz: Option<&str>,
) -> Result<(), Failure> {
    match cmd {
        LabCommand::Up {
            dir,
            port,
            scale,
            with_gap,
            pg_bin,
            pg_version,
            incremental,
            open,
        } => {
            refuse_unfinished(&dir.clone().unwrap_or_else(lab::default_dir), "lab up")?;
            let opts = LabOptions {
                dir,
                port,
                scale,
                with_gap,
                pg_bin,
                pg_version,
                incremental,
                wal_segment_mib: None,
            };
            let record = lab::up(&opts).map_err(Failure::bad_input)?;
            println!("{}", record.summary());
            if open {
                let config = record.dir.join("pitr-console.toml");
                super::context::open_tui(Some(&config), role, tz, None)?;
            }
            Ok(())
        }
        LabCommand::Status { dir } => {
            let status = lab::status(&lab_dir(dir, config)?).map_err(Failure::bad_input)?;
            let state = if status.running { "running" } else { "stopped" };
            println!(
                "server {state} on port {}\n{}",
                status.port,
                status.record.summary()
            );
            Ok(())
        }
        LabCommand::Down { dir } => {
            let dir = lab_dir(dir, config)?;
            refuse_unfinished(&dir, "lab down")?;
            lab::down(&dir).map_err(Failure::bad_input)?;
            println!("lab in {} stopped and removed", dir.display());
            Ok(())
        }
        LabCommand::Incident { dir } => {
            let record = lab::incident(&lab_dir(dir, config)?).map_err(Failure::bad_input)?;
            println!("{}", record.summary());
            Ok(())
        }
    }
}
