//! Builds real labs (PostgreSQL from the machine) and checks what they recorded, and that
//! the local catalog reads the same thing back.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use lab_support::build;
use pitr_console::adapters::local_repo::read_catalog;
use pitr_console::domain::backup::BackupFormat;
use pitr_console::domain::catalog::Catalog;
use pitr_console::domain::segment::{SegmentSize, WalSegment};
use pitr_console::lab::{self, LabOptions, LabRecord};

/// The catalog of the lab's repository must say what the lab recorded.
fn check_catalog(record: &LabRecord) -> Catalog {
    let catalog = read_catalog("lab-archive", &record.backups_dir, &record.wal_archive).unwrap();
    assert!(catalog.warnings.is_empty(), "{:?}", catalog.warnings);
    assert_eq!(catalog.segment_size.bytes(), record.segment_size);
    assert_eq!(catalog.backups.len(), record.backups.len());
    for (want, got) in record.backups.iter().zip(&catalog.backups) {
        assert_eq!(got.id, want.id);
        assert_eq!(got.format, want.format);
        assert_eq!(got.start_lsn, want.start_lsn, "{}", want.id);
        assert_eq!(got.stop_lsn, want.stop_lsn, "{}", want.id);
        assert_eq!(got.timeline, want.timeline);
        assert_eq!(got.label.as_deref(), Some(want.label.as_str()));
        assert!(got.has_manifest && got.stop_time_exact, "{}", want.id);
        assert!(got.start_time <= got.stop_time);
        assert!(got.stop_time <= want.finished_at + chrono::Duration::seconds(1));
    }
    assert_eq!(
        catalog.backups[0].system_identifier,
        Some(record.system_identifier)
    );
    catalog
}

/// Segment numbers of the lab's timeline that the archive lacks between the first backup's
/// start and the last archived segment.
fn holes(record: &LabRecord, catalog: &Catalog) -> Vec<String> {
    let size = catalog.segment_size;
    let numbers: Vec<u64> = catalog
        .segments
        .iter()
        .filter(|s| s.segment.timeline == record.timeline && !s.partial)
        .map(|s| s.segment.number)
        .collect();
    let first = record.backups[0].start_lsn.segment_number(size.bytes());
    let last = *numbers.iter().max().unwrap();
    (first..=last)
        .filter(|n| !numbers.contains(n))
        .map(|n| WalSegment::new(record.timeline, n).file_name(size))
        .collect()
}

fn segment_of(record: &LabRecord, lsn: pitr_console::domain::lsn::Lsn) -> String {
    let size = SegmentSize::new(record.segment_size).unwrap();
    WalSegment::containing(record.timeline, lsn, size).file_name(size)
}

