//! `pitr-console plan`: the dry run. Every step with its exact commands; nothing changes.

use super::context::Context;
use super::exit::Failure;
use super::target_args::TargetArgs;
use crate::config::Role;
use crate::engine::recovery::{self, FinalAction, RestoreMode};
use crate::planning::prepare::{Prepared, Refusal};
use crate::planning::run_request::{self, RunRequest};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The configured server to recover.
    #[arg(long)]
    pub server: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Plan a side restore into this new directory instead of in place.
    #[arg(long, value_name = "DIR", requires = "port")]
    pub restore_to: Option<PathBuf>,
    /// Port of the side instance (with --restore-to).
    #[arg(long, requires = "restore_to")]
    pub port: Option<u16>,
    #[arg(long)]
    pub json: bool,
    /// In place onto a new host whose pgdata is missing or empty (complete server failure):
    /// no snapshot, safety dump, stop or move-aside steps.
    #[arg(long, conflicts_with = "restore_to")]
    pub new_host: bool,
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Failure {
        match r {
            Refusal::Input(m) => Failure::bad_input(m),
            Refusal::NotRecoverable(m) => Failure::not_recoverable(m),
            Refusal::Role { message, journal } => Failure::refused(match journal {
                Some(j) => format!(
                    "{message}\nnothing was touched; the refusal is journaled in {}",
                    j.display()
                ),
                None => message,
            }),
        }
    }
}

/// Where journals go: the config's journal_dir, else the console's data dir.
pub fn journal_dir(ctx: &Context) -> Result<PathBuf, Failure> {
    run_request::journal_dir(&ctx.config).ok_or_else(|| {
        Failure::bad_input(
            "no journal_dir configured and no home directory to default to: set journal_dir",
        )
    })
}

pub fn mode(restore_to: Option<PathBuf>, port: Option<u16>) -> RestoreMode {
    match (restore_to, port) {
        (Some(dir), Some(port)) => RestoreMode::Side { dir, port },
        _ => RestoreMode::InPlace,
    }
}

/// Server, catalog and target to inputs, refusals mapped to exit codes.
pub fn prepare_inputs(
    ctx: &Context,
    server: &str,
    target: &TargetArgs,
    mode: RestoreMode,
    action: FinalAction,
    journal_dir: PathBuf,
) -> Result<Prepared, Failure> {
    let req = RunRequest {
        server: server.to_string(),
        target: target.target(ctx.zone)?,
        mode,
        action,
        role: ctx.role,
        journal_dir,
        zone: ctx.zone,
        options: target.options(),
        backup: None,
    };
    run_request::prepare_run(&ctx.config, &req, ctx.index_dir().as_deref()).map_err(|r| {
        let mut f = Failure::from(r.refusal);
        f.detail = r.detail.and_then(|d| serde_json::to_value(*d).ok());
        f
    })
}

#[derive(Serialize)]
struct PlanReport<'a> {
    format_version: u32,
    role: Role,
    /// Set when the role would refuse `recover` with these arguments.
    refused_by_role: Option<String>,
    backup: &'a crate::domain::backup::Backup,
    wal: Option<&'a (String, String)>,
    /// The timeline the target was resolved on and the settings pin.
    timeline: Option<crate::domain::timeline::TimelineId>,
    /// What replay will reach; verification compares the server's position with it.
    prediction: Option<&'a crate::domain::prediction::Prediction>,
    /// `--latest` over a gap: the WAL that will not be replayed (recover needs --accept-wal-loss).
    wal_loss: Option<&'a crate::planning::prepare::WalLoss>,
    notes: &'a [String],
    restore_command: &'a str,
    /// What promoting at the target discards, when the WAL index can place it.
    cost: Option<&'a crate::planning::cost::Cost>,
    plan: crate::engine::PlanView,
}

pub fn run(ctx: &Context, args: PlanArgs) -> Result<(), Failure> {
    let json = args.json;
    plan(ctx, args).map_err(|f| f.json_if(json))
}

fn plan(ctx: &Context, args: PlanArgs) -> Result<(), Failure> {
    let mode = mode(args.restore_to.clone(), args.port);
    let refused = crate::engine::roles::role_permits(ctx.role, &mode, &args.server)
        .err()
        .map(|r| r.to_string());
    let mut p = prepare_inputs(
        ctx,
        &args.server,
        &args.target,
        mode,
        FinalAction::Pause,
        journal_dir(ctx)?,
    )?;
    p.inputs.new_host = args.new_host;
    let plan = recovery::plan(&p.inputs);
    let mut cost = p.cost.clone();
    if let Some(c) = cost.as_mut() {
        if let Ok(rt) = tokio::runtime::Runtime::new() {
            rt.block_on(crate::planning::cost::name_tables(c, &p.inputs.server.dsn));
        }
    }
    if args.json {
        let report = PlanReport {
            format_version: 1,
            role: ctx.role,
            refused_by_role: refused,
            backup: &p.inputs.backup,
            wal: p.wal.as_ref(),
            timeline: p.inputs.timeline,
            prediction: p.inputs.prediction.as_ref(),
            wal_loss: p.wal_loss.as_ref(),
            notes: &p.notes,
            restore_command: &p.inputs.restore_command,
            cost: cost.as_ref(),
            plan: plan.view(),
        };
        let text = serde_json::to_string_pretty(&report).map_err(Failure::bad_input)?;
        println!("{text}");
        return Ok(());
    }
    println!("Configuration: {}; role {:?}", ctx.origin_label(), ctx.role);
    let live = crate::planning::live_checks::ask_blocking(&ctx.config, &p.inputs);
    for n in p.notes.iter().chain(&live.notes) {
        println!("{n}");
    }
    if let Some(r) = live.refusal {
        println!("`recover` with these arguments is refused: {r}");
    }
    if let Some(c) = &cost {
        for line in c.lines(&p.inputs.mode, &ctx.zone) {
            println!("{line}");
        }
    }
    print!("{}", plan.render());
    if p.wal_loss.is_some() {
        println!("`recover` with these arguments needs --accept-wal-loss: the WAL after the gap is not replayed");
    }
    if let Some(r) = refused {
        println!(
            "Role {:?}: `recover` with these arguments would be {r}",
            ctx.role
        );
    }
    println!("Dry run: nothing was changed.");
    Ok(())
}
