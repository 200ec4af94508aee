//! Real labs for the integration tests: built in /tmp dirs the server user owns, torn down
//! (servers stopped) also when a test fails; and the console's loop without a terminal.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pitr_console::app::{update, App, Msg};
use pitr_console::config::{Config, Role};
use pitr_console::domain::zone::Zone;
use pitr_console::lab::{self, LabOptions, LabRecord};
use pitr_console::tui::Commands;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

/// Removes the lab (stopping its server and the side instances it was given) even when an
/// assertion fails.
pub struct LabGuard {
    pub dir: PathBuf,
    pub parent: tempfile::TempDir,
    side: Vec<PathBuf>,
}

impl LabGuard {
    /// A side instance to stop at the end.
    pub fn side(&mut self, dir: &Path) {
        self.side.push(dir.to_path_buf());
    }

    /// A new directory the server user may create things in.
    pub fn path(&self, name: &str) -> PathBuf {
        self.parent.path().join(name)
    }
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        for d in &self.side {
            stop(d);
        }
        if self.dir.exists() {
            if let Err(e) = lab::down(&self.dir) {
                eprintln!("could not tear down the lab in {}: {e}", self.dir.display());
            }
        }
    }
}

/// Stops the server of a data directory at once, if one runs there.
pub fn stop(dir: &Path) {
    if dir.join("postmaster.pid").exists() {
        let _ = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                "pg_ctl",
                "stop",
                "-m",
                "immediate",
                "-w",
                "-D",
            ])
            .arg(dir)
            .output();
    }
}

/// A temp directory the server user can own (root's default temp dirs are 0700).
pub fn lab_dir() -> LabGuard {
    private_state_dir();
    let parent = tempfile::Builder::new()
        .prefix("pitr-lab-")
        .tempdir_in("/tmp")
        .unwrap();
    if nix::unistd::Uid::effective().is_root() {
        let pg = nix::unistd::User::from_name("postgres").unwrap().unwrap();
        nix::unistd::chown(parent.path(), Some(pg.uid), Some(pg.gid)).unwrap();
    }
    LabGuard {
        dir: parent.path().join("lab"),
        parent,
        side: Vec::new(),
    }
}

pub fn build(port: u16, with_gap: bool) -> (LabGuard, LabRecord) {
    build_with(LabOptions {
        port: Some(port),
        with_gap,
        ..Default::default()
    })
}

/// A lab with any options (another PostgreSQL, an incremental backup); the directory is the
/// guard's own.
pub fn build_with(opts: LabOptions) -> (LabGuard, LabRecord) {
    let guard = lab_dir();
    let start = Instant::now();
    let record = lab::up(&LabOptions {
        dir: Some(guard.dir.clone()),
        scale: opts.scale.max(1),
        ..opts.clone()
    })
    .unwrap();
    eprintln!(
        "lab ({opts:?}) built in {:.1} s\n{}",
        start.elapsed().as_secs_f64(),
        record.summary()
    );
    (guard, record)
}

/// `sql` through psql on the lab's socket at `port`, unaligned and trimmed.
pub fn psql(record: &LabRecord, port: u16, sql: &str) -> String {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--", "psql", "-X", "-A", "-t", "-q", "-h"])
        .arg(&record.socket_dir)
        .args(["-p", &port.to_string(), "-d", &record.database, "-c", sql])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The console's loop without a terminal: feeds messages to `update` and runs the
/// commands it returns, until `done` holds.
pub struct Console {
    pub app: App,
    pub rx: UnboundedReceiver<Msg>,
    pub commands: Commands,
}

impl Console {
    /// The console on the lab's server as `role`, sized, started at `at`, its catalog loaded.
    pub async fn open(config: &Config, role: Role, index_dir: &Path, at: DateTime<Utc>) -> Console {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut c = Console {
            app: App::new(config, "lab".into(), role, Zone::UTC, None),
            rx,
            commands: Commands::new(config.clone(), Some(index_dir.to_path_buf()), tx),
        };
        update(
            &mut c.app,
            Msg::Resize {
                width: 160,
                height: 48,
            },
        );
        let first = c.app.start(at);
        c.commands.spawn(first);
        c.until("the catalog", Duration::from_secs(30), |a| {
            a.data().is_some()
        })
        .await;
        c
    }

    pub fn key(&mut self, code: KeyCode) {
        let cmds = update(
            &mut self.app,
            Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)),
        );
        self.commands.spawn(cmds);
    }

    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    pub async fn until(&mut self, what: &str, limit: Duration, done: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + limit;
        while !done(&self.app) {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = tokio::time::timeout(left, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .expect("the command runner holds a sender");
            let cmds = update(&mut self.app, msg);
            self.commands.spawn(cmds);
        }
    }
}

/// Server locks and unfinished-run records of this test process in a directory of its own
/// (PITR_CONSOLE_STATE_DIR), never in the host's.
pub fn private_state_dir() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dir = std::env::temp_dir().join(format!("pitr-test-state-{}", std::process::id()));
        std::env::set_var("PITR_CONSOLE_STATE_DIR", dir);
    });
}

