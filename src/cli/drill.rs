//! `pitr-console drill`: the monthly restore drill, headless. Preparation (backup located and
//! verified, expected counts), recovery (a side restore run by the engine, promoted on the
//! side instance), verification (checks, counts, the smoke command), sign-off; every phase
//! timed. The drill record and the report are written beside the run's journal.

use super::context::Context;
use super::exit::Failure;
use super::plan::journal_dir;
use super::recover::{engine_failure, run_to_end, Action};
use super::target_args::TargetArgs;
use crate::adapters::ssh::SshPool;
use crate::engine::drill::{human_ms, Checklist, DrillRecord};
use crate::engine::journal::JournalState;
use crate::engine::recovery;
use crate::planning::drill_run::{self, DrillRequest};
use crate::planning::run_request;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// The configured server whose backups are drilled (production is not touched).
    #[arg(long)]
    pub server: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// New directory for the side instance.
    #[arg(long, value_name = "DIR")]
    pub restore_to: PathBuf,
    /// Port of the side instance.
    #[arg(long)]
    pub port: u16,
    /// Who performed the drill (sign-off).
    #[arg(long, value_name = "NAME")]
    pub performed_by: Option<String>,
    /// Who verified it (sign-off).
    #[arg(long, value_name = "NAME")]
    pub verified_by: Option<String>,
    /// Stands for typing the server's name, should a step ask for it.
    #[arg(long)]
    pub yes: bool,
    /// Ticks a hand-ticked checklist item (the site's own ids); repeatable.
    #[arg(long, value_name = "ID")]
    pub tick: Vec<String>,
    /// Ticks the hand-ticked items listed in FILE, one id a line (`#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
}

impl DrillArgs {
    /// The ids to tick, from --tick and --answers, each checked against the checklist.
    fn ticks(&self, checklist: &Checklist) -> Result<Vec<String>, Failure> {
        let mut ids = self.tick.clone();
        if let Some(file) = &self.answers {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Failure::bad_input(format!("--answers {}: {e}", file.display())))?;
            ids.extend(
                text.lines()
                    .map(|l| l.split('#').next().unwrap_or_default().trim())
                    .filter(|l| !l.is_empty())
                    .map(str::to_string),
            );
        }
        let manual = checklist.manual_ids();
        if let Some(bad) = ids.iter().find(|id| !manual.contains(id)) {
            return Err(Failure::bad_input(format!(
                "`{bad}` is not a hand-ticked item of the drill checklist; those are: {}",
                if manual.is_empty() {
                    "none".to_string()
                } else {
                    manual.join(", ")
                }
            )));
        }
        Ok(ids)
    }
}

pub fn run(ctx: &Context, args: DrillArgs) -> Result<(), Failure> {
    let target = args.target.target(ctx.zone)?;
    let checklist =
        Checklist::load(ctx.config.drill_checklist.as_deref()).map_err(Failure::bad_input)?;
    let ticks = args.ticks(&checklist)?;
    let req = DrillRequest {
        server: args.server.clone(),
        target,
        restore_to: args.restore_to.clone(),
        port: args.port,
        role: ctx.role,
        journal_dir: journal_dir(ctx)?,
        index_dir: ctx.index_dir(),
        zone: ctx.zone,
        options: args.target.options(),
    };
    println!("Preparation");
    let prep = drill_run::prepare(&ctx.config, &checklist, &req)?;
    let mut record = prep.record;
    println!(
        "Drill of server {}: {}",
        args.server, record.checklist_title
    );
    for id in ["backup_located", "backup_verified"] {
        say(&record, id);
    }
    if let Some(stop) = prep.stop {
        return finish(ctx, record, None, &args, &ticks, Some(stop));
    }
    println!(
        "Recovery (a side restore into {})",
        args.restore_to.display()
    );
    let plan = recovery::plan(&prep.inputs);
    let confirmation = args.yes.then(|| prep.inputs.server.name.clone());
    // The same transport the console's drill and `recover` use: SSH for a server on
    // another host, this machine's processes for a local one.
    let ports = run_request::ports(Some(&ctx.config), &prep.inputs.server.name, &SshPool::new());
    let started = recovery::start(plan, ports, confirmation).map_err(engine_failure)?;
    let (_, journal) = run_to_end(started, Action::Promote)?;
    let state = JournalState::read(&journal).map_err(Failure::step_failed)?;
    println!("Verification");
    drill_run::verify(
        &mut record,
        &state,
        &prep.inputs,
        ctx.config.drill_smoke.as_deref(),
    );
    for id in ["checks", "row_counts", "smoke"] {
        say(&record, id);
    }
    // A side restore that was not promoted is a problem `drill_run::verify` recorded.
    finish(ctx, record, Some(journal), &args, &ticks, None)
}

