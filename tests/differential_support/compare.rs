//! The console's verdict against what PostgreSQL reached, sorted into named classes.

use super::console::Verdict;
use super::restore::Reached;
use super::targets::Expect;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// RECOVERABLE, and PostgreSQL stopped where the console predicted.
    Verified,
    /// Refused (exit 3), and PostgreSQL could not reach it either.
    RefusedAndUnreachable,
    /// RECOVERABLE, but the real recovery failed: the promise broken.
    RecoverableButFailed,
    /// RECOVERABLE, but PostgreSQL stopped elsewhere than predicted (timeline, LSN, commit).
    WrongStop,
    /// RECOVERABLE, but the console's recovery settings say another target than the one asked.
    WrongSettings,
    /// RECOVERABLE with no prediction of the stop to check.
    Unpredicted,
    /// Refused (exit 3) or bad input (exit 2) though PostgreSQL reaches it: the lesser kind.
    RefusedButReachable,
    /// Bad input (exit 2) and PostgreSQL cannot reach it either.
    InputErrorAndUnreachable,
    /// The target names a timeline and this build has no `--timeline`.
    NotSupportedYet,
}

impl Class {
    /// Whether this class fails the test (unless a known, named exception): every mismatch
    /// does, the lesser kind too (a refusal of what PostgreSQL reaches sends an operator
    /// away from a recovery that would work).
    pub fn fails(self) -> bool {
        matches!(
            self,
            Class::RecoverableButFailed
                | Class::WrongStop
                | Class::WrongSettings
                | Class::Unpredicted
                | Class::RefusedButReachable
                | Class::NotSupportedYet
        )
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Class::Verified => "verified (RECOVERABLE, stop as predicted)",
            Class::RefusedAndUnreachable => "refused, and PostgreSQL cannot reach it",
            Class::RecoverableButFailed => "MISMATCH: RECOVERABLE but PostgreSQL failed",
            Class::WrongStop => "MISMATCH: RECOVERABLE but PostgreSQL stopped elsewhere",
            Class::WrongSettings => {
                "MISMATCH: RECOVERABLE but the plan's settings ask for another target"
            }
            Class::Unpredicted => "MISMATCH: RECOVERABLE without a predicted stop to verify",
            Class::RefusedButReachable => "lesser mismatch: refused though PostgreSQL reaches it",
            Class::InputErrorAndUnreachable => "bad input (exit 2), and PostgreSQL cannot reach it",
            Class::NotSupportedYet => "not supported yet (no --timeline)",
        };
        f.write_str(s)
    }
}

/// One target's comparison, with the words for the mismatch list.
pub struct Finding {
    pub class: Class,
    pub detail: String,
    /// PostgreSQL's outcome differs from the harness's own model: a note, not a verdict.
    pub model_note: Option<String>,
}

pub fn compare(
    verdict: &Verdict,
    harness_settings: &[String],
    harness_timeline: Option<u32>,
    latest_timeline: u32,
    reached: &Reached,
    expect: &Expect,
    xid_of_state: impl Fn(&str) -> Option<u64>,
) -> Finding {
    let reached_ok = matches!(reached, Reached::Stopped { .. });
    let model_note = match (reached, expect) {
        (Reached::Stopped { state, .. }, Expect::State(s)) if s == state => None,
        (Reached::Failed { .. }, Expect::Fails) => None,
        _ => Some(format!("the model expected {expect:?}")),
    };
    let pg = describe(reached);
    let (class, detail) = match verdict {
        Verdict::Recoverable {
            backup,
            settings,
            prediction,
        } => {
            let settings_problem = settings_differ(
                settings,
                harness_settings,
                harness_timeline,
                latest_timeline,
            );
            match reached {
                Reached::Failed { .. } => (
                    Class::RecoverableButFailed,
                    format!("console: RECOVERABLE from {backup}; PostgreSQL: {pg}"),
                ),
                Reached::Stopped {
                    replay_lsn,
                    timeline,
                    state,
                    ..
                } => {
                    if let Some(problem) = settings_problem {
                        (
                            Class::WrongSettings,
                            format!("console: RECOVERABLE from {backup}, {problem}; PostgreSQL with the harness's settings: {pg}"),
                        )
                    } else if let Some(p) = prediction {
                        let mut wrong = Vec::new();
                        if p.timeline.is_some_and(|t| t != *timeline) {
                            wrong.push(format!("timeline {:?} predicted", p.timeline));
                        }
                        match (
                            lsn(&p.replay_min),
                            lsn(&p.replay_max),
                            lsn(&Some(replay_lsn.clone())),
                        ) {
                            (Some(lo), Some(hi), Some(at)) if lo <= at && at <= hi => {}
                            _ => wrong.push(format!(
                                "replay LSN in [{}, {}] predicted",
                                p.replay_min.as_deref().unwrap_or("?"),
                                p.replay_max.as_deref().unwrap_or("?")
                            )),
                        }
                        let kept = xid_of_state(state);
                        if !p.last_kept_xids.is_empty()
                            && !kept.is_some_and(|x| p.last_kept_xids.contains(&x))
                        {
                            wrong.push(format!(
                                "last kept xid one of {:?} predicted",
                                p.last_kept_xids
                            ));
                        }
                        if p.timeline.is_none() {
                            wrong.push("the prediction lacks a timeline".into());
                        }
                        if wrong.is_empty() {
                            (Class::Verified, format!("{backup}: {pg}"))
                        } else {
                            (
                                Class::WrongStop,
                                format!(
                                    "console: RECOVERABLE from {backup}, {}; PostgreSQL: {pg}",
                                    wrong.join(", ")
                                ),
                            )
                        }
                    } else {
                        (
                            Class::Unpredicted,
                            format!("console: RECOVERABLE from {backup}, no prediction in plan --json; PostgreSQL: {pg}"),
                        )
                    }
                }
            }
        }
        Verdict::Refused { message } if reached_ok => (
            Class::RefusedButReachable,
            format!(
                "console refused (exit 3): {}; PostgreSQL: {pg}",
                first_line(message)
            ),
        ),
        Verdict::Refused { message } => (
            Class::RefusedAndUnreachable,
            format!("{}; PostgreSQL: {pg}", first_line(message)),
        ),
        Verdict::Error { code, message } if reached_ok => (
            Class::RefusedButReachable,
            format!(
                "console exit {code}: {}; PostgreSQL: {pg}",
                first_line(message)
            ),
        ),
        Verdict::Unsupported => (Class::NotSupportedYet, format!("PostgreSQL: {pg}")),
        Verdict::Error { code, message } => (
            Class::InputErrorAndUnreachable,
            format!(
                "console exit {code}: {}; PostgreSQL: {pg}",
                first_line(message)
            ),
        ),
    };
    Finding {
        class,
        detail,
        model_note,
    }
}

