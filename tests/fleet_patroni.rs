//! A two-node Patroni cluster on a single etcd, all on 127.0.0.1: PITR of the LEADER
//! through the engine with control = patroni. The cluster is paused and resumed, the
//! recovered node comes back on a new timeline with the deleted rows, and the other member
//! is reinitialised onto that timeline. Skipped only when Patroni or etcd is not installed
//! (`scripts/install-fleet-ssh-patroni` installs them).
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use pitr_console::adapters::catalog;
use pitr_console::adapters::fs::local_ports;
use pitr_console::adapters::patroni::{cluster_members, RestClient};
use pitr_console::config::model::{RepositoryConfig, RepositoryKind};
use pitr_console::domain::patroni::{ClusterState, Role};
use pitr_console::domain::restore_command;
use pitr_console::domain::target::RecoveryTarget;
use pitr_console::engine::journal::{Body, JournalState};
use pitr_console::engine::recovery::{
    self, FinalAction, PatroniSpec, RecoveryInputs, RestoreMode, ServerSpec, TimeColumn,
};
use pitr_console::engine::{Decision, EngineEvent, Question, RunStatus};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = "/usr/lib/postgresql/15/bin";
const ETCD_CLIENT: u16 = 55860;
const ETCD_PEER: u16 = 55861;
const REST: [u16; 2] = [55862, 55863];
const PG: [u16; 2] = [55864, 55865];

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        out.status.success(),
        "`{cmd}`: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn as_pg(cmd: &str) -> String {
    sh(&format!(
        "runuser -u postgres -- sh -c '{}'",
        cmd.replace('\'', r"'\''")
    ))
}

