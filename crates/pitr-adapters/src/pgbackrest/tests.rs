//! Parsers on pgBackRest 2.45's own output (recorded from the real tool), and the rendered
//! restores.

use super::*;

const INFO: &str = include_str!("../../../../tests/fixtures/pgbackrest/info.json");
const LS: &str = include_str!("../../../../tests/fixtures/pgbackrest/repo-ls.json");

#[test]
fn reads_info() {
    let info = parse_info(&serde_json::from_str(INFO).unwrap(), "main").unwrap();
    assert_eq!(info.status_code, 0);
    assert_eq!(info.archive_ids, ["15-1"]);
    let b = &info.backups[0];
    assert_eq!(b.label, "20261121-060637F");
    assert_eq!(b.kind, "full");
    assert_eq!(b.timeline, TimelineId(1));
    assert_eq!(b.start_lsn, "0/2000028".parse().unwrap());
    assert_eq!(b.stop_lsn, "0/2000100".parse().unwrap());
    assert_eq!(b.start_time.timestamp(), 1795241197);
    assert_eq!(b.size_bytes, Some(22992613));
    assert_eq!(b.system_identifier, Some(7710502219988496779));
    let err = parse_info(&serde_json::from_str(INFO).unwrap(), "other").unwrap_err();
    assert!(err.contains("stanza `other`"), "{err}");
}

#[test]
fn reads_the_archive_listing() {
    let mut w = Vec::new();
    let files = parse_repo_ls(
        &serde_json::from_str(LS).unwrap(),
        SegmentSize::DEFAULT,
        &mut w,
    )
    .unwrap();
    assert!(w.is_empty(), "{w:?}");
    let names: Vec<String> = files
        .segments
        .iter()
        .map(|s| s.segment.file_name(SegmentSize::DEFAULT))
        .collect();
    assert_eq!(
        names,
        ["000000010000000000000001", "000000010000000000000002"]
    );
    assert_eq!(files.segments[1].compression, Compression::Gzip);
    assert_eq!(files.segments[1].size_bytes, 16463);
    assert!(files.histories.is_empty());

    let mut v: Value = serde_json::from_str(LS).unwrap();
    v["00000002.history"] = serde_json::json!({"type": "file", "size": 42, "time": 1});
    v["15-1/0000000200000000/000000020000000000000003.partial-0123abcd.zst"] =
        serde_json::json!({"type": "file", "size": 9, "time": 1});
    let files = parse_repo_ls(&v, SegmentSize::DEFAULT, &mut w).unwrap();
    assert_eq!(
        files.histories,
        [(TimelineId(2), "00000002.history".to_string())]
    );
    let partial = files.segments.iter().find(|s| s.partial).unwrap();
    assert_eq!(partial.compression, Compression::Zstd);
    assert_eq!(partial.segment.timeline, TimelineId(2));
}

fn repo(method: RestoreMethod) -> PgBackRest {
    PgBackRest {
        stanza: "main".into(),
        tool: ToolHost {
            host: None,
            user: "postgres".into(),
            ssh: Default::default(),
        },
        config: Some("/etc/pgbackrest/pgbackrest.conf".into()),
        method,
    }
}

fn backup() -> Backup {
    Backup {
        id: "20261121-060637F".into(),
        label: Some("full".into()),
        format: BackupFormat::Tool,
        location: "pgbackrest:main/20261121-060637F".into(),
        timeline: TimelineId(1),
        start_lsn: Lsn(0x2000028),
        stop_lsn: Lsn(0x2000100),
        start_time: DateTime::from_timestamp(1795241197, 0).unwrap(),
        stop_time: DateTime::from_timestamp(1795241199, 0).unwrap(),
        stop_time_exact: true,
        segment_size: SegmentSize::DEFAULT,
        system_identifier: None,
        size_bytes: None,
        manifest_wal_ranges: vec![],
        has_manifest: false,
        pg_major: None,
        incremental: None,
    }
}

#[test]
fn restore_commands() {
    let at = "2026-11-21T06:06:46.508636Z".parse().unwrap();
    let (t, rc) = repo(RestoreMethod::Pgbackrest).restore(
        &backup(),
        &RecoveryTarget::Time {
            at,
            inclusive: false,
        },
        Path::new("/srv/pg"),
    );
    assert_eq!(
        t.commands[0].display(),
        "(as postgres) LC_ALL=C pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=main --pg1-path=/srv/pg restore --set=20261121-060637F --type=time '--target=2026-11-21 06:06:46.508636+00' --target-exclusive --target-action=pause"
    );
    assert_eq!(
        rc,
        "pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=main --pg1-path=/srv/pg archive-get %f \"%p\""
    );
    let (t, _) = repo(RestoreMethod::ArchiveGet).restore(
        &backup(),
        &RecoveryTarget::Latest,
        Path::new("/srv/pg"),
    );
    assert!(t.commands[0].display().ends_with("--type=none"));
    assert_eq!(target_args(&RecoveryTarget::Latest), ["--type=default"]);
    assert_eq!(
        target_args(&RecoveryTarget::Immediate),
        ["--type=immediate", "--target-action=pause"]
    );
}

#[test]
fn a_segment_missing_from_the_archive_is_a_gap() {
    let mut v: Value = serde_json::from_str(LS).unwrap();
    v["15-1/0000000100000000/000000010000000000000004-0123abcd.gz"] =
        serde_json::json!({"type": "file", "size": 9, "time": 1795241300});
    let mut w = Vec::new();
    let files = parse_repo_ls(&v, SegmentSize::DEFAULT, &mut w).unwrap();
    let catalog = Catalog {
        repository: "pgbackrest".into(),
        segment_size: SegmentSize::DEFAULT,
        backups: vec![backup()],
        segments: files.segments,
        histories: vec![],
        warnings: vec![],
        damaged: Vec::new(),
    };
    let times = crate::domain::times::EstimatedTimes::from_catalog(&catalog);
    let cov = crate::domain::coverage::compute(&catalog, &times);
    let gaps = &cov.timelines[0].gaps;
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].first_missing, "000000010000000000000003");
}
