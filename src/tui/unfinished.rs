//! The runs this host left unfinished, for the console's banner: the state directory's
//! records, each with its journal's state in words.

use crate::app::unfinished::UnfinishedBanner;
use crate::engine::journal::{JournalState, Pending};
use crate::engine::{lock, state_dir};

/// Every unfinished run recorded here, oldest first; none when the state directory is
/// unknown or unreadable (the console then says nothing, as before).
pub fn list() -> Vec<UnfinishedBanner> {
    let Ok(state) = state_dir::current() else {
        return Vec::new();
    };
    let mut runs: Vec<UnfinishedBanner> = lock::all_unfinished(&state)
        .into_iter()
        .map(|(_, run)| UnfinishedBanner {
            state: state_words(&run.journal),
            run_id: run.run_id,
            server: run.server,
            journal: run.journal,
            since: run.since,
        })
        .collect();
    runs.sort_by_key(|r| r.since);
    runs
}

fn state_words(journal: &std::path::Path) -> String {
    let state = match JournalState::read(journal) {
        Ok(s) => s,
        Err(e) => return format!("journal unreadable ({e})"),
    };
    match &state.pending {
        Some(Pending::Dirty { index, .. }) => {
            format!("interrupted during step {}", index + 1)
        }
        Some(Pending::Failed { index, error, .. }) => {
            format!("failed at step {}: {error}", index + 1)
        }
        None if state.ended.is_some() => "stopped".to_string(),
        None => "paused".to_string(),
    }
}
