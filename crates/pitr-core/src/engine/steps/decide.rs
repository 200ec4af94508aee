//! The operator's decision at the target, and the promotion when it is "keep".

use super::Recovery;
use crate::engine::event::{Decision, Question};
use crate::engine::inputs::FinalAction;
use crate::engine::step::{fail, Branch, Step, StepCtx, StepError, StepFuture};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Decide(pub Arc<Recovery>);
pub struct Promote(pub Arc<Recovery>);

impl Step for Decide {
    fn id(&self) -> &'static str {
        "decide"
    }
    fn title(&self) -> String {
        "Decide: promote or roll back".into()
    }
    fn describe(&self) -> Vec<String> {
        match self.0.inputs.action {
            FinalAction::Pause => vec![
                "ask the operator: promote, or roll back (undo the steps above in reverse)".into(),
            ],
            FinalAction::Promote => {
                vec!["promote without asking (--action promote), verification having passed".into()]
            }
        }
    }
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            // A resume's --action stands over the action the run was started with.
            let wanted = ctx.get(crate::engine::facts::ACTION_OVERRIDE);
            let promote = match wanted.as_deref() {
                Some("promote") => true,
                Some("roll_back") => {
                    ctx.set(
                        crate::engine::facts::DECISION,
                        &crate::engine::facts::Decided::RollBack,
                    );
                    return ctx.note("rolling back as asked on resume (--action roll-back)");
                }
                Some(_) => false,
                None => r.inputs.action == FinalAction::Promote,
            };
            if promote {
                ctx.set(
                    crate::engine::facts::DECISION,
                    &crate::engine::facts::Decided::Promote,
                );
                return ctx.note("promoting as asked (--action promote)");
            }
            let prompt = format!(
                "Server {} is {} at {}. Promote keeps this state; roll back puts everything back as it was.",
                r.inputs.server.name,
                if r.inputs.target.pauses() { "paused" } else { "recovered" },
                r.inputs.target
            );
            let answer = ctx
                .ask(
                    Question::PromoteOrRollBack,
                    prompt,
                    vec![Decision::Promote, Decision::RollBack, Decision::Abort],
                )
                .await;
            match answer {
                Decision::Promote => ctx.set(
                    crate::engine::facts::DECISION,
                    &crate::engine::facts::Decided::Promote,
                ),
                Decision::RollBack => ctx.set(
                    crate::engine::facts::DECISION,
                    &crate::engine::facts::Decided::RollBack,
                ),
                _ => return Err(StepError::Aborted),
            }
            Ok(())
        })
    }
}

impl Step for Promote {
    fn id(&self) -> &'static str {
        "promote"
    }
    fn title(&self) -> String {
        "Promote: end recovery, start a new timeline".into()
    }
    fn describe(&self) -> Vec<String> {
        vec![
            "SQL select pg_wal_replay_resume()  (when paused)".into(),
            "wait until select pg_is_in_recovery() is false".into(),
            format!(
                "remove this run's recovery settings from {}/postgresql.auto.conf (journaled)",
                self.0.data_dir().display()
            ),
        ]
    }
    fn destructive(&self) -> bool {
        !self.0.side()
    }
    fn branch(&self) -> Branch {
        Branch::AfterPromote
    }
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let dsn = self.0.recovered_dsn();
            let sql = ctx.ports.sql.clone();
            let status = sql.replay_status(&dsn).await?;
            if !status.in_recovery {
                // `--latest` promotes itself at the end of WAL: its recovery settings must
                // leave postgresql.auto.conf all the same (they stay in the journal).
                super::config::WriteConfig(self.0.clone()).clean_after_promotion(ctx)?;
                return ctx.note("already out of recovery");
            }
            ctx.sql_action(&dsn, "select pg_wal_replay_resume()")
                .await?;
            let deadline = Instant::now() + Duration::from_secs(300);
            loop {
                if let Ok(s) = sql.replay_status(&dsn).await {
                    if !s.in_recovery {
                        break;
                    }
                }
                if Instant::now() > deadline {
                    return fail(
                        "still in recovery 300 s after pg_wal_replay_resume(); see the server log",
                    );
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let tli = sql
                .scalar(&dsn, "select timeline_id from pg_control_checkpoint()")
                .await
                .ok()
                .flatten();
            ctx.set(crate::engine::facts::PROMOTED, &true);
            super::config::WriteConfig(self.0.clone()).clean_after_promotion(ctx)?;
            ctx.note(format!(
                "promoted; read-write now (checkpoint timeline {})",
                tli.unwrap_or_default()
            ))
        })
    }
}
