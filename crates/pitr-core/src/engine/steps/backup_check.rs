//! The backup checked before production is touched (part of preflight): `pg_verifybackup`
//! against its manifest (every file's size and checksum, the manifest's own checksum, and
//! the WAL it holds), and `backup_label` against the manifest's WAL range.
//!
//! PostgreSQL 15's pg_verifybackup reads plain directories only, so a tar backup is extracted
//! into a scratch directory beside the restore target (removed afterwards) and verified
//! there: that costs one extraction more, but checks every file, where the manifest's own
//! checksum alone would miss a damaged archive.

use super::Recovery;
use crate::domain::backup::BackupFormat;
use crate::domain::lsn::Lsn;
use crate::engine::ports::CommandSpec;
use crate::engine::step::{fail, StepCtx, StepError};
use std::path::{Path, PathBuf};

/// The plan's lines for the check.
pub fn describe(r: &Recovery) -> Vec<String> {
    let b = &r.inputs.backup;
    match (b.format, b.has_manifest) {
        (BackupFormat::Tool, _) => match r.inputs.tool_restore.as_ref() {
            Some(t) if !t.verify.is_empty() => t
                .verify
                .iter()
                .map(|c| format!("{} verifies the backup: {}", t.tool, c.display()))
                .collect(),
            _ => vec![format!(
                "backup {} is held by a backup tool with no check of its own: its integrity is the tool's to check at restore",
                b.id
            )],
        },
        (_, false) if r.inputs.backup_check.allow_unverified => vec![format!(
            "backup {} has no backup_manifest: restored UNVERIFIED (--allow-unverified-backup)",
            b.id
        )],
        (_, false) => vec![format!(
            "backup {} has no backup_manifest: refused (pass --allow-unverified-backup to restore it unverified)",
            b.id
        )],
        (BackupFormat::Plain, true) => vec![
            verify_cmd(r, Path::new(&b.location), false).display(),
            format!("compare {}/backup_label with the manifest's WAL range", b.location),
        ],
        (BackupFormat::Tar, true) => vec![
            format!(
                "extract {}/base.tar* (and pg_wal.tar*) into {} with the manifest",
                b.location,
                scratch(r).display()
            ),
            verify_cmd(r, &scratch(r), false).display(),
            format!("compare its backup_label with the manifest's WAL range, then rm -rf {}", scratch(r).display()),
        ],
    }
}

fn scratch(r: &Recovery) -> PathBuf {
    r.beside(r.data_dir(), "-verify")
}

fn verify_cmd(r: &Recovery, dir: &Path, no_wal: bool) -> CommandSpec {
    let mut cmd = CommandSpec::new(r.tool("pg_verifybackup"))
        .run_as(r.run_as())
        .env("LC_ALL", "C");
    if no_wal {
        cmd = cmd.arg("--no-parse-wal");
    }
    cmd.arg(dir.display().to_string())
}

/// Verifies the backup, or fails the step saying what is wrong and what would do instead.
pub async fn verify(ctx: &mut StepCtx, r: &Recovery) -> Result<(), StepError> {
    let b = &r.inputs.backup;
    match (b.format, b.has_manifest) {
        (BackupFormat::Tool, _) => tool_verify(ctx, r).await,
        (_, false) if r.inputs.backup_check.allow_unverified => ctx.note(format!(
            "WARNING: backup {} has no backup_manifest and is restored UNVERIFIED, as asked (--allow-unverified-backup)",
            b.id
        )),
        (_, false) => refuse(
            r,
            format!(
                "backup {} at {} has no backup_manifest: it cannot be verified before production is touched (take backups with a manifest, pg_basebackup's default since PostgreSQL 13), or pass --allow-unverified-backup to restore it unverified",
                b.id, b.location
            ),
        ),
        (BackupFormat::Plain, true) => {
            let dir = PathBuf::from(&b.location);
            run_verify(ctx, r, &dir).await?;
            check_label(ctx, r, &dir)
        }
        (BackupFormat::Tar, true) => {
            let dir = scratch(r);
            let result = async {
                extract(ctx, r, &dir).await?;
                run_verify(ctx, r, &dir).await?;
                check_label(ctx, r, &dir)
            }
            .await;
            // Only the console's own scratch copy is removed, never a backup or a data dir.
            let rm = CommandSpec::new("rm")
                .args(["-rf", "--", &dir.display().to_string()])
                .run_as(r.run_as());
            ctx.exec(&rm).await?;
            result
        }
    }
}

/// The backup tool's own verification; a failure refuses with the tool's words.
async fn tool_verify(ctx: &mut StepCtx, r: &Recovery) -> Result<(), StepError> {
    let b = &r.inputs.backup;
    let Some(t) = r
        .inputs
        .tool_restore
        .as_ref()
        .filter(|t| !t.verify.is_empty())
    else {
        return ctx.note(format!(
            "backup {} is held by a backup tool with no check of its own: not verified here",
            b.id
        ));
    };
    for c in &t.verify {
        let res = ctx.exec(c).await?;
        if !res.success() {
            let said: Vec<&str> = res
                .output
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let said = said[said.len().saturating_sub(8)..].join("\n  ");
            return refuse(
                r,
                format!(
                    "backup {} is damaged: `{}` failed (exit {}):\n  {said}",
                    b.id,
                    c.display(),
                    res.exit_code
                        .map_or("by a signal or the timeout".to_string(), |c| c.to_string())
                ),
            );
        }
    }
    ctx.note(format!(
        "backup {} verified by {} ({})",
        b.id,
        t.tool,
        t.verify
            .iter()
            .map(|c| c.display())
            .collect::<Vec<_>>()
            .join("; ")
    ))
}

