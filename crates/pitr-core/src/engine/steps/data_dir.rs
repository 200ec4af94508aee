//! Moving the data directory aside (never deleting it) and restoring the base backup.

use super::{read_control, Recovery};
use crate::domain::backup::BackupFormat;
use crate::engine::control_data::ControlData;
use crate::engine::event::ProgressUnit;
use crate::engine::ports::{CommandSpec, LinkFence};
use crate::engine::step::{fail, Step, StepCtx, StepError, StepFuture};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

pub struct MoveAside(pub Arc<Recovery>);
pub struct Restore(pub Arc<Recovery>);

impl Step for MoveAside {
    fn id(&self) -> &'static str {
        "move_aside"
    }
    fn title(&self) -> String {
        "Move the data directory aside (kept, never deleted)".into()
    }
    fn describe(&self) -> Vec<String> {
        vec![format!(
            "mv {} {}",
            self.0.pgdata().display(),
            self.0.aside_dir().display()
        )]
    }
    fn describe_undo(&self) -> Vec<String> {
        let r = &self.0;
        vec![
            format!("mv {} {}", r.aside_dir().display(), r.pgdata().display()),
            format!(
                "{}  (system identifier and checkpoint must equal the snapshot)",
                r.controldata_cmd(r.pgdata()).display()
            ),
        ]
    }
    fn destructive(&self) -> bool {
        true
    }
    fn precheck<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let pid = self.0.pgdata().join("postmaster.pid");
            if ctx.ports.fs.exists(&pid) {
                return fail(format!(
                    "{} exists: PostgreSQL still runs (or crashed); stop it first",
                    pid.display()
                ));
            }
            Ok(())
        })
    }
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let (from, to) = (self.0.pgdata().to_path_buf(), self.0.aside_dir());
            let fs = ctx.ports.fs.clone();
            if !fs.exists(&from) && fs.exists(&to) {
                return ctx.note(format!("already moved: {} exists", to.display()));
            }
            ctx.rename(&from, &to)?;
            ctx.set(crate::engine::facts::ASIDE_DIR, &to);
            ctx.note(format!("original data kept at {}", to.display()))
        })
    }
    fn undo<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            let (aside, pgdata) = (r.aside_dir(), r.pgdata().to_path_buf());
            let fs = ctx.ports.fs.clone();
            if fs.exists(&aside) {
                if !fs.is_absent_or_empty(&pgdata)? {
                    return fail(format!(
                        "{} is in the way of moving the original back: move it elsewhere first",
                        pgdata.display()
                    ));
                }
                if fs.exists(&pgdata) {
                    ctx.rename(&pgdata, &r.beside(&pgdata, "-empty"))?;
                }
                ctx.rename(&aside, &pgdata)?;
            } else {
                ctx.note(format!(
                    "{} is gone: the original is back already",
                    aside.display()
                ))?;
            }
            let now = read_control(ctx, r, &pgdata).await?;
            let want: Option<ControlData> = ctx
                .get(crate::engine::facts::STOPPED_CONTROL)
                .or_else(|| ctx.get(crate::engine::facts::BEFORE_CONTROL));
            let Some(want) = want else {
                return ctx.note("no snapshot of pg_control to compare with");
            };
            if now.system_identifier != want.system_identifier || now.checkpoint != want.checkpoint
            {
                return fail(format!(
                    "pg_control of {} differs from the snapshot: system identifier {} (was {}), checkpoint {} (was {})",
                    pgdata.display(),
                    now.system_identifier,
                    want.system_identifier,
                    now.checkpoint,
                    want.checkpoint
                ));
            }
            ctx.note(format!(
                "original back: system identifier {} and checkpoint {} equal the snapshot",
                now.system_identifier, now.checkpoint
            ))
        })
    }
}

/// The archives of a tar backup: base.tar[.gz|.zst|.lz4] and pg_wal.tar[...] when present.
fn tar_parts(names: &[String]) -> (Option<String>, Option<String>) {
    let find = |stem: &str| {
        ["", ".gz", ".zst", ".lz4"]
            .iter()
            .map(|ext| format!("{stem}.tar{ext}"))
            .find(|n| names.contains(n))
    };
    (find("base"), find("pg_wal"))
}

impl Restore {
    fn source(&self) -> PathBuf {
        PathBuf::from(&self.0.inputs.backup.location)
    }
}

