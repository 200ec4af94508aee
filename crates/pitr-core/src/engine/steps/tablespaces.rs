//! Tablespaces are refused, in place and beside production, until the console can give each
//! one a directory of its own. A restored server puts them where the backup says:
//! PostgreSQL's startup recreates every `pg_tblspc` link from `tablespace_map`, and replaying
//! CREATE TABLESPACE empties the location's version directory (`create_tablespace_directories`
//! removes it in recovery). Both places are production's tablespaces, and neither is moved
//! aside, so a roll back could not give them back; beside production they are live data.

use super::Recovery;
use crate::domain::backup::BackupFormat;
use crate::engine::step::{fail, StepCtx, StepError};
use std::path::Path;

/// Before anything is touched: production's tablespaces (asked, and its `pg_tblspc`) and the
/// backup's (its `pg_tblspc` links, `tablespace_map`, `<oid>.tar` parts).
pub fn refuse_any(ctx: &StepCtx, r: &Recovery) -> Result<(), StepError> {
    let mut found: Vec<String> = ctx
        .get(crate::engine::facts::PRODUCTION_TABLESPACES)
        .unwrap_or_default()
        .into_iter()
        .map(|(oid, at)| format!("production's tablespace {oid} at {}", at.display()))
        .collect();
    if found.is_empty() {
        found.extend(
            links(ctx, &r.pgdata().join("pg_tblspc"))
                .into_iter()
                .map(|oid| format!("production's pg_tblspc/{oid}")),
        );
    }
    let b = &r.inputs.backup;
    if b.format != BackupFormat::Tool {
        let dir = Path::new(&b.location);
        found.extend(
            links(ctx, &dir.join("pg_tblspc"))
                .into_iter()
                .map(|oid| format!("backup {}'s pg_tblspc/{oid}", b.id)),
        );
        for name in ctx.ports.fs.list_dir(dir).unwrap_or_default() {
            let stem = name.split('.').next().unwrap_or_default();
            let part = !stem.is_empty()
                && stem.bytes().all(|c| c.is_ascii_digit())
                && name[stem.len()..].starts_with(".tar");
            if part || (name == "tablespace_map" && names_any(ctx, &dir.join(&name))) {
                found.push(format!("backup {}'s {name}", b.id));
            }
        }
    }
    refuse(&found)
}

/// After the restore, before any server starts on it: what the copy or the archive held
/// (a tar's `tablespace_map` is inside base.tar).
pub fn refuse_restored(ctx: &StepCtx, r: &Recovery, dir: &Path) -> Result<(), StepError> {
    let mut found: Vec<String> = links(ctx, &dir.join("pg_tblspc"))
        .into_iter()
        .map(|oid| format!("the restored pg_tblspc/{oid}"))
        .collect();
    if names_any(ctx, &dir.join("tablespace_map")) {
        found.push(format!("backup {}'s tablespace_map", r.inputs.backup.id));
    }
    refuse(&found)
}

/// pg_basebackup's tar format always writes a tablespace_map, empty without tablespaces.
fn names_any(ctx: &StepCtx, map: &Path) -> bool {
    ctx.ports.fs.exists(map)
        && ctx
            .ports
            .fs
            .read_to_string(map)
            .map_or(true, |t| t.lines().any(|l| !l.trim().is_empty()))
}

fn links(ctx: &StepCtx, dir: &Path) -> Vec<String> {
    ctx.ports.fs.list_dir(dir).unwrap_or_default()
}

fn refuse(found: &[String]) -> Result<(), StepError> {
    if found.is_empty() {
        return Ok(());
    }
    fail(format!(
        "tablespaces found ({}): this console does not restore tablespaces yet. A restored server would use their directories where the backup says (PostgreSQL recreates the links from tablespace_map, and replaying CREATE TABLESPACE empties the location), and those are production's own, not moved aside, so no roll back could give them back. Nothing was changed by this check. What works: a restore by hand that gives each tablespace a new directory (for a tar backup, extract each <oid>.tar into it and point tablespace_map at it; for a plain one, copy each tablespace and relink pg_tblspc/<oid>)",
        found.join(", ")
    ))
}
