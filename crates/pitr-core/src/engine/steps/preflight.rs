//! Tools present, backup readable, room on disk, the way clear for the moves.

use super::Recovery;
use crate::domain::backup::BackupFormat;
use crate::engine::step::{fail, Step, StepCtx, StepError, StepFuture};
use std::path::Path;
use std::sync::Arc;

pub struct Preflight(pub Arc<Recovery>);

/// Production's tablespaces, for `facts::PRODUCTION_TABLESPACES`.
const TABLESPACES_SQL: &str = "select oid::text, pg_tablespace_location(oid) from pg_tablespace where pg_tablespace_location(oid) <> ''";

const TOOLS: [&str; 5] = [
    "pg_ctl",
    "pg_dump",
    "pg_dumpall",
    "postgres",
    "pg_controldata",
];

impl Step for Preflight {
    fn id(&self) -> &'static str {
        "preflight"
    }

    fn title(&self) -> String {
        "Preflight: tools, backup, disk space, lock".into()
    }

    fn gate(&self) -> bool {
        true
    }

    fn describe(&self) -> Vec<String> {
        let r = &self.0;
        let mut d: Vec<String> = TOOLS
            .iter()
            .map(|t| format!("check {} exists", r.tool(t)))
            .collect();
        d.push(super::versions::describe(r));
        d.push(format!(
            "check backup {} ({:?}) is readable",
            r.inputs.backup.location, r.inputs.backup.format
        ));
        d.push(format!(
            "check free space beside {} for the restore (a tar backup: its manifest's uncompressed sizes)",
            r.data_dir().display()
        ));
        let parent = r
            .data_dir()
            .parent()
            .unwrap_or(Path::new("/"))
            .display()
            .to_string();
        d.push(format!(
            "check {} may write {parent} (the restored server's log goes there): {}",
            r.run_as().unwrap_or("the console's user"),
            crate::engine::ports::CommandSpec::new("test")
                .args(["-w", parent.as_str(), "-a", "-x", parent.as_str()])
                .run_as(r.run_as())
                .display()
        ));
        d.push(
            "refuse if production or the backup has tablespaces (not restored by this console yet)"
                .into(),
        );
        d.extend(super::backup_check::describe(r));
        if !r.side() {
            d.push(format!(
                "check {} has no recovery.signal or standby.signal and, if running, is not in recovery",
                r.pgdata().display()
            ));
        }
        if !r.side() && !r.inputs.new_host && r.inputs.server.patroni.is_none() {
            d.push(format!(
                "check the dsn reaches the server running on {} (port and start time of its postmaster.pid)",
                r.pgdata().display()
            ));
        }
        if r.side() {
            d.push(format!(
                "check {} is absent or empty and port {} differs from production",
                r.data_dir().display(),
                r.recovered_port()
            ));
        } else if r.inputs.new_host {
            d.push(format!(
                "new host: check {} is absent or empty (no snapshot, safety dump, stop or move aside: there is nothing to keep; an empty directory gets mode 0700 at the restore)",
                r.pgdata().display()
            ));
        } else {
            d.push(format!(
                "check {} does not exist yet and {} holds a data directory",
                r.aside_dir().display(),
                r.pgdata().display()
            ));
        }
        d.push(format!(
            "server {} locked for this run in the per-host state directory (taken by the runner)",
            r.inputs.server.name
        ));
        d
    }

    // Over 100 lines on purpose: every check of preflight in the order the plan lists them, so a refusal reads in the plan's words.
    #[allow(clippy::too_many_lines)]
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            let fs = ctx.ports.fs.clone();
            let verifies =
                r.inputs.backup.has_manifest && r.inputs.backup.format != BackupFormat::Tool;
            let extra = verifies.then_some("pg_verifybackup");
            for t in TOOLS.into_iter().chain(extra) {
                if !fs.exists(Path::new(&r.tool(t))) {
                    return fail(format!(
                        "{t} not found in {}: set the server's bin_dir to the directory holding PostgreSQL's binaries",
                        r.inputs.server.bin_dir.display()
                    ));
                }
            }
            super::versions::check(ctx, r).await?;
            let backup = &r.inputs.backup;
            let location = Path::new(&backup.location);
            // A tool-held backup lives in the tool's repository; the tool checks it.
            if backup.format != BackupFormat::Tool && !fs.exists(location) {
                return fail(format!(
                    "backup {} not found at {}",
                    backup.id,
                    location.display()
                ));
            }
            let need = match (backup.size_bytes, backup.format) {
                (Some(s), _) => s,
                (None, BackupFormat::Plain) => fs.tree_size(location)?,
                (None, BackupFormat::Tar) => match uncompressed_size(ctx, location) {
                    Some(n) => n,
                    None => {
                        ctx.note("tar backup without a readable manifest: counting its compressed size, the real need is larger")?;
                        fs.tree_size(location)?
                    }
                },
                (None, BackupFormat::Tool) => {
                    ctx.note(format!("backup {} is held by a backup tool that gives no size: free space not checked", backup.id))?;
                    0
                }
            };
            // An incremental's combined size is at most its chain's: the full plus the
            // changed blocks each incremental carries.
            let need = need
                + r.inputs
                    .chain
                    .iter()
                    .filter_map(|b| b.size_bytes)
                    .sum::<u64>();
            let parent = r.data_dir().parent().unwrap_or(Path::new("/"));
            let free = fs.free_space(parent)?;
            let want = need + need / 20;
            ctx.note(format!(
                "restore needs about {} (+5%), {} free on {}",
                bytesize::ByteSize(need),
                bytesize::ByteSize(free),
                parent.display()
            ))?;
            if free < want {
                return fail(format!(
                    "not enough space on {}: {} free, {} needed for the restore (the moved-aside data stays where it is)",
                    parent.display(),
                    bytesize::ByteSize(free),
                    bytesize::ByteSize(want)
                ));
            }
            ctx.set(crate::engine::facts::RESTORE_BYTES, &need);
            if let Ok(rows) = ctx
                .ports
                .sql
                .rows(&r.inputs.server.dsn, TABLESPACES_SQL)
                .await
            {
                let spaces: std::collections::BTreeMap<String, std::path::PathBuf> = rows
                    .into_iter()
                    .filter_map(|row| match row.as_slice() {
                        [Some(oid), Some(at)] => Some((oid.clone(), at.into())),
                        _ => None,
                    })
                    .collect();
                ctx.set(crate::engine::facts::PRODUCTION_TABLESPACES, &spaces);
            }
            if !r.side() {
                refuse_recovering(ctx, r).await?;
            }
            if !r.side() && !r.inputs.new_host && r.inputs.server.patroni.is_none() {
                super::same_server::check(ctx, r).await?;
            }
            writable_parent(ctx, r).await?;
            super::tablespaces::refuse_any(ctx, r)?;
            super::backup_check::verify(ctx, r).await?;
            if r.side() {
                if !fs.is_absent_or_empty(r.data_dir())? {
                    return fail(format!(
                        "side restore directory {} is not empty: choose a new directory",
                        r.data_dir().display()
                    ));
                }
                if r.recovered_port() == r.inputs.server.port {
                    return fail(format!(
                        "side port {} is production's port: choose another",
                        r.recovered_port()
                    ));
                }
            } else if r.inputs.new_host {
                if !fs.is_absent_or_empty(r.pgdata())? {
                    return fail(format!(
                        "{} is not empty: --new-host restores only onto a missing or empty directory; without --new-host the recovery keeps the existing data aside",
                        r.pgdata().display()
                    ));
                }
            } else if fs.exists(&r.aside_dir()) && fs.exists(r.pgdata()) {
                return fail(format!(
                    "{} already exists: an earlier run with this id?",
                    r.aside_dir().display()
                ));
            } else if !fs.exists(&r.aside_dir()) && fs.is_absent_or_empty(r.pgdata())? {
                return fail(format!(
                    "{} is missing or empty: nothing to keep aside, as on a new host after a complete server failure; to restore onto it, confirm with --new-host (the plan then has no snapshot, dump, stop or move steps)",
                    r.pgdata().display()
                ));
            }
            let out = ctx
                .exec_ok(
                    &crate::engine::ports::CommandSpec::new(r.tool("postgres")).arg("--version"),
                )
                .await?;
            ctx.note(format!(
                "{}; lock held for server {}",
                out.output.trim(),
                r.inputs.server.name
            ))?;
            Ok(())
        })
    }
}

