//! `pitr-console train`: the exercise on the lab. Without a target it sets the task; with
//! one it says whether recovering there would have brought the deleted rows back. It runs
//! nothing, so every role may use it.

use super::context::Context;
use super::exit::Failure;
use super::target_args::TargetArgs;
use crate::adapters::catalog::load_view;
use crate::engine::training::{judge, Incident, Verdict};
use crate::lab::LabRecord;
use clap::{ArgGroup, Args};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(false).multiple(false)))]
pub struct TrainArgs {
    /// Your chosen instant: "YYYY-MM-DD HH:MM:SS[.ffffff][ ZONE|±HH:MM]".
    #[arg(long, group = "target", value_name = "TIME")]
    pub time: Option<String>,
    /// Your chosen transaction id.
    #[arg(long, group = "target", value_name = "N")]
    pub xid: Option<u64>,
    /// Your chosen WAL position, X/Y.
    #[arg(long, group = "target", value_name = "X/Y")]
    pub lsn: Option<String>,
    /// Your chosen restore point.
    #[arg(long, group = "target", value_name = "RESTORE_POINT")]
    pub name: Option<String>,
    /// Stop just before the target instead of just after (time, xid, lsn).
    #[arg(long)]
    pub exclusive: bool,
    /// The timeline to judge along: a number, `current` or `latest`.
    #[arg(long, value_name = "N|current|latest", default_value = "latest")]
    pub timeline: crate::domain::target::TimelineChoice,
    /// Which of the lab's incidents (1 = the one the build made).
    #[arg(long, default_value_t = 1)]
    pub incident: usize,
    #[arg(long)]
    pub json: bool,
}

/// The lab behind the configuration in use, else the default lab.
fn lab_dir(ctx: &Context) -> Option<PathBuf> {
    ctx.path
        .parent()
        .filter(|d| d.join("lab.json").is_file())
        .map(Path::to_path_buf)
        .or_else(crate::lab::find_existing)
}

pub fn run(ctx: &Context, args: TrainArgs) -> Result<(), Failure> {
    let dir = lab_dir(ctx).ok_or_else(|| {
        Failure::bad_input(
            "the exercise runs on the lab: build one with `pitr-console lab up`, or pass the lab's --config",
        )
    })?;
    let record = LabRecord::load(&dir.join("lab.json")).map_err(Failure::bad_input)?;
    let inc = args
        .incident
        .checked_sub(1)
        .and_then(|i| record.incidents.get(i))
        .ok_or_else(|| {
            Failure::bad_input(format!(
                "--incident {}: the lab recorded {} incident(s)",
                args.incident,
                record.incidents.len()
            ))
        })?;
    let given =
        args.time.is_some() || args.xid.is_some() || args.lsn.is_some() || args.name.is_some();
    if !given {
        println!(
            "Exercise: someone ran a DELETE on the lab's database `{}` and {} rows are gone.",
            record.database, inc.deleted
        );
        println!("Find the DELETE: the console's transactions pane lists commits with the relations they touched");
        println!("(`,` and `.` step through them, `b` picks the instant just before one; `pitr-console --role trainee` opens it),");
        println!("then choose the instant just before it and ask, e.g.:");
        println!("  pitr-console train --time \"YYYY-MM-DD HH:MM:SS.ffffff\" --exclusive");
        println!("  pitr-console train --xid N --exclusive");
        println!("The answer says whether the rows would come back, and how many good commits the instant gives up. Nothing is run.");
        return Ok(());
    }
    let target = TargetArgs {
        time: args.time.clone(),
        xid: args.xid,
        lsn: args.lsn.clone(),
        name: args.name.clone(),
        immediate: false,
        latest: false,
        exclusive: args.exclusive,
        timeline: args.timeline,
        force_unknown_xid: false,
        accept_wal_loss: false,
    }
    .target(ctx.zone)?;
    let repo = ctx
        .config
        .repositories
        .iter()
        .find(|r| r.wal_archive.as_deref() == Some(record.wal_archive.as_path()))
        .or(ctx.config.repositories.first())
        .ok_or_else(|| Failure::bad_input("the lab's configuration names no repository"))?;
    let view = load_view(repo, ctx.index_dir().as_deref()).map_err(Failure::bad_input)?;
    let timeline = crate::planning::prepare::resolve_timeline(&view, args.timeline)?;
    let path = view.catalog.path(timeline);
    let index = view.index.ok_or_else(|| {
        Failure::bad_input("the lab's WAL could not be indexed, so the exercise cannot be judged (see `pitr-console catalog`)")
    })?;
    let incident = Incident {
        statement: inc.statement.clone(),
        xid: inc.xid,
        commit_time: inc.commit_time,
        deleted: inc.deleted,
    };
    let answer = judge(&index, &path, &incident, &target);
    if args.json {
        let text = serde_json::to_string_pretty(&answer).map_err(Failure::bad_input)?;
        println!("{text}");
        return Ok(());
    }
    let z = ctx.zone;
    println!("Your target: {}", answer.target);
    if let Some(t) = &answer.last_included {
        println!(
            "Replay would include up to xid {} ({} at {}, lsn {})",
            t.xid,
            if t.commit { "committed" } else { "aborted" },
            z.format(t.time),
            t.lsn
        );
    }
    match &answer.stops_at {
        Some(t) => println!(
            "and stop before xid {} ({} at {}, lsn {})",
            t.xid,
            if t.commit { "committed" } else { "aborted" },
            z.format(t.time),
            t.lsn
        ),
        None if answer.verdict != Verdict::CannotTell => {
            println!("and replay every archived transaction")
        }
        None => {}
    }
    println!("{}", answer.explanation);
    Ok(())
}
