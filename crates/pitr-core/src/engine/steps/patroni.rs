//! Patroni around a recovery. Before: pause the cluster (maintenance mode: Patroni then
//! neither stops, starts, fails over nor rebuilds anything) and wait until every member has
//! seen it, so that `pg_ctl stop` on the node is safe. After promotion: the recovered node
//! takes the leader key on its new timeline, the other members (still on the old timeline)
//! are reinitialised from it, and the cluster is resumed if it was running unpaused before.
//! A roll back resumes the cluster only if the run paused it.
//!
//! Order after promotion: reinitialise first, then resume. Reinitialising needs a leader,
//! which the promoted node becomes while paused (Patroni lets a running primary take a free
//! leader key in maintenance mode); resuming last means no member acts on the old timeline
//! in between.

use super::{patroni_daemon, Recovery};
use crate::domain::patroni::{ClusterState, Member};
use crate::engine::event::{Decision, Question};
use crate::engine::facts;
use crate::engine::inputs::PatroniSpec;
use crate::engine::step::{fail, Branch, Step, StepCtx, StepError, StepFuture};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Patroni(pub Arc<Recovery>);
pub struct Rejoin(pub Arc<Recovery>);

const PAUSE_WAIT: Duration = Duration::from_secs(120);
const LEADER_WAIT: Duration = Duration::from_secs(120);
const REJOIN_WAIT: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(500);
/// maximum_lag_on_failover during the handover: any lag (the largest integer JSON keeps).
const NO_LAG_LIMIT: u64 = (1 << 53) - 1;
const HANDOVER_TRIES: u32 = 3;

fn spec(r: &Recovery) -> Option<&PatroniSpec> {
    r.inputs.server.patroni.as_ref()
}

/// Why a replica whose Patroni the run cannot stop is not recovered.
pub fn replica_refusal(server: &str, me: &str, leader: Option<&str>) -> String {
    let leader_words = leader
        .map(|l| format!("the leader {l}"))
        .unwrap_or_else(|| "no member (the cluster has no leader now)".into());
    format!(
        "{server} (Patroni member {me}) is a replica of {leader_words}: Patroni, even paused, would rewrite the restored node's configuration and restart it as a standby of the leader. Set patroni_stop and patroni_start for {server} (e.g. \"systemctl stop patroni\" / \"systemctl start patroni\") so the run stops Patroni on this node for the recovery, or recover the leader instead"
    )
}

/// A replica is recovered only with Patroni stopped on it, and says what becomes of the
/// leader.
fn replica_plan(
    ctx: &mut StepCtx,
    r: &Recovery,
    s: &PatroniSpec,
    me: &str,
    leader: Option<&str>,
) -> Result<(), StepError> {
    if s.daemon.is_none() {
        return fail(replica_refusal(&r.inputs.server.name, me, leader));
    }
    let fate = match leader {
        Some(l) => format!(
            "{l} stays the leader and keeps serving clients until {me} is promoted; then it hands its leader key over to {me} (POST /failover, it demotes itself) and is reinitialised from {me} onto the new timeline, losing what it wrote after the target (the safety dump holds it)"
        ),
        None => format!("no member holds the leader key; {me} takes it once promoted"),
    };
    ctx.note(format!("{me} is a replica: {fate}"))
}

fn others<'a>(c: &'a ClusterState, me: &str) -> Vec<&'a Member> {
    c.members.iter().filter(|m| m.name != me).collect()
}

