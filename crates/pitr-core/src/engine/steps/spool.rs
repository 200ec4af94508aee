//! WAL staged ahead of replay: while the backup is restored and replay runs, the segments
//! the plan needs are fetched a few at a time into the run's spool (beside the restore), so
//! the server's restore_command only moves a finished file into place. The spool is the
//! console's own scratch: what it staged is removed when replay ends, nothing else.

use super::Recovery;
use crate::domain::restore_command::shell_quote;
use crate::domain::wal_spool::{expand, WalSpool, PART_SUFFIX, REQUEST_LOG};
use crate::engine::ports::{CommandSpec, Ports};
use crate::engine::step::{Step, StepCtx, StepError, StepFuture};
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a stager blocked by the bound looks whether replay took segments.
const WAIT: Duration = Duration::from_millis(100);
const FETCH_TIMEOUT: Duration = Duration::from_secs(600);

/// The stager of this process, when one runs (a resumed run starts its own).
#[derive(Default)]
pub struct Slot(Mutex<Option<Stager>>);

struct Stager {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Staged>,
}

/// What one stager did.
#[derive(Debug, Default)]
struct Staged {
    staged: Vec<String>,
    failed: Vec<(String, String)>,
    busy: Duration,
}

pub struct StageWal(pub Arc<Recovery>);

impl Recovery {
    /// The run's spool: beside the directory being restored, named by the run.
    pub fn spool_dir(&self) -> PathBuf {
        self.beside(self.data_dir(), "-wal")
    }
}

fn spool_of(r: &Recovery) -> Option<&WalSpool> {
    r.inputs.wal_spool.as_ref()
}

impl Step for StageWal {
    fn id(&self) -> &'static str {
        "stage_wal"
    }
    fn title(&self) -> String {
        "Stage the WAL replay needs, ahead of replay".into()
    }
    fn describe(&self) -> Vec<String> {
        let r = &self.0;
        let Some(s) = spool_of(r) else {
            return Vec::new();
        };
        let names = s.file_names();
        vec![
            format!(
                "mkdir {} (mode 0700, owned by the server's user)",
                r.spool_dir().display()
            ),
            format!(
                "in the background, {} at a time: the repository's restore_command into <segment>{PART_SUFFIX}, then rename; {} segments, {} .. {}",
                s.parallel,
                s.segments(),
                names.first().map(String::as_str).unwrap_or("-"),
                names.last().map(String::as_str).unwrap_or("-"),
            ),
            format!(
                "at most {} MiB ({} segments) staged and not yet replayed (wal_spool_mib)",
                s.limit_mib,
                s.limit_segments()
            ),
            "restore_command serves a full-size segment from the spool, else the repository's own (journaled after replay)".into(),
        ]
    }
    fn describe_undo(&self) -> Vec<String> {
        vec![format!(
            "stop staging; remove the segments it staged and {}",
            self.0.spool_dir().display()
        )]
    }
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move { start(&self.0, ctx) })
    }
    fn undo<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move { finish(&self.0, ctx).await })
    }
}

