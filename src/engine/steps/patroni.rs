//! Pausing Patroni's management of the node. With control = pg_ctl there is none.

use super::Recovery;
use crate::engine::step::{Step, StepCtx, StepFuture};
use std::sync::Arc;

pub struct Patroni(pub Arc<Recovery>);

impl Step for Patroni {
    fn id(&self) -> &'static str {
        "patroni"
    }

    fn title(&self) -> String {
        "Patroni: pause management".into()
    }

    fn describe(&self) -> Vec<String> {
        vec!["nothing: control = pg_ctl, the node is not managed by Patroni".into()]
    }

    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            ctx.note(format!(
                "{}: not managed by Patroni (control = pg_ctl)",
                self.0.inputs.server.name
            ))
        })
    }
}
