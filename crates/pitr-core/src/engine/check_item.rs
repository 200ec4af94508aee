//! One line of a run's checklist: what verification, the drill and the report agree on.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckItem {
    pub item: String,
    pub ok: bool,
    /// False for items that inform without failing the step.
    pub required: bool,
    pub detail: String,
}

impl CheckItem {
    /// The line the step reports an item with; `parse` reads it back.
    pub fn line(&self) -> String {
        let mark = match (self.required, self.ok) {
            (false, _) => "note",
            (true, true) => "ok  ",
            (true, false) => "FAIL",
        };
        format!("[{mark}] {}: {}", self.item, self.detail)
    }

    /// A checklist item from a line of the verify step's output, for drivers that show the
    /// checklist as it arrives.
    pub fn parse(line: &str) -> Option<CheckItem> {
        let (ok, required, rest) = if let Some(r) = line.strip_prefix("[ok  ] ") {
            (true, true, r)
        } else if let Some(r) = line.strip_prefix("[FAIL] ") {
            (false, true, r)
        } else if let Some(r) = line.strip_prefix("[note] ") {
            (true, false, r)
        } else {
            return None;
        };
        let (item, detail) = rest.split_once(": ").unwrap_or((rest, ""));
        Some(CheckItem {
            item: item.to_string(),
            ok,
            required,
            detail: detail.to_string(),
        })
    }
}
