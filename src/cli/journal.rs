//! `pitr-console journal show`: a run's journal, its hash chain checked, as text or JSON.

use super::exit::Failure;
use crate::domain::zone::Zone;
use crate::engine::journal::{Body, JournalState, Pending};
use clap::Subcommand;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Every record of a run, the chain checked; where the run stands.
    Show {
        journal: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Serialize)]
struct Report<'a> {
    format_version: u32,
    path: &'a std::path::Path,
    run_id: &'a str,
    server: &'a str,
    target: &'a str,
    checksum: &'a str,
    /// The run's end, when it ended.
    ended: &'a Option<crate::engine::RunStatus>,
    /// A step left started-but-unfinished or failed, which `resume` settles first.
    pending: Option<String>,
    /// Step ids finished on the forward path, in order.
    finished: Vec<String>,
    /// Why the journal cannot be trusted (torn, cut, failing authentication); empty when
    /// intact. A journal with problems is shown but never resumed.
    problems: &'a [String],
    records: &'a [crate::engine::journal::Record],
}

// Over 100 lines on purpose: one arm per `journal` subcommand.
#[allow(clippy::too_many_lines)]
pub fn run(cmd: JournalCommand, zone: Zone) -> Result<(), Failure> {
    let JournalCommand::Show { journal, json } = cmd;
    let state = JournalState::read(&journal).map_err(Failure::bad_input)?;
    let step_id = |i: usize| -> String {
        state
            .records
            .iter()
            .find_map(|r| match &r.body {
                Body::Intent { index, step, .. } | Body::Outcome { index, step, .. }
                    if *index == i =>
                {
                    Some(step.clone())
                }
                _ => None,
            })
            .unwrap_or_else(|| format!("step {}", i + 1))
    };
    let pending = state.pending.as_ref().map(|p| match p {
        Pending::Dirty { index, phase } => {
            format!("{} ({phase:?}) started and never finished", step_id(*index))
        }
        Pending::Failed {
            index,
            phase,
            error,
        } => format!("{} ({phase:?}) failed: {error}", step_id(*index)),
    });
    let finished: Vec<String> = state.finished.keys().map(|i| step_id(*i)).collect();
    if json {
        let report = Report {
            format_version: 1,
            path: &journal,
            run_id: &state.run_id,
            server: &state.server,
            target: &state.target,
            checksum: &state.checksum,
            ended: &state.ended,
            pending,
            finished,
            problems: &state.problems,
            records: &state.records,
        };
        let text = serde_json::to_string_pretty(&report).map_err(Failure::bad_input)?;
        println!("{text}");
        return Ok(());
    }
    println!(
        "Run {} on server {}: recover to {}",
        state.run_id, state.server, state.target
    );
    if state.problems.is_empty() {
        println!(
            "Journal {} ({} records, hash chain intact, authenticated, end anchor matches)",
            journal.display(),
            state.records.len()
        );
    } else {
        println!(
            "Journal {} ({} records) CANNOT BE TRUSTED; it is shown, never resumed:",
            journal.display(),
            state.records.len()
        );
        for p in &state.problems {
            println!("  - {p}");
        }
    }
    match (&state.ended, &pending) {
        (Some(end), _) => println!("Ended: {end:?}"),
        (None, Some(p)) => println!(
            "Not ended; {p}. `pitr-console resume {}` settles it",
            journal.display()
        ),
        (None, None) => println!(
            "Not ended; `pitr-console resume {}` continues it",
            journal.display()
        ),
    }
    for r in &state.records {
        let when = zone.format(r.time);
        let what = match &r.body {
            Body::Run { steps, .. } => format!("run header, {} steps planned", steps.len()),
            Body::Resume { .. } => "resumed".to_string(),
            Body::Intent {
                index,
                step,
                phase,
                commands,
            } => format!(
                "intent  {}. {step} ({phase:?}): {}",
                index + 1,
                commands.join(" ; ")
            ),
            Body::Outcome {
                index,
                step,
                ok,
                status,
                duration_ms,
                error,
                ..
            } => match error {
                Some(e) if !ok => format!("outcome {}. {step}: FAILED: {e}", index + 1),
                _ => format!(
                    "outcome {}. {step}: {:?} in {duration_ms} ms",
                    index + 1,
                    status.unwrap_or(crate::engine::StepStatus::Done)
                ),
            },
            Body::Action { step, action, .. } => format!("  action  {step}: {action}"),
            Body::ActionDone {
                step,
                ok,
                exit_code,
                duration_ms,
                ..
            } => format!(
                "  done    {step}: {} (exit {}) in {duration_ms} ms",
                if *ok { "ok" } else { "FAILED" },
                exit_code.map_or("-".into(), |c| c.to_string())
            ),
            Body::Decision { question, decision } => {
                format!("decision {decision:?} on {question}")
            }
            Body::Note { text, .. } => format!("note    {text}"),
            Body::Rollback { reason } => format!("roll back: {reason}"),
            Body::End { status } => format!("end     {status}"),
        };
        println!("{:>4} {when} {}@{} {what}", r.seq, r.user, r.host);
    }
    Ok(())
}
