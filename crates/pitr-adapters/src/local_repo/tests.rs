//! Hand-made repositories: every file shape the local catalog reads, and the broken ones.

use super::*;
use crate::domain::backup::BackupFormat;
use crate::domain::timeline::TimelineId;
use std::io::Write;

const SYSID: u64 = 7_400_000_000_000_000_042;
const MIB: u32 = 1 << 20;

fn header(seg_size: u32) -> Vec<u8> {
    let mut h = vec![0u8; 8192];
    h[0..2].copy_from_slice(&0xD110u16.to_le_bytes());
    h[2..4].copy_from_slice(&2u16.to_le_bytes());
    h[24..32].copy_from_slice(&SYSID.to_le_bytes());
    h[32..36].copy_from_slice(&seg_size.to_le_bytes());
    h[36..40].copy_from_slice(&8192u32.to_le_bytes());
    h
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn label(start: &str, file: &str, label: &str) -> String {
    format!(
        "START WAL LOCATION: {start} (file {file})\nCHECKPOINT LOCATION: {start}\nBACKUP METHOD: streamed\n\
         BACKUP FROM: primary\nSTART TIME: 2026-11-21 05:53:40 UTC\nLABEL: {label}\nSTART TIMELINE: 1\n"
    )
}

fn manifest(start: &str, end: &str) -> String {
    format!(
        r#"{{ "PostgreSQL-Backup-Manifest-Version": 1,
"Files": [],
"WAL-Ranges": [
{{ "Timeline": 1, "Start-LSN": "{start}", "End-LSN": "{end}" }}
],
"Manifest-Checksum": "00"}}"#
    )
}