impl Step for Restore {
    fn id(&self) -> &'static str {
        "restore"
    }
    fn title(&self) -> String {
        let r = &self.0;
        if r.inputs.backup.incremental.is_some() {
            let ids: Vec<&str> = super::combine::members(r)
                .iter()
                .map(|b| b.id.as_str())
                .collect();
            return format!("Restore by combining the chain {}", ids.join(" + "));
        }
        format!("Restore base backup {}", r.inputs.backup.id)
    }
    fn describe(&self) -> Vec<String> {
        let r = &self.0;
        let owner = r
            .run_as()
            .map(|u| format!(", owned by {u}"))
            .unwrap_or_default();
        let to = r.data_dir().display();
        if r.inputs.backup.incremental.is_some() {
            return super::combine::describe(r);
        }
        match r.inputs.backup.format {
            BackupFormat::Plain => vec![format!(
                "copy {} to {to} (modes kept{owner})",
                self.source().display()
            )],
            BackupFormat::Tool => super::tool_restore::describe(r),
            BackupFormat::Tar => vec![
                format!(
                    "extract {}/base.tar[.gz|.zst|.lz4] into {to}{owner}",
                    self.source().display()
                ),
                format!(
                    "extract {}/pg_wal.tar[...] into {to}/pg_wal, when present",
                    self.source().display()
                ),
            ],
        }
    }
    fn describe_undo(&self) -> Vec<String> {
        vec![format!(
            "mv {} {}",
            self.0.data_dir().display(),
            self.0.restored_aside().display()
        )]
    }
    fn destructive(&self) -> bool {
        !self.0.side()
    }
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            let fs = ctx.ports.fs.clone();
            let to = r.data_dir().to_path_buf();
            if !fs.is_absent_or_empty(&to)? {
                // Left by an interrupted attempt: keep it, out of the way.
                let partial = r.beside(
                    &to,
                    &format!("-partial-{}", chrono::Utc::now().format("%H%M%S")),
                );
                ctx.rename(&to, &partial)?;
            } else if fs.exists(&to) {
                // An empty directory made for the restore (a new host's, or a mount point):
                // PostgreSQL refuses to start on anything but u=rwx, and it cannot be moved.
                let chmod = CommandSpec::new("chmod")
                    .args(["0700", &to.display().to_string()])
                    .run_as(r.run_as());
                if !ctx.exec(&chmod).await?.success() {
                    return fail(format!(
                        "{} cannot be given mode 0700{}: PostgreSQL starts only on a data directory of that mode owned by its user; chown it to that user",
                        to.display(),
                        r.run_as().map(|u| format!(" by {u}")).unwrap_or_default()
                    ));
                }
            }
            let owner = r.run_as().map(str::to_string);
            let total: Option<u64> = ctx.get(crate::engine::facts::RESTORE_BYTES);
            let progress = ctx.progress(ProgressUnit::Bytes, total);
            let started = Instant::now();
            let bytes = match r.inputs.backup.format {
                _ if r.inputs.backup.incremental.is_some() => super::combine::run(ctx, r).await?,
                BackupFormat::Plain => {
                    let from = self.source();
                    ctx.journal_action(format!("copy {} {}", from.display(), to.display()))?;
                    let p = progress.clone();
                    let fence = fence(ctx, r);
                    let res = blocking(move || {
                        fs.copy_tree(&from, &to, owner.as_deref(), &fence, &|d| {
                            p.report(d, false)
                        })
                    })
                    .await;
                    ctx.journal_action_done(
                        res.is_ok(),
                        started.elapsed(),
                        res.clone().err().unwrap_or_default(),
                    )?;
                    res.map_err(|e| StepError::Failed(full_disk(ctx, r, e)))?
                }
                BackupFormat::Tool => super::tool_restore::run(ctx, r).await?,
                BackupFormat::Tar => self.extract(ctx, &to, owner, progress.clone()).await?,
            };
            progress.report(bytes, true);
            super::tablespaces::refuse_restored(ctx, r, r.data_dir())?;
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            ctx.note(format!(
                "restored {} in {:.1} s ({}/s)",
                bytesize::ByteSize(bytes),
                secs,
                bytesize::ByteSize((bytes as f64 / secs) as u64)
            ))?;
            ctx.set(crate::engine::facts::RESTORED_BYTES, &bytes);
            Ok(())
        })
    }
    fn undo<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let (dir, aside) = (self.0.data_dir().to_path_buf(), self.0.restored_aside());
            if !ctx.ports.fs.exists(&dir) {
                return ctx.note(format!("{} is not there: nothing to move", dir.display()));
            }
            ctx.rename(&dir, &aside)?;
            ctx.note(format!("restored data kept at {}", aside.display()))
        })
    }
}

