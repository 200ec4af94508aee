//! A lab's recovery run over SSH against a real sshd on 127.0.0.1 (its own config, host key,
//! client key and known_hosts file in a temp dir), and a connection cut mid-step that leaves
//! the run resumable, and the binary recovering a configured server on "another host" (sshd
//! also listens on 127.0.0.2, which the console does not take for this machine). Skipped
//! only when sshd is not installed
//! (`scripts/install-fleet-ssh-patroni` installs it).
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use pitr_console::adapters::catalog;
use pitr_console::adapters::ssh::{remote_ports, SshPool, SshTarget};
use pitr_console::config::model::Config;
use pitr_console::domain::restore_command;
use pitr_console::domain::target::RecoveryTarget;
use pitr_console::engine::journal::{Body, JournalState, Pending};
use pitr_console::engine::ports::Ports;
use pitr_console::engine::recovery::{
    self, AppSpec, FinalAction, RecoveryInputs, RestoreMode, ServerSpec, TimeColumn,
};
use pitr_console::engine::{Decision, EngineEvent, Question, RunStatus};
use pitr_console::lab::{self, LabOptions, LabRecord};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";
/// A loopback address the configuration treats as another host (only `127.0.0.1`,
/// `localhost` and `::1` are this machine), so the CLI reaches it over SSH.
const OTHER_HOST: &str = "127.0.0.2";

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        out.status.success(),
        "`{cmd}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn have_sshd() -> bool {
    if Path::new(SSHD).exists() && Command::new("ssh").arg("-V").output().is_ok() {
        return true;
    }
    println!("SKIPPED: sshd not installed; run scripts/install-fleet-ssh-patroni");
    false
}

/// Every process whose parent chain leads to `root` (not `root` itself).
fn descendants(root: u32) -> Vec<u32> {
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
    found.remove(0);
    found
}

