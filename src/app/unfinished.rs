//! Runs left unfinished on this host (paused, failed, interrupted), as the console shows
//! them on open: what holds which server, since when, and the commands that end it.

use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// One unfinished run, as read from the state directory and its journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnfinishedBanner {
    pub run_id: String,
    pub server: String,
    pub journal: PathBuf,
    pub since: DateTime<Utc>,
    /// In words: "paused", "failed at step 7: …", "interrupted during step 4".
    pub state: String,
}

impl UnfinishedBanner {
    /// The run in a few words, for the box: server, state, age.
    pub fn summary(&self, now: DateTime<Utc>) -> String {
        format!(
            "{} · {} · {} · run {}",
            self.server,
            self.state,
            age(now - self.since),
            self.run_id
        )
    }

    /// What the status bar shows, most important first: the run, then its journal.
    pub fn banner(&self, now: DateTime<Utc>) -> (String, String) {
        (
            format!(
                " unfinished run on {}: {}, {}",
                self.server,
                self.state,
                age(now - self.since)
            ),
            self.journal.display().to_string(),
        )
    }
}

fn age(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h {} min ago", s / 3600, s % 3600 / 60),
        _ => format!("{} days ago", s / 86_400),
    }
}

/// What the unfinished-run box can do to a run, each asked about first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAction {
    /// Continue where it stopped (`pitr-console resume`); a step that failed is tried
    /// again, and a run that reaches its decision stays paused there.
    Resume,
    /// Continue, and promote at the target.
    Promote,
    /// Put the original back: before a promotion by the run's own roll back, after it by
    /// `pitr-console rollback`.
    RollBack,
    /// Mark it abandoned in its journal (`pitr-console abandon`); nothing is deleted.
    Abandon,
}

impl RunAction {
    pub fn words(self) -> &'static str {
        match self {
            RunAction::Resume => "resuming the run",
            RunAction::Promote => "promoting the run",
            RunAction::RollBack => "rolling the run back",
            RunAction::Abandon => "abandoning the run",
        }
    }
}
