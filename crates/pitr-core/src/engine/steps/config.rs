//! The recovery settings (appended to postgresql.auto.conf) and recovery.signal.

use super::Recovery;
use crate::domain::paths::Unsafe;
use crate::domain::setting::{quote_setting, UnsafeSetting};
use crate::domain::wal_spool::serving_command;
use crate::engine::step::{Step, StepCtx, StepError, StepFuture};
use std::sync::Arc;

pub struct WriteConfig(pub Arc<Recovery>);

/// Why the recovery settings cannot be written: a value no quoting makes safe.
#[derive(Debug, thiserror::Error)]
pub enum UnwritableSetting {
    #[error(transparent)]
    Path(#[from] Unsafe),
    #[error(transparent)]
    Setting(#[from] UnsafeSetting),
}

impl WriteConfig {
    fn marker(&self) -> String {
        format!("# pitr-console run {}", self.0.run_id)
    }

    /// The settings block, marked with the run id so a retry does not append it twice. Every
    /// value goes through `quote_setting`: none is pasted into the file as it came.
    pub fn block(&self) -> Result<Vec<String>, UnwritableSetting> {
        let r = &self.0;
        let mut lines = vec![self.marker()];
        let restore_command = match &r.inputs.wal_spool {
            Some(s) => serving_command(&r.spool_dir(), s.segment_size, &r.inputs.restore_command)?,
            None => r.inputs.restore_command.clone(),
        };
        lines.push(format!(
            "restore_command = {}",
            quote_setting("restore_command", &restore_command)?
        ));
        lines.extend(r.inputs.target.settings_lines(r.inputs.timeline)?);
        lines.push("recovery_target_action = 'pause'".into());
        // Pausing needs hot standby; without it `pause` acts as shutdown.
        lines.push("hot_standby = on".into());
        if r.side() {
            lines.push(format!("port = {}", r.recovered_port()));
            if let Some(s) = r.recovered_socket_dir() {
                lines.push(format!(
                    "unix_socket_directories = {}",
                    quote_setting("socket directory", &s.display().to_string())?
                ));
            }
            // The side instance must never write into production's archive, nor its logs:
            // its log goes to the file `pg_ctl -l` names, where failures are looked for.
            lines.push("archive_mode = off".into());
            lines.push("logging_collector = off".into());
        }
        Ok(lines)
    }

    /// After promotion: the run's block taken out of postgresql.auto.conf again (so a
    /// later restart does not carry a stale target or restore_command), the removed lines
    /// journaled.
    pub fn clean_after_promotion(&self, ctx: &mut StepCtx) -> Result<(), StepError> {
        let r = &self.0;
        let fs = ctx.ports.fs.clone();
        let auto = r.data_dir().join("postgresql.auto.conf");
        let Ok(text) = fs.read_to_string(&auto) else {
            return ctx.note(format!(
                "{} not readable: recovery settings left",
                auto.display()
            ));
        };
        let block = self.block().map_err(|e| StepError::Failed(e.to_string()))?;
        let Some(cleaned) = without_block(&text, &block) else {
            return ctx.note("no recovery settings of this run in postgresql.auto.conf");
        };
        ctx.journal_action(format!(
            "remove this run's recovery settings from {}:\n{}",
            auto.display(),
            block.join("\n")
        ))?;
        fs.write_file(&auto, cleaned.as_bytes(), false, 0o600, r.run_as())?;
        ctx.note(format!(
            "recovery settings removed from {} (kept in this journal)",
            auto.display()
        ))
    }
}

/// `text` without `block`'s lines where they follow each other, None when absent.
fn without_block(text: &str, block: &[String]) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let first = block.first()?;
    let at = lines.iter().position(|l| l == first)?;
    let mut end = at;
    for want in block {
        if lines.get(end) != Some(&want.as_str()) {
            break;
        }
        end += 1;
    }
    let mut kept: Vec<&str> = lines[..at].to_vec();
    kept.extend_from_slice(&lines[end..]);
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    Some(out)
}

impl Step for WriteConfig {
    fn id(&self) -> &'static str {
        "write_config"
    }
    fn title(&self) -> String {
        "Write recovery settings and recovery.signal".into()
    }
    fn describe(&self) -> Vec<String> {
        let dir = self.0.data_dir();
        let mut d = vec![format!(
            "append to {}:",
            dir.join("postgresql.auto.conf").display()
        )];
        match self.block() {
            Ok(block) => d.extend(block.into_iter().map(|l| format!("    {l}"))),
            Err(e) => d.push(format!("    refused: {e}")),
        }
        d.push(format!("touch {}", dir.join("recovery.signal").display()));
        d
    }
    fn destructive(&self) -> bool {
        !self.0.side()
    }
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            let block = self.block().map_err(|e| StepError::Failed(e.to_string()))?;
            let fs = ctx.ports.fs.clone();
            let auto = r.data_dir().join("postgresql.auto.conf");
            let existing = if fs.exists(&auto) {
                fs.read_to_string(&auto)?
            } else {
                String::new()
            };
            if existing.contains(&self.marker()) {
                ctx.note("recovery settings already written")?;
            } else {
                let mut text = String::new();
                if !existing.is_empty() && !existing.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&block.join("\n"));
                text.push('\n');
                ctx.journal_action(format!("append recovery settings to {}", auto.display()))?;
                fs.write_file(&auto, text.as_bytes(), true, 0o600, r.run_as())?;
            }
            let signal = r.data_dir().join("recovery.signal");
            ctx.journal_action(format!("touch {}", signal.display()))?;
            fs.write_file(&signal, b"", false, 0o600, r.run_as())?;
            for l in &block {
                ctx.output(l);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::without_block;

    #[test]
    fn the_runs_block_leaves_and_the_rest_stays() {
        let block = vec![
            "# pitr-console run r1".to_string(),
            "restore_command = 'x'".into(),
        ];
        let text = "work_mem = '8MB'\n# pitr-console run r1\nrestore_command = 'x'\nshared_buffers = '1GB'\n";
        assert_eq!(
            without_block(text, &block).unwrap(),
            "work_mem = '8MB'\nshared_buffers = '1GB'\n"
        );
        assert!(without_block("a = 1\n", &block).is_none());
    }
}
