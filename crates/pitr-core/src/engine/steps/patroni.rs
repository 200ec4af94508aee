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

use super::Recovery;
use crate::domain::patroni::{ClusterState, Member};
use crate::engine::event::{Decision, Question};
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

fn spec(r: &Recovery) -> Option<&PatroniSpec> {
    r.inputs.server.patroni.as_ref()
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
        vec![
            format!("GET {}/cluster  (members, roles, pause state)", s.url),
            "if this node is the leader: ask the operator to type `leader`".into(),
            format!(
                "PATCH {}/config {{\"pause\": true}}  (unless already paused)",
                s.url
            ),
            format!(
                "wait until every member's GET /patroni reports the pause ({} s)",
                PAUSE_WAIT.as_secs()
            ),
        ]
    }

    fn describe_undo(&self) -> Vec<String> {
        match spec(&self.0) {
            None => Vec::new(),
            Some(s) => vec![format!(
                "PATCH {}/config {{\"pause\": false}}  (only if the run paused the cluster)",
                s.url
            )],
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
            if me.role.is_leader() {
                self.confirm_leader(ctx, &me.name).await?;
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
            wait_for_members(ctx, &cluster, true).await
        })
    }

    fn undo<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let Some(s) = spec(&self.0) else {
                return Ok(());
            };
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

impl Step for Rejoin {
    fn id(&self) -> &'static str {
        "patroni_rejoin"
    }

    fn title(&self) -> String {
        "Patroni: reinitialise the other members, resume".into()
    }

    fn describe(&self) -> Vec<String> {
        let url = spec(&self.0).map(|s| s.url.clone()).unwrap_or_default();
        vec![
            "SQL select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)  (the new timeline)"
                .into(),
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
        ]
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

    #[test]
    fn the_plan_of_a_patroni_member_rejoins_after_promotion() {
        let r = recovery();
        let plan = crate::engine::recovery::build_plan(&r.inputs, "r1");
        let ids: Vec<&str> = plan.steps.iter().map(|s| s.id()).collect();
        let at = |id: &str| ids.iter().position(|i| *i == id).unwrap();
        assert!(at("patroni") < at("stop_server"));
        assert!(at("promote") < at("patroni_rejoin"));
        assert!(Patroni(r.clone()).describe()[2].contains("PATCH http://127.0.0.1:6432/config"));
        assert!(Patroni(r).destructive());
    }
}