fn listing(c: &ClusterState) -> String {
    c.members
        .iter()
        .map(|m| {
            format!(
                "{} ({}, {}, timeline {})",
                m.name,
                m.role.as_str(),
                m.state,
                m.timeline
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "?".into())
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Waits until every member that answers reports the pause state `paused` in its own
/// `/patroni` (the cluster's `/config` changes at once; each member sees it on its next loop).
async fn wait_for_members(
    ctx: &mut StepCtx,
    c: &ClusterState,
    paused: bool,
) -> Result<(), StepError> {
    let deadline = Instant::now() + PAUSE_WAIT;
    let api = ctx.ports.patroni.clone();
    for m in &c.members {
        let Some(url) = m.api_base() else {
            ctx.note(format!("{}: no REST URL in /cluster; not checked", m.name))?;
            continue;
        };
        loop {
            match api.node(&url).await {
                Ok(n) if n.paused == paused => break,
                Ok(_) => {}
                Err(e) if Instant::now() > deadline => {
                    ctx.note(format!("{} does not answer ({e}); not checked", m.name))?;
                    break;
                }
                Err(_) => {}
            }
            if Instant::now() > deadline {
                return fail(format!(
                    "member {} has not seen the cluster {} after {:?} ({url}/patroni)",
                    m.name,
                    if paused { "paused" } else { "resumed" },
                    PAUSE_WAIT
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }
    ctx.note(format!(
        "every member reports the cluster {}",
        if paused { "paused" } else { "resumed" }
    ))
}

impl Patroni {
    async fn confirm_leader(&self, ctx: &mut StepCtx, member: &str) -> Result<(), StepError> {
        let server = self.0.inputs.server.name.clone();
        if spec(&self.0).is_some_and(|s| s.confirm_leader) {
            return ctx.note(format!(
                "{server} ({member}) is the cluster's leader; recovering it was confirmed up front"
            ));
        }
        let mut prompt = format!(
            "{server} (Patroni member {member}) is the cluster's current LEADER. Recovering it takes the primary away from every client until the recovered node is promoted, and every other member will then be rebuilt from it. Type `leader` to recover the leader, or abort and recover a replica instead."
        );
        loop {
            let q = Question::ConfirmLeader {
                server: server.clone(),
                member: member.to_string(),
            };
            match ctx
                .ask(
                    q,
                    prompt.clone(),
                    vec![Decision::Confirm(String::new()), Decision::Abort],
                )
                .await
            {
                Decision::Confirm(t) if t.trim() == "leader" => {
                    return ctx.note(format!("recovering the leader {member}: confirmed"));
                }
                Decision::Confirm(t) => {
                    prompt = format!(
                        "`{t}` is not `leader`. {server} is the cluster's leader: type `leader` to recover it, or abort."
                    );
                }
                _ => return Err(StepError::Aborted),
            }
        }
    }
}

impl Step for Patroni {
    fn id(&self) -> &'static str {
        "patroni"
    }

    fn title(&self) -> String {
        match spec(&self.0) {
            None => "Patroni: pause management".into(),
            Some(_) => "Patroni: pause the cluster (maintenance mode)".into(),
        }
    }

    fn describe(&self) -> Vec<String> {
        let Some(s) = spec(&self.0) else {
            return vec!["nothing: control = pg_ctl, the node is not managed by Patroni".into()];
        };
        let mut lines = vec![
            format!("GET {}/cluster  (members, roles, pause state, the current leader)", s.url),
            "if this node is the leader: ask the operator to type `leader`".into(),
            match &s.daemon {
                Some(_) => "if this node is a replica: the current leader keeps serving clients until this node is promoted; then it hands its leader key over to this node (POST /failover) and is reinitialised from it".into(),
                None => "if this node is a replica: refused (recovering a replica needs patroni_stop and patroni_start: a paused Patroni still restarts a recovering replica as a standby)".into(),
            },
            format!(
                "PATCH {}/config {{\"pause\": true}}  (unless already paused)",
                s.url
            ),
            format!(
                "wait until every member's GET /patroni reports the pause ({} s)",
                PAUSE_WAIT.as_secs()
            ),
        ];
        if let Some(d) = &s.daemon {
            lines.extend(patroni_daemon::stop_lines(d, &s.url));
        }
        lines
    }

    fn describe_undo(&self) -> Vec<String> {
        match spec(&self.0) {
            None => Vec::new(),
            Some(s) => {
                let mut lines = match &s.daemon {
                    Some(d) => patroni_daemon::start_lines(d, &s.url),
                    None => Vec::new(),
                };
                lines.push(format!(
                    "PATCH {}/config {{\"pause\": false}}  (only if the run paused the cluster)",
                    s.url
                ));
                lines
            }
        }
    }

    fn destructive(&self) -> bool {
        spec(&self.0).is_some()
    }

    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            let Some(s) = spec(r) else {
                return ctx.note(format!(
                    "{}: not managed by Patroni (control = pg_ctl)",
                    r.inputs.server.name
                ));
            };
            let api = ctx.ports.patroni.clone();
            let cluster = api.cluster(&s.url).await?;
            ctx.note(format!("cluster: {}", listing(&cluster)))?;
            let Some(me) = cluster.find_node(&s.url, r.inputs.server.port).cloned() else {
                return fail(format!(
                    "no member of the cluster behind {} has that REST URL or PostgreSQL port {}: check patroni_url of {}",
                    s.url, r.inputs.server.port, r.inputs.server.name
                ));
            };
            // A resumed run must not overwrite what the cluster was like before the first try.
            if ctx.get(crate::engine::facts::PATRONI_WAS_PAUSED).is_none() {
                ctx.set(crate::engine::facts::PATRONI_WAS_PAUSED, &cluster.paused);
            }
            ctx.set(crate::engine::facts::PATRONI_MEMBER, &me.name);
            let leader = cluster.leader().map(|l| l.name.clone());
            if me.role.is_leader() {
                self.confirm_leader(ctx, &me.name).await?;
            } else {
                replica_plan(ctx, r, s, &me.name, leader.as_deref())?;
            }
            if let Some(l) = &leader {
                if ctx.get(facts::PATRONI_LEADER).is_none() {
                    ctx.set(facts::PATRONI_LEADER, l);
                }
            }
            if cluster.paused {
                ctx.note("the cluster is already paused; it stays paused after the run")?;
            } else {
                ctx.call(
                    format!("PATCH {}/config {{\"pause\": true}}", s.url),
                    api.set_pause(&s.url, true),
                )
                .await?;
            }
            wait_for_members(ctx, &cluster, true).await?;
            match &s.daemon {
                Some(d) => patroni_daemon::stop(ctx, d, &s.url).await,
                None => Ok(()),
            }
        })
    }

    fn undo<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let Some(s) = spec(&self.0) else {
                return Ok(());
            };
            patroni_daemon::start_if_stopped(ctx, s.daemon.as_ref(), &s.url).await?;
            if ctx.get(crate::engine::facts::PATRONI_WAS_PAUSED) != Some(false) {
                return ctx.note("the cluster was paused before the run: left paused");
            }
            let api = ctx.ports.patroni.clone();
            ctx.call(
                format!("PATCH {}/config {{\"pause\": false}}", s.url),
                api.set_pause(&s.url, false),
            )
            .await?;
            let cluster = api.cluster(&s.url).await?;
            wait_for_members(ctx, &cluster, false).await
        })
    }
}

