//! `pitr-console lab ...`: the embedded default sandbox.

use super::exit::Failure;
use crate::lab::{self, LabOptions};
use clap::Subcommand;
use std::path::PathBuf;

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

fn dir_or_default(dir: Option<PathBuf>) -> PathBuf {
    dir.unwrap_or_else(lab::default_dir)
}

pub fn run(
    cmd: LabCommand,
    role: Option<crate::config::Role>,
    tz: Option<&str>,
) -> Result<(), Failure> {
    match cmd {
        LabCommand::Up {
            dir,
            port,
            scale,
            with_gap,
            open,
        } => {
            let opts = LabOptions {
                dir,
                port,
                scale,
                with_gap,
            };
            let record = lab::up(&opts).map_err(Failure::bad_input)?;
            println!("{}", record.summary());
            if open {
                let config = record.dir.join("pitr-console.toml");
                super::context::open_tui(Some(&config), role, tz)?;
            }
            Ok(())
        }
        LabCommand::Status { dir } => {
            let status = lab::status(&dir_or_default(dir)).map_err(Failure::bad_input)?;
            let state = if status.running { "running" } else { "stopped" };
            println!(
                "server {state} on port {}\n{}",
                status.port,
                status.record.summary()
            );
            Ok(())
        }
        LabCommand::Down { dir } => {
            let dir = dir_or_default(dir);
            lab::down(&dir).map_err(Failure::bad_input)?;
            println!("lab in {} stopped and removed", dir.display());
            Ok(())
        }
        LabCommand::Incident { dir } => {
            let record = lab::incident(&dir_or_default(dir)).map_err(Failure::bad_input)?;
            println!("{}", record.summary());
            Ok(())
        }
    }
}
