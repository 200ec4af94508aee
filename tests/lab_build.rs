//! Builds real labs (PostgreSQL from the machine) and checks what they recorded, and that
//! the local catalog reads the same thing back.

use pitr_console::lab::{self, LabOptions, LabRecord};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Removes the lab (stopping its server) even when an assertion fails.
struct LabGuard {
    dir: PathBuf,
    _parent: tempfile::TempDir,
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        if self.dir.exists() {
            if let Err(e) = lab::down(&self.dir) {
                eprintln!("could not tear down the lab in {}: {e}", self.dir.display());
            }
        }
    }
}

/// A temp directory the server user can own (root's default temp dirs are 0700).
fn lab_dir() -> LabGuard {
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
        _parent: parent,
    }
}

fn build(port: u16, with_gap: bool) -> (LabGuard, LabRecord) {
    let guard = lab_dir();
    let start = Instant::now();
    let record = lab::up(&LabOptions {
        dir: Some(guard.dir.clone()),
        port: Some(port),
        scale: 1,
        with_gap,
    })
    .unwrap();
    eprintln!(
        "lab (with_gap={with_gap}) built in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    eprintln!("{}", record.summary());
    (guard, record)
}

fn archived_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 24 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    names.sort();
    names
}

#[test]
fn lab_without_gap() {
    let (guard, record) = build(55501, false);
    let dir = &guard.dir;
    assert_eq!(record.backups.len(), 2);
    assert!(record.missing_segment.is_none());
    let inc = record.first_incident().unwrap();
    assert!(inc.deleted > 0);
    assert_eq!(
        inc.rows_before - inc.deleted,
        inc.rows_after - (inc.rows_after - (inc.rows_before - inc.deleted))
    );
    let names = archived_names(&record.wal_archive);
    eprintln!("{names:?}");

    let status = lab::status(dir).unwrap();
    assert!(status.running);
    let again = lab::up(&LabOptions {
        dir: Some(dir.clone()),
        port: None,
        scale: 1,
        with_gap: false,
    })
    .unwrap();
    assert_eq!(again, record);
}