impl Rejoin {
    /// The recovered node's timeline, from the WAL it writes now.
    async fn new_timeline(&self, ctx: &mut StepCtx) -> Result<u32, StepError> {
        let dsn = self.0.recovered_dsn();
        let hex = ctx
            .ports
            .sql
            .scalar(
                &dsn,
                "select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)",
            )
            .await?
            .unwrap_or_default();
        u32::from_str_radix(&hex, 16)
            .map_err(|_| StepError::Failed(format!("cannot read the new timeline from `{hex}`")))
    }

    async fn wait_until(
        &self,
        ctx: &mut StepCtx,
        url: &str,
        limit: Duration,
        what: &str,
        done: impl Fn(&ClusterState) -> bool,
    ) -> Result<ClusterState, StepError> {
        let api = ctx.ports.patroni.clone();
        let deadline = Instant::now() + limit;
        loop {
            let last = match api.cluster(url).await {
                Ok(c) if done(&c) => return Ok(c),
                Ok(c) => listing(&c),
                Err(e) => e.message,
            };
            if Instant::now() > deadline {
                return fail(format!(
                    "{what}: not reached after {} s; last seen: {last}",
                    limit.as_secs()
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Rejoin {
    /// The leader of before the run gives its key to the promoted node. Paused, Patroni
    /// moves the key only by a failover to a named candidate: the old leader demotes itself
    /// (its PostgreSQL stopped, its key released) and the candidate, a running primary,
    /// takes the free key. The old leader is then reinitialised like every other member.
    async fn hand_over(
        &self,
        ctx: &mut StepCtx,
        url: &str,
        me: &str,
        old: &str,
    ) -> Result<(), StepError> {
        let cluster = self
            .wait_until(
                ctx,
                url,
                LEADER_WAIT,
                &format!("{me} listed as a running member"),
                |c| c.member(me).is_some_and(|m| m.state == "running"),
            )
            .await?;
        if cluster.leader().is_some_and(|l| l.name == me) {
            return ctx.note(format!("{me} already holds the leader key"));
        }
        let api = ctx.ports.patroni.clone();
        // The old leader refuses a candidate lagging it by more than maximum_lag_on_failover,
        // and a node recovered to an earlier instant lags it by all the WAL written since:
        // lifted for the handover, put back right after it, whatever its outcome.
        let config = api.config(url).await?;
        let loop_wait = config
            .get("loop_wait")
            .and_then(|v| v.as_u64())
            .unwrap_or(10);
        let lag_before = config
            .get("maximum_lag_on_failover")
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        let lifted = serde_json::json!({ "maximum_lag_on_failover": NO_LAG_LIMIT });
        ctx.call(
            format!("PATCH {url}/config {lifted}  (for the handover only; was {lag_before})"),
            api.patch_config(url, &lifted),
        )
        .await?;
        let mut outcome = Err(StepError::Failed("no failover tried".into()));
        for attempt in 1..=HANDOVER_TRIES {
            // Each member applies a configuration change on its next loop.
            tokio::time::sleep(Duration::from_secs(loop_wait + 1)).await;
            outcome = ctx
                .call(
                    format!("POST {url}/failover {{\"candidate\": \"{me}\"}}  (the leader {old} hands over to {me}; try {attempt})"),
                    api.failover(url, me),
                )
                .await;
            if outcome.is_ok() {
                break;
            }
        }
        let restore = serde_json::json!({ "maximum_lag_on_failover": lag_before });
        ctx.call(
            format!("PATCH {url}/config {restore}  (as before the handover)"),
            api.patch_config(url, &restore),
        )
        .await?;
        let answer = outcome.map_err(|e| {
            StepError::Failed(format!(
                "{old} did not hand the leader key over to {me} after {HANDOVER_TRIES} tries ({e}); its Patroni log says why. The cluster stays paused, {me} runs as a primary without the key: hand over by hand (patronictl failover --candidate {me}) and resume this run"
            ))
        })?;
        ctx.note(format!("Patroni: {}", answer.trim()))
    }
}

impl Step for Rejoin {
    fn id(&self) -> &'static str {
        "patroni_rejoin"
    }

    fn title(&self) -> String {
        "Patroni: reinitialise the other members, resume".into()
    }

    fn describe(&self) -> Vec<String> {
        let url = spec(&self.0).map(|s| s.url.clone()).unwrap_or_default();
        let mut lines = vec![
            "SQL select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)  (the new timeline)"
                .into(),
        ];
        if let Some(d) = spec(&self.0).and_then(|s| s.daemon.as_ref()) {
            lines.extend(patroni_daemon::start_lines(d, &url));
        }
        lines.extend([
            format!("if this node was a replica: POST {url}/failover {{\"candidate\": <this member>}}  (the old leader demotes itself and releases the leader key)"),
            format!(
                "wait until GET {url}/cluster shows this node as leader on the new timeline ({} s)",
                LEADER_WAIT.as_secs()
            ),
            "POST <member>/reinitialize {\"force\": true}  on every other member (old timeline)"
                .into(),
            format!("PATCH {url}/config {{\"pause\": false}}  (if the run paused the cluster)"),
            format!(
                "wait until every member runs on the new timeline ({} s)",
                REJOIN_WAIT.as_secs()
            ),
        ]);
        lines
    }

    fn destructive(&self) -> bool {
        true
    }

    fn branch(&self) -> Branch {
        Branch::AfterPromote
    }

    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let Some(s) = spec(&self.0) else {
                return Ok(());
            };
            let url = s.url.clone();
            let tli = self.new_timeline(ctx).await?;
            let me = match ctx.get(crate::engine::facts::PATRONI_MEMBER) {
                Some(m) => m,
                None => return fail("the Patroni step recorded no member name for this node"),
            };
            ctx.note(format!("recovered node {me} writes timeline {tli}"))?;
            patroni_daemon::start_if_stopped(ctx, s.daemon.as_ref(), &url).await?;
            if let Some(old) = ctx.get(facts::PATRONI_LEADER).filter(|l| *l != me) {
                self.hand_over(ctx, &url, &me, &old).await?;
            }
            let leader_me = |c: &ClusterState| {
                c.leader()
                    .is_some_and(|l| l.name == me && l.timeline.is_none_or(|t| t == tli))
            };
            let cluster = self
                .wait_until(
                    ctx,
                    &url,
                    LEADER_WAIT,
                    &format!("{me} as leader"),
                    leader_me,
                )
                .await?;
            ctx.note(format!("{me} holds the leader key: {}", listing(&cluster)))?;
            let api = ctx.ports.patroni.clone();
            let stale: Vec<Member> = others(&cluster, &me).into_iter().cloned().collect();
            for m in &stale {
                let Some(base) = m.api_base() else {
                    return fail(format!(
                        "member {} has no REST URL in /cluster: reinitialise it by hand (patronictl reinit <scope> {} --force)",
                        m.name, m.name
                    ));
                };
                let answer = ctx
                    .call(
                        format!("POST {base}/reinitialize {{\"force\": true}}  ({})", m.name),
                        api.reinitialize(&base),
                    )
                    .await?;
                ctx.note(format!("{}: {}", m.name, answer.trim()))?;
            }
            let was_paused = ctx
                .get(crate::engine::facts::PATRONI_WAS_PAUSED)
                .unwrap_or(true);
            if was_paused {
                return ctx.note(
                    "the cluster was paused before the run: left paused; the reinitialised members start when you resume it",
                );
            }
            ctx.call(
                format!("PATCH {url}/config {{\"pause\": false}}"),
                api.set_pause(&url, false),
            )
            .await?;
            let names: Vec<String> = stale.iter().map(|m| m.name.clone()).collect();
            let rejoined = |c: &ClusterState| {
                !c.paused
                    && names.iter().all(|n| {
                        c.member(n).is_some_and(|m| {
                            m.timeline == Some(tli)
                                && matches!(m.state.as_str(), "running" | "streaming")
                        })
                    })
            };
            let cluster = self
                .wait_until(
                    ctx,
                    &url,
                    REJOIN_WAIT,
                    &format!("every member on timeline {tli}"),
                    rejoined,
                )
                .await?;
            ctx.set(crate::engine::facts::PATRONI_TIMELINE, &tli);
            ctx.note(format!("cluster resumed: {}", listing(&cluster)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::backup::{Backup, BackupFormat};
    use crate::domain::lsn::Lsn;
    use crate::domain::patroni::{Lag, NodeStatus, Role};
    use crate::domain::segment::SegmentSize;
    use crate::domain::target::RecoveryTarget;
    use crate::domain::timeline::TimelineId;
    use crate::engine::event::{EngineEvent, RunStatus};
    use crate::engine::plan::Plan;
    use crate::engine::ports::{PatroniApi, PortError, Ports};
    use crate::engine::recovery::{FinalAction, RecoveryInputs, RestoreMode, ServerSpec};
    use crate::engine::runner::Runner;
    use futures::future::BoxFuture;
    use std::sync::Mutex;

    /// A leader `pg1` (this node) and a replica; pausing takes effect at once.
    #[derive(Default)]
    struct Cluster {
        paused: Mutex<bool>,
        calls: Mutex<Vec<String>>,
    }

    impl PatroniApi for Cluster {
        fn cluster<'a>(&'a self, _u: &'a str) -> BoxFuture<'a, Result<ClusterState, PortError>> {
            let member = |name: &str, role: Role, port: u16| Member {
                name: name.into(),
                role,
                state: "running".into(),
                timeline: Some(1),
                lag: Lag::None,
                host: Some("127.0.0.1".into()),
                port: Some(port),
                api_url: Some(format!("http://127.0.0.1:{}/patroni", port + 1000)),
            };
            let paused = *self.paused.lock().unwrap();
            Box::pin(async move {
                Ok(ClusterState {
                    members: vec![
                        member("pg1", Role::Leader, 5432),
                        member("pg2", Role::Replica, 5433),
                    ],
                    paused,
                })
            })
        }
        fn node<'a>(&'a self, _u: &'a str) -> BoxFuture<'a, Result<NodeStatus, PortError>> {
            let paused = *self.paused.lock().unwrap();
            Box::pin(async move {
                Ok(NodeStatus {
                    name: None,
                    scope: None,
                    state: "running".into(),
                    role: Role::Replica,
                    timeline: Some(1),
                    paused,
                    server_version: None,
                    system_identifier: None,
                })
            })
        }
        fn set_pause<'a>(&'a self, u: &'a str, p: bool) -> BoxFuture<'a, Result<(), PortError>> {
            *self.paused.lock().unwrap() = p;
            self.calls.lock().unwrap().push(format!("pause={p} {u}"));
            Box::pin(async { Ok(()) })
        }
        fn reinitialize<'a>(&'a self, u: &'a str) -> BoxFuture<'a, Result<String, PortError>> {
            self.calls.lock().unwrap().push(format!("reinit {u}"));
            Box::pin(async { Ok("reinitialize started".into()) })
        }
        fn config<'a>(
            &'a self,
            _u: &'a str,
        ) -> BoxFuture<'a, Result<serde_json::Value, PortError>> {
            Box::pin(async { Ok(serde_json::json!({})) })
        }
        fn patch_config<'a>(
            &'a self,
            u: &'a str,
            p: &'a serde_json::Value,
        ) -> BoxFuture<'a, Result<(), PortError>> {
            self.calls.lock().unwrap().push(format!("patch {p} {u}"));
            Box::pin(async { Ok(()) })
        }
        fn failover<'a>(
            &'a self,
            u: &'a str,
            c: &'a str,
        ) -> BoxFuture<'a, Result<String, PortError>> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("failover to {c} {u}"));
            Box::pin(async { Ok("Successfully failed over".into()) })
        }
    }

    struct Fails;
    impl Step for Fails {
        fn id(&self) -> &'static str {
            "next"
        }
        fn title(&self) -> String {
            "next".into()
        }
        fn describe(&self) -> Vec<String> {
            vec![]
        }
        fn run<'a>(&'a self, _ctx: &'a mut StepCtx) -> StepFuture<'a> {
            Box::pin(async { fail("scripted failure") })
        }
    }