impl Restore {
    async fn extract(
        &self,
        ctx: &mut StepCtx,
        to: &Path,
        owner: Option<String>,
        progress: crate::engine::step::ProgressReporter,
    ) -> Result<u64, StepError> {
        let fs = ctx.ports.fs.clone();
        let src = self.source();
        let (base, wal) = tar_parts(&fs.list_dir(&src)?);
        let Some(base) = base else {
            return fail(format!("no base.tar[.gz|.zst|.lz4] in {}", src.display()));
        };
        let mut parts = vec![(src.join(base), to.to_path_buf())];
        if let Some(w) = wal {
            parts.push((src.join(w), to.join("pg_wal")));
        }
        let mut progress = progress;
        let total: u64 = parts.iter().filter_map(|(a, _)| fs.file_size(a).ok()).sum();
        progress.set_total(Some(total));
        let mut done = 0u64;
        for (archive, dest) in parts {
            let started = Instant::now();
            ctx.journal_action(format!(
                "extract {} into {}",
                archive.display(),
                dest.display()
            ))?;
            let (fs2, owner2, p, base_done) = (fs.clone(), owner.clone(), progress.clone(), done);
            let a2 = archive.clone();
            let fence = fence(ctx, &self.0);
            let res = blocking(move || {
                fs2.extract_tar(&a2, &dest, owner2.as_deref(), &fence, &|d| {
                    p.report(base_done + d, false)
                })
            })
            .await;
            ctx.journal_action_done(
                res.is_ok(),
                started.elapsed(),
                res.clone().err().unwrap_or_default(),
            )?;
            res.map_err(|e| StepError::Failed(full_disk(ctx, &self.0, e)))?;
            done += fs.file_size(&archive).unwrap_or(0);
        }
        Ok(done)
    }
}

/// Where no link of the backup may lead: production's data (and where it was moved), the
/// console's own directories, the repository; and production's tablespaces as preflight
/// found them, for a backup that says nothing of its own.
fn fence(ctx: &StepCtx, r: &Recovery) -> LinkFence {
    let mut forbidden = vec![
        r.pgdata().to_path_buf(),
        r.aside_dir(),
        r.inputs.journal_dir.clone(),
        r.inputs.safety_dump_dir.clone(),
    ];
    forbidden.extend(crate::engine::state_dir::current().map(|s| s.path().to_path_buf()));
    let location = Path::new(&r.inputs.backup.location);
    if location.is_absolute() {
        forbidden.extend(location.parent().map(Path::to_path_buf));
    }
    let production = ctx.get(crate::engine::facts::PRODUCTION_TABLESPACES);
    // Beside production, its tablespaces are production's live data: fenced off, and a
    // backup that says nothing of its own may link nowhere. In place, to production's own.
    let tablespaces = match (r.side(), production) {
        (true, Some(p)) => {
            forbidden.extend(p.into_values());
            Some(Default::default())
        }
        (_, p) => p,
    };
    LinkFence {
        forbidden,
        tablespaces,
    }
}

/// A full file system named with what the restore needs there and what is free now, so the
/// operator knows how much to free (preflight counted the backup's sizes; files take whole
/// blocks on disk, and a file system filled by someone else meanwhile).
fn full_disk(ctx: &StepCtx, r: &Recovery, err: String) -> String {
    if !err.contains("(ENOSPC)") {
        return err;
    }
    format!("{err}\n{}", space_needed(ctx, r))
}

/// Below this, a recovered server cannot be expected to fetch and write its WAL.
const LOW_SPACE: u64 = 64 << 20;

/// For a recovered start that failed: when the data directory's file system is (nearly)
/// full, the server's own words hide it (restore_command's copy fails, and PostgreSQL reports
/// a checkpoint record it could not find), so the console says it.
pub fn low_space(ctx: &StepCtx, r: &Recovery) -> Option<String> {
    let parent = r.data_dir().parent().unwrap_or(Path::new("/"));
    let free = ctx.ports.fs.free_space(parent).ok()?;
    (free < LOW_SPACE).then(|| {
        format!(
            "The file system is (nearly) full: No space left on device for the WAL the server fetches (ENOSPC; PostgreSQL reports what it then could not read, not the full disk).\n{}",
            space_needed(ctx, r)
        )
    })
}

fn space_needed(ctx: &StepCtx, r: &Recovery) -> String {
    let parent = r.data_dir().parent().unwrap_or(Path::new("/"));
    let need = ctx
        .get(crate::engine::facts::RESTORE_BYTES)
        .map(|n| format!("about {} (+5%)", bytesize::ByteSize(n + n / 20)))
        .unwrap_or_else(|| "the backup's size".into());
    let free = ctx
        .ports
        .fs
        .free_space(parent)
        .map(|f| format!("{} free there now", bytesize::ByteSize(f)))
        .unwrap_or_else(|e| format!("free space unknown: {e}"));
    format!(
        "The restore needs {need} on {}, and room for the WAL replay fetches ({free}). Free that much there, then resume the run (a partial copy is kept aside and takes room too), or roll it back (`--action roll-back`) to put the original data back.",
        parent.display()
    )
}

/// Runs blocking file work off the async threads; errors as text.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::engine::ports::PortError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(|e| e.message),
        Err(e) => Err(format!("file work crashed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::tar_parts;

    #[test]
    fn finds_tar_parts() {
        let names = vec![
            "base.tar.zst".to_string(),
            "pg_wal.tar".to_string(),
            "backup_manifest".to_string(),
        ];
        assert_eq!(
            tar_parts(&names),
            (Some("base.tar.zst".into()), Some("pg_wal.tar".into()))
        );
        assert_eq!(tar_parts(&[]), (None, None));
    }
}
