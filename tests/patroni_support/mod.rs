//! A Patroni cluster on one etcd, every member on 127.0.0.1, for tests that recover one of
//! its members. Each Patroni daemon is started and stopped by a shell line of its own
//! (`start_line`, `stop_line`, through a pid file), the same lines a `[[server]]` gives as
//! `patroni_start` / `patroni_stop`, so the console stops and starts it as an operator's
//! service manager would. Everything is killed on drop.

#![allow(dead_code)]

use pitr_console::adapters::patroni::RestClient;
use pitr_console::domain::patroni::{ClusterState, Lag, Role};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = "/usr/lib/postgresql/15/bin";

/// The ports one cluster uses: etcd's two, then REST and PostgreSQL per member.
#[derive(Clone, Copy)]
pub struct Ports {
    pub etcd_client: u16,
    pub etcd_peer: u16,
    pub rest: [u16; 3],
    pub pg: [u16; 3],
}

pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        out.status.success(),
        "`{cmd}`: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn as_pg(cmd: &str) -> String {
    sh(&format!(
        "runuser -u postgres -- sh -c '{}'",
        cmd.replace('\'', r"'\''")
    ))
}

pub fn installed(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Every process whose parent chain leads to `root`, `root` included.
pub fn tree(root: u32) -> Vec<u32> {
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

pub fn wait(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not after {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub struct Fleet {
    pub dir: PathBuf,
    pub ports: Ports,
    pub size: usize,
    etcd: Option<Child>,
}

impl Fleet {
    pub fn name(i: usize) -> String {
        format!("pg{}", i + 1)
    }

    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.join(Fleet::name(i))
    }

    pub fn url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports.rest[i])
    }

    fn pid_file(&self, i: usize) -> PathBuf {
        self.dir.join(format!("patroni{}.pid", i + 1))
    }

    /// Starts member `i`'s Patroni in the background (its pid in a file), as postgres.
    pub fn start_line(&self, i: usize) -> String {
        let d = self.dir.display();
        let n = i + 1;
        format!(
            "runuser -u postgres -- sh -c 'setsid patroni {d}/pg{n}.yml >> {d}/patroni{n}.log 2>&1 < /dev/null & echo $! > {d}/patroni{n}.pid'"
        )
    }

    /// Stops member `i`'s Patroni (SIGTERM, as `systemctl stop` does) and waits for it.
    pub fn stop_line(&self, i: usize) -> String {
        let p = self.pid_file(i).display().to_string();
        format!(
            "pid=$(cat {p}) && kill -TERM $pid && while kill -0 $pid 2>/dev/null; do sleep 0.2; done"
        )
    }

    /// etcd and `size` Patroni members; member 1 leads, the others replicate.
    pub fn start(tag: &str, ports: Ports, size: usize) -> Fleet {
        let dir = PathBuf::from(format!("/tmp/{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["archive", "backups", "etcd"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        sh(&format!("chown -R postgres:postgres {}", dir.display()));
        // The console's own directories stay the console user's.
        for sub in ["journal", "state"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let (client, peer) = (ports.etcd_client, ports.etcd_peer);
        let etcd = Command::new("etcd")
            .args(["--name", "fleet", "--data-dir"])
            .arg(dir.join("etcd"))
            .args([
                "--listen-client-urls",
                &format!("http://127.0.0.1:{client}"),
                "--advertise-client-urls",
                &format!("http://127.0.0.1:{client}"),
                "--listen-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
                "--initial-cluster",
                &format!("fleet=http://127.0.0.1:{peer}"),
                "--enable-v2=true",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("etcd.log")).unwrap())
            .spawn()
            .unwrap();
        let fleet = Fleet {
            dir,
            ports,
            size,
            etcd: Some(etcd),
        };
        wait("etcd listening", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", client)).is_ok()
        });
        for i in 0..size {
            fleet.write_config(i);
            sh(&fleet.start_line(i));
            if i == 0 {
                fleet.wait_cluster("pg1 leading", Duration::from_secs(60), |c| {
                    c.leader()
                        .is_some_and(|l| l.name == "pg1" && l.state == "running")
                });
            }
        }
        for i in 1..size {
            let name = Fleet::name(i);
            fleet.wait_cluster(
                &format!("{name} replicating"),
                Duration::from_secs(90),
                |c| {
                    c.member(&name).is_some_and(|m| {
                        m.role == Role::Replica && m.state == "running" && m.lag == Lag::Bytes(0)
                    })
                },
            );
        }
        fleet
    }

    fn write_config(&self, i: usize) {
        let d = self.dir.display();
        let client = self.ports.etcd_client;
        // Patroni's default maximum_lag_on_failover (1 MiB): a handover to a node recovered
        // to an earlier instant must not depend on a lenient setting.
        let yml = format!(
            r#"scope: fleet
name: pg{n}
log:
  level: INFO
restapi:
  listen: 127.0.0.1:{rest}
  connect_address: 127.0.0.1:{rest}
etcd:
  host: 127.0.0.1:{client}
bootstrap:
  dcs:
    ttl: 20
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
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
            rest = self.ports.rest[i],
            pg = self.ports.pg[i],
        );
        let cfg = self.dir.join(format!("pg{}.yml", i + 1));
        std::fs::write(&cfg, yml).unwrap();
        sh(&format!("chown postgres:postgres {}", cfg.display()));
    }

    /// The cluster as member `i` sees it, once `done` holds.
    pub fn wait_cluster_at(
        &self,
        i: usize,
        what: &str,
        limit: Duration,
        done: impl Fn(&ClusterState) -> bool,
    ) -> ClusterState {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let deadline = Instant::now() + limit;
        loop {
            let last = match rt.block_on(RestClient::default().cluster(&self.url(i))) {
                Ok(c) if done(&c) => return c,
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

    pub fn wait_cluster(
        &self,
        what: &str,
        limit: Duration,
        done: impl Fn(&ClusterState) -> bool,
    ) -> ClusterState {
        self.wait_cluster_at(0, what, limit, done)
    }

    pub fn logs(&self) -> String {
        (1..=self.size)
            .map(|n| {
                let f = format!("patroni{n}.log");
                let t = std::fs::read_to_string(self.dir.join(&f)).unwrap_or_default();
                let lines: Vec<&str> = t.lines().collect();
                format!(
                    "--- {f}\n{}",
                    lines[lines.len().saturating_sub(15)..].join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn psql(&self, port: u16, sql: &str) -> String {
        as_pg(&format!(
            "{BIN}/psql -X -A -t -q -h {} -p {port} -d postgres -c \"{sql}\"",
            self.dir.display()
        ))
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for i in 0..self.size {
            let Some(pid) = std::fs::read_to_string(self.pid_file(i))
                .ok()
                .and_then(|p| p.trim().parse::<u32>().ok())
            else {
                continue;
            };
            for p in tree(pid).into_iter().rev() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        // Servers pg_ctl started (the recovered node, a rolled-back original) are outside
        // Patroni's process tree.
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