    fn recovery() -> Arc<Recovery> {
        let server = ServerSpec {
            name: "db1".into(),
            pgdata: "/d".into(),
            bin_dir: "/b".into(),
            port: 5432,
            run_as: None,
            dsn: String::new(),
            socket_dir: None,
            service: Default::default(),
            config_file: None,
            patroni: Some(PatroniSpec {
                url: "http://127.0.0.1:6432".into(),
                confirm_leader: false,
                daemon: None,
            }),
        };
        let backup = Backup {
            id: "b".into(),
            label: None,
            format: BackupFormat::Plain,
            location: "/b".into(),
            timeline: TimelineId(1),
            start_lsn: Lsn(0),
            stop_lsn: Lsn(0),
            start_time: chrono::Utc::now(),
            stop_time: chrono::Utc::now(),
            stop_time_exact: false,
            segment_size: SegmentSize::DEFAULT,
            system_identifier: None,
            size_bytes: None,
            manifest_wal_ranges: vec![],
            has_manifest: false,
            pg_major: None,
            incremental: None,
        };
        Arc::new(Recovery::new(
            RecoveryInputs {
                server,
                backup,
                restore_command: String::new(),
                target: RecoveryTarget::Immediate,
                action: FinalAction::Pause,
                mode: RestoreMode::InPlace,
                apps: vec![],
                checks: vec![],
                safety_dump_dir: "/s".into(),
                journal_dir: "/j".into(),
                time_column: None,
                replay_timeout_secs: 1,
                role: Default::default(),
                tool_restore: None,
                new_host: false,
                chain: vec![],
                wal_version: None,
                timeline: None,
                prediction: None,
                backup_check: Default::default(),
                replay_stall_secs: 60,
                wal_spool: None,
            },
            "r1",
        ))
    }

