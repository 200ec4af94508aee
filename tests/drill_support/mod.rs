//! Labs for the drill, training and role tests: built in /tmp dirs the server user owns,
//! torn down (servers stopped) also when a test fails.

#![allow(dead_code)]

use pitr_console::lab::{self, LabOptions, LabRecord};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

pub const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");

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

pub fn build(port: u16) -> (LabGuard, LabRecord) {
    let parent = tempfile::Builder::new()
        .prefix("pitr-drill-")
        .tempdir_in("/tmp")
        .unwrap();
    if nix::unistd::Uid::effective().is_root() {
        let pg = nix::unistd::User::from_name("postgres").unwrap().unwrap();
        nix::unistd::chown(parent.path(), Some(pg.uid), Some(pg.gid)).unwrap();
    }
    let guard = LabGuard {
        dir: parent.path().join("lab"),
        parent,
        side: Vec::new(),
    };
    let start = Instant::now();
    let record = lab::up(&LabOptions {
        dir: Some(guard.dir.clone()),
        port: Some(port),
        scale: 1,
        with_gap: false,
    })
    .unwrap();
    eprintln!(
        "lab built in {:.1} s\n{}",
        start.elapsed().as_secs_f64(),
        record.summary()
    );
    (guard, record)
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn expect(&self, code: i32) {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
    }
}

pub fn cli(config: &Path, args: &[&str]) -> Out {
    let started = Instant::now();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(["--tz", "UTC"])
        .args(args)
        .stdin(Stdio::null())
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

/// Every path under a data directory (server chatter excluded) and pg_control's bytes.
pub fn fingerprint(pgdata: &Path) -> (Vec<String>, Vec<u8>) {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if rel.starts_with("pg_stat_tmp") || rel.starts_with("log") {
                continue;
            }
            out.push(rel);
            if p.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut paths = Vec::new();
    walk(pgdata, pgdata, &mut paths);
    paths.sort();
    let control = std::fs::read(pgdata.join("global/pg_control")).unwrap();
    (paths, control)
}
