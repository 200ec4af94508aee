//! Stopping production's PostgreSQL and starting the recovered instance.

use super::{fatal_lines, is_running, read_control, stop_server, Recovery};
use crate::domain::control::Service;
use crate::engine::ports::CommandSpec;
use crate::engine::step::{fail, Step, StepCtx, StepFuture};
use std::sync::Arc;

pub struct StopServer(pub Arc<Recovery>);
pub struct StartRecovered(pub Arc<Recovery>);

impl StopServer {
    fn original_log(&self) -> std::path::PathBuf {
        let r = &self.0;
        r.log_for(r.pgdata(), r.beside(r.pgdata(), "-original.log"))
    }

    /// The restart of the original as it ran: a server pg_ctl started is restarted with
    /// `pg_ctl restart`, which replays postmaster.opts (the postgres binary and every
    /// command-line option it ran with); a service by its service. Without the recorded
    /// opts (the server was down, or the file changed since), the configured start.
    fn restart_cmd(&self, ctx: &StepCtx) -> CommandSpec {
        let r = &self.0;
        let s = &r.inputs.server;
        let log = self.original_log();
        let opts = r.pgdata().join("postmaster.opts");
        let recorded = ctx.get(crate::engine::facts::POSTMASTER_OPTS);
        let same = recorded.is_some() && ctx.ports.fs.read_to_string(&opts).ok() == recorded;
        if matches!(s.service, Service::PgCtl) && same {
            return r
                .pg_ctl()
                .args(["restart", "-D", &r.pgdata().display().to_string(), "-w"])
                .args(["-t", &super::PG_CTL_WAIT_SECS.to_string()])
                .args(["-l", &log.display().to_string()])
                .timeout(std::time::Duration::from_secs(super::PG_CTL_WAIT_SECS + 60));
        }
        r.start_cmd(
            r.pgdata(),
            s.port,
            s.socket_dir.as_deref(),
            &log,
            "",
            super::PG_CTL_WAIT_SECS,
        )
    }
}

impl Step for StopServer {
    fn id(&self) -> &'static str {
        "stop_server"
    }
    fn title(&self) -> String {
        "Stop PostgreSQL (fast, then immediate)".into()
    }
    fn describe(&self) -> Vec<String> {
        let r = &self.0;
        vec![
            r.stop_cmd(r.pgdata(), "fast").display(),
            format!(
                "if that fails: {}",
                r.stop_cmd(r.pgdata(), "immediate").display()
            ),
            r.controldata_cmd(r.pgdata()).display(),
        ]
    }
    fn describe_undo(&self) -> Vec<String> {
        let r = &self.0;
        let s = &r.inputs.server;
        let start = r.start_cmd(
            r.pgdata(),
            s.port,
            s.socket_dir.as_deref(),
            &self.original_log(),
            "",
            super::PG_CTL_WAIT_SECS,
        );
        if matches!(s.service, Service::PgCtl) {
            vec![
                format!(
                    "if it was running: pg_ctl restart -D {} -l {} (the options of {}/postmaster.opts, as it ran)",
                    r.pgdata().display(),
                    self.original_log().display(),
                    r.pgdata().display()
                ),
                format!("without postmaster.opts: {}", start.display()),
            ]
        } else {
            vec![format!("if it was running: {}", start.display())]
        }
    }
    fn destructive(&self) -> bool {
        true
    }
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            if is_running(ctx, r, r.pgdata()).await? {
                if let Ok(opts) = ctx
                    .ports
                    .fs
                    .read_to_string(&r.pgdata().join("postmaster.opts"))
                {
                    ctx.note(format!("running as: {}", opts.trim()))?;
                    ctx.set(crate::engine::facts::POSTMASTER_OPTS, &opts);
                }
            }
            stop_server(ctx, r, r.pgdata()).await?;
            let control = read_control(ctx, r, r.pgdata()).await?;
            ctx.note(format!(
                "stopped: checkpoint {}, state {}",
                control.checkpoint, control.state
            ))?;
            ctx.set(crate::engine::facts::STOPPED_CONTROL, &control);
            Ok(())
        })
    }
    fn verify<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            if is_running(ctx, &self.0, self.0.pgdata()).await? {
                return fail("PostgreSQL still runs after the stop");
            }
            Ok(())
        })
    }
    fn undo<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            if ctx.get(crate::engine::facts::WAS_RUNNING) == Some(false) {
                return ctx.note("the server was down before the run: left down");
            }
            if is_running(ctx, r, r.pgdata()).await? {
                return ctx.note("the original server already runs");
            }
            let log = self.original_log();
            let cmd = self.restart_cmd(ctx);
            let res = ctx.exec(&cmd).await?;
            if !res.success() {
                return fail(format!(
                    "the original server did not start (pg_ctl: {}):\n{}",
                    crate::engine::step::tail(&res.output, 4).trim(),
                    fatal_lines(ctx, &log)
                ));
            }
            ctx.note("the original server runs again")
        })
    }
}

impl Step for StartRecovered {
    fn id(&self) -> &'static str {
        "start"
    }
    fn title(&self) -> String {
        "Start PostgreSQL on the restored data (recovery begins)".into()
    }
    fn describe(&self) -> Vec<String> {
        let r = &self.0;
        vec![r.start_recovered_cmd().display()]
    }
    fn describe_undo(&self) -> Vec<String> {
        let r = &self.0;
        vec![r.stop_cmd(r.data_dir(), "fast").display()]
    }
    fn destructive(&self) -> bool {
        !self.0.side()
    }
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            if is_running(ctx, r, r.data_dir()).await? {
                return ctx.note("the recovered server already runs");
            }
            let log = r.recovered_log();
            let res = ctx.exec(&r.start_recovered_cmd()).await?;
            if !res.success() && is_running(ctx, r, r.data_dir()).await? {
                ctx.note(format!(
                    "pg_ctl stopped waiting after {} s: the server runs but does not accept connections yet (replay before a consistent state); the replay step follows it. Last lines of {}:\n{}",
                    r.start_wait_secs(),
                    log.display(),
                    super::log_tail(ctx, &log, 4)
                ))?;
                return Ok(());
            }
            if !res.success() {
                // pg_ctl's own words first: a start that never reached the server's log
                // (a directory it may not write, a port in use) is explained there.
                let space = super::data_dir::low_space(ctx, r)
                    .map(|s| format!("\n{s}"))
                    .unwrap_or_default();
                return fail(format!(
                    "PostgreSQL did not start on {} (pg_ctl: {}). Server log {}:\n{}{space}",
                    r.data_dir().display(),
                    crate::engine::step::tail(&res.output, 4).trim(),
                    log.display(),
                    fatal_lines(ctx, &log)
                ));
            }
            ctx.note(format!("started; server log {}", log.display()))
        })
    }
    fn undo<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move { stop_server(ctx, &self.0, self.0.data_dir()).await })
    }
}
