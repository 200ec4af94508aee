//! The binary, data-directory and report checks for the drill, training and role tests (labs
//! come from `lab_support`).

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

pub const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");

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

/// Every phase row of a drill report, and the total, carries a measured time.
pub fn assert_every_phase_timed(md: &str) {
    for phase in [
        "| Preparation |",
        "| Recovery |",
        "| Verification |",
        "| **Total RTO**",
    ] {
        let line = md
            .lines()
            .find(|l| l.starts_with(phase))
            .unwrap_or_else(|| panic!("{phase} missing:\n{md}"));
        assert!(
            !line.contains("not timed") && !line.contains("not measured"),
            "{line}"
        );
    }
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