fn kill(pid: u32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// A test sshd: root may log in with the generated key only; its host key is the only
/// entry of the client's known_hosts file.
struct Sshd {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Sshd {
    fn new(name: &str, port: u16) -> Sshd {
        let dir = PathBuf::from(format!(
            "/tmp/pitr-fleet-sshd-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        sh(&format!(
            "chmod 700 {d} && ssh-keygen -q -t ed25519 -N '' -f {d}/host_key && ssh-keygen -q -t ed25519 -N '' -f {d}/client_key && cp {d}/client_key.pub {d}/authorized_keys && chmod 600 {d}/authorized_keys"
        ));
        let host_pub = std::fs::read_to_string(dir.join("host_key.pub")).unwrap();
        let mut words = host_pub.split_whitespace();
        let (kind, key) = (words.next().unwrap(), words.next().unwrap());
        std::fs::write(
            dir.join("known_hosts"),
            format!("[127.0.0.1]:{port} {kind} {key}\n[{OTHER_HOST}]:{port} {kind} {key}\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nListenAddress {OTHER_HOST}\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nMaxSessions 50\nMaxStartups 50\nLogLevel ERROR\n"
            ),
        )
        .unwrap();
        Sshd {
            dir,
            port,
            child: None,
        }
    }

    fn start(&mut self) {
        std::fs::create_dir_all("/run/sshd").unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(self.dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The listener and every connection it serves, at once: the host "drops".
    fn kill_all(&mut self) {
        if let Some(mut c) = self.child.take() {
            for p in descendants(c.id()) {
                kill(p);
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn target(&self) -> SshTarget {
        let mut t = SshTarget::new("127.0.0.1");
        t.user = Some("root".into());
        t.port = Some(self.port);
        t.identity = Some(self.dir.join("client_key"));
        t.known_hosts = Some(self.dir.join("known_hosts"));
        t
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill_all();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A lab built for the test, taken down on drop.
struct Lab {
    record: LabRecord,
    config: Config,
}

impl Lab {
    fn up(name: &str, port: u16) -> Lab {
        let dir = PathBuf::from(format!("/tmp/pitr-fleet-lab-{name}-{}", std::process::id()));
        if dir.exists() {
            let _ = lab::down(&dir);
            let _ = std::fs::remove_dir_all(&dir);
        }
        let record = lab::up(&LabOptions {
            dir: Some(dir),
            port: Some(port),
            scale: 1,
            with_gap: false,
            ..Default::default()
        })
        .unwrap();
        let config = pitr_console::config::load::load(&record.config_file).unwrap();
        Lab { record, config }
    }

    fn psql(&self, sql: &str) -> String {
        sh(&format!(
            "runuser -u postgres -- {}/psql -X -A -t -q -h {} -p {} -d {} -c \"{sql}\"",
            self.record.bin_dir.display(),
            self.record.socket_dir.display(),
            self.record.port,
            self.record.database
        ))
    }

    fn inputs(&self, apps: Vec<AppSpec>) -> RecoveryInputs {
        let r = &self.record;
        let inc = r.first_incident().unwrap();
        let cat = catalog::load(&self.config.repositories[0]).unwrap();
        let backup = cat
            .backups
            .iter()
            .filter(|b| b.stop_lsn < inc.lsn_before)
            .max_by_key(|b| b.stop_lsn)
            .unwrap()
            .clone();
        let s = &self.config.servers[0];
        RecoveryInputs {
            server: ServerSpec {
                name: s.name.clone(),
                pgdata: r.pgdata.clone(),
                bin_dir: r.bin_dir.clone(),
                port: r.port,
                run_as: s.run_as.clone(),
                dsn: s.dsn.clone(),
                socket_dir: Some(r.socket_dir.clone()),
                service: Default::default(),
                config_file: None,
                patroni: None,
            },
            backup,
            restore_command: restore_command::local(&r.wal_archive.display().to_string()),
            target: RecoveryTarget::Time {
                at: inc.commit_time.unwrap(),
                inclusive: false,
            },
            action: FinalAction::Pause,
            mode: RestoreMode::InPlace,
            apps,
            checks: vec![],
            safety_dump_dir: r.dir.join("dumps"),
            journal_dir: r.dir.join("journal"),
            time_column: Some(TimeColumn {
                table: "public.orders".into(),
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
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = lab::down(&self.record.dir);
    }
}

struct Outcome {
    status: RunStatus,
    events: Vec<EngineEvent>,
    journal: PathBuf,
}

/// Runs to the end; `on_event` sees every event and answers the questions.
async fn drive(
    started: (
        pitr_console::engine::Runner,
        pitr_console::engine::RunHandle,
    ),
    mut answer: impl FnMut(&EngineEvent) -> Option<Decision>,
) -> Outcome {
    let (runner, mut handle) = started;
    let journal = handle.journal.clone();
    let task = tokio::spawn(runner.run());
    let mut events = Vec::new();
    while let Some(e) = handle.events.recv().await {
        if let Some(d) = answer(&e) {
            handle.decisions.send(d).unwrap();
        }
        let end = matches!(e, EngineEvent::RunFinished { .. });
        events.push(e);
        if end {
            break;
        }
    }
    Outcome {
        status: task.await.unwrap(),
        events,
        journal,
    }
}

fn errors(events: &[EngineEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::StepFailed { id, error, .. } => Some(format!("{id}: {error}")),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ssh_ports(sshd: &Sshd, pool: &Arc<SshPool>) -> Ports {
    remote_ports(sshd.target(), Some("postgres".into()), pool.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lab_recovers_over_ssh_and_the_journal_names_the_host() {
    if !have_sshd() {
        return;
    }
    let mut sshd = Sshd::new("run", 55851);
    sshd.start();
    let lab = Lab::up("ssh", 55852);
    let want = lab.record.first_incident().unwrap().rows_before;
    let pool = SshPool::new();
    let inputs = lab.inputs(vec![]);
    let started = Instant::now();
    let out = drive(
        recovery::start(
            recovery::plan(&inputs),
            ssh_ports(&sshd, &pool),
            Some(inputs.server.name.clone()),
        )
        .unwrap(),
        |e| match e {
            EngineEvent::NeedsDecision {
                question: Question::PromoteOrRollBack,
                ..
            } => Some(Decision::Promote),
            EngineEvent::NeedsDecision { .. } => Some(Decision::Abort),
            _ => None,
        },
    )
    .await;
    println!("recovery over SSH took {:?}", started.elapsed());
    assert_eq!(out.status, RunStatus::Promoted, "{}", errors(&out.events));
    assert_eq!(lab.psql("select count(*) from orders"), want.to_string());
    assert_eq!(lab.psql("select pg_is_in_recovery()"), "f");

    let state = JournalState::read(&out.journal).unwrap();
    let remote: Vec<_> = state
        .records
        .iter()
        .filter(|r| matches!(&r.body, Body::Action { .. }) && r.host == "127.0.0.1")
        .map(|r| format!("{:?}", r.body))
        .collect();
    for what in ["pg_ctl", "pg_dump", "mv ", "pg_controldata"] {
        assert!(
            remote.iter().any(|a| a.contains(what)),
            "no `{what}` action journaled on host 127.0.0.1: {remote:#?}"
        );
    }
    let aside = std::fs::read_dir(&lab.record.dir)
        .unwrap()
        .flatten()
        .any(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            n.starts_with("pgdata.pitr-") && !n.ends_with(".log")
        });
    assert!(
        aside,
        "the original data directory was moved aside on the host"
    );
    let sessions = descendants(sshd.pid()).len();
    assert!(
        sessions <= 3,
        "one ControlMaster connection expected, sshd serves {sessions} processes"
    );
    pool.close_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_lost_mid_step_fails_the_step_and_the_run_resumes() {
    if !have_sshd() {
        return;
    }
    let mut sshd = Sshd::new("cut", 55855);
    sshd.start();
    let lab = Lab::up("cut", 55856);
    let before = lab.psql("select count(*) from orders");
    let flag = sshd.dir.join("reachable-again");
    let running = sshd.dir.join("api-running");
    std::fs::write(&running, "").unwrap();
    let apps = vec![AppSpec {
        name: "api".into(),
        stop: format!(
            "rm -f {r}; [ -e {f} ] || sleep 30",
            r = running.display(),
            f = flag.display()
        ),
        start: format!("touch {}", running.display()),
        check: format!("[ -e {} ]", running.display()),
    }];
    let inputs = lab.inputs(apps);
    let pool = SshPool::new();
    let sshd_pid = sshd.pid();
    let out = drive(
        recovery::start(
            recovery::plan(&inputs),
            ssh_ports(&sshd, &pool),
            Some(inputs.server.name.clone()),
        )
        .unwrap(),
        |e| match e {
            EngineEvent::StepStarted { id, .. } if id == "stop_apps" => {
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(1500));
                    for p in descendants(sshd_pid) {
                        kill(p);
                    }
                    kill(sshd_pid);
                });
                None
            }
            EngineEvent::NeedsDecision { .. } => Some(Decision::Abort),
            _ => None,
        },
    )
    .await;
    sshd.kill_all();
    assert_eq!(
        out.status,
        RunStatus::Aborted {
            step: Some("stop_apps".into())
        }
    );
    let err = errors(&out.events);
    assert!(
        err.contains("stop_apps: lost connection to root@127.0.0.1:55855 during `rm -f"),
        "{err}"
    );
    let state = JournalState::read(&out.journal).unwrap();
    assert!(state.ended.is_none(), "the run did not end: resumable");
    assert!(
        matches!(&state.pending, Some(Pending::Failed { error, .. }) if error.contains("lost connection")),
        "{:?}",
        state.pending
    );
    let lost = state.records.iter().any(|r| {
        r.host == "127.0.0.1"
            && matches!(&r.body, Body::ActionDone { ok: false, output, .. } if output.contains("lost connection"))
    });
    assert!(lost, "the failed command is journaled with its host");
    assert_eq!(lab.psql("select count(*) from orders"), before, "untouched");

    // The host is back: resume, retry the step, roll back at the decision.
    sshd.start();
    std::fs::write(&flag, "").unwrap();
    let mut asked_failed = false;
    let out = drive(
        recovery::resume(
            &out.journal,
            inputs.clone(),
            ssh_ports(&sshd, &pool),
            Some(inputs.server.name.clone()),
            Default::default(),
            None,
        )
        .unwrap(),
        |e| match e {
            EngineEvent::NeedsDecision { question, .. } => Some(match question {
                Question::FailedStep { id, .. } if id == "stop_apps" && !asked_failed => {
                    asked_failed = true;
                    Decision::Retry
                }
                Question::PromoteOrRollBack => Decision::RollBack,
                _ => Decision::Abort,
            }),
            _ => None,
        },
    )
    .await;
    assert!(asked_failed, "resume asked about the failed step");
    assert_eq!(out.status, RunStatus::RolledBack, "{}", errors(&out.events));
    assert_eq!(lab.psql("select count(*) from orders"), before);
    assert!(running.exists(), "the application was started again");
    pool.close_all().await;
}

/// Stops a side instance the CLI started, also when the test fails.
struct SideInstance(PathBuf);

impl Drop for SideInstance {
    fn drop(&mut self) {
        if self.0.join("postmaster.pid").exists() {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--", "pg_ctl", "stop", "-m", "immediate"])
                .arg("-w")
                .arg("-D")
                .arg(&self.0)
                .output();
        }
    }
}

/// The lab's server as a configured server on another host: every SSH key set, its
/// known_hosts file the test sshd's own.
fn ssh_config_file(lab: &Lab, sshd: &Sshd, journal_dir: &Path) -> PathBuf {
    let r = &lab.record;
    let text = format!(
        "journal_dir = \"{journal}\"\n\n\
         [[repository]]\nname = \"archive\"\nkind = \"local\"\nbackups = \"{backups}\"\nwal_archive = \"{wal}\"\n\n\
         [[server]]\nname = \"lab\"\nhost = \"{OTHER_HOST}\"\nssh_user = \"root\"\nssh_port = {ssh_port}\n\
         ssh_identity = \"{identity}\"\nssh_known_hosts = \"{known}\"\nrun_as = \"postgres\"\n\
         pgdata = \"{pgdata}\"\nbin_dir = \"{bin}\"\nport = {port}\n\
         dsn = \"host={socket} port={port} user={user} dbname={db}\"\nrepository = \"archive\"\n\
         time_column = \"orders.created_at\"\n",
        journal = journal_dir.display(),
        backups = r.backups_dir.display(),
        wal = r.wal_archive.display(),
        ssh_port = sshd.port,
        identity = sshd.dir.join("client_key").display(),
        known = sshd.dir.join("known_hosts").display(),
        pgdata = r.pgdata.display(),
        bin = r.bin_dir.display(),
        port = r.port,
        socket = r.socket_dir.display(),
        user = r.superuser,
        db = r.database,
    );
    let path = sshd.dir.join("pitr-console.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn cli(config: &Path, args: &[&str]) -> std::process::Output {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_pitr-console"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    println!(
        "$ pitr-console {} -> {:?} in {:.1} s",
        args.join(" "),
        out.status.code(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// ssh processes still holding a connection to the test sshd's port.
fn ssh_clients_of(port: u16) -> Vec<String> {
    let port = port.to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| {
            c.split(|b| *b == 0)
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect::<Vec<_>>()
        })
        .filter(|w| w.first().is_some_and(|c| c.ends_with("ssh")) && w.contains(&port))
        .map(|w| w.join(" "))
        .collect()
}

#[test]
fn the_binary_recovers_a_configured_remote_server_beside_production() {
    if !have_sshd() {
        return;
    }
    let mut sshd = Sshd::new("cli", 56050);
    sshd.start();
    let lab = Lab::up("sshcli", 56051);
    let side = SideInstance(lab.record.dir.join("side"));
    let journal_dir = lab.record.dir.join("cli-journal");
    std::fs::create_dir_all(&journal_dir).unwrap();
    let config = ssh_config_file(&lab, &sshd, &journal_dir);
    let inc = lab.record.first_incident().unwrap().clone();
    let time = inc
        .commit_time
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S%.6f UTC")
        .to_string();
    let before = lab.psql("select count(*) from orders");

    let started = Instant::now();
    cli(
        &config,
        &["plan", "--server", "lab", "--time", &time, "--exclusive"],
    );
    let journal = journal_dir.join("run.jsonl");
    cli(
        &config,
        &[
            "recover",
            "--server",
            "lab",
            "--time",
            &time,
            "--exclusive",
            "--restore-to",
            side.0.to_str().unwrap(),
            "--port",
            "56052",
            "--action",
            "promote",
            "--yes",
            "--json",
            "--journal",
            journal.to_str().unwrap(),
        ],
    );
    println!(
        "plan and side recovery over SSH took {:?}",
        started.elapsed()
    );
    let count = sh(&format!(
        "runuser -u postgres -- {}/psql -X -A -t -q -h {} -p 56052 -d {} -c 'select count(*) from orders'",
        lab.record.bin_dir.display(),
        lab.record.socket_dir.display(),
        lab.record.database
    ));
    assert_eq!(count, inc.rows_before.to_string());
    assert_eq!(
        lab.psql("select count(*) from orders"),
        before,
        "lab intact"
    );

    let shown = cli(
        &config,
        &["journal", "show", "--json", journal.to_str().unwrap()],
    );
    let report: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    // SQL goes from the console's host through the DSN; every command runs on the server's.
    let commands: Vec<&serde_json::Value> = report["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "action")
        .filter(|r| !r["action"].as_str().unwrap().starts_with("SQL "))
        .collect();
    assert!(
        commands
            .iter()
            .any(|a| a["action"].as_str().unwrap().contains("pg_ctl")),
        "no pg_ctl journaled: {report:#}"
    );
    for a in &commands {
        assert_eq!(a["host"], OTHER_HOST, "a command ran elsewhere: {a:#}");
    }

    // The CLI closed its ControlMaster on the way out.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = ssh_clients_of(sshd.port);
        if left.is_empty() && descendants(sshd.pid()).is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ssh left behind by the CLI: {left:#?}; sshd serves {:?}",
            descendants(sshd.pid())
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every process command line on this machine that holds `secret`, sampled until `stop`;
/// and how many samples were taken.
fn watch_command_lines(
    secret: &'static str,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<(Vec<String>, usize)> {
    std::thread::spawn(move || {
        let (mut seen, mut samples) = (Vec::new(), 0);
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for e in std::fs::read_dir("/proc").unwrap().flatten() {
                if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
                    let c = String::from_utf8_lossy(&c).replace('\0', " ");
                    if c.contains(secret) {
                        seen.push(c);
                    }
                }
            }
            samples += 1;
            std::thread::sleep(Duration::from_millis(10));
        }
        (seen, samples)
    })
}

/// A server that wants a password (scram, no trust left) dumped over SSH as its OS user,
/// as the safety dump does: the password reaches pg_dump through its environment, read
/// from standard input by the remote shell, and no command line on the host (ssh, sshd,
/// sudo, the shell, pg_dump) holds it while the dump runs. Ports 58200-58201.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_over_ssh_never_enters_a_command_line() {
    use pitr_console::engine::ports::{CommandRunner, CommandSpec};
    if !have_sshd() {
        return;
    }
    const SECRET: &str = "Hunter2overSSHpw";
    let mut sshd = Sshd::new("secret", 58200);
    sshd.start();
    let lab = Lab::up("secret", 58201);
    let r = &lab.record;
    lab.psql(&format!("alter role {} password '{SECRET}'", r.superuser));
    let hba = r.pgdata.join("pg_hba.conf");
    let text = std::fs::read_to_string(&hba).unwrap();
    assert!(text.contains("trust"), "{text}");
    std::fs::write(&hba, text.replace("trust", "scram-sha-256")).unwrap();
    sh(&format!(
        "runuser -u postgres -- {}/pg_ctl reload -D {}",
        r.bin_dir.display(),
        r.pgdata.display()
    ));
    let dumps = r.dir.join("secret-dumps");
    sh(&format!(
        "mkdir -m 700 {0} && chown postgres: {0}",
        dumps.display()
    ));
    let dsn = format!(
        "host={} port={} user={} dbname={}",
        r.socket_dir.display(),
        r.port,
        r.superuser,
        r.database
    );
    let dump = |file: &str| {
        CommandSpec::new(r.bin_dir.join("pg_dump").display().to_string())
            .args(["-Fc", "-d", &dsn])
            .run_as(Some("postgres"))
            .timeout(Duration::from_secs(60))
            .stdout_to(&dumps.join(file))
    };
    let remote = pitr_console::adapters::ssh::RemoteCommands::new(sshd.target(), SshPool::new());
    let quiet = |_: &str| {};

    // Without the password the server now refuses: the dump below needs it.
    let refused = remote.run(&dump("none.dump"), &quiet).await.unwrap();
    assert!(!refused.success(), "{}", refused.output);
    assert!(refused.output.contains("password"), "{}", refused.output);

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = watch_command_lines(SECRET, stop.clone());
    let slow = CommandSpec::new("sh")
        .args(["-c", "sleep 1; test -n \"$PGPASSWORD\""])
        .run_as(Some("postgres"))
        .secret_env("PGPASSWORD", SECRET);
    let waited = remote.run(&slow, &quiet).await.unwrap();
    let dumped = remote
        .run(&dump("with.dump").secret_env("PGPASSWORD", SECRET), &quiet)
        .await
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (seen, samples) = watcher.join().unwrap();
    assert!(waited.success(), "{}", waited.output);
    assert!(dumped.success(), "{}", dumped.output);
    eprintln!("{samples} samples of /proc/*/cmdline during the remote commands");
    assert!(samples > 20, "{samples}");
    assert!(seen.is_empty(), "{seen:?}");
    let bytes = std::fs::read(dumps.join("with.dump")).unwrap();
    assert!(bytes.starts_with(b"PGDMP"));
    assert!(!String::from_utf8_lossy(&bytes).contains(SECRET));
}

/// The second way back for a server on another host: a recovery in place over SSH is
/// rolled back, then its safety dump is restored into a new database on that host (the
/// dump file and pg_restore are the server host's), checked against its sha256 and
/// journaled; the globals are named, never applied. Ports 58650-58651.
#[test]
fn restore_dump_over_ssh_fills_a_new_database_on_the_servers_host() {
    if !have_sshd() {
        return;
    }
    let mut sshd = Sshd::new("dump", 58650);
    sshd.start();
    let lab = Lab::up("sshdump", 58651);
    // The dumps go beside the journal, written on the server's host as its OS user.
    let journal_dir = lab.record.dir.join("ssh-journal");
    sh(&format!(
        "mkdir -m 700 {0} && chown postgres: {0}",
        journal_dir.display()
    ));
    let config = ssh_config_file(&lab, &sshd, &journal_dir);
    let state = sshd.dir.join("state");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_pitr-console"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("PITR_CONSOLE_STATE_DIR", &state)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        println!(
            "$ pitr-console {} -> {:?}\n{stdout}\n{stderr}",
            args.join(" "),
            out.status.code()
        );
        (out.status.code(), stdout, stderr)
    };
    let before = lab.psql("select count(*) from orders");
    let journal = journal_dir.join("run.jsonl");
    let j = journal.to_str().unwrap();
    let (code, stdout, _) = run(&[
        "recover",
        "--server",
        "lab",
        "--name",
        "before_batch",
        "--yes",
        "--journal",
        j,
    ]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("waiting for a decision"), "{stdout}");
    let (code, _, _) = run(&["resume", j, "--action", "roll-back", "--yes"]);
    assert_eq!(code, Some(0));
    assert_eq!(lab.psql("select count(*) from orders"), before);

    let (code, stdout, stderr) = run(&["restore-dump", j, "--yes"]);
    assert_eq!(code, Some(0), "{stderr}");
    let into = stdout
        .split("into the new database ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .unwrap_or_else(|| panic!("no new database named in {stdout}"))
        .to_string();
    let restored = sh(&format!(
        "runuser -u postgres -- {}/psql -X -A -t -q -h {} -p {} -d {into} -c 'select count(*) from orders'",
        lab.record.bin_dir.display(),
        lab.record.socket_dir.display(),
        lab.record.port
    ));
    assert_eq!(
        restored, before,
        "the dump holds the data from before the run"
    );
    let state_j = JournalState::read(&journal).unwrap();
    let noted = state_j.records.iter().any(|r| {
        matches!(&r.body, Body::Note { text, .. } if text.contains("restored into new database"))
    });
    assert!(noted, "the restore is journaled in the run's journal");

    let (code, _, stderr) = run(&["restore-dump", j, "--globals", "--yes"]);
    assert_eq!(code, Some(5), "{stderr}");
    assert!(
        stderr.contains("does not apply the globals")
            && stderr.contains("on server lab's host")
            && stderr.contains("its sha256 matches the run's record"),
        "{stderr}"
    );
}

/// A backup on the server's host whose links point where PostgreSQL never puts them, copied
/// and extracted over SSH (the remote host's `cp -a` and `tar`): refused with the link named,
/// nothing written through it, and the refused link gone from the console's copy; a genuine
/// pg_wal link and a tablespace the manifest lists pass.
#[test]
fn a_backups_links_are_held_to_the_fence_over_ssh() {
    use pitr_console::engine::ports::LinkFence;
    if !have_sshd() {
        return;
    }
    let mut sshd = Sshd::new("links", 56090);
    sshd.start();
    let pool = SshPool::new();
    let ports = ssh_ports(&sshd, &pool);
    let root = PathBuf::from(format!("/tmp/pitr-fleet-links-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (backup, victims, production) =
        (root.join("b1"), root.join("victims"), root.join("pgdata"));
    for d in [
        &backup.join("pg_tblspc"),
        &victims,
        &production,
        &root.join("wal"),
    ] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(backup.join("PG_VERSION"), "15\n").unwrap();
    std::fs::write(victims.join("auto"), "keep auto").unwrap();
    sh(&format!(
        "chown -R postgres: {} && chmod 755 {}",
        root.display(),
        root.display()
    ));
    let fence = LinkFence {
        forbidden: vec![production.clone()],
        tablespaces: Some(Default::default()),
    };
    let untouched = || {
        assert_eq!(
            std::fs::read_to_string(victims.join("auto")).unwrap(),
            "keep auto"
        );
        assert_eq!(std::fs::read_dir(&victims).unwrap().count(), 1);
    };
    let link = |target: &Path, at: &str| {
        sh(&format!(
            "runuser -u postgres -- ln -sfn {} {}",
            target.display(),
            backup.join(at).display()
        ));
    };
    let unlink = |at: &str| std::fs::remove_file(backup.join(at)).unwrap();
    let copy = |n: u32| {
        let to = root.join(format!("restore{n}"));
        let r = ports
            .fs
            .copy_tree(&backup, &to, Some("postgres"), &fence, &|_| {});
        (to, r)
    };

    // A file of the data directory made a link to another file: refused before any copy.
    link(&victims.join("auto"), "postgresql.auto.conf");
    let (to, r) = copy(1);
    let e = r.unwrap_err().message;
    assert!(
        e.contains("postgresql.auto.conf")
            && e.contains("links only at pg_tblspc/<oid> and pg_wal"),
        "{e}"
    );
    assert!(!to.exists(), "nothing copied");
    unlink("postgresql.auto.conf");

    // A tablespace link into production's data directory: refused.
    link(&production, "pg_tblspc/16999");
    let e = copy(2).1.unwrap_err().message;
    assert!(
        e.contains("pg_tblspc/16999") && e.contains("no restored server may write"),
        "{e}"
    );
    unlink("pg_tblspc/16999");

    // A tablespace the backup's manifest does not list: refused.
    std::fs::write(
        backup.join("backup_manifest"),
        r#"{"PostgreSQL-Backup-Manifest-Version": 1, "Files": [
{"Path": "pg_tblspc/16400/PG_15_202209061/5/1", "Size": 0}]}"#,
    )
    .unwrap();
    link(&victims, "pg_tblspc/16999");
    let e = copy(3).1.unwrap_err().message;
    assert!(e.contains("lists no file of tablespace 16999"), "{e}");
    unlink("pg_tblspc/16999");

    // The links PostgreSQL makes: pg_wal elsewhere, the tablespace the manifest lists.
    link(&root.join("wal"), "pg_wal");
    let ts = root.join("ts16400");
    std::fs::create_dir_all(&ts).unwrap();
    link(&ts, "pg_tblspc/16400");
    let (to, r) = copy(4);
    r.unwrap();
    assert_eq!(
        std::fs::read_link(to.join("pg_wal")).unwrap(),
        root.join("wal")
    );
    assert_eq!(std::fs::read_link(to.join("pg_tblspc/16400")).unwrap(), ts);
    unlink("pg_wal");
    unlink("pg_tblspc/16400");

    // A tar whose link points at a victim: extracted by the remote tar, the link refused
    // and unlinked from the copy, the victim untouched.
    link(&victims.join("auto"), "postgresql.auto.conf");
    let tar = root.join("b2");
    std::fs::create_dir_all(&tar).unwrap();
    sh(&format!(
        "tar -C {} -cf {}/base.tar PG_VERSION postgresql.auto.conf && chown -R postgres: {}",
        backup.display(),
        tar.display(),
        tar.display()
    ));
    let to = root.join("restore5");
    let e = ports
        .fs
        .extract_tar(
            &tar.join("base.tar"),
            &to,
            Some("postgres"),
            &fence,
            &|_| {},
        )
        .unwrap_err()
        .message;
    assert!(
        e.contains("postgresql.auto.conf") && e.contains("links only at"),
        "{e}"
    );
    assert!(to.join("PG_VERSION").exists());
    assert!(
        std::fs::symlink_metadata(to.join("postgresql.auto.conf")).is_err(),
        "the refused link is gone"
    );

    // Extraction into a destination that is itself a link: refused, nothing written there.
    let through = root.join("restore6");
    std::os::unix::fs::symlink(&victims, &through).unwrap();
    let e = ports
        .fs
        .extract_tar(
            &tar.join("base.tar"),
            &through,
            Some("postgres"),
            &fence,
            &|_| {},
        )
        .unwrap_err()
        .message;
    assert!(e.contains("is a symbolic link"), "{e}");
    untouched();
    std::fs::remove_dir_all(&root).unwrap();
}

/// A move on the server's host (how the original data directory is moved aside over SSH) is
/// followed there by an fsync of both parent directories: strace on the host's sshd sees the
/// rename and then `fsync` of each parent, so a power cut cannot bring the old name back.
#[test]
fn a_move_over_ssh_is_flushed_to_disk_on_the_host() {
    if !have_sshd() {
        return;
    }
    let mut sshd = Sshd::new("fsync", 56095);
    sshd.start();
    let root = PathBuf::from(format!("/tmp/pitr-fleet-fsync-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (from, into) = (root.join("a"), root.join("b"));
    std::fs::create_dir_all(from.join("pgdata")).unwrap();
    std::fs::create_dir_all(&into).unwrap();
    sh(&format!("chown -R postgres: {}", root.display()));
    let trace = root.join("strace.out");
    let mut strace = Command::new("strace")
        .args(["-f", "-qq", "-y", "-p", &sshd.pid().to_string()])
        .args([
            "-e",
            "trace=rename,renameat,renameat2,fsync,fdatasync",
            "-o",
        ])
        .arg(&trace)
        .stdin(Stdio::null())
        .spawn()
        .expect("strace (scripts/install-test-deps installs it)");
    std::thread::sleep(Duration::from_millis(500));
    let pool = SshPool::new();
    let ports = ssh_ports(&sshd, &pool);
    ports
        .fs
        .rename(&from.join("pgdata"), &into.join("pgdata.aside"))
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    kill(strace.id());
    strace.wait().unwrap();
    let text = std::fs::read_to_string(&trace).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let moved = lines
        .iter()
        .position(|l| l.contains("rename") && l.contains("pgdata.aside"))
        .unwrap_or_else(|| panic!("no rename seen on the host:\n{text}"));
    for dir in [&from, &into] {
        let d = format!("<{}>", dir.display());
        assert!(
            lines[moved + 1..]
                .iter()
                .any(|l| l.contains("fsync(") && l.contains(&d)),
            "{} not fsynced after the move:\n{}",
            dir.display(),
            lines[moved..].join("\n")
        );
    }
    assert!(into.join("pgdata.aside").is_dir());
    std::fs::remove_dir_all(&root).unwrap();
}

/// The live tail of a server on another host: a DELETE the archive does not hold yet is read
/// from that host's pg_wal over SSH, as the server's OS user, and the commits found are the
/// ones a read of the same files on the host itself finds.
#[test]
fn the_live_tail_reads_a_remote_servers_pg_wal_over_ssh() {
    use pitr_console::domain::lsn::Lsn;
    use pitr_console::domain::segment::{SegmentSize, WalSegment};
    if !have_sshd() {
        return;
    }
    let mut sshd = Sshd::new("tail", 56100);
    sshd.start();
    let lab = Lab::up("tail", 56101);
    let xid: u32 = lab
        .psql("delete from orders where id % 7 = 0; select txid_current()")
        .parse()
        .unwrap();
    lab.psql("insert into orders (customer, amount) values (1, 1)");
    let archived = lab.psql("select last_archived_wal from pg_stat_archiver");
    let upto: Lsn = lab.psql("select pg_current_wal_lsn()").parse().unwrap();
    let size = SegmentSize::new(lab.record.segment_size).unwrap();
    let last = WalSegment::parse_file_name(&archived, size).unwrap();
    let current = WalSegment::containing(lab.record.timeline, upto, size);
    assert!(
        current.number > last.number,
        "{archived} holds the DELETE already"
    );
    let segments: Vec<WalSegment> = (last.number + 1..=current.number)
        .map(|n| WalSegment::new(lab.record.timeline, n))
        .collect();

    let mut server = lab.config.servers[0].clone();
    let t = sshd.target();
    server.host = OTHER_HOST.into();
    server.ssh_user = t.user.clone();
    server.ssh_port = t.port;
    server.ssh_identity = t.identity.clone();
    server.ssh_known_hosts = t.known_hosts.clone();
    server.run_as = Some("postgres".into());
    let pool = SshPool::new();
    let remote =
        pitr_console::adapters::live_tail::read(&server, &segments, size, upto, &pool).unwrap();
    let here = pitr_console::wal::read_unarchived(
        &lab.record.pgdata.join("pg_wal"),
        &segments,
        size,
        upto,
    )
    .unwrap();
    let xids =
        |r: &pitr_console::wal::TailRead| r.tx_ends.iter().map(|t| t.xid).collect::<Vec<_>>();
    assert!(
        xids(&remote).contains(&xid),
        "the DELETE, xid {xid}: {:?}",
        xids(&remote)
    );
    assert_eq!(xids(&remote), xids(&here));
    assert_eq!(remote.read_to, here.read_to);

    // A pg_wal the server's user cannot read there says so, naming file, directory and host.
    server.pgdata = PathBuf::from("/nonexistent/pgdata");
    let e =
        pitr_console::adapters::live_tail::read(&server, &segments, size, upto, &pool).unwrap_err();
    assert!(
        e.contains("/nonexistent/pgdata/pg_wal") && e.contains(OTHER_HOST),
        "{e}"
    );
}
