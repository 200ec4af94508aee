//! The box of unfinished runs the console shows on `u`.

use super::unfinished::RunAction;
use super::wizard::journal_lines::{self, JournalLine};
use crate::domain::zone::Zone;
use crate::engine::journal::Record;

/// The box of unfinished runs (`u`): the one selected, its journal when opened, the action
/// waiting for a yes, and what the last one came to.
#[derive(Debug, Clone, Default)]
pub struct UnfinishedBox {
    pub selected: usize,
    /// The selected run's journal, once `o` read it.
    pub lines: Option<Vec<JournalLine>>,
    pub asking: Option<RunAction>,
    pub notice: Option<String>,
    /// An action is under way.
    pub busy: bool,
}

impl UnfinishedBox {
    pub fn on_journal(&mut self, result: Result<Vec<Record>, String>, zone: &Zone) {
        match result {
            Ok(records) => self.lines = Some(journal_lines::format(&records, zone)),
            Err(e) => self.notice = Some(format!("the journal could not be read: {e}")),
        }
    }
}