async fn extract(ctx: &mut StepCtx, r: &Recovery, dir: &Path) -> Result<(), StepError> {
    let src = PathBuf::from(&r.inputs.backup.location);
    let names = ctx.ports.fs.list_dir(&src)?;
    if ctx.ports.fs.exists(dir) {
        return fail(format!(
            "{} exists: an earlier verification was interrupted; move it away and retry",
            dir.display()
        ));
    }
    let find = |stem: &str| names.iter().find(|n| n.starts_with(&format!("{stem}.tar")));
    let Some(base) = find("base") else {
        return refuse(r, format!("no base.tar in {}", src.display()));
    };
    let d = dir.display().to_string();
    ctx.exec_ok(
        &CommandSpec::new("mkdir")
            .args(["-m", "700", "--", &d])
            .run_as(r.run_as()),
    )
    .await?;
    let untar = |archive: &Path, into: &str| {
        CommandSpec::new("tar")
            .args(["-xf", &archive.display().to_string(), "-C", into])
            .run_as(r.run_as())
    };
    ctx.exec_ok(&untar(&src.join(base), &d)).await?;
    if let Some(wal) = find("pg_wal") {
        ctx.exec_ok(&untar(&src.join(wal), &format!("{d}/pg_wal")))
            .await?;
    }
    ctx.exec_ok(
        &CommandSpec::new("cp")
            .args(["--", &src.join("backup_manifest").display().to_string(), &d])
            .run_as(r.run_as()),
    )
    .await?;
    Ok(())
}

async fn run_verify(ctx: &mut StepCtx, r: &Recovery, dir: &Path) -> Result<(), StepError> {
    // WAL inside the backup (pg_basebackup -X stream) is parsed too; without any, replay
    // and the catalog's coverage check the archive instead.
    let has_wal = ctx
        .ports
        .fs
        .list_dir(&dir.join("pg_wal"))
        .map(|n| {
            n.iter()
                .any(|f| f.len() == 24 && f.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .unwrap_or(false);
    let res = ctx.exec(&verify_cmd(r, dir, !has_wal)).await?;
    if !res.success() {
        let problems: Vec<&str> = res
            .output
            .lines()
            .filter(|l| l.contains("error:") || l.contains("warning:"))
            .take(8)
            .collect();
        let detail = if problems.is_empty() {
            crate::engine::step::tail(&res.output, 8)
        } else {
            problems.join("\n  ")
        };
        return refuse(
            r,
            format!(
                "backup {} is damaged: pg_verifybackup found\n  {detail}",
                r.inputs.backup.id
            ),
        );
    }
    ctx.note(format!(
        "backup {} verified by pg_verifybackup ({}): {}",
        r.inputs.backup.id,
        if has_wal {
            "files and WAL"
        } else {
            "files; WAL checked by replay"
        },
        res.output.lines().last().unwrap_or_default().trim()
    ))
}

/// backup_label's start must be where the manifest's WAL range (and the catalog) begins.
fn check_label(ctx: &mut StepCtx, r: &Recovery, dir: &Path) -> Result<(), StepError> {
    let b = &r.inputs.backup;
    let path = dir.join("backup_label");
    let text = match ctx.ports.fs.read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            return refuse(
                r,
                format!("backup {}: cannot read backup_label: {}", b.id, e.message),
            )
        }
    };
    let label = match parse_label(&text) {
        Some(l) => l,
        None => {
            return refuse(
                r,
                format!(
                    "backup {}: {} has no START WAL LOCATION / START TIMELINE line",
                    b.id,
                    path.display()
                ),
            )
        }
    };
    let mut wrong = Vec::new();
    if label.0 != b.start_lsn {
        wrong.push(format!(
            "starts at {} where the catalog says {}",
            label.0, b.start_lsn
        ));
    }
    if label.1 != b.timeline.0 {
        wrong.push(format!(
            "is on timeline {} where the catalog says {}",
            label.1, b.timeline
        ));
    }
    if let Some((tli, start)) = b.manifest_start() {
        if start != label.0 || tli.0 != label.1 {
            wrong.push(format!(
                "does not match the manifest's WAL range (timeline {tli} from {start})"
            ));
        }
    }
    if !wrong.is_empty() {
        return refuse(
            r,
            format!("backup {}: backup_label {}", b.id, wrong.join(", ")),
        );
    }
    ctx.note(format!(
        "backup_label: start {} on timeline {}, as the manifest says",
        label.0, label.1
    ))
}

/// (START WAL LOCATION, START TIMELINE) of a backup_label.
fn parse_label(text: &str) -> Option<(Lsn, u32)> {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
    };
    let lsn = field("START WAL LOCATION:")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let tli = field("START TIMELINE:")?.parse().ok()?;
    Some((lsn, tli))
}

/// Fails with the other backups that would reach the target named.
fn refuse<T>(r: &Recovery, what: String) -> Result<T, StepError> {
    let others = &r.inputs.backup_check.alternatives;
    let instead = if others.is_empty() {
        "no older backup on this timeline: take a new backup, or repair this one".to_string()
    } else {
        format!(
            "older backups on the same timeline that may serve instead: {}; move the damaged one out of the repository and run again to have the catalog choose among them",
            others.join(", ")
        )
    };
    fail(format!("{what}\nNothing was changed. {instead}"))
}

#[cfg(test)]
mod tests {
    use super::parse_label;

    #[test]
    fn reads_start_and_timeline_of_a_label() {
        let text = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\nSTART TIMELINE: 1\n";
        let (lsn, tli) = parse_label(text).unwrap();
        assert_eq!(lsn.to_string(), "0/2000028");
        assert_eq!(tli, 1);
        assert!(parse_label("garbage").is_none());
    }
}