#[test]
fn lab_without_gap() {
    let (guard, record) = build(55501, false);
    let dir = &guard.dir;

    assert_eq!(record.port, 55501);
    assert_eq!(record.backups.len(), 2);
    assert_eq!(record.backups[0].format, BackupFormat::Plain);
    assert_eq!(record.backups[1].format, BackupFormat::Tar);
    assert!(record.backups[0].stop_lsn < record.backups[1].start_lsn);
    assert!(record.backups[0].path.join("backup_label").is_file());
    assert!(record.backups[1].path.join("base.tar.gz").is_file());
    assert_eq!(record.restore_points.len(), 2);
    assert!(record.restore_points[0].lsn > record.backups[0].stop_lsn);
    assert!(record.restore_points[0].lsn < record.backups[1].start_lsn);
    assert!(record.missing_segment.is_none());
    let inc = record.first_incident().unwrap();
    assert!(inc.deleted > 100, "{inc:?}");
    assert_eq!(inc.rows_before - inc.deleted, inc.rows_after);
    assert!(inc.time_before < inc.time_after && inc.lsn_before < inc.lsn_after);
    let commit = inc.commit_time.unwrap();
    assert!(inc.time_before <= commit && commit <= inc.time_after);
    assert!(record.restore_points[1].lsn < inc.lsn_before);

    let catalog = check_catalog(&record);
    assert!(
        holes(&record, &catalog).is_empty(),
        "{:?}",
        holes(&record, &catalog)
    );
    let last = catalog.segments.last().unwrap().segment;
    assert!(
        last.end_lsn(catalog.segment_size) > inc.lsn_after,
        "the incident is archived"
    );

    let config: toml::Table = std::fs::read_to_string(&record.config_file)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(config["journal_dir"].as_str(), dir.join("journal").to_str());
    let repo = &config["repository"].as_array().unwrap()[0];
    assert_eq!(repo["kind"].as_str(), Some("local"));
    assert_eq!(repo["wal_archive"].as_str(), record.wal_archive.to_str());
    let server = &config["server"].as_array().unwrap()[0];
    assert_eq!(server["repository"].as_str(), Some("lab-archive"));
    assert_eq!(server["port"].as_integer(), Some(55501));
    assert!(server["dsn"].as_str().unwrap().contains("dbname=lab"));
    assert_eq!(
        config["check"].as_array().unwrap()[0]["name"].as_str(),
        Some("orders present")
    );

    refuses_to_overwrite_archived_segments(&record, &catalog);
    check_catalog_json(&record);

    let status = lab::status(dir).unwrap();
    assert!(status.running);
    assert_eq!(status.port, 55501);
    // Reuse, also after the server was stopped.
    let opts = LabOptions {
        dir: Some(dir.clone()),
        port: None,
        scale: 1,
        with_gap: false,
        ..Default::default()
    };
    assert_eq!(lab::up(&opts).unwrap(), record);
    let pg_ctl = record.bin_dir.join("pg_ctl");
    let stopped = std::process::Command::new("runuser")
        .args(["-u", &record.server_user, "--"])
        .arg(&pg_ctl)
        .arg("-D")
        .arg(&record.pgdata)
        .args(["-m", "fast", "-w", "stop"])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(!lab::status(dir).unwrap().running);
    assert_eq!(lab::up(&opts).unwrap(), record);
    assert!(lab::status(dir).unwrap().running);
    assert!(lab::up(&LabOptions {
        port: Some(55509),
        ..opts.clone()
    })
    .is_err());

    let after = lab::incident(dir).unwrap();
    assert_eq!(after.incidents.len(), 2);
    assert!(after.incidents[1].deleted > 0);
    assert!(after.incidents[1].time_before > inc.time_after);
    assert_eq!(lab::status(dir).unwrap().record, after);
    assert!(holes(
        &after,
        &read_catalog("lab-archive", &after.backups_dir, &after.wal_archive).unwrap()
    )
    .is_empty());

    lab::down(dir).unwrap();
    assert!(!dir.exists());
}

/// The archive script exits 0 for a file it already holds and 1 for a different one with
/// the same name, leaving the archived file as it was.
fn refuses_to_overwrite_archived_segments(record: &LabRecord, catalog: &Catalog) {
    let name = &catalog.segments[0].file_name;
    let archived = record.wal_archive.join(name);
    let before = std::fs::read(&archived).unwrap();
    let script = record.dir.join("archive-wal.sh");
    let same = std::process::Command::new(&script)
        .arg(&archived)
        .arg(name)
        .status()
        .unwrap();
    assert!(same.success());
    let other = record.dir.join("other");
    std::fs::write(&other, b"different").unwrap();
    let out = std::process::Command::new(&script)
        .arg(&other)
        .arg(name)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read(&archived).unwrap(), before);
    std::fs::remove_file(other).unwrap();
}

#[test]
fn lab_with_gap() {
    let (guard, record) = build(55502, true);
    let missing = record.missing_segment.clone().expect("a missing segment");
    assert!(!record.wal_archive.join(&missing).exists());
    let inc = record.first_incident().unwrap();
    let b2 = &record.backups[1];
    assert!(
        missing > segment_of(&record, b2.stop_lsn),
        "{missing} after backup 2"
    );
    assert!(
        missing < segment_of(&record, inc.lsn_before),
        "{missing} before the incident"
    );

    let catalog = check_catalog(&record);
    assert_eq!(holes(&record, &catalog), [missing]);
    check_catalog_json(&record);

    // Without the archive the segment size comes from the plain backup's pg_control.
    let no_wal = guard.dir.join("no-wal");
    std::fs::create_dir(&no_wal).unwrap();
    let bare = read_catalog("lab-archive", &record.backups_dir, &no_wal).unwrap();
    assert_eq!(
        bare.segment_size.bytes(),
        record.segment_size,
        "{:?}",
        bare.warnings
    );
    assert_eq!(bare.backups.len(), 2);
    assert!(bare.backups.iter().all(|b| !b.stop_time_exact));
    lab::down(&guard.dir).unwrap();
}

