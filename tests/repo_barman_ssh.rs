//! Barman on "another host": a real Barman reached only over ssh, through a test sshd on
//! 127.0.0.1 with its own host key, a client key and a known_hosts file in the test's temp
//! dir, given to the console as the repository's `ssh_host`, `ssh_user`, `ssh_port`,
//! `ssh_identity` and `ssh_known_hosts`. No ~/.ssh/config is written for either user: the
//! console's catalog and `barman recover` (as root) and replay's `barman get-wal`
//! restore_command (as postgres) get the options on their command lines, host keys checked
//! strictly. A recovery beside production to the restore point before the DELETE.
//! Ports 58720-58725. Skipped only without barman or sshd (scripts/install-* install them).
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod repo_support;

use pitr_console::domain::target::RecoveryTarget;
use repo_support::{as_pg, sh, tool_present, Primary, ROWS_AT_BEFORE_DELETE};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const PORT: u16 = 58720;
const SSH_PORT: u16 = 58725;

/// sshd for the postgres user with the generated key only; killed on drop.
struct Sshd(Child);

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sshd(dir: &Path) -> Sshd {
    let d = dir.display();
    sh(&format!(
        "mkdir -p {d}/ssh && chmod 755 {d}/ssh && cd {d}/ssh && ssh-keygen -q -t ed25519 -N '' -f host_key && ssh-keygen -q -t ed25519 -N '' -f client_key && cp client_key.pub authorized_keys && chown postgres: client_key authorized_keys && chmod 600 client_key authorized_keys && echo \"[127.0.0.1]:{SSH_PORT} $(cat host_key.pub)\" > known_hosts && chmod 644 known_hosts"
    ));
    std::fs::write(
        dir.join("ssh/sshd_config"),
        format!(
            "Port {SSH_PORT}\nListenAddress 127.0.0.1\nHostKey {d}/ssh/host_key\nPidFile {d}/ssh/sshd.pid\n\
             AuthorizedKeysFile {d}/ssh/authorized_keys\nAllowUsers postgres\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nStrictModes no\nUsePAM yes\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all("/run/sshd").unwrap();
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(dir.join("ssh/sshd_config"))
        .stderr(std::fs::File::create(dir.join("ssh/sshd.log")).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", SSH_PORT)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    Sshd(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn barman_over_ssh_with_the_repositorys_own_ssh_settings() {
    if !tool_present(
        "barman",
        "barman_over_ssh_with_the_repositorys_own_ssh_settings",
    ) || !Path::new("/usr/sbin/sshd").exists()
    {
        return;
    }
    let started = Instant::now();
    let dir = format!("/tmp/pitr-repo-barman-ssh-{}", std::process::id());
    let incoming = format!("{dir}/barman/pg/incoming");
    let mut p = Primary::new(
        "barman-ssh",
        PORT,
        &format!("test ! -f {incoming}/%f && cp %p {incoming}/%f"),
    );
    let _sshd = start_sshd(&p.dir);
    let d = p.dir.display();
    let bin = repo_support::BIN;
    let cfg = p.dir.join("barman.conf");
    std::fs::write(
        &cfg,
        format!(
            "[barman]\nbarman_home = {d}/barman\nbarman_user = postgres\nlog_file = {d}/barman.log\n\
             barman_lock_directory = {d}/barman-lock\ncompression = gzip\npath_prefix = {bin}\n\n\
             [pg]\ndescription = pitr-console ssh test\nconninfo = host={d} port={PORT} user=postgres dbname=postgres\n\
             streaming_conninfo = host={d} port={PORT} user=postgres\nbackup_method = postgres\n\
             archiver = on\nstreaming_archiver = off\n"
        ),
    )
    .unwrap();
    let barman = |args: &str| as_pg(&format!("barman -c {} {args}", cfg.display()));
    as_pg(&format!("mkdir -p {incoming} {dir}/barman-lock"));
    p.create_table();
    barman("switch-wal --force --archive --archive-timeout 60 pg");
    barman("backup --wait pg");
    let w = p.workload_after_backup();
    barman("switch-wal --force --archive --archive-timeout 60 pg");

    // Barman's own way back to the database host for `barman recover` (its rsync), with
    // the same explicit options: nothing comes from an ssh config file.
    let ssh = format!(
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -p {SSH_PORT} -i {d}/ssh/client_key -o IdentitiesOnly=yes -o UserKnownHostsFile={d}/ssh/known_hosts postgres@127.0.0.1"
    );
    let (config_file, config) = p.write_config(&format!(
        "kind = \"barman\"\nbarman_server = \"pg\"\nbarman_config = \"{}\"\nrestore_method = \"get-wal\"\n\
         ssh_host = \"127.0.0.1\"\nssh_user = \"postgres\"\nssh_port = {SSH_PORT}\n\
         ssh_identity = \"{d}/ssh/client_key\"\nssh_known_hosts = \"{d}/ssh/known_hosts\"\n\
         barman_remote_ssh_command = \"{ssh}\"",
        cfg.display()
    ));
    let setup = started.elapsed();
    let (view, catalog_time) =
        repo_support::load_and_check_catalog(&config_file, &config, w.before_delete);
    let sshd_log = p.dir.join("ssh/sshd.log");
    let logins = || {
        std::fs::read_to_string(&sshd_log)
            .unwrap_or_default()
            .matches("Accepted publickey for postgres")
            .count()
    };
    let catalog_logins = logins();
    assert!(
        catalog_logins >= 3,
        "the catalog came over ssh: {catalog_logins} logins"
    );

    let t = Instant::now();
    let rows = repo_support::side_recovery(
        &mut p,
        &config,
        &view,
        RecoveryTarget::Name {
            name: "before_delete".into(),
        },
        PORT + 1,
        "get-wal-ssh",
    )
    .await;
    assert_eq!(
        rows, ROWS_AT_BEFORE_DELETE,
        "get-wal over ssh to the restore point"
    );
    assert!(
        logins() > catalog_logins + 1,
        "replay fetched WAL over ssh as postgres"
    );
    eprintln!(
        "barman over ssh: setup {:.1} s, catalog {:.2} s, side get-wal recovery {:.1} s, total {:.1} s",
        setup.as_secs_f64(),
        catalog_time.as_secs_f64(),
        t.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
