//! A two-node Patroni cluster on a single etcd, all on 127.0.0.1: PITR of the LEADER
//! through the engine with control = patroni. The cluster is paused and resumed, the
//! recovered node comes back on a new timeline with the deleted rows, and the other member
//! is reinitialised onto that timeline. Skipped only when Patroni or etcd is not installed
//! (`scripts/install-fleet-ssh-patroni` installs them).
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod patroni_support;

use patroni_support::{as_pg, installed, wait, Fleet, Ports, BIN};
use pitr_console::adapters::catalog;
use pitr_console::adapters::fs::local_ports;
use pitr_console::adapters::patroni::cluster_members;
use pitr_console::config::model::{RepositoryConfig, RepositoryKind};
use pitr_console::domain::patroni::Role;
use pitr_console::domain::restore_command;
use pitr_console::domain::target::RecoveryTarget;
use pitr_console::engine::journal::{Body, JournalState};
use pitr_console::engine::recovery::{
    self, FinalAction, PatroniSpec, RecoveryInputs, RestoreMode, ServerSpec, TimeColumn,
};
use pitr_console::engine::{Decision, EngineEvent, Question, RunStatus};
use std::time::{Duration, Instant};

const PORTS: Ports = Ports {
    etcd_client: 55860,
    etcd_peer: 55861,
    rest: [55862, 55863, 55866],
    pg: [55864, 55865, 55867],
};

fn inputs(fleet: &Fleet, at: chrono::DateTime<chrono::Utc>) -> RecoveryInputs {
    let d = &fleet.dir;
    let repo = RepositoryConfig {
        name: "archive".into(),
        kind: RepositoryKind::Local,
        backups: Some(d.join("backups")),
        wal_archive: Some(d.join("archive")),
        ..RepositoryConfig::default()
    };
    let cat = catalog::load(&repo).unwrap();
    let backup = cat.backups.last().expect("the base backup").clone();
    RecoveryInputs {
        server: ServerSpec {
            name: "pg1".into(),
            pgdata: fleet.data_dir(0),
            bin_dir: BIN.into(),
            port: PORTS.pg[0],
            run_as: Some("postgres".into()),
            dsn: format!(
                "host={} port={} user=postgres dbname=postgres",
                d.display(),
                PORTS.pg[0]
            ),
            socket_dir: Some(d.clone()),
            service: Default::default(),
            config_file: None,
            patroni: Some(PatroniSpec {
                url: fleet.url(0),
                confirm_leader: false,
                daemon: None,
            }),
        },
        backup,
        restore_command: restore_command::local(&d.join("archive").display().to_string()),
        target: RecoveryTarget::Time {
            at,
            inclusive: true,
        },
        action: FinalAction::Pause,
        mode: RestoreMode::InPlace,
        apps: vec![],
        checks: vec![],
        safety_dump_dir: d.join("dumps"),
        journal_dir: d.join("journal"),
        time_column: Some(TimeColumn {
            table: "public.t".into(),
            column: "created_at".into(),
        }),
        replay_timeout_secs: 120,
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
    }
}

fn parse_time(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S%.f")
        .unwrap()
        .and_utc()
}

