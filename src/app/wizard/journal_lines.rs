//! A run's journal records as lines an operator reads: when, who, what, how it ended.

use crate::domain::zone::Zone;
use crate::engine::journal::{Body, Record};
use crate::engine::Phase;

/// Output lines shown per action; the journal file holds up to its own limit.
const OUTPUT_LINES: usize = 3;

/// One journal line as the view shows it; `level` picks its colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalLine {
    pub text: String,
    pub level: Level,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Header,
    Step,
    Detail,
    Good,
    Bad,
    Operator,
}

fn line(level: Level, text: String) -> JournalLine {
    JournalLine { text, level }
}

fn phase(p: Phase) -> &'static str {
    match p {
        Phase::Run => "",
        Phase::Undo => " (undo)",
    }
}

// Over 100 lines on purpose: one match arm per journal record kind, each its own line of text.
#[allow(clippy::too_many_lines)]
pub fn format(records: &[Record], zone: &Zone) -> Vec<JournalLine> {
    let mut out = Vec::new();
    for r in records {
        let head = format!("{} #{:<3}", zone.clock(r.time), r.seq);
        match &r.body {
            Body::Run {
                run_id,
                server,
                target,
                checksum,
                steps,
                ..
            } => {
                out.push(line(
                    Level::Header,
                    format!(
                        "{head} run {run_id} on {server} by {}@{}: recover to {target}, {} steps, plan checksum {}",
                        r.user,
                        r.host,
                        steps.len(),
                        checksum.get(..12).unwrap_or(checksum)
                    ),
                ));
            }
            Body::Resume { .. } => out.push(line(
                Level::Header,
                format!("{head} resumed by {}@{} (pid {})", r.user, r.host, r.pid),
            )),
            Body::Intent {
                index,
                step,
                phase: p,
                commands,
            } => {
                out.push(line(
                    Level::Step,
                    format!("{head} step {} {step}{}: begins", index + 1, phase(*p)),
                ));
                for c in commands {
                    out.push(line(Level::Detail, format!("          plan: {c}")));
                }
            }
            Body::Action { action, .. } => {
                out.push(line(Level::Detail, format!("{head}   $ {action}")));
            }
            Body::ActionDone {
                ok,
                exit_code,
                duration_ms,
                output,
                ..
            } => {
                let code = exit_code.map_or(String::new(), |c| format!(" exit {c},"));
                out.push(line(
                    if *ok { Level::Detail } else { Level::Bad },
                    format!(
                        "{head}     {}{code} {:.1} s",
                        if *ok { "ok," } else { "FAILED," },
                        *duration_ms as f64 / 1000.0
                    ),
                ));
                let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
                for l in &lines[lines.len().saturating_sub(OUTPUT_LINES)..] {
                    out.push(line(Level::Detail, format!("          | {l}")));
                }
            }
            Body::Outcome {
                index,
                step,
                phase: p,
                ok,
                status,
                duration_ms,
                error,
                ..
            } => {
                let how = match (ok, status) {
                    (true, Some(s)) => format!("{s:?}").to_lowercase(),
                    (true, None) => "done".to_string(),
                    (false, _) => "FAILED".to_string(),
                };
                out.push(line(
                    if *ok { Level::Good } else { Level::Bad },
                    format!(
                        "{head} step {} {step}{}: {how} in {:.1} s",
                        index + 1,
                        phase(*p),
                        *duration_ms as f64 / 1000.0
                    ),
                ));
                if let Some(e) = error {
                    for l in e.lines() {
                        out.push(line(Level::Bad, format!("          {l}")));
                    }
                }
            }
            Body::Decision { question, decision } => out.push(line(
                Level::Operator,
                format!("{head} decision by {}: {decision:?} ({question})", r.user),
            )),
            Body::Note { index, text } => {
                let at = index.map_or(String::new(), |i| format!("step {} ", i + 1));
                let level = if text.starts_with("operator note:") {
                    Level::Operator
                } else {
                    Level::Detail
                };
                out.push(line(level, format!("{head} {at}note: {text}")));
            }
            Body::Rollback { reason } => {
                out.push(line(Level::Bad, format!("{head} ROLL BACK: {reason}")))
            }
            Body::End { status } => {
                out.push(line(Level::Header, format!("{head} run ended: {status}")))
            }
        }
    }
    out
}