/// Creates the spool and starts staging into it, unless this process already does.
pub fn start(r: &Recovery, ctx: &mut StepCtx) -> Result<(), StepError> {
    let Some(spool) = spool_of(r).cloned() else {
        return Ok(());
    };
    let mut slot = r.stager.0.lock().unwrap_or_else(|e| e.into_inner());
    if slot.is_some() {
        return Ok(());
    }
    let dir = r.spool_dir();
    if !ctx.ports.fs.exists(&dir) {
        ctx.journal_action(format!("create the WAL spool {}", dir.display()))?;
        ctx.ports.fs.create_dir_all(&dir, 0o700, r.run_as())?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(stage(
        ctx.ports.clone(),
        spool.clone(),
        dir.clone(),
        r.inputs.restore_command.clone(),
        r.run_as().map(str::to_string),
        stop.clone(),
    ));
    *slot = Some(Stager { stop, task });
    ctx.note(format!(
        "staging {} segments into {}, {} at a time, at most {} MiB ahead of replay",
        spool.segments(),
        dir.display(),
        spool.parallel,
        spool.limit_mib
    ))
}

/// Stops staging, journals what the spool served and what fell back to the archive, and
/// removes what the console staged. Called when replay has ended (and on roll back).
pub async fn finish(r: &Recovery, ctx: &mut StepCtx) -> Result<(), StepError> {
    let Some(spool) = spool_of(r) else {
        return Ok(());
    };
    let stager = r.stager.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    let staged = match stager {
        Some(s) => {
            s.stop.store(true, Ordering::SeqCst);
            s.task.await.ok()
        }
        None => None,
    };
    let dir = r.spool_dir();
    let fs = ctx.ports.fs.clone();
    if !fs.exists(&dir) {
        return Ok(());
    }
    let planned = spool.file_names();
    let requests = fs
        .read_to_string(&dir.join(REQUEST_LOG))
        .unwrap_or_default();
    let asked = Requests::read(&requests);
    let left: BTreeSet<String> = fs.list_dir(&dir)?.into_iter().collect();
    if let Some(s) = &staged {
        ctx.note(format!(
            "WAL spool: {} of {} segments staged ({:.1} s of fetching), {} served to replay from the spool",
            s.staged.len(),
            planned.len(),
            s.busy.as_secs_f64(),
            asked.from_spool.len()
        ))?;
        for (name, why) in &s.failed {
            ctx.note(format!(
                "WAL spool: {name} could not be staged (the server fetched it from the archive): {why}"
            ))?;
        }
    }
    let missed: Vec<&str> = planned
        .iter()
        .filter(|n| asked.first_from_archive.contains(n.as_str()))
        .map(String::as_str)
        .collect();
    if !missed.is_empty() {
        ctx.note(format!(
            "WAL spool: {} planned segment(s) were not in the spool at full size when replay asked (missing, damaged or not staged yet) and came from the repository's restore_command: {}",
            missed.len(),
            missed.join(", ")
        ))?;
    }
    let others = asked.from_archive.saturating_sub(missed.len());
    if others > 0 {
        ctx.note(format!(
            "WAL spool: {others} other request(s) (history files, WAL past the plan, a segment asked again) went to the repository's restore_command"
        ))?;
    }
    remove_own(r, ctx, &dir, &planned, &left).await
}

/// The serving command's log, read back: the names the spool served, and those first
/// asked of the archive.
struct Requests<'a> {
    from_spool: BTreeSet<&'a str>,
    first_from_archive: BTreeSet<&'a str>,
    from_archive: usize,
}

