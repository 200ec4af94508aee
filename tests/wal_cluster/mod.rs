//! A throwaway PostgreSQL cluster (15 unless told another bin directory) that archives its WAL, for the WAL tests and bench.
//! Stopped and removed on drop, also when a test fails.

#![allow(dead_code)]

use pitr_console::adapters::run_as::{default_server_user, Switch};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

pub struct Cluster {
    pub root: PathBuf,
    pub data: PathBuf,
    pub archive: PathBuf,
    pub port: u16,
    pub bin: PathBuf,
    switch: Switch,
    running: bool,
    keep: bool,
}

fn check(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Cluster {
    /// initdb in a fresh directory under `parent` (or /var/tmp) with `conf` lines added.
    pub fn init(port: u16, wal_segsize_mb: u32, conf: &[&str], parent: Option<&Path>) -> Cluster {
        Self::init_with(Path::new(PG_BIN), port, wal_segsize_mb, conf, parent)
    }

    /// The same with the server binaries of `bin` (another major version).
    pub fn init_with(
        bin: &Path,
        port: u16,
        wal_segsize_mb: u32,
        conf: &[&str],
        parent: Option<&Path>,
    ) -> Cluster {
        let user = default_server_user();
        let switch = Switch::to(user.as_deref());
        let parent = parent.map_or_else(|| PathBuf::from("/var/tmp"), Path::to_path_buf);
        std::fs::create_dir_all(&parent).unwrap();
        let root = tempfile::Builder::new()
            .prefix("pitr-wal-")
            .tempdir_in(&parent)
            .unwrap()
            .keep();
        let data = root.join("data");
        let archive = root.join("archive");
        std::fs::create_dir_all(&archive).unwrap();
        if let Some(u) = &user {
            let pw = nix::unistd::User::from_name(u).unwrap().unwrap();
            for p in [&root, &archive] {
                nix::unistd::chown(p, Some(pw.uid), Some(pw.gid)).unwrap();
            }
        }
        let c = Cluster {
            root,
            data,
            archive,
            port,
            bin: bin.to_path_buf(),
            switch,
            running: false,
            keep: false,
        };
        check(
            "initdb",
            c.pg("initdb")
                .args(["-D"])
                .arg(&c.data)
                .args(["-U", "postgres", "--auth=trust", "--no-sync"])
                .arg(format!("--wal-segsize={wal_segsize_mb}"))
                .output()
                .unwrap(),
        );
        let mut lines = vec![
            format!("port = {port}"),
            "listen_addresses = ''".to_string(),
            format!("unix_socket_directories = '{}'", c.root.display()),
            "wal_level = replica".into(),
            "archive_mode = on".into(),
            format!("archive_command = 'cp %p {}/%f'", c.archive.display()),
            "max_prepared_transactions = 5".into(),
            "fsync = off".into(),
            "max_wal_size = 4GB".into(),
        ];
        lines.extend(conf.iter().map(|s| s.to_string()));
        let conf_path = c.data.join("postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&conf_path).unwrap_or_default();
        text.push_str(&lines.join("\n"));
        text.push('\n');
        std::fs::write(&conf_path, text).unwrap();
        if let Some(u) = &user {
            let pw = nix::unistd::User::from_name(u).unwrap().unwrap();
            nix::unistd::chown(&conf_path, Some(pw.uid), Some(pw.gid)).unwrap();
        }
        c
    }

    pub fn pg(&self, bin: &str) -> Command {
        self.switch.command(self.bin.join(bin))
    }

    pub fn start(&mut self) {
        check(
            "pg_ctl start",
            self.pg("pg_ctl")
                .args(["-w", "-D"])
                .arg(&self.data)
                .arg("-l")
                .arg(self.root.join("log"))
                .arg("start")
                .output()
                .unwrap(),
        );
        self.running = true;
    }

    pub fn stop(&mut self) {
        if self.running {
            self.running = false;
            check(
                "pg_ctl stop",
                self.pg("pg_ctl")
                    .args(["-w", "-m", "fast", "-D"])
                    .arg(&self.data)
                    .arg("stop")
                    .output()
                    .unwrap(),
            );
        }
    }

    /// Runs `sql` as a script (statement by statement, as psql -f does).
    pub fn psql(&self, sql: &str) -> String {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = self
            .pg("psql")
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-h",
            ])
            .arg(&self.root)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(sql.as_bytes())
            .unwrap();
        check("psql", child.wait_with_output().unwrap())
    }

    pub fn pgbench(&self, args: &[&str]) -> String {
        check(
            "pgbench",
            self.pg("pgbench")
                .args(["-U", "postgres", "-h"])
                .arg(&self.root)
                .arg("-p")
                .arg(self.port.to_string())
                .args(args)
                .arg("postgres")
                .output()
                .unwrap(),
        )
    }

    /// Switches to a new segment and waits until the finished one is archived.
    pub fn switch_and_wait_archived(&self) {
        let name = self.psql("SELECT pg_walfile_name(pg_switch_wal())");
        let path = self.archive.join(name.trim());
        for _ in 0..600 {
            if path.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("{} was not archived within 30 s", path.display());
    }

    /// Keep the files after drop (the bench reuses its archive).
    pub fn keep_files(&mut self) {
        self.keep = true;
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.running {
            let _ = self
                .pg("pg_ctl")
                .args(["-w", "-m", "immediate", "-D"])
                .arg(&self.data)
                .arg("stop")
                .output();
        }
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// Sorted segment file names in `dir`.
pub fn segment_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.len() == 24 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    v.sort();
    v
}

/// Runs `pg_waldump -p DIR FIRST LAST ARGS` with TZ=UTC; returns (status ok, stdout, stderr).
pub fn waldump(dir: &Path, first: &str, last: &str, args: &[&str]) -> (bool, String, String) {
    waldump_of(Path::new(PG_BIN), dir, first, last, args)
}

/// `waldump` with the pg_waldump of `bin` (it reads only its own major version's WAL).
pub fn waldump_of(
    bin: &Path,
    dir: &Path,
    first: &str,
    last: &str,
    args: &[&str],
) -> (bool, String, String) {
    let out = Command::new(bin.join("pg_waldump"))
        .env("TZ", "UTC")
        .arg("-p")
        .arg(dir)
        .args([first, last])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The bin directory of PostgreSQL `major` (Debian's, else `scripts/install-pg-versions`'
/// cache). Missing binaries fail the test under CI (the scripts must have installed them) and
/// skip it loudly elsewhere.
pub fn pg_bin_or_skip(major: u32, test: &str) -> Option<PathBuf> {
    match pitr_console::lab::binaries::PgBinaries::for_major(major) {
        Ok(b) => Some(b.dir),
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("{test}: PostgreSQL {major} is not installed under CI: {e}")
        }
        Err(e) => {
            eprintln!(
                "\n*** SKIPPED {test}: PostgreSQL {major} not installed ({e}); run scripts/install-pg-versions ***\n"
            );
            None
        }
    }
}
