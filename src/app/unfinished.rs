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
    /// The line the status bar shows; `now` gives the age.
    pub fn line(&self, now: DateTime<Utc>) -> String {
        let j = self.journal.display();
        format!(
            " unfinished run on {}: {}, {} · pitr-console resume {j} (or abandon)",
            self.server,
            self.state,
            age(now - self.since)
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
