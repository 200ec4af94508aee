//! Stopping production's PostgreSQL and starting the recovered instance.

use super::{fatal_lines, is_running, read_control, stop_server, Recovery};
use crate::engine::step::{fail, Step, StepCtx, StepFuture};
use std::sync::Arc;

pub struct StopServer(pub Arc<Recovery>);
pub struct StartRecovered(pub Arc<Recovery>);

impl StopServer {
    fn original_log(&self) -> std::path::PathBuf {
        let r = &self.0;
        r.log_for(r.pgdata(), r.beside(r.pgdata(), "-original.log"))
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
        vec![format!(
            "if it was running: {}",
            r.start_cmd(
                r.pgdata(),
                s.port,
                s.socket_dir.as_deref(),
                &self.original_log()
            )
            .display()
        )]
    }
    fn destructive(&self) -> bool {
        true
    }
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            stop_server(ctx, r, r.pgdata()).await?;
            let control = read_control(ctx, r, r.pgdata()).await?;
            ctx.note(format!(
                "stopped: checkpoint {}, state {}",
                control.checkpoint, control.state
            ))?;
            ctx.set_fact("stopped_control", &control);
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
            if ctx.fact::<bool>("was_running") == Some(false) {
                return ctx.note("the server was down before the run: left down");
            }
            if is_running(ctx, r, r.pgdata()).await? {
                return ctx.note("the original server already runs");
            }
            let s = &r.inputs.server;
            let log = self.original_log();
            let cmd = r.start_cmd(r.pgdata(), s.port, s.socket_dir.as_deref(), &log);
            if !ctx.exec(&cmd).await?.success() {
                return fail(format!(
                    "the original server did not start:\n{}",
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
            let log = r.log_file();
            let res = ctx.exec(&r.start_recovered_cmd()).await?;
            if !res.success() {
                // pg_ctl's own words first: a start that never reached the server's log
                // (a directory it may not write, a port in use) is explained there.
                return fail(format!(
                    "PostgreSQL did not start on {} (pg_ctl: {}). Server log {}:\n{}",
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
