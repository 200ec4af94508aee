//! A short report of the run beside the journal.

use super::Recovery;
use crate::engine::facts::Decided;
use crate::engine::ports::PortError;
use crate::engine::step::{Branch, Step, StepCtx, StepFuture};
use std::fmt::Write;
use std::path::PathBuf;
use std::sync::Arc;

pub struct Summary(pub Arc<Recovery>);

impl Summary {
    fn path(&self) -> PathBuf {
        let r = &self.0;
        r.inputs
            .journal_dir
            .join(format!("{}-{}-summary.txt", r.inputs.server.name, r.run_id))
    }
}

impl Step for Summary {
    fn id(&self) -> &'static str {
        "summary"
    }
    fn title(&self) -> String {
        "Write the summary".into()
    }
    fn describe(&self) -> Vec<String> {
        vec![format!("write {}", self.path().display())]
    }
    fn branch(&self) -> Branch {
        Branch::Final
    }
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            let mut s = String::new();
            let decision = ctx
                .get(crate::engine::facts::DECISION)
                .map_or("roll_back (after a failure)", Decided::name);
            let _ = writeln!(
                s,
                "pitr-console run {} on server {}",
                r.run_id, r.inputs.server.name
            );
            let _ = writeln!(s, "target: {}", r.inputs.target);
            let _ = writeln!(
                s,
                "backup: {} ({})",
                r.inputs.backup.id, r.inputs.backup.location
            );
            let _ = writeln!(s, "restored into: {}", r.data_dir().display());
            let _ = writeln!(s, "outcome: {decision}");
            if let Some(lsn) = ctx.get(crate::engine::facts::REPLAY_LSN) {
                let _ = writeln!(s, "replayed to: {lsn}");
            }
            if let Some(Some(t)) = ctx.get(crate::engine::facts::LAST_REPLAY_TIME) {
                let _ = writeln!(
                    s,
                    "last replayed commit: {}",
                    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                );
            }
            if !r.side() && ctx.ports.fs.exists(&r.aside_dir()) {
                let _ = writeln!(s, "original data kept at: {}", r.aside_dir().display());
            }
            let parts = ctx
                .get(crate::engine::facts::SAFETY_DUMPS)
                .unwrap_or_default();
            for p in &parts {
                let what = p.database.as_deref().unwrap_or("(globals)");
                let _ = writeln!(
                    s,
                    "safety dump {what}: {} sha256 {}",
                    p.path.display(),
                    p.sha256
                );
            }
            if parts.is_empty() {
                if let Some(d) = ctx.get(crate::engine::facts::SAFETY_DUMP) {
                    let _ = writeln!(s, "safety dump: {} sha256 {}", d.path.display(), d.sha256);
                }
            }
            for i in ctx.get(crate::engine::facts::CHECKLIST).unwrap_or_default() {
                let _ = writeln!(
                    s,
                    "check {}: {} ({})",
                    i.item,
                    if i.ok { "ok" } else { "FAILED" },
                    i.detail
                );
            }
            let path = self.path();
            // Beside the journal, on this machine, like the journal itself (the fs port may
            // be a remote server's).
            write_private(&path, s.as_bytes())
                .map_err(|e| PortError::io(format!("cannot write {}", path.display()), e))?;
            for l in s.lines() {
                ctx.output(l);
            }
            ctx.set(crate::engine::facts::SUMMARY, &path);
            ctx.note(format!("summary written to {}", path.display()))
        })
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
