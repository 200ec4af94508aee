//! What a plan asks the running fleet before it is offered: the Patroni cluster as it is now
//! and what the run does to its leader, and whether another primary already archives into
//! the repository. The command line and the console ask the same, so neither offers a run
//! the other would refuse.

use crate::config::Config;
use crate::engine::ports::Sql;
use crate::engine::recovery::RecoveryInputs;

/// The outlook lines for the plan, and the refusal when the run must not start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveChecks {
    pub notes: Vec<String>,
    pub refusal: Option<String>,
}

pub async fn ask(config: &Config, inputs: &RecoveryInputs) -> LiveChecks {
    let (notes, refusal) = patroni(inputs).await;
    let refusal = match refusal {
        Some(r) => Some(r),
        None => second_primary(config, inputs).await,
    };
    LiveChecks { notes, refusal }
}

/// `ask` from code that runs no async runtime (the command line).
pub fn ask_blocking(config: &Config, inputs: &RecoveryInputs) -> LiveChecks {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(ask(config, inputs)),
        Err(e) => LiveChecks {
            notes: vec![format!("the live checks could not run ({e})")],
            refusal: Some(format!(
                "the Patroni cluster and the other primaries could not be asked ({e})"
            )),
        },
    }
}

/// A REST API that does not answer is said, not fatal (the run's own Patroni step asks
/// again before changing anything).
async fn patroni(inputs: &RecoveryInputs) -> (Vec<String>, Option<String>) {
    let Some(spec) = &inputs.server.patroni else {
        return (Vec::new(), None);
    };
    match crate::adapters::patroni::RestClient::default()
        .cluster(&spec.url)
        .await
    {
        Ok(c) => {
            let (name, port) = (&inputs.server.name, inputs.server.port);
            (
                super::patroni::outlook(&c, name, spec, port),
                super::patroni::refusal(&c, name, spec, port),
            )
        }
        Err(e) => (
            vec![format!(
                "Patroni cluster: not reachable now ({e}); the run's Patroni step reads it before changing anything"
            )],
            None,
        ),
    }
}

/// Two primaries archiving into one repository (`planning::second_primary`); a neighbour
/// that does not answer is taken as not running.
async fn second_primary(config: &Config, inputs: &RecoveryInputs) -> Option<String> {
    let sql = crate::adapters::postgres::Postgres;
    for o in super::second_primary::neighbours(config, inputs) {
        let primary = sql
            .scalar(&o.dsn, "select pg_is_in_recovery()")
            .await
            .ok()
            .flatten()
            .is_some_and(|v| v == "f" || v == "false");
        if primary {
            return Some(super::second_primary::refusal(
                &inputs.server.name,
                &o.repository,
                &o.name,
            ));
        }
    }
    None
}