#[test]
fn down_refuses_a_directory_that_is_not_a_lab() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("precious"), b"x").unwrap();
    let err = lab::down(tmp.path()).unwrap_err();
    assert!(err.to_string().contains("no lab"), "{err}");
    assert!(tmp.path().join("precious").exists());
    let err = lab::up(&LabOptions {
        dir: Some(tmp.path().to_path_buf()),
        port: Some(55503),
        scale: 1,
        with_gap: false,
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
}

/// As root the server user must reach the lab: a directory under /root is refused with a
/// way out, and what the attempt left is removable with `lab down`.
#[test]
fn refuses_a_directory_the_server_user_cannot_reach() {
    if !nix::unistd::Uid::effective().is_root() {
        return;
    }
    let home = tempfile::tempdir_in("/root").unwrap();
    let dir = home.path().join("lab");
    let err = lab::up(&LabOptions {
        dir: Some(dir.clone()),
        port: Some(55504),
        scale: 1,
        with_gap: false,
        ..Default::default()
    })
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("cannot reach") && text.contains(lab::ROOT_DEFAULT_DIR),
        "{text}"
    );
    let again = lab::up(&LabOptions {
        dir: Some(dir.clone()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(again.to_string().contains("incomplete lab"), "{again}");
    lab::down(&dir).unwrap();
    assert!(!dir.exists());
}

/// `catalog --json` through the binary, with the WAL index: exact times, the incident inside
/// a window (or, with the gap, the windows cut at the exact missing segment).
fn check_catalog_json(record: &LabRecord) {
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pitr-console"))
        .arg("--config")
        .arg(&record.config_file)
        .args(["catalog", "--server", "lab", "--json"])
        .env("XDG_DATA_HOME", data.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["backups"].as_array().unwrap().len() >= 2);
    assert_eq!(json["times_estimated"], false, "WAL was read: no estimates");
    let inc = record.first_incident().unwrap();
    let commit = inc.commit_time.unwrap();
    let at = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v["at"].as_str().unwrap())
            .unwrap()
            .to_utc()
    };
    let windows = json["windows"].as_array().unwrap();
    let covering = windows
        .iter()
        .filter(|w| at(&w["start"]) <= commit && commit <= at(&w["end"]))
        .count();
    let gaps = json["timelines"][0]["gaps"].as_array().unwrap();
    match &record.missing_segment {
        None => {
            assert!(gaps.is_empty(), "{gaps:?}");
            assert_eq!(covering, 2, "the incident is inside both backups' windows");
            // The index places the instant just before the DELETE's commit at its record.
            let config = pitr_console::config::load(&record.config_file).unwrap();
            let view = pitr_console::adapters::catalog::load_view(
                &config.repositories[0],
                Some(data.path()),
            )
            .unwrap();
            let before = commit - chrono::Duration::microseconds(1);
            let lsn = view.times.lsn_at(record.timeline, before).unwrap();
            assert!(
                inc.lsn_before <= lsn && lsn < inc.lsn_after,
                "{lsn} not within the DELETE's WAL {}..{}",
                inc.lsn_before,
                inc.lsn_after
            );
        }
        Some(missing) => {
            assert_eq!(gaps.len(), 1);
            assert_eq!(gaps[0]["first_missing"].as_str(), Some(missing.as_str()));
            assert_eq!(
                covering, 0,
                "the gap lies between the backups and the incident"
            );
            assert!(windows
                .iter()
                .all(|w| w["ends_because"]["missing_segment"].as_str() == Some(missing.as_str())));
        }
    }
}
