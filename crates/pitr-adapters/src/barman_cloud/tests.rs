use super::*;

/// Trimmed from `barman-cloud-backup-list --format json` (barman 3.19) against moto.
const LIST: &str = r#"{"backups_list": [
 {"backup_id": "20261201T204444", "backup_name": null, "status": "DONE", "timeline": 1,
  "begin_wal": "000000010000000000000009", "begin_xlog": "0/900028", "end_xlog": "0/900100",
  "begin_time": "Tue Dec  1 20:44:44 2026", "end_time": "Tue Dec  1 20:44:46 2026",
  "begin_time_iso": "2026-12-01T20:44:44.518327+00:00", "end_time_iso": "2026-12-01T20:44:46.139938+00:00",
  "xlog_segment_size": 1048576, "systemid": "7714439255131579957", "cluster_size": 23527113, "size": null},
 {"backup_id": "20261201T210000", "backup_name": "nightly", "status": "FAILED", "timeline": 1,
  "begin_wal": null, "begin_xlog": null, "end_xlog": null}
]}"#;

fn obj(key: &str) -> ListedObject {
    ListedObject {
        key: key.into(),
        size: 1 << 20,
        modified: Some("2026-12-01T20:44:45+00:00".into()),
    }
}

fn no_history(_: TimelineId, f: &str) -> Result<TimelineHistory, String> {
    Err(format!("unexpected fetch of {f}"))
}

#[test]
fn the_backup_list_gives_backups_and_the_bucket_gives_segments_and_gaps() {
    let listed = parse_backup_list(LIST).unwrap();
    let objects: Vec<ListedObject> = [
        "arch/db/wals/0000000100000000/000000010000000000000009",
        "arch/db/wals/0000000100000000/000000010000000000000009.00000028.backup",
        "arch/db/wals/0000000100000000/00000001000000000000000A.gz",
        "arch/db/wals/0000000100000000/00000001000000000000000C.zst",
        "arch/db/wals/0000000100000000/00000001000000000000000C.partial",
        "arch/db/wals/0000000100000000/not-wal",
    ]
    .into_iter()
    .map(obj)
    .collect();
    let c = catalog_from("s3", "db", listed, &objects, no_history);
    assert_eq!(c.segment_size.bytes(), 1 << 20);
    assert_eq!(c.backups.len(), 1);
    let b = &c.backups[0];
    assert_eq!(b.id, "20261201T204444");
    assert_eq!(b.location, "barman-cloud:db/20261201T204444");
    assert_eq!(b.start_lsn, "0/900028".parse().unwrap());
    assert_eq!(b.stop_time.to_rfc3339(), "2026-12-01T20:44:46.139938+00:00");
    assert_eq!(b.system_identifier, Some(7714439255131579957));
    let numbers: Vec<(u64, bool)> = c
        .segments
        .iter()
        .map(|s| (s.segment.number, s.partial))
        .collect();
    assert_eq!(
        numbers,
        [(9, false), (10, false), (12, false)],
        "B is missing"
    );
    assert_eq!(c.segments[1].compression, Compression::Gzip);
    assert!(
        c.warnings.iter().any(|w| w.contains("has status FAILED")),
        "{:?}",
        c.warnings
    );
    assert!(
        c.warnings.iter().any(|w| w.contains("not-wal")),
        "{:?}",
        c.warnings
    );
}

#[test]
fn history_files_are_fetched_and_a_broken_one_is_a_warning() {
    let listed = parse_backup_list(LIST).unwrap();
    let objects = vec![
        obj("p/db/wals/00000002.history"),
        obj("p/db/wals/00000003.history.gz"),
    ];
    let c = catalog_from("s3", "db", listed, &objects, |tli, f| {
        if f == "00000002.history" {
            TimelineHistory::parse(tli, "1\t0/A000000\tno recovery target specified\n")
                .map_err(|e| e.to_string())
        } else {
            Err("fetch failed".into())
        }
    });
    assert_eq!(c.histories.len(), 1);
    assert_eq!(c.histories[0].timeline, TimelineId(2));
    assert!(c
        .warnings
        .iter()
        .any(|w| w.starts_with("00000003.history.gz: fetch failed")));
}

#[test]
fn destinations_name_what_is_wrong() {
    assert_eq!(
        split_destination("s3://pgarch/arch/").unwrap(),
        ("pgarch".into(), "arch".into())
    );
    assert_eq!(split_destination("s3://pgarch").unwrap().1, "");
    assert!(split_destination("pgarch/arch")
        .unwrap_err()
        .contains("not an S3 URL"));
    assert!(split_destination("s3://ab/x")
        .unwrap_err()
        .contains("3 to 63"));
    assert!(split_destination("s3://Big_Bucket/x")
        .unwrap_err()
        .contains("not an S3 bucket"));
    assert!(split_destination("s3://pgarch/a/../b")
        .unwrap_err()
        .contains(".."));
}

fn repo() -> RepositoryConfig {
    RepositoryConfig {
        name: "s3".into(),
        kind: crate::config::RepositoryKind::BarmanCloud,
        destination: Some("s3://pgarch/arch".into()),
        cloud_server: Some("db".into()),
        endpoint_url: Some("http://127.0.0.1:57700".into()),
        aws_profile: Some("pitr".into()),
        aws_credentials_file: Some("/etc/pitr/aws credentials".into()),
        ..Default::default()
    }
}

#[test]
fn the_restore_command_runs_the_venvs_tool_with_the_endpoint_and_no_secret() {
    let b = BarmanCloud::from_config(&repo()).unwrap();
    assert_eq!(
        b.restore_command(),
        "AWS_SHARED_CREDENTIALS_FILE='/etc/pitr/aws credentials' \
         /opt/pitr-console/cloud-venv/bin/barman-cloud-wal-restore --endpoint-url \
         http://127.0.0.1:57700 --aws-profile pitr s3://pgarch/arch db %f %p"
    );
    let fetch = SegmentFetch::command(
        &b,
        "000000010000000000000009",
        Path::new("/c/incoming/000000010000000000000009"),
    );
    assert_eq!(
        fetch.run_as, None,
        "the console's own copy is fetched as the console's user"
    );
    assert!(
        fetch.display().contains("--spool-dir /c/incoming/spool"),
        "{}",
        fetch.display()
    );
}

#[test]
fn missing_keys_are_named() {
    let mut r = repo();
    r.cloud_server = None;
    assert!(BarmanCloud::from_config(&r)
        .err()
        .unwrap()
        .contains("`cloud_server`"));
    r.cloud_server = Some("a/b".into());
    assert!(BarmanCloud::from_config(&r)
        .err()
        .unwrap()
        .contains("holds `/`"));
}