impl<'a> Requests<'a> {
    fn read(log: &'a str) -> Requests<'a> {
        let mut r = Requests {
            from_spool: BTreeSet::new(),
            first_from_archive: BTreeSet::new(),
            from_archive: 0,
        };
        for line in log.lines() {
            match line.split_once(' ') {
                Some(("spool", name)) => {
                    r.from_spool.insert(name);
                }
                Some(("archive", name)) => {
                    r.from_archive += 1;
                    if !r.from_spool.contains(name) {
                        r.first_from_archive.insert(name);
                    }
                }
                _ => {}
            }
        }
        r
    }
}

/// Removes the files the console put in the spool, then the spool itself; anything else
/// found there is left, with the spool, and named.
async fn remove_own(
    r: &Recovery,
    ctx: &mut StepCtx,
    dir: &Path,
    planned: &[String],
    left: &BTreeSet<String>,
) -> Result<(), StepError> {
    let ours: BTreeSet<String> = planned
        .iter()
        .flat_map(|n| [n.clone(), format!("{n}{PART_SUFFIX}")])
        .chain([REQUEST_LOG.to_string()])
        .collect();
    let (mine, foreign): (Vec<&String>, Vec<&String>) =
        left.iter().partition(|n| ours.contains(*n));
    if !mine.is_empty() {
        let rm = CommandSpec::new("rm")
            .args(["-f", "--"])
            .args(mine.iter().map(|n| dir.join(n).display().to_string()))
            .run_as(r.run_as());
        ctx.journal_action(format!(
            "remove the {} file(s) the console left in the WAL spool {}",
            mine.len(),
            dir.display()
        ))?;
        run_quiet(ctx, &rm).await?;
    }
    if !foreign.is_empty() {
        return ctx.note(format!(
            "WAL spool {} kept: it holds files the console did not put there ({})",
            dir.display(),
            foreign
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let rmdir = CommandSpec::new("rmdir")
        .arg(dir.display().to_string())
        .run_as(r.run_as());
    ctx.journal_action(format!("remove the empty WAL spool {}", dir.display()))?;
    run_quiet(ctx, &rmdir).await
}

/// Runs a command without journaling it as an action (the caller journaled what it does);
/// a failure is a note, never a failed run: the spool is scratch.
async fn run_quiet(ctx: &mut StepCtx, cmd: &CommandSpec) -> Result<(), StepError> {
    match ctx.ports.commands.run(cmd, &|_| {}).await {
        Ok(res) if res.success() => Ok(()),
        Ok(res) => ctx.note(format!("`{}` failed: {}", cmd.display(), res.output.trim())),
        Err(e) => ctx.note(format!("`{}` failed: {e}", cmd.display())),
    }
}

/// Fetches the planned segments in replay order, `parallel` at a time, never more than
/// the bound waiting in the spool; stops early when told (replay reached the target).
async fn stage(
    ports: Ports,
    spool: WalSpool,
    dir: PathBuf,
    restore_command: String,
    run_as: Option<String>,
    stop: Arc<AtomicBool>,
) -> Staged {
    let started = Instant::now();
    let names = spool.file_names();
    let planned: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let limit = spool.limit_segments();
    let mut out = Staged::default();
    let mut next = 0;
    let mut running = FuturesUnordered::new();
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let present: BTreeSet<String> = ports
            .fs
            .list_dir(&dir)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| planned.contains(n.as_str()))
            .collect();
        while next < names.len()
            && running.len() < spool.parallel.max(1)
            && present.len() + running.len() < limit
        {
            let name = names[next].clone();
            next += 1;
            if present.contains(&name) {
                continue;
            }
            running.push(fetch(
                ports.clone(),
                dir.clone(),
                name,
                restore_command.clone(),
                run_as.clone(),
            ));
        }
        if running.is_empty() && next >= names.len() {
            break;
        }
        tokio::select! {
            Some(done) = running.next(), if !running.is_empty() => record(&mut out, done),
            _ = tokio::time::sleep(WAIT) => {}
        }
    }
    // Those already fetching finish (at most `parallel`), so no `.part` is left half written.
    while let Some(done) = running.next().await {
        record(&mut out, done);
    }
    out.busy = started.elapsed();
    out
}

fn record(out: &mut Staged, done: (String, Result<(), String>)) {
    match done {
        (name, Ok(())) => out.staged.push(name),
        (name, Err(e)) => out.failed.push((name, e)),
    }
}

/// One segment through the repository's own restore_command into `<name>.part`, renamed
/// to `<name>` once complete (PostgreSQL never sees a half-written file).
async fn fetch(
    ports: Ports,
    dir: PathBuf,
    name: String,
    restore_command: String,
    run_as: Option<String>,
) -> (String, Result<(), String>) {
    let part = dir.join(format!("{name}{PART_SUFFIX}"));
    let line = format!(
        "( {} ) && mv -f {} {}",
        expand(&restore_command, &name, &part),
        shell_quote(&part.display().to_string()),
        shell_quote(&dir.join(&name).display().to_string())
    );
    let cmd = CommandSpec::shell(line)
        .run_as(run_as.as_deref())
        .timeout(FETCH_TIMEOUT);
    let result = match ports.commands.run(&cmd, &|_| {}).await {
        Ok(res) if res.success() => Ok(()),
        Ok(res) => Err(format!(
            "exit {}: {}",
            res.exit_code.map_or("by signal".into(), |c| c.to_string()),
            crate::engine::step::tail(res.output.trim(), 3)
        )),
        Err(e) => Err(e.to_string()),
    };
    (name, result)
}

#[cfg(test)]
mod tests {
    use super::Requests;

    #[test]
    fn a_segment_asked_again_after_the_spool_served_it_was_not_missed() {
        let log = "spool A\narchive B\nspool C\narchive C\narchive 00000002.history\njunk\n";
        let r = Requests::read(log);
        assert_eq!(r.from_spool.into_iter().collect::<Vec<_>>(), ["A", "C"]);
        assert_eq!(
            r.first_from_archive.into_iter().collect::<Vec<_>>(),
            ["00000002.history", "B"]
        );
        assert_eq!(r.from_archive, 3);
    }
}