/// The server's user must write where the restored directory's log goes (beside it):
/// without that, pg_ctl fails before the server could log a word.
async fn writable_parent(ctx: &mut StepCtx, r: &Recovery) -> Result<(), StepError> {
    let parent = r.data_dir().parent().unwrap_or(Path::new("/"));
    let p = parent.display().to_string();
    let probe = crate::engine::ports::CommandSpec::new("test")
        .args(["-w", p.as_str(), "-a", "-x", p.as_str()])
        .run_as(r.run_as());
    if ctx.exec(&probe).await?.success() {
        return Ok(());
    }
    let user = r.run_as().unwrap_or("the console's user");
    fail(format!(
        "{p} cannot be written by {user} (EACCES): the restored server's log ({}) goes there and pg_ctl would fail before the server starts. Give {user} write and search permission on {p} and its parents, or choose a directory {user} owns",
        r.log_file().display()
    ))
}

/// The uncompressed size of a tar backup: its manifest's file sizes plus the WAL archive.
fn uncompressed_size(ctx: &StepCtx, location: &Path) -> Option<u64> {
    let text = ctx
        .ports
        .fs
        .read_to_string(&location.join("backup_manifest"))
        .ok()?;
    let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
    let files: u64 = manifest
        .get("Files")?
        .as_array()?
        .iter()
        .filter_map(|f| f.get("Size").and_then(serde_json::Value::as_u64))
        .sum();
    let wal: u64 = ctx
        .ports
        .fs
        .list_dir(location)
        .ok()?
        .iter()
        .filter(|n| n.starts_with("pg_wal.tar"))
        .filter_map(|n| ctx.ports.fs.file_size(&location.join(n)).ok())
        .sum();
    Some(files + wal)
}