fn tar_gz_with_label(text: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut h = tar::Header::new_gnu();
    h.set_size(text.len() as u64);
    h.set_mode(0o600);
    h.set_cksum();
    builder
        .append_data(&mut h, "backup_label", text.as_bytes())
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_cksum();
    builder
        .append_data(&mut h, "PG_VERSION", &b"15\n\0"[..])
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

/// A repository with 1 MiB segments 3..=9 on timeline 1 (6 missing, 8 gzip, 9 zstd),
/// a .partial, timeline 2's history, a plain and a tar backup, and junk.
fn repository(root: &Path) -> (PathBuf, PathBuf) {
    let wal = root.join("wal");
    let backups = root.join("backups");
    // Whole segments: a file of another size is damaged, as PostgreSQL sees it.
    let mut seg = header(MIB);
    seg.resize(MIB as usize, 0);
    for n in [3, 4, 5, 7] {
        write(&wal.join(format!("0000000100000000000000{n:02X}")), &seg);
    }
    write(&wal.join("000000010000000000000008.gz"), &gzip(&seg));
    write(
        &wal.join("000000010000000000000009.zst"),
        &zstd::encode_all(&seg[..], 1).unwrap(),
    );
    let mut lz4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
    lz4.write_all(&seg).unwrap();
    write(
        &wal.join("00000002000000000000000A.lz4"),
        &lz4.finish().unwrap(),
    );
    write(&wal.join("00000001000000000000000A.partial"), &seg);
    write(
        &wal.join("00000002.history"),
        b"1\t0/A000000\tno recovery target specified\n",
    );
    write(
        &wal.join("000000010000000000000003.00000028.backup"),
        format!(
            "{}STOP WAL LOCATION: 0/3000100 (file 000000010000000000000003)\nSTOP TIME: 2026-11-21 05:53:42 UTC\nSTOP TIMELINE: 1\n",
            label("0/3000028", "000000010000000000000003", "one")
        )
        .as_bytes(),
    );
    write(&wal.join("README"), b"not wal");
    write(&wal.join("00000003.history"), b"garbage line\n");

    let plain = backups.join("b1");
    write(
        &plain.join("backup_label"),
        label("0/3000028", "000000010000000000000003", "one").as_bytes(),
    );
    write(
        &plain.join("backup_manifest"),
        manifest("0/3000028", "0/3000100").as_bytes(),
    );
    let mut control = SYSID.to_le_bytes().to_vec();
    control.extend_from_slice(&1300u32.to_le_bytes());
    control.resize(8192, 0);
    control[228..232].copy_from_slice(&MIB.to_le_bytes());
    write(&plain.join("global/pg_control"), &control);

    let tar = backups.join("b2");
    write(
        &tar.join("base.tar.gz"),
        &tar_gz_with_label(&label("0/7000028", "000000010000000000000007", "two")),
    );
    write(
        &tar.join("backup_manifest"),
        manifest("0/7000028", "0/7000200").as_bytes(),
    );

    std::fs::create_dir_all(backups.join("empty")).unwrap();
    write(&backups.join("notes.txt"), b"x");
    (backups, wal)
}

#[test]
fn reads_a_hand_made_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let (backups, wal) = repository(tmp.path());
    let c = read_catalog("hand", &backups, &wal).unwrap();
    assert_eq!(c.repository, "hand");
    assert_eq!(c.segment_size.bytes(), 1 << 20);

    let names: Vec<_> = c.segments.iter().map(|s| s.file_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "000000010000000000000003",
            "000000010000000000000004",
            "000000010000000000000005",
            "000000010000000000000007",
            "000000010000000000000008.gz",
            "000000010000000000000009.zst",
            "00000001000000000000000A.partial",
            "00000002000000000000000A.lz4",
        ]
    );
    assert_eq!(c.segments[4].compression, Compression::Gzip);
    assert!(c.segments[6].partial);
    assert_eq!(c.segments[7].segment, WalSegment::new(TimelineId(2), 10));
    assert!(c.segments[0].archived_at.is_some());
    assert!(c.segments[0].size_bytes > 0);

    assert_eq!(c.histories.len(), 1);
    assert_eq!(c.histories[0].timeline, TimelineId(2));

    assert_eq!(c.backups.len(), 2);
    let b1 = &c.backups[0];
    assert_eq!((b1.id.as_str(), b1.format), ("b1", BackupFormat::Plain));
    assert_eq!(b1.label.as_deref(), Some("one"));
    assert_eq!(b1.start_lsn.to_string(), "0/3000028");
    assert_eq!(b1.stop_lsn.to_string(), "0/3000100");
    assert_eq!(b1.timeline, TimelineId(1));
    assert!(b1.stop_time_exact, "the .backup file gives the stop time");
    assert_eq!(b1.stop_time.to_rfc3339(), "2026-11-21T05:53:42+00:00");
    assert_eq!(b1.start_time.to_rfc3339(), "2026-11-21T05:53:40+00:00");
    assert_eq!(b1.system_identifier, Some(SYSID));
    assert!(b1.has_manifest);
    assert_eq!(b1.manifest_wal_ranges.len(), 1);
    assert_eq!(b1.segment_size, c.segment_size);

    let b2 = &c.backups[1];
    assert_eq!((b2.id.as_str(), b2.format), ("b2", BackupFormat::Tar));
    assert_eq!(b2.stop_lsn.to_string(), "0/7000200");
    assert!(
        !b2.stop_time_exact,
        "no .backup file: the manifest's time is an estimate"
    );
    assert_eq!(b2.label.as_deref(), Some("two"));
    assert!(b2.size_bytes.unwrap() > 0);

    let warnings = c.warnings.join("\n");
    for expected in [
        "README",
        "00000003.history",
        "notes.txt",
        "backup empty",
        "expected a pg_basebackup output",
    ] {
        assert!(
            warnings.contains(expected),
            "missing warning about {expected} in:\n{warnings}"
        );
    }
}

#[test]
fn an_unreadable_backup_is_a_warning_and_the_others_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let (backups, wal) = repository(tmp.path());
    write(&backups.join("b3/base.tar.gz"), b"not gzip at all");
    write(&backups.join("b4/backup_label"), b"LABEL: no start\n");
    write(
        &backups.join("b5/backup_label"),
        b"START WAL LOCATION: 0/5000028 (file 000000010000000000000005)\nCHECKPOINT LOCATION: 0/4000060\n",
    );
    let c = read_catalog("hand", &backups, &wal).unwrap();
    assert_eq!(c.backups.len(), 2);
    let warnings = c.warnings.join("\n");
    assert!(warnings.contains("backup b3"), "{warnings}");
    assert!(
        warnings.contains("backup b4") && warnings.contains("START WAL LOCATION"),
        "{warnings}"
    );
}

