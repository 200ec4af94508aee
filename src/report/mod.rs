//! The report of a run, from its journal (and the drill record beside it, for a drill):
//! the timeline as text, the plan, each step with its times and outcome, the checklist,
//! the problems found. Rendered as Markdown and JSON, written next to the journal.

mod build;
mod markdown;

pub use build::{build, PlanStep, RunReport, StepOutcome, StepReport, TimelineEntry};
pub use markdown::markdown;

use crate::domain::zone::Zone;
use crate::engine::drill::{sibling, write_private, DrillRecord};
use crate::engine::journal::JournalState;
use std::path::{Path, PathBuf};

/// Reads the journal at `path` and the drill record beside it, if any.
pub fn load(path: &Path) -> Result<RunReport, String> {
    let state = JournalState::read(path).map_err(|e| e.to_string())?;
    let drill_path = DrillRecord::path_for(path);
    let drill = if drill_path.exists() {
        Some(DrillRecord::load(&drill_path)?)
    } else {
        None
    };
    Ok(build(&state, drill.as_ref()))
}

pub fn json(report: &RunReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// Writes `<journal stem>-report.md` and `-report.json` beside the journal; returns both paths.
pub fn write(report: &RunReport, zone: &Zone) -> std::io::Result<(PathBuf, PathBuf)> {
    let dir = report.journal.parent().unwrap_or(Path::new("."));
    write_in(report, zone, dir)
}

/// Like `write`, into `dir` (created 0700 if missing) instead of beside the journal.
pub fn write_in(
    report: &RunReport,
    zone: &Zone,
    dir: &Path,
) -> std::io::Result<(PathBuf, PathBuf)> {
    crate::engine::journal::create_private_dir(dir)?;
    let name = report
        .journal
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| "run".into());
    let md = sibling(&dir.join(&name), "report.md");
    let js = sibling(&dir.join(&name), "report.json");
    write_private(&md, markdown(report, zone).as_bytes())?;
    write_private(&js, json(report).as_bytes())?;
    Ok((md, js))
}
