//! Restoring an incremental backup (PostgreSQL 17+): every member of its chain is checked
//! with pg_verifybackup, then pg_combinebackup writes the combined full backup into the
//! recovery's data directory. PostgreSQL refuses to start on an incremental backup itself
//! ("this is an incremental backup, not a data directory").

use super::Recovery;
use crate::domain::backup::{Backup, BackupFormat};
use crate::engine::ports::CommandSpec;
use crate::engine::step::{fail, StepCtx, StepError};
use std::path::Path;
use std::time::{Duration, Instant};

/// `--copy`: works on every file system. `--link` is never used: the combined directory
/// would share files with the backups, and the recovered server writing into them would
/// damage the backups. `--clone` and `--copy-file-range` are faster where the file system
/// supports them, but fail where it does not (or across file systems).
pub const COPY_MODE: &str = "--copy";

/// A combine of a large chain runs as long as a full copy; the replay timeout covers the rest.
const COMBINE_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// The chain, the full backup first and the backup being restored last.
pub fn members(r: &Recovery) -> Vec<&Backup> {
    r.inputs
        .chain
        .iter()
        .chain(std::iter::once(&r.inputs.backup))
        .collect()
}

fn verify_cmd(r: &Recovery, b: &Backup) -> CommandSpec {
    // -n: these backups were taken without WAL (-X none); the archive provides it.
    CommandSpec::new(r.tool("pg_verifybackup"))
        .args(["-n", b.location.as_str()])
        .run_as(r.run_as())
        .env("LC_ALL", "C")
        .timeout(COMBINE_TIMEOUT)
}

fn combine_cmd(r: &Recovery, to: &Path) -> CommandSpec {
    CommandSpec::new(r.tool("pg_combinebackup"))
        .args([COPY_MODE, "-o", &to.display().to_string()])
        .args(members(r).iter().map(|b| b.location.clone()))
        .run_as(r.run_as())
        .env("LC_ALL", "C")
        .timeout(COMBINE_TIMEOUT)
}

pub fn describe(r: &Recovery) -> Vec<String> {
    let mut d: Vec<String> = members(r)
        .iter()
        .map(|b| format!("{}  (chain member {})", verify_cmd(r, b).display(), b.id))
        .collect();
    d.push(format!(
        "{}  (oldest first; {COPY_MODE}, never --link: the backups stay usable)",
        combine_cmd(r, r.data_dir()).display()
    ));
    d
}

/// Verifies each member, then combines them; returns the bytes in the data directory.
pub async fn run(ctx: &mut StepCtx, r: &Recovery) -> Result<u64, StepError> {
    let started = Instant::now();
    if r.inputs.chain.is_empty() {
        return fail(format!(
            "backup {} is incremental, but the recovery was planned without its chain: plan it again",
            r.inputs.backup.id
        ));
    }
    for b in members(r) {
        if b.format != BackupFormat::Plain {
            return fail(format!(
                "chain member {} is a {:?} backup: pg_combinebackup reads plain-format backups only; extract it into a directory first",
                b.id, b.format
            ));
        }
        if !ctx.ports.fs.exists(Path::new(&b.location)) {
            return fail(format!(
                "chain member {} is missing: {} does not exist, so backup {} cannot be combined",
                b.id, b.location, r.inputs.backup.id
            ));
        }
        let out = ctx.exec(&verify_cmd(r, b)).await?;
        if !out.success() {
            return fail(format!(
                "chain member {} failed pg_verifybackup, so backup {} cannot be combined: {}",
                b.id,
                r.inputs.backup.id,
                out.output.trim()
            ));
        }
    }
    let to = r.data_dir();
    ctx.exec_ok(&combine_cmd(r, to)).await?;
    if !ctx.ports.fs.exists(&to.join("PG_VERSION")) {
        return fail(format!(
            "pg_combinebackup finished but {} holds no PG_VERSION",
            to.display()
        ));
    }
    let bytes = ctx.ports.fs.tree_size(to).unwrap_or(0);
    ctx.note(format!(
        "combined {} backups ({}) into {} in {:.1} s",
        members(r).len(),
        members(r)
            .iter()
            .map(|b| b.id.as_str())
            .collect::<Vec<_>>()
            .join(" + "),
        to.display(),
        started.elapsed().as_secs_f64()
    ))?;
    Ok(bytes)
}