/// "X/Y" as a number, to compare positions.
fn lsn(text: &Option<String>) -> Option<u64> {
    let (hi, lo) = text.as_deref()?.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

pub fn describe(r: &Reached) -> String {
    match r {
        Reached::Stopped {
            replay_lsn,
            timeline,
            state,
            stop_line,
        } => format!(
            "stopped on timeline {timeline} at replay LSN {replay_lsn}, table {state}{}",
            stop_line
                .as_ref()
                .map(|l| format!(" ({})", l.split("LOG:").last().unwrap_or(l).trim()))
                .unwrap_or_default()
        ),
        Reached::Failed { reason } => format!(
            "failed: {}",
            reason.split("FATAL:").last().unwrap_or(reason).trim()
        ),
    }
}

/// recovery_target_* keys and values, the time read as an instant so the spelling of its
/// zone does not matter.
fn normalized(lines: &[String]) -> BTreeMap<String, String> {
    lines
        .iter()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let k = k.trim().to_string();
            let v = v.trim().trim_matches('\'').to_string();
            let v = if k == "recovery_target_time" {
                chrono::DateTime::parse_from_str(&format!("{v}00"), "%Y-%m-%d %H:%M:%S%.f%z")
                    .or_else(|_| chrono::DateTime::parse_from_str(&v, "%Y-%m-%d %H:%M:%S%.f%:z"))
                    .map(|t| t.with_timezone(&chrono::Utc).to_rfc3339())
                    .unwrap_or(v)
            } else {
                v
            };
            (k, v)
        })
        .collect()
}

fn settings_differ(
    console: &[String],
    harness: &[String],
    harness_timeline: Option<u32>,
    latest: u32,
) -> Option<String> {
    let mut c = normalized(console);
    let h = normalized(harness);
    let tl = c.remove("recovery_target_timeline");
    let tl_ok = match (harness_timeline, tl.as_deref()) {
        (None, None | Some("latest")) => true,
        (None, Some(n)) => n == latest.to_string(),
        (Some(t), Some(n)) => n == t.to_string(),
        (Some(_), None) => false,
    };
    // PostgreSQL's default for recovery_target_inclusive is true.
    if c.get("recovery_target_inclusive").map(String::as_str) == Some("true")
        && !h.contains_key("recovery_target_inclusive")
    {
        c.remove("recovery_target_inclusive");
    }
    let mut h2 = h.clone();
    if h2.get("recovery_target_inclusive").map(String::as_str) == Some("true")
        && !c.contains_key("recovery_target_inclusive")
    {
        h2.remove("recovery_target_inclusive");
    }
    if tl_ok && c == h2 {
        None
    } else {
        Some(format!(
            "settings {console:?} (timeline {:?}) where the target means {harness:?} on timeline {}",
            tl.unwrap_or_else(|| "unset (latest)".into()),
            harness_timeline.map_or("latest".to_string(), |t| t.to_string())
        ))
    }
}
