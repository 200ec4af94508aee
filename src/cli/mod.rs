//! The command line: the TUI by default, and the headless subcommands of DESIGN.md.

mod catalog;
mod check;
mod context;
mod drill;
mod exit;
mod export;
mod journal;
mod lab;
mod plan;
mod recover;
mod repair;
mod report;
mod restore_dump;
mod target_args;
mod train;
mod unfinished;

use crate::config::Role;
use crate::ui::theme::ThemeKind;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub use exit::Failure;

#[derive(Debug, Parser)]
#[command(
    name = "pitr-console",
    version,
    about = "PostgreSQL point-in-time recovery console"
)]
pub struct Cli {
    /// Configuration file (default: $PITR_CONSOLE_CONFIG, the user config dir, then the lab's).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// operator: everything; drill: side restores only; trainee: read-only.
    #[arg(long, global = true, value_parser = parse_role)]
    pub role: Option<Role>,
    /// Display and default input zone (IANA name or ±HH:MM); overrides the config.
    #[arg(long, global = true)]
    pub tz: Option<String>,
    /// The console's keys: a keymap.toml with only the keys you change (default: keymap.toml
    /// in the user config dir, when there is one). See assets/keymap.toml for the format.
    #[arg(long)]
    pub keymap: Option<PathBuf>,
    /// Colours of the console: dark (the default), light (for a light terminal background)
    /// or plain (no colour; also what NO_COLOR gives).
    #[arg(long, value_parser = parse_theme)]
    pub theme: Option<ThemeKind>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The local sandbox: a real PostgreSQL with an archive, backups and an incident.
    #[command(subcommand)]
    Lab(lab::LabCommand),
    /// Backups, WAL runs, gaps and recoverable windows of a server's repository.
    Catalog {
        /// The server whose repository to show (default: every repository).
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The dry run: every step of a recovery with its exact commands; changes nothing.
    Plan(plan::PlanArgs),
    /// Recover a server to a target, headless (the wizard's engine).
    Recover(recover::RecoverArgs),
    /// Continue a run from its journal (after a crash, a failure, or a pause for decision).
    Resume(recover::ResumeArgs),
    /// Give up a run that has not ended: nothing on disk is touched, the server is freed for
    /// a new run, and where everything is gets printed.
    Abandon {
        /// The run's journal file.
        journal: PathBuf,
    },
    /// After a promotion: put the original data back (the promoted directory is kept aside).
    Rollback {
        /// The run's journal file.
        journal: PathBuf,
        /// Stands for typing the server's name.
        #[arg(long)]
        yes: bool,
    },
    /// The second way back: a run's safety dump of one database restored into a new
    /// database (never over an existing one), checked against its sha256, journaled.
    RestoreDump(restore_dump::RestoreDumpArgs),
    /// Read a run's journal.
    #[command(subcommand)]
    Journal(journal::JournalCommand),
    /// The report of a run (Markdown, or --json), also written beside its journal.
    Report(report::ReportArgs),
    /// The monthly restore drill, headless: checklist, timed phases, RTO/RPO, sign-off, report.
    Drill(drill::DrillArgs),
    /// The verifier's signature on a drill, after reading its report, with its own time.
    SignDrill(drill::SignArgs),
    /// Pull rows back from a side restore into production, in one transaction (`--undo`
    /// takes them out again).
    Repair(repair::RepairArgs),
    /// Pull a table, or some of its rows, out of a side restore into a file beside its
    /// journal (pg_dump custom format, or CSV with --where); production is not touched.
    Export(export::ExportArgs),
    /// The exercise on the lab: choose the instant just before the DELETE; nothing is run.
    Train(train::TrainArgs),
    /// Could each server be recovered right now? Archiver, newest backup, WAL continuity,
    /// the restore command as the server user, free space. Exit 0 ok, 1 warning, 2 critical.
    Check {
        /// Only this server (default: every configured server).
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    // Die quietly on a closed pipe (`catalog | head`), as other command-line tools do.
    // SAFETY: called first thing, before any thread exists; SIG_DFL has no handler to race.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        );
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(f) if f.json => {
            println!("{}", f.to_json());
            f.code
        }
        Err(f) => {
            eprintln!("pitr-console: {}", f.message);
            f.code
        }
    }
}

fn run(cli: Cli) -> Result<i32, Failure> {
    let done = match cli.command {
        None => open_console(&cli),
        Some(Command::Lab(cmd)) => {
            if !matches!(cmd, lab::LabCommand::Status { .. }) {
                let (role, _) =
                    context::role_and_zone(cli.config.as_deref(), cli.role, cli.tz.as_deref())?;
                if role == Role::Trainee {
                    return Err(Failure::refused(
                        "refused by role trainee: building, changing or removing the lab changes it for everyone who trains on it; `lab status` and `train` are open to trainees",
                    ));
                }
            }
            lab::run(cmd, cli.config.as_deref(), cli.role, cli.tz.as_deref())
        }
        Some(Command::Catalog { server, json }) => {
            let ctx = context::Context::load(cli.config.as_deref(), cli.role, cli.tz.as_deref())?;
            catalog::run(&ctx, server.as_deref(), json)
        }
        Some(Command::Plan(args)) => {
            let ctx = context::Context::load(cli.config.as_deref(), cli.role, cli.tz.as_deref())?;
            plan::run(&ctx, args)
        }
        Some(Command::Recover(args)) => {
            let ctx = context::Context::load(cli.config.as_deref(), cli.role, cli.tz.as_deref())?;
            recover::recover(&ctx, args)
        }
        Some(Command::Resume(args)) => {
            let (role, _) =
                context::role_and_zone(cli.config.as_deref(), cli.role, cli.tz.as_deref())?;
            // The configuration says which host the server is on; without one it is local.
            let config = context::Context::load(cli.config.as_deref(), cli.role, cli.tz.as_deref())
                .ok()
                .map(|c| c.config);
            recover::resume(role, config.as_ref(), args)
        }
        Some(Command::Abandon { journal }) => {
            let config = context::Context::load(cli.config.as_deref(), cli.role, cli.tz.as_deref())
                .ok()
                .map(|c| c.config);
            unfinished::abandon(config.as_ref(), &journal)
        }
        Some(Command::Rollback { journal, yes }) => {
            let (role, _) =
                context::role_and_zone(cli.config.as_deref(), cli.role, cli.tz.as_deref())?;
            let config = context::Context::load(cli.config.as_deref(), cli.role, cli.tz.as_deref())
                .ok()
                .map(|c| c.config);
            unfinished::rollback(role, config.as_ref(), &journal, yes)
        }
        Some(Command::RestoreDump(args)) => {
            let (role, _) =
                context::role_and_zone(cli.config.as_deref(), cli.role, cli.tz.as_deref())?;
            let config = context::Context::load(cli.config.as_deref(), cli.role, cli.tz.as_deref())
                .ok()
                .map(|c| c.config);
            restore_dump::run(role, config.as_ref(), args)
        }
        Some(Command::Journal(cmd)) => {
            let (_, zone) =
                context::role_and_zone(cli.config.as_deref(), cli.role, cli.tz.as_deref())?;
            journal::run(cmd, zone)
        }
        Some(Command::Report(args)) => {
            let (role, zone) =
                context::role_and_zone(cli.config.as_deref(), cli.role, cli.tz.as_deref())?;
            report::run(args, role, zone)
        }
        Some(Command::SignDrill(args)) => drill::countersign(
            &args,
            context::role_and_zone(cli.config.as_deref(), cli.role, cli.tz.as_deref())?.1,
        ),
        Some(Command::Drill(args)) => {
            let ctx = context::Context::load(cli.config.as_deref(), cli.role, cli.tz.as_deref())?;
            drill::run(&ctx, args)
        }
        Some(Command::Repair(args)) => {
            let (role, _) =
                context::role_and_zone(cli.config.as_deref(), cli.role, cli.tz.as_deref())?;
            let config = context::Context::load(cli.config.as_deref(), cli.role, cli.tz.as_deref())
                .ok()
                .map(|c| c.config);
            repair::run(role, config.as_ref(), args)
        }
        Some(Command::Export(args)) => {
            let config = context::Context::load(cli.config.as_deref(), cli.role, cli.tz.as_deref())
                .ok()
                .map(|c| c.config);
            export::run(config.as_ref(), args)
        }
        Some(Command::Train(args)) => {
            let ctx = context::Context::load(cli.config.as_deref(), cli.role, cli.tz.as_deref())?;
            train::run(&ctx, args)
        }
        Some(Command::Check { server, json }) => {
            let ctx = context::Context::load(cli.config.as_deref(), cli.role, cli.tz.as_deref())?;
            return check::run(&ctx, server.as_deref(), json);
        }
    };
    done.map(|()| 0)
}

/// The console itself, in the palette asked for (NO_COLOR read here, where the process
/// starts, as no-color.org defines it).
fn open_console(cli: &Cli) -> Result<(), Failure> {
    let no_color = std::env::var("NO_COLOR").ok();
    crate::ui::theme::set(ThemeKind::choose(cli.theme, no_color.as_deref()));
    context::open_tui(
        cli.config.as_deref(),
        cli.role,
        cli.tz.as_deref(),
        cli.keymap.as_deref(),
    )
}

fn parse_theme(s: &str) -> Result<ThemeKind, String> {
    s.parse()
}

fn parse_role(s: &str) -> Result<Role, crate::domain::role::UnknownRole> {
    s.parse()
}