/// A server in archive recovery, or a data directory with a signal file the console did not
/// write, is not "production as it runs": a standby, a replica, or a run left unfinished.
async fn refuse_recovering(ctx: &mut StepCtx, r: &Recovery) -> Result<(), StepError> {
    // A Patroni replica carries its own standby.signal: it is what the run recovers over.
    let signals: &[&str] = if r.inputs.server.patroni.is_some() {
        &["recovery.signal"]
    } else {
        &["recovery.signal", "standby.signal"]
    };
    for signal in signals {
        let path = r.pgdata().join(signal);
        if ctx.ports.fs.exists(&path) {
            return fail(format!(
                "{} exists: this data directory is set to start in recovery (a standby, or a recovery left unfinished), not the production data to recover over; find out who wrote it before running again",
                path.display()
            ));
        }
    }
    // A Patroni member's role is the Patroni step's to check.
    if r.inputs.server.patroni.is_some() || !super::is_running(ctx, r, r.pgdata()).await? {
        return Ok(());
    }
    if let Ok(status) = ctx.ports.sql.replay_status(&r.inputs.server.dsn).await {
        if status.in_recovery {
            return fail(format!(
                "server {} is in archive recovery (pg_is_in_recovery() is true): a standby or an unfinished recovery, not a primary to recover over",
                r.inputs.server.name
            ));
        }
    }
    Ok(())
}