/// What one run of the console's binary said.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn expect(&self, code: i32) -> &Out {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The journal a side restore names in its "roll back: pitr-console resume J" line.
    pub fn journal(&self) -> String {
        self.stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("roll back: pitr-console resume "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no journal named in\n{}", self.stdout))
            .to_string()
    }
}

/// The console's binary with `--config config`, its state in `state`, no terminal.
pub fn cli(config: &Path, state: &Path, args: &[&str]) -> Out {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_pitr-console"))
        .env("PITR_CONSOLE_STATE_DIR", state)
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let o = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!(
        "$ pitr-console {} -> exit {} in {:.1} s",
        args.join(" "),
        o.code,
        started.elapsed().as_secs_f64()
    );
    o
}

/// Every path under a data directory (server chatter excluded) and pg_control's bytes:
/// equal before and after means the server's data was not touched.
pub fn fingerprint(pgdata: &Path) -> (Vec<String>, Vec<u8>) {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if rel.starts_with("pg_stat_tmp") {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            }
            out.push(rel);
        }
    }
    let mut names = Vec::new();
    walk(pgdata, pgdata, &mut names);
    names.sort();
    let control = std::fs::read(pgdata.join("global/pg_control")).unwrap();
    (names, control)
}

/// The directories a run moved aside beside the lab's data directory.
pub fn moved_aside(record: &LabRecord) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(&record.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pgdata.pitr-") && !n.ends_with(".log"))
        .collect();
    v.sort();
    v
}

/// A full listing of the places a run could write to, taken before and after an attack:
/// everything under the test's own directory (each file's path, size, mode and mtime, so a
/// file written through a link shows), and the entries of the system directories an
/// attacker would aim at. Paths starting with an `owned` one are left out (a prefix, so
/// `side` covers the `side.pitr-<run>.log` beside it): the console's own directories, the
/// server's data directories, its log and its WAL archive, and the files the test itself
/// writes as part of the attack.
#[derive(Debug, PartialEq, Eq)]
pub struct Listing(std::collections::BTreeMap<PathBuf, (u64, u32, i64)>);

/// System directories whose entries (not their whole trees) are listed.
const ATTACKED: [&str; 7] = [
    "/",
    "/etc",
    "/root",
    "/var/lib",
    "/var/tmp",
    "/usr/local/bin",
    "/home",
];

/// Scratch directories other test files of this suite make and remove in the attacked
/// system directories while an attack runs beside them (`scripts/run-tests` runs three
/// files at once): `tests/wal_cluster`'s clusters in /var/tmp.
const OTHER_TESTS_SCRATCH: [&str; 1] = ["/var/tmp/pitr-wal-"];

/// What the lab's server and the console write in the lab directory by design.
pub fn written_by_design(record: &LabRecord) -> Vec<PathBuf> {
    vec![
        record.pgdata.clone(),
        record.wal_archive.clone(),
        record.socket_dir.clone(),
        record.dir.join("log"),
        record.dir.join("journal"),
    ]
}

impl Listing {
    /// `tree` is listed whole, the system directories' entries beside it.
    pub fn take(tree: &Path, owned: &[PathBuf]) -> Listing {
        use std::os::unix::fs::MetadataExt;
        let owned: Vec<String> = owned
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        fn walk(
            dir: &Path,
            recurse: bool,
            owned: &[String],
            out: &mut Vec<(PathBuf, std::fs::Metadata)>,
        ) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if owned
                    .iter()
                    .any(|o| p.to_string_lossy().starts_with(o.as_str()))
                {
                    continue;
                }
                let Ok(meta) = std::fs::symlink_metadata(&p) else {
                    continue;
                };
                if recurse && meta.is_dir() {
                    walk(&p, true, owned, out);
                }
                out.push((p, meta));
            }
        }
        let mut found = Vec::new();
        walk(tree, true, &owned, &mut found);
        let mut beside = owned.clone();
        beside.extend(OTHER_TESTS_SCRATCH.iter().map(|s| (*s).to_owned()));
        for d in ATTACKED {
            walk(Path::new(d), false, &beside, &mut found);
        }
        Listing(
            found
                .into_iter()
                .map(|(p, m)| {
                    // A directory's size and mtime change with its entries, listed apart.
                    let what = if m.is_dir() {
                        (0, m.mode(), 0)
                    } else {
                        (m.len(), m.mode(), m.mtime())
                    };
                    (p, what)
                })
                .collect(),
        )
    }

    /// Fails naming every path that appeared or changed outside the owned directories.
    pub fn assert_unchanged_since(&self, before: &Listing, what: &str) {
        let changed: Vec<String> = self
            .0
            .iter()
            .filter(|(p, now)| before.0.get(*p) != Some(now))
            .map(|(p, now)| match before.0.get(p) {
                Some(was) => format!("{} changed: {was:?} -> {now:?}", p.display()),
                None => format!("{} appeared", p.display()),
            })
            .chain(
                before
                    .0
                    .keys()
                    .filter(|p| !self.0.contains_key(*p))
                    .map(|p| format!("{} vanished", p.display())),
            )
            .collect();
        assert!(
            changed.is_empty(),
            "{what}: written outside the console's directories:\n  {}",
            changed.join("\n  ")
        );
    }
}