fn say(record: &DrillRecord, id: &str) {
    if let Some(i) = record.item(id) {
        println!("  {} {}: {}", i.status.mark(), i.text, i.detail);
    }
}

/// Sign-off, the record and the report; the exit code says whether the drill passed.
fn finish(
    ctx: &Context,
    mut record: DrillRecord,
    journal: Option<PathBuf>,
    args: &DrillArgs,
    ticks: &[String],
    stopped: Option<String>,
) -> Result<(), Failure> {
    for id in ticks {
        record.tick(id, true);
    }
    record.problems.extend(stopped.clone());
    let report = drill_run::conclude(
        &mut record,
        journal.as_deref(),
        args.performed_by.clone(),
        args.verified_by.clone(),
        &ctx.zone,
    )
    .map_err(Failure::step_failed)?;
    println!("Sign-off");
    say(&record, "performed_by");
    say(&record, "verified_by");
    for p in record.phases.iter().filter(|p| p.id.timed()) {
        println!(
            "  {:<14} {}",
            p.title,
            p.duration_ms.map_or("not timed".into(), human_ms)
        );
    }
    println!(
        "  {:<14} {}",
        "RTO total",
        record.rto_ms.map_or("not measured".into(), human_ms)
    );
    match &record.rpo {
        Some(r) => println!(
            "  {:<14} {} (to the newest archived commit, {})",
            "RPO",
            human_ms((r.seconds * 1000.0).round() as u64),
            ctx.zone.format(r.newest_commit)
        ),
        None => println!(
            "  {:<14} not measured: {}",
            "RPO",
            record.rpo_unmeasured.as_deref().unwrap_or("no WAL index")
        ),
    }
    let verdict = record.verdict();
    let not_verified = record.not_verified();
    if !not_verified.is_empty() {
        println!("Not verified:");
        for i in not_verified {
            println!("  {} {} ({})", i.status.mark(), i.text, i.status.word());
        }
    }
    let Some(md) = report else {
        return Err(Failure::step_failed(format!(
            "the drill {}: nothing was restored: {}",
            verdict.headline(),
            record.problems.join("; ")
        )));
    };
    println!("Report: {}", md.display());
    println!(
        "The side instance stays up for inspection: stop it with `pg_ctl -D {} stop`",
        args.restore_to.display()
    );
    if stopped.is_some() || !verdict.passed() {
        return Err(Failure::step_failed(format!(
            "the drill {}: {}. Report: {}",
            verdict.headline(),
            record.problems.join("; "),
            md.display()
        )));
    }
    println!("The drill passed.");
    Ok(())
}

#[derive(Args, Debug)]
pub struct SignArgs {
    /// The journal of the drill's side restore.
    pub journal: PathBuf,
    #[arg(long)]
    pub verified_by: String,
}

/// `sign-drill JOURNAL --verified-by NAME`: the verifier signs a drill after reading its
/// report, with the time of signing; the record and the report are written again.
pub fn countersign(args: &SignArgs, zone: crate::domain::zone::Zone) -> Result<(), Failure> {
    let path = DrillRecord::path_for(&args.journal);
    let mut record = DrillRecord::load(&path).map_err(|e| {
        Failure::bad_input(format!(
            "{e}; `sign-drill` takes the journal of a drill's side restore (its record is beside it)"
        ))
    })?;
    record
        .countersign(&args.verified_by, chrono::Utc::now())
        .map_err(Failure::bad_input)?;
    record
        .save(&path)
        .map_err(|e| Failure::step_failed(format!("cannot write {}: {e}", path.display())))?;
    let report = crate::report::load(&args.journal).map_err(Failure::step_failed)?;
    let (md, _) = crate::report::write(&report, &zone)
        .map_err(|e| Failure::step_failed(format!("cannot write the report: {e}")))?;
    say(&record, "verified_by");
    println!("Report: {}", md.display());
    if !record.verdict().passed() {
        return Err(Failure::step_failed(format!(
            "signed; the drill {}: {}",
            record.verdict().headline(),
            record.problems.join("; ")
        )));
    }
    Ok(())
}