#[test]
fn a_backup_without_stop_position_is_not_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let (backups, wal) = repository(tmp.path());
    std::fs::remove_file(backups.join("b2/backup_manifest")).unwrap();
    let c = read_catalog("hand", &backups, &wal).unwrap();
    assert_eq!(c.backups.len(), 1);
    assert!(c
        .warnings
        .iter()
        .any(|w| w.contains("backup b2") && w.contains("stop position is unknown")));
}

#[test]
fn missing_directories_are_errors_naming_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let (backups, _) = repository(tmp.path());
    let err = read_catalog("hand", &backups, &tmp.path().join("nope")).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("nope") && text.contains("WAL archive"),
        "{text}"
    );
    let err = read_catalog("hand", &tmp.path().join("none"), &tmp.path().join("wal")).unwrap_err();
    assert!(err.to_string().contains("backups directory"), "{err}");
}

#[test]
fn without_segments_the_size_defaults_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("wal")).unwrap();
    std::fs::create_dir_all(tmp.path().join("backups")).unwrap();
    let c = read_catalog(
        "empty",
        &tmp.path().join("backups"),
        &tmp.path().join("wal"),
    )
    .unwrap();
    assert_eq!(c.segment_size, SegmentSize::DEFAULT);
    assert!(c.warnings.iter().any(|w| w.contains("assuming 16 MiB")));
}

#[test]
fn keeps_one_file_per_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let (backups, wal) = repository(tmp.path());
    write(
        &wal.join("000000010000000000000004.gz"),
        &gzip(&header(MIB)),
    );
    let c = read_catalog("hand", &backups, &wal).unwrap();
    let fours: Vec<_> = c
        .segments
        .iter()
        .filter(|s| s.segment.number == 4)
        .collect();
    assert_eq!(fours.len(), 1);
    assert_eq!(fours[0].compression, Compression::None);
    assert!(c
        .warnings
        .iter()
        .any(|w| w.contains("000000010000000000000004.gz")));
}

#[test]
fn segment_size_from_pg_control_when_the_archive_is_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let (backups, _) = repository(tmp.path());
    let empty = tmp.path().join("empty-wal");
    std::fs::create_dir_all(&empty).unwrap();
    let c = read_catalog("hand", &backups, &empty).unwrap();
    assert_eq!(c.segment_size.bytes(), 1 << 20);
    assert!(
        !c.warnings.iter().any(|w| w.contains("assuming 16 MiB")),
        "{:?}",
        c.warnings
    );
    assert_eq!(c.backups.len(), 2, "the manifests give the stop positions");
}

#[test]
fn a_segment_of_the_wrong_size_is_damaged_and_compressed_history_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let (backups, wal) = repository(tmp.path());
    // Truncated after an XLOG SWITCH by a careless copy: PostgreSQL refuses it.
    write(&wal.join("000000010000000000000005"), &header(MIB));
    write(
        &wal.join("00000003.history.gz"),
        &gzip(b"1\t0/A000000\tx\n2\t0/9000000\ty\n"),
    );
    let c = read_catalog("hand", &backups, &wal).unwrap();
    assert!(!c
        .segments
        .iter()
        .any(|s| s.segment.number == 5
            && s.segment.timeline == crate::domain::timeline::TimelineId(1)));
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("000000010000000000000005") && w.contains("wrong size")),
        "{:?}",
        c.warnings
    );
    let h3 = c
        .history(crate::domain::timeline::TimelineId(3))
        .expect("the gzip history file is read");
    assert_eq!(
        h3.fork_point().unwrap().switch_point.to_string(),
        "0/9000000"
    );
}
