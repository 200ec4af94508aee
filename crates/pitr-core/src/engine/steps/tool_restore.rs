//! Restoring a base backup that a backup tool holds (Barman, pgBackRest, WAL-G): the tool's
//! own restore command fills the data directory. The adapter renders the commands, so the
//! plan shows them exactly; the engine only runs them, journaled.

use super::Recovery;
pub use crate::engine::inputs::ToolRestore;
use crate::engine::ports::CommandSpec;
use crate::engine::step::{fail, StepCtx, StepError};
use std::time::Instant;

pub fn describe(r: &Recovery) -> Vec<String> {
    match &r.inputs.tool_restore {
        Some(t) => t.commands.iter().map(CommandSpec::display).collect(),
        None => vec![format!(
            "backup {} is held by a backup tool, but no restore command was given",
            r.inputs.backup.id
        )],
    }
}

/// Runs the tool's restore; returns the bytes now in the data directory.
pub async fn run(ctx: &mut StepCtx, r: &Recovery) -> Result<u64, StepError> {
    let Some(t) = &r.inputs.tool_restore else {
        return fail(format!(
            "backup {} is held by a backup tool, but the recovery was planned without its restore command",
            r.inputs.backup.id
        ));
    };
    let started = Instant::now();
    for c in &t.commands {
        ctx.exec_ok(c).await?;
    }
    let dir = r.data_dir();
    if !ctx.ports.fs.exists(&dir.join("PG_VERSION")) {
        return fail(format!(
            "{} finished but {} holds no PG_VERSION: the restore did not produce a data directory",
            t.tool,
            dir.display()
        ));
    }
    let bytes = ctx.ports.fs.tree_size(dir).unwrap_or(0);
    ctx.note(format!(
        "{} restored backup {} in {:.1} s",
        t.tool,
        r.inputs.backup.id,
        started.elapsed().as_secs_f64()
    ))?;
    Ok(bytes)
}
