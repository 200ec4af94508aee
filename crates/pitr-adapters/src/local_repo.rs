//! Catalog source for `kind = "local"` repositories: a directory of pg_basebackup outputs
//! (one per subdirectory, plain or tar) and a WAL archive directory as an archive_command
//! fills it.
//!
//! Only the two top directories being unreadable is an error; anything odd inside them
//! becomes a warning in the catalog, so one broken backup never hides the others.

mod archive;
mod backup_dir;
mod label;
mod manifest;

use crate::domain::backup::{Backup, DamagedBackup, IncrementalFrom};
use crate::domain::backup_chain;
use crate::domain::catalog::{ArchivedSegment, Catalog, Compression};
use crate::domain::lsn::Lsn;
use crate::domain::segment::{SegmentSize, WalSegment};
use crate::domain::timeline::TimelineHistory;
use archive::{classify, read_long_header, ArchiveName};
use backup_dir::BackupFiles;
use chrono::{DateTime, Utc};
use label::{parse_server_time, LabelFile};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(
        "repository `{repository}`: cannot list the backups directory {path} (expected a directory \
         holding one pg_basebackup output per subdirectory): {source}"
    )]
    Backups {
        repository: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "repository `{repository}`: cannot list the WAL archive {path} (expected the directory \
         archive_command copies segments into): {source}"
    )]
    Archive {
        repository: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One directory entry of the archive, before the segment size is known.
struct ArchiveFile {
    name: String,
    path: PathBuf,
    kind: ArchiveName,
    size_bytes: u64,
    mtime: Option<SystemTime>,
}

// Over 100 lines on purpose: lists backups, WAL and histories in one pass so their warnings come in one order.
#[allow(clippy::too_many_lines)]
pub fn read_catalog(
    name: &str,
    backups_dir: &Path,
    wal_archive: &Path,
) -> Result<Catalog, CatalogError> {
    let mut warnings = Vec::new();
    let files = list_archive(name, wal_archive, &mut warnings)?;
    let backup_dirs = list_backups(name, backups_dir, &mut warnings)?;

    let backups_read: Vec<(String, PathBuf, Result<BackupFiles, String>)> = backup_dirs
        .into_iter()
        .map(|(id, path)| {
            let read = backup_dir::read(&path);
            (id, path, read)
        })
        .collect();
    let segment_size = segment_size(&files, &backups_read, &mut warnings);

    let mut segments = Vec::new();
    let mut histories = Vec::new();
    let mut backup_histories: HashMap<Lsn, LabelFile> = HashMap::new();
    for f in &files {
        match &f.kind {
            ArchiveName::Segment {
                hex,
                compression,
                partial,
            } => match WalSegment::parse_file_name(hex, segment_size) {
                // PostgreSQL refuses such a file at restore ("archive file has wrong size"):
                // it is damaged, and where it should be, the window ends as at a gap.
                Some(_)
                    if *compression == Compression::None
                        && !*partial
                        && f.size_bytes != segment_size.bytes() =>
                {
                    warnings.push(format!(
                        "{}: {} bytes where a segment has {}: damaged (PostgreSQL refuses it with \"archive file has wrong size\"); treated as missing",
                        f.path.display(),
                        f.size_bytes,
                        segment_size.bytes()
                    ))
                }
                Some(segment) => segments.push(ArchivedSegment {
                    segment,
                    file_name: f.name.clone(),
                    compression: *compression,
                    partial: *partial,
                    size_bytes: f.size_bytes,
                    archived_at: f.mtime.map(DateTime::<Utc>::from),
                }),
                None => warnings.push(format!(
                    "{}: not a valid segment name for {} MiB segments; ignored",
                    f.path.display(),
                    segment_size.bytes() >> 20
                )),
            },
            ArchiveName::History(tli, compression) => match archive::read_text(&f.path, *compression)
                .map_err(|e| e.to_string())
                .and_then(|t| TimelineHistory::parse(*tli, &t).map_err(|e| e.to_string()))
            {
                Ok(h) => histories.push(h),
                Err(e) => warnings.push(format!("{}: {e}; ignored", f.path.display())),
            },
            ArchiveName::BackupHistory(compression) => match archive::read_text(&f.path, *compression) {
                Ok(text) => {
                    let parsed = LabelFile::parse(&text);
                    match parsed.start_lsn {
                        Some(start) => {
                            backup_histories.insert(start, parsed);
                        }
                        None => warnings.push(format!(
                            "{}: expected a backup history file with a START WAL LOCATION line; ignored",
                            f.path.display()
                        )),
                    }
                }
                Err(e) => warnings.push(format!("{}: cannot read: {e}; ignored", f.path.display())),
            },
            ArchiveName::Unknown => warnings.push(format!(
                "{}: not a WAL segment, .partial, .history or .backup file; ignored",
                f.path.display()
            )),
        }
    }
    segments.sort_by(|a, b| {
        (a.segment, a.partial, a.compression != Compression::None).cmp(&(
            b.segment,
            b.partial,
            b.compression != Compression::None,
        ))
    });
    segments.dedup_by(|later, kept| {
        let same = later.segment == kept.segment && later.partial == kept.partial;
        if same {
            warnings.push(format!(
                "{}: the archive also holds {} for the same segment; using {}",
                wal_archive.join(&later.file_name).display(),
                kept.file_name,
                kept.file_name
            ));
        }
        same
    });
    histories.sort_by_key(|h| h.timeline);

    let mut backups = Vec::new();
    let mut damaged = Vec::new();
    for (id, path, read) in backups_read {
        match read {
            Ok(files) => {
                let location = path.display().to_string();
                warnings.extend(files.warnings.iter().map(|w| format!("backup {id}: {w}")));
                match backup(id.clone(), location, files, segment_size, &backup_histories) {
                    Ok((b, mut w)) => {
                        warnings.append(&mut w);
                        match contradiction(&b) {
                            Some(problem) => {
                                warnings.push(format!(
                                    "backup {id} ({}) is damaged: {problem}; left out",
                                    path.display()
                                ));
                                damaged.push(DamagedBackup {
                                    id: b.id,
                                    location: b.location,
                                    problem,
                                });
                            }
                            None => backups.push(b),
                        }
                    }
                    Err(e) => {
                        warnings.push(format!("backup {id} ({}): {e}; not listed", path.display()))
                    }
                }
            }
            Err(e) => warnings.push(format!("backup {id} ({}): {e}; not listed", path.display())),
        }
    }
    backups.sort_by(|a, b| (a.start_lsn, &a.id).cmp(&(b.start_lsn, &b.id)));
    for b in &backups {
        if let Err(e) = backup_chain::chain(&backups, b) {
            warnings.push(e.to_string());
        }
    }

    Ok(Catalog {
        repository: name.to_string(),
        segment_size,
        backups,
        segments,
        histories,
        warnings,
        damaged,
    })
}

fn list_archive(
    name: &str,
    dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<ArchiveFile>, CatalogError> {
    let err = |source| CatalogError::Archive {
        repository: name.to_string(),
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        let path = entry.path();
        let file_name = entry.file_name().to_string_lossy().into_owned();
        match entry.metadata() {
            Ok(meta) if meta.is_file() => files.push(ArchiveFile {
                kind: classify(&file_name),
                name: file_name,
                path,
                size_bytes: meta.len(),
                mtime: meta.modified().ok(),
            }),
            Ok(_) => warnings.push(format!("{}: not a regular file; ignored", path.display())),
            Err(e) => warnings.push(format!(
                "{}: cannot read its metadata: {e}; ignored",
                path.display()
            )),
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

fn list_backups(
    name: &str,
    dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<(String, PathBuf)>, CatalogError> {
    let err = |source| CatalogError::Backups {
        repository: name.to_string(),
        path: dir.to_path_buf(),
        source,
    };
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        let path = entry.path();
        if path.is_dir() {
            dirs.push((entry.file_name().to_string_lossy().into_owned(), path));
        } else {
            warnings.push(format!(
                "{}: not a directory (each backup is one pg_basebackup output directory); ignored",
                path.display()
            ));
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// From the first archived segment's long header that reads; else from a plain backup's
/// pg_control or pg_wal; else 16 MiB with a warning (segment names may then be misread).
fn segment_size(
    files: &[ArchiveFile],
    backups: &[(String, PathBuf, Result<BackupFiles, String>)],
    warnings: &mut Vec<String>,
) -> SegmentSize {
    let mut problems = Vec::new();
    for f in files {
        if let ArchiveName::Segment {
            compression,
            partial: false,
            ..
        } = f.kind
        {
            match read_long_header(&f.path, compression) {
                Ok((size, _)) => return size,
                Err(e) => problems.push(format!("{}: {e}", f.path.display())),
            }
            if problems.len() >= 3 {
                break;
            }
        }
    }
    let mut from_backups = backups.iter().filter_map(|(_, _, b)| b.as_ref().ok());
    if let Some(size) = from_backups.find_map(|b| {
        b.control
            .and_then(|c| c.segment_size)
            .or(b.wal_header.map(|(size, _)| size))
    }) {
        return size;
    }
    warnings.extend(problems);
    warnings.push(
        "no readable WAL segment in the archive or the backups to take the segment size from; assuming 16 MiB"
            .into(),
    );
    SegmentSize::DEFAULT
}

/// Assembles one backup from its files and, when the archive holds it, the server's backup
/// history file (exact stop time).
fn backup(
    id: String,
    location: String,
    files: BackupFiles,
    segment_size: SegmentSize,
    histories: &HashMap<Lsn, LabelFile>,
) -> Result<(Backup, Vec<String>), String> {
    let mut warnings = Vec::new();
    let label = LabelFile::parse(&files.label_text);
    let start_lsn = label
        .start_lsn
        .ok_or("backup_label has no START WAL LOCATION line (expected e.g. `START WAL LOCATION: 0/2000028 (file ...)`)")?;
    let timeline = label
        .timeline()
        .ok_or("backup_label gives no START TIMELINE and no start segment name")?;
    if label.checkpoint_lsn.is_some_and(|c| c < start_lsn) {
        return Err(format!(
            "backup_label is inconsistent: its CHECKPOINT LOCATION lies before its START WAL LOCATION {start_lsn}"
        ));
    }
    let history = histories.get(&start_lsn);
    let manifest_end = files.manifest.as_ref().and_then(|m| m.end_lsn());
    let history_end = history.and_then(|h| h.stop_lsn);
    let stop_lsn = match (manifest_end, history_end) {
        (Some(m), Some(h)) if m != h => {
            warnings.push(format!(
                "backup {id}: backup_manifest ends at {m} but the archive's backup history file says {h}; using the manifest"
            ));
            m
        }
        (Some(lsn), _) | (None, Some(lsn)) => lsn,
        (None, None) => {
            return Err(
                "its stop position is unknown: no backup_manifest with WAL-Ranges and no backup history file (<segment>.<offset>.backup) in the WAL archive"
                    .into(),
            )
        }
    };
    let start_time = match label.start_time.as_deref().and_then(parse_server_time) {
        Some(t) => t,
        None => {
            warnings.push(format!(
                "backup {id}: START TIME `{}` has no zone this console can read unambiguously; using backup_label's file time",
                label.start_time.as_deref().unwrap_or("")
            ));
            to_utc(files.label_mtime)
        }
    };
    let exact_stop = history
        .and_then(|h| h.stop_time.as_deref())
        .and_then(parse_server_time);
    let (stop_time, stop_time_exact) = match exact_stop {
        Some(t) => (t, true),
        None => (to_utc(files.manifest_mtime.or(files.label_mtime)), false),
    };
    let incremental = match (label.incremental_from_lsn, label.incremental_from_tli) {
        (Some(lsn), tli) => Some(IncrementalFrom {
            lsn,
            timeline: tli.unwrap_or(timeline),
        }),
        (None, _) if files.has_incremental_files => {
            return Err(
                "it holds INCREMENTAL. files (an incremental backup) but its backup_label has no INCREMENTAL FROM LSN: its parent cannot be known, so it cannot be restored"
                    .into(),
            )
        }
        (None, _) => None,
    };
    let system_identifier = files
        .control
        .map(|c| c.system_identifier)
        .or(files.manifest.as_ref().and_then(|m| m.system_identifier))
        .or(files.wal_header.map(|(_, sysid)| sysid));
    Ok((
        Backup {
            id,
            label: label.label.filter(|l| !l.is_empty()),
            format: files.format,
            location,
            timeline,
            start_lsn,
            stop_lsn,
            start_time,
            stop_time,
            stop_time_exact,
            segment_size,
            system_identifier,
            size_bytes: Some(files.size_bytes),
            manifest_wal_ranges: files
                .manifest
                .as_ref()
                .map(|m| m.wal_ranges.clone())
                .unwrap_or_default(),
            has_manifest: files.manifest.is_some(),
            pg_major: files.pg_major,
            incremental,
        },
        warnings,
    ))
}

/// Where backup_label and backup_manifest disagree on where the backup's WAL starts (a
/// manifest of another backup, or an edited label), the window cannot be known from either.
fn contradiction(b: &Backup) -> Option<String> {
    let (tli, start) = b.manifest_start()?;
    (tli != b.timeline || start != b.start_lsn).then(|| {
        format!(
            "its backup_label starts at {} on timeline {} but its backup_manifest's WAL range starts at {start} on timeline {tli} (the manifest of another backup, or an edited label); pg_verifybackup would refuse it",
            b.start_lsn, b.timeline
        )
    })
}

fn to_utc(t: Option<SystemTime>) -> DateTime<Utc> {
    t.map_or(DateTime::<Utc>::UNIX_EPOCH, DateTime::<Utc>::from)
}

#[cfg(test)]
mod tests;
