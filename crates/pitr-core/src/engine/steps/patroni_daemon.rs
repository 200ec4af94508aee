//! The Patroni daemon of the recovered node, stopped for the whole recovery and started
//! again after it (`patroni_stop` / `patroni_start`). Maintenance mode alone does not keep a
//! replica's Patroni off its node: while a leader exists, a paused Patroni still rewrites a
//! recovering replica's configuration, adds standby.signal and restarts it as a standby.
//! A stopped Patroni rewrites nothing; its REST API going silent is the proof that it stopped.

use crate::engine::facts;
use crate::engine::inputs::PatroniDaemon;
use crate::engine::ports::CommandSpec;
use crate::engine::step::{fail, StepCtx, StepError};
use std::time::{Duration, Instant};

const COMMAND_WAIT: Duration = Duration::from_secs(120);
const API_WAIT: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(500);

pub fn stop_lines(d: &PatroniDaemon, url: &str) -> Vec<String> {
    vec![
        format!("{}  (stop Patroni on this node)", d.stop),
        format!(
            "wait until GET {url}/patroni no longer answers ({} s): Patroni is down and cannot rewrite the node",
            API_WAIT.as_secs()
        ),
    ]
}

pub fn start_lines(d: &PatroniDaemon, url: &str) -> Vec<String> {
    vec![
        format!("{}  (start Patroni on this node again)", d.start),
        format!(
            "wait until GET {url}/patroni answers ({} s)",
            API_WAIT.as_secs()
        ),
    ]
}

pub async fn stop(ctx: &mut StepCtx, d: &PatroniDaemon, url: &str) -> Result<(), StepError> {
    ctx.exec_ok(&CommandSpec::shell(&d.stop).timeout(COMMAND_WAIT))
        .await?;
    ctx.set(facts::PATRONI_STOPPED, &true);
    let api = ctx.ports.patroni.clone();
    let deadline = Instant::now() + API_WAIT;
    while api.node(url).await.is_ok() {
        if Instant::now() > deadline {
            return fail(format!(
                "Patroni still answers at {url}/patroni {} s after `{}`: it may have been restarted by its service manager. Stop it so that it stays stopped (e.g. systemctl stop, not restart-on-failure), then retry",
                API_WAIT.as_secs(),
                d.stop
            ));
        }
        tokio::time::sleep(POLL).await;
    }
    ctx.note(format!(
        "Patroni is stopped on this node ({url} no longer answers): nothing rewrites the node until the run starts it again"
    ))
}

pub async fn start(ctx: &mut StepCtx, d: &PatroniDaemon, url: &str) -> Result<(), StepError> {
    ctx.exec_ok(&CommandSpec::shell(&d.start).timeout(COMMAND_WAIT))
        .await?;
    let api = ctx.ports.patroni.clone();
    let deadline = Instant::now() + API_WAIT;
    loop {
        match api.node(url).await {
            Ok(_) => break,
            Err(e) if Instant::now() > deadline => {
                return fail(format!(
                    "Patroni does not answer at {url}/patroni {} s after `{}`: {e}",
                    API_WAIT.as_secs(),
                    d.start
                ));
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
    ctx.set(facts::PATRONI_STOPPED, &false);
    ctx.note(format!("Patroni runs on this node again ({url} answers)"))
}

/// Starts Patroni again if this run stopped it and nothing has started it since.
pub async fn start_if_stopped(
    ctx: &mut StepCtx,
    d: Option<&PatroniDaemon>,
    url: &str,
) -> Result<(), StepError> {
    match d {
        Some(d) if ctx.get(facts::PATRONI_STOPPED) == Some(true) => start(ctx, d, url).await,
        _ => Ok(()),
    }
}