    #[tokio::test]
    async fn the_leader_needs_its_word_and_a_roll_back_resumes_the_cluster() {
        let dir = tempfile::tempdir().unwrap();
        let api = Arc::new(Cluster::default());
        let mut ports: Ports = crate::engine::fakes::ports();
        ports.patroni = api.clone();
        let steps: Vec<Box<dyn Step>> = vec![Box::new(Patroni(recovery())), Box::new(Fails)];
        let plan = Plan::new(
            "r1".into(),
            "db1".into(),
            "t".into(),
            Default::default(),
            steps,
        );
        let opts = crate::engine::fakes::run_options(dir.path(), Some("db1"));
        let (runner, mut handle) = Runner::start(plan, ports, opts).unwrap();
        let task = tokio::spawn(runner.run());
        let mut prompts = Vec::new();
        while let Some(e) = handle.events.recv().await {
            match e {
                EngineEvent::NeedsDecision {
                    question: Question::ConfirmLeader { .. },
                    prompt,
                    ..
                } => {
                    let typed = if prompts.is_empty() { "yes" } else { "leader" };
                    prompts.push(prompt);
                    handle
                        .decisions
                        .send(Decision::Confirm(typed.into()))
                        .unwrap();
                }
                EngineEvent::NeedsDecision { .. } => {
                    handle.decisions.send(Decision::RollBack).unwrap();
                }
                EngineEvent::RunFinished { .. } => break,
                _ => {}
            }
        }
        assert_eq!(task.await.unwrap(), RunStatus::RolledBack);
        assert_eq!(prompts.len(), 2, "asked again after a wrong answer");
        assert!(prompts[0].contains("LEADER") && prompts[1].contains("`yes` is not `leader`"));
        assert_eq!(
            *api.calls.lock().unwrap(),
            [
                "pause=true http://127.0.0.1:6432",
                "pause=false http://127.0.0.1:6432"
            ]
        );
    }

