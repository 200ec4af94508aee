//! Stopping the applications before, starting them after (or on roll back).

use super::Recovery;
use crate::engine::inputs::AppSpec;
use crate::engine::ports::CommandSpec;
use crate::engine::step::{fail, Branch, Step, StepCtx, StepError, StepFuture};
use std::sync::Arc;

pub struct StopApps(pub Arc<Recovery>);
pub struct StartApps(pub Arc<Recovery>);

fn stop_lines(apps: &[AppSpec]) -> Vec<String> {
    apps.iter()
        .flat_map(|a| {
            [
                a.stop.clone(),
                format!("{}  (must fail: {} stopped)", a.check, a.name),
            ]
        })
        .collect()
}

fn start_lines(apps: &[AppSpec]) -> Vec<String> {
    apps.iter()
        .flat_map(|a| {
            [
                a.start.clone(),
                format!("{}  (must succeed: {} running)", a.check, a.name),
            ]
        })
        .collect()
}

async fn stop_all(ctx: &mut StepCtx, apps: &[AppSpec]) -> Result<(), StepError> {
    for a in apps {
        ctx.exec_ok(&CommandSpec::shell(&a.stop)).await?;
        if !a.check.is_empty() && ctx.exec(&CommandSpec::shell(&a.check)).await?.success() {
            return fail(format!(
                "{} still runs after `{}` (its check `{}` succeeds)",
                a.name, a.stop, a.check
            ));
        }
        ctx.note(format!("{} stopped", a.name))?;
    }
    Ok(())
}

async fn start_all(ctx: &mut StepCtx, apps: &[AppSpec]) -> Result<(), StepError> {
    for a in apps {
        ctx.exec_ok(&CommandSpec::shell(&a.start)).await?;
        if !a.check.is_empty() && !ctx.exec(&CommandSpec::shell(&a.check)).await?.success() {
            return fail(format!(
                "{} does not run after `{}` (its check `{}` fails)",
                a.name, a.start, a.check
            ));
        }
        ctx.note(format!("{} started", a.name))?;
    }
    Ok(())
}

impl Step for StopApps {
    fn id(&self) -> &'static str {
        "stop_apps"
    }
    fn title(&self) -> String {
        "Stop applications".into()
    }
    fn describe(&self) -> Vec<String> {
        let apps = &self.0.inputs.apps;
        if apps.is_empty() {
            return vec!["nothing: no applications configured".into()];
        }
        stop_lines(apps)
    }
    fn describe_undo(&self) -> Vec<String> {
        start_lines(&self.0.inputs.apps)
    }
    fn destructive(&self) -> bool {
        !self.0.inputs.apps.is_empty()
    }
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            if self.0.inputs.apps.is_empty() {
                return ctx.note("no applications configured");
            }
            stop_all(ctx, &self.0.inputs.apps).await
        })
    }
    fn undo<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move { start_all(ctx, &self.0.inputs.apps).await })
    }
}

impl Step for StartApps {
    fn id(&self) -> &'static str {
        "start_apps"
    }
    fn title(&self) -> String {
        "Start applications".into()
    }
    fn describe(&self) -> Vec<String> {
        let apps = &self.0.inputs.apps;
        if apps.is_empty() {
            return vec!["nothing: no applications configured".into()];
        }
        start_lines(apps)
    }
    /// Only a roll back after promotion undoes it: the applications leave the promoted
    /// server before it is stopped and put aside.
    fn describe_undo(&self) -> Vec<String> {
        stop_lines(&self.0.inputs.apps)
    }
    fn branch(&self) -> Branch {
        Branch::AfterPromote
    }
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            if self.0.inputs.apps.is_empty() {
                return ctx.note("no applications configured");
            }
            start_all(ctx, &self.0.inputs.apps).await
        })
    }
    fn undo<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move { stop_all(ctx, &self.0.inputs.apps).await })
    }
}