#[test]
fn pitr_of_the_leader_pauses_patroni_and_reinitialises_the_replica() {
    if !installed("patroni") || !installed("etcd") {
        println!("SKIPPED: patroni or etcd not installed; run scripts/install-fleet-ssh-patroni");
        return;
    }
    let t0 = Instant::now();
    let fleet = Fleet::start("pitr-fleet-patroni", PORTS, 2);
    println!("cluster up in {:?}", t0.elapsed());
    let d = fleet.dir.display();
    as_pg(&format!(
        "{BIN}/pg_basebackup -h 127.0.0.1 -p {} -U postgres -D {d}/backups/b1 -Fp -X stream -c fast",
        PORTS.pg[0]
    ));
    let q = |sql: &str| fleet.psql(PORTS.pg[0], sql);
    q("create table t(id int primary key, created_at timestamptz not null default clock_timestamp())");
    q("insert into t(id) select g from generate_series(1, 1000) g");
    std::thread::sleep(Duration::from_millis(1100));
    let at = parse_time(&q(
        "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
    ));
    std::thread::sleep(Duration::from_millis(1100));
    q("delete from t where id <= 400");
    let last = q("select pg_walfile_name(pg_current_wal_lsn())");
    q("select pg_switch_wal()");
    wait("WAL archived", Duration::from_secs(30), || {
        fleet.dir.join("archive").join(&last).exists()
    });
    assert_eq!(q("select count(*) from t"), "600");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let inputs = inputs(&fleet, at);
    let (mut asked_leader, mut seen_rows) = (None, None);
    let started = Instant::now();
    let (status, events, journal) = rt.block_on(async {
        let (runner, mut handle) =
            recovery::start(recovery::plan(&inputs), local_ports(), Some("pg1".into())).unwrap();
        let journal = handle.journal.clone();
        let task = tokio::spawn(runner.run());
        let mut events = Vec::new();
        while let Some(e) = handle.events.recv().await {
            if let EngineEvent::NeedsDecision {
                question, prompt, ..
            } = &e
            {
                let answer = match question {
                    Question::ConfirmLeader { member, .. } => {
                        asked_leader = Some((member.clone(), prompt.clone()));
                        Decision::Confirm("leader".into())
                    }
                    Question::PromoteOrRollBack => {
                        seen_rows = Some(fleet.psql(PORTS.pg[0], "select count(*) from t"));
                        Decision::Promote
                    }
                    _ => Decision::Abort,
                };
                handle.decisions.send(answer).unwrap();
            }
            let end = matches!(e, EngineEvent::RunFinished { .. });
            events.push(e);
            if end {
                break;
            }
        }
        (task.await.unwrap(), events, journal)
    });
    println!("PITR with Patroni took {:?}", started.elapsed());
    let errors: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::StepFailed { id, error, .. } => Some(format!("{id}: {error}")),
            _ => None,
        })
        .collect();
    assert_eq!(status, RunStatus::Promoted, "{errors:?}\n{}", fleet.logs());
    let (member, prompt) = asked_leader.expect("the leader confirmation was asked");
    assert_eq!(member, "pg1");
    assert!(prompt.contains("LEADER"), "{prompt}");
    assert_eq!(seen_rows.as_deref(), Some("1000"), "paused at the target");
    assert_eq!(q("select count(*) from t"), "1000");
    assert_eq!(q("select pg_is_in_recovery()"), "f");

    let (members, paused) = rt.block_on(cluster_members(&fleet.url(0))).unwrap();
    assert!(!paused, "the cluster is resumed");
    let tli: u32 = u32::from_str_radix(
        &q("select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"),
        16,
    )
    .unwrap();
    assert!(tli >= 2, "a new timeline: {tli}");
    let pg1 = members.iter().find(|m| m.name == "pg1").unwrap();
    let pg2 = members.iter().find(|m| m.name == "pg2").unwrap();
    assert_eq!(pg1.role, Role::Leader);
    assert_eq!(pg2.role, Role::Replica);
    assert_eq!(
        pg2.timeline,
        Some(tli),
        "the replica follows the new timeline"
    );
    assert_eq!(fleet.psql(PORTS.pg[1], "select count(*) from t"), "1000");

    let state = JournalState::read(&journal).unwrap();
    let actions: Vec<String> = state
        .records
        .iter()
        .filter_map(|r| match &r.body {
            Body::Action { action, .. } => Some(action.clone()),
            _ => None,
        })
        .collect();
    for want in [
        "PATCH http://127.0.0.1:55862/config {\"pause\": true}",
        "POST http://127.0.0.1:55863/reinitialize",
        "PATCH http://127.0.0.1:55862/config {\"pause\": false}",
    ] {
        assert!(
            actions.iter().any(|a| a.starts_with(want)),
            "`{want}` not journaled: {actions:#?}"
        );
    }
}