    #[tokio::test]
    async fn a_replica_whose_patroni_cannot_be_stopped_is_refused_before_the_pause() {
        let dir = tempfile::tempdir().unwrap();
        let api = Arc::new(Cluster::default());
        let mut ports: Ports = crate::engine::fakes::ports();
        ports.patroni = api.clone();
        let mut inputs = recovery().inputs.clone();
        inputs.server.port = 5433;
        if let Some(p) = inputs.server.patroni.as_mut() {
            p.url = "http://127.0.0.1:6433".into();
        }
        let r = Arc::new(Recovery::new(inputs, "r1"));
        let steps: Vec<Box<dyn Step>> = vec![Box::new(Patroni(r))];
        let plan = Plan::new(
            "r1".into(),
            "db1".into(),
            "t".into(),
            Default::default(),
            steps,
        );
        let opts = crate::engine::fakes::run_options(dir.path(), Some("db1"));
        let (runner, mut handle) = Runner::start(plan, ports, opts).unwrap();
        let task = tokio::spawn(runner.run());
        let mut error = None;
        while let Some(e) = handle.events.recv().await {
            match e {
                EngineEvent::StepFailed { error: e, .. } if error.is_none() => error = Some(e),
                EngineEvent::NeedsDecision { .. } => {
                    handle.decisions.send(Decision::Abort).unwrap();
                }
                EngineEvent::RunFinished { .. } => break,
                _ => {}
            }
        }
        task.await.unwrap();
        let error = error.expect("the step failed");
        assert!(
            error.contains("pg2) is a replica of the leader pg1") && error.contains("patroni_stop"),
            "{error}"
        );
        assert!(api.calls.lock().unwrap().is_empty(), "nothing was paused");
    }

    #[test]
    fn the_plan_of_a_patroni_member_rejoins_after_promotion() {
        let r = recovery();
        let plan = crate::engine::recovery::build_plan(&r.inputs, "r1");
        let ids: Vec<&str> = plan.steps.iter().map(|s| s.id()).collect();
        let at = |id: &str| ids.iter().position(|i| *i == id).unwrap();
        assert!(at("patroni") < at("stop_server"));
        assert!(at("promote") < at("patroni_rejoin"));
        assert!(Patroni(r.clone())
            .describe()
            .iter()
            .any(|l| l.starts_with("PATCH http://127.0.0.1:6432/config")));
        assert!(Patroni(r).destructive());
    }
}
