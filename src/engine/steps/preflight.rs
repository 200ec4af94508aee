//! Tools present, backup readable, room on disk, the way clear for the moves.

use super::Recovery;
use crate::domain::backup::BackupFormat;
use crate::engine::step::{fail, Step, StepCtx, StepFuture};
use std::path::Path;
use std::sync::Arc;

pub struct Preflight(pub Arc<Recovery>);

const TOOLS: [&str; 4] = ["pg_ctl", "pg_dump", "postgres", "pg_controldata"];

impl Step for Preflight {
    fn id(&self) -> &'static str {
        "preflight"
    }

    fn title(&self) -> String {
        "Preflight: tools, backup, disk space, lock".into()
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
            "check free space beside {} for the restore",
            r.data_dir().display()
        ));
        if r.side() {
            d.push(format!(
                "check {} is absent or empty and port {} differs from production",
                r.data_dir().display(),
                r.recovered_port()
            ));
        } else {
            d.push(format!(
                "check {} does not exist yet",
                r.aside_dir().display()
            ));
        }
        d.push(format!(
            "lock {}/{}.lock (taken by the runner)",
            r.inputs.journal_dir.display(),
            r.inputs.server.name
        ));
        d
    }

    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            let fs = ctx.ports.fs.clone();
            for t in TOOLS {
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
                (None, BackupFormat::Tar) => {
                    ctx.note("tar backup without a recorded size: counting its compressed size, the real need is larger")?;
                    fs.tree_size(location)?
                }
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
            ctx.set_fact("restore_bytes", &need);
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
            } else if fs.exists(&r.aside_dir()) && fs.exists(r.pgdata()) {
                return fail(format!(
                    "{} already exists: an earlier run with this id?",
                    r.aside_dir().display()
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