fn installed(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Every process whose parent chain leads to `root`, `root` included.
fn tree(root: u32) -> Vec<u32> {
    let mut parent: Vec<(u32, u32)> = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            parent.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parent.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found
}

/// etcd and two Patroni nodes; everything they started is killed on drop.
struct Fleet {
    dir: PathBuf,
    etcd: Option<Child>,
    nodes: Vec<Child>,
}

impl Fleet {
    fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.join(format!("pg{}", i + 1))
    }

    fn url(i: usize) -> String {
        format!("http://127.0.0.1:{}", REST[i])
    }

    fn start() -> Fleet {
        let dir = PathBuf::from(format!("/tmp/pitr-fleet-patroni-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["archive", "backups", "etcd", "journal"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        sh(&format!("chown -R postgres:postgres {}", dir.display()));
        let d = dir.display();
        let etcd = Command::new("etcd")
            .args(["--name", "fleet", "--data-dir"])
            .arg(dir.join("etcd"))
            .args([
                "--listen-client-urls",
                &format!("http://127.0.0.1:{ETCD_CLIENT}"),
                "--advertise-client-urls",
                &format!("http://127.0.0.1:{ETCD_CLIENT}"),
                "--listen-peer-urls",
                &format!("http://127.0.0.1:{ETCD_PEER}"),
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{ETCD_PEER}"),
                "--initial-cluster",
                &format!("fleet=http://127.0.0.1:{ETCD_PEER}"),
                "--enable-v2=true",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("etcd.log")).unwrap())
            .spawn()
            .unwrap();
        let mut fleet = Fleet {
            dir: dir.clone(),
            etcd: Some(etcd),
            nodes: Vec::new(),
        };
        wait("etcd listening", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", ETCD_CLIENT)).is_ok()
        });
        for i in 0..2 {
            let yml = format!(
                r#"scope: fleet
name: pg{n}
log:
  level: INFO
restapi:
  listen: 127.0.0.1:{rest}
  connect_address: 127.0.0.1:{rest}
etcd:
  host: 127.0.0.1:{ETCD_CLIENT}
bootstrap:
  dcs:
    ttl: 20
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1073741824
    postgresql:
      use_pg_rewind: false
      use_slots: false
      parameters:
        wal_level: replica
        archive_mode: "on"
        archive_command: "cp %p {d}/archive/%f"
        track_commit_timestamp: "on"
        max_wal_senders: 10
        wal_keep_size: 128MB
        fsync: "off"
postgresql:
  listen: 127.0.0.1:{pg}
  connect_address: 127.0.0.1:{pg}
  data_dir: {d}/pg{n}
  bin_dir: {BIN}
  pgpass: {d}/pgpass{n}
  authentication:
    superuser:
      username: postgres
    replication:
      username: postgres
  parameters:
    unix_socket_directories: "{d}"
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
"#,
                n = i + 1,
                rest = REST[i],
                pg = PG[i],
            );
            let cfg = dir.join(format!("pg{}.yml", i + 1));
            std::fs::write(&cfg, yml).unwrap();
            sh(&format!("chown postgres:postgres {}", cfg.display()));
            let log = std::fs::File::create(dir.join(format!("patroni{}.log", i + 1))).unwrap();
            let child = Command::new("runuser")
                .args(["-u", "postgres", "--", "patroni"])
                .arg(&cfg)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            fleet.nodes.push(child);
            if i == 0 {
                fleet.wait_cluster("pg1 leading", Duration::from_secs(60), |c| {
                    c.leader()
                        .is_some_and(|l| l.name == "pg1" && l.state == "running")
                });
            }
        }
        fleet.wait_cluster("pg2 replicating", Duration::from_secs(90), |c| {
            c.member("pg2").is_some_and(|m| {
                m.role == Role::Replica
                    && m.state == "running"
                    && m.lag == pitr_console::domain::patroni::Lag::Bytes(0)
            })
        });
        fleet
    }

    fn wait_cluster(&self, what: &str, limit: Duration, done: impl Fn(&ClusterState) -> bool) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let deadline = Instant::now() + limit;
        loop {
            let last = match rt.block_on(RestClient::default().cluster(&Fleet::url(0))) {
                Ok(c) if done(&c) => return,
                Ok(c) => format!("{c:?}"),
                Err(e) => e.message,
            };
            assert!(
                Instant::now() < deadline,
                "{what}: not after {limit:?}; last: {last}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn logs(&self) -> String {
        ["patroni1.log", "patroni2.log"]
            .iter()
            .map(|f| {
                let t = std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
                let lines: Vec<&str> = t.lines().collect();
                format!(
                    "--- {f}\n{}",
                    lines[lines.len().saturating_sub(15)..].join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn psql(&self, port: u16, sql: &str) -> String {
        as_pg(&format!(
            "{BIN}/psql -X -A -t -q -h {} -p {port} -d postgres -c \"{sql}\"",
            self.dir.display()
        ))
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            for p in tree(n.id()).into_iter().rev() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = n.wait();
        }
        // The recovered node was started by pg_ctl, outside Patroni's process tree.
        for e in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            if e.path().join("postmaster.pid").exists() {
                let _ = Command::new("runuser")
                    .args([
                        "-u",
                        "postgres",
                        "--",
                        &format!("{BIN}/pg_ctl"),
                        "stop",
                        "-D",
                    ])
                    .arg(e.path())
                    .args(["-m", "immediate", "-w"])
                    .output();
            }
        }
        if let Some(mut e) = self.etcd.take() {
            let _ = e.kill();
            let _ = e.wait();
        }
        if std::env::var_os("PITR_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn wait(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not after {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

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
            port: PG[0],
            run_as: Some("postgres".into()),
            dsn: format!(
                "host={} port={} user=postgres dbname=postgres",
                d.display(),
                PG[0]
            ),
            socket_dir: Some(d.clone()),
            service: Default::default(),
            config_file: None,
            patroni: Some(PatroniSpec {
                url: Fleet::url(0),
                confirm_leader: false,
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
    let fleet = Fleet::start();
    println!("cluster up in {:?}", t0.elapsed());
    let d = fleet.dir.display();
    as_pg(&format!(
        "{BIN}/pg_basebackup -h 127.0.0.1 -p {} -U postgres -D {d}/backups/b1 -Fp -X stream -c fast",
        PG[0]
    ));
    let q = |sql: &str| fleet.psql(PG[0], sql);
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
                        seen_rows = Some(fleet.psql(PG[0], "select count(*) from t"));
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

    let (members, paused) = rt.block_on(cluster_members(&Fleet::url(0))).unwrap();
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
    assert_eq!(fleet.psql(PG[1], "select count(*) from t"), "1000");

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
