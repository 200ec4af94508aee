//! One pg_basebackup output: a plain data directory or `base.tar[.gz|.zst|.lz4]`, each with
//! its `backup_manifest` next to it.

use super::archive::{classify, open_decompressed, read_long_header, ArchiveName};
use super::manifest::Manifest;
use crate::domain::backup::BackupFormat;
use crate::domain::catalog::Compression;
use crate::domain::segment::SegmentSize;
use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

pub const TAR_NAMES: [(&str, Compression); 4] = [
    ("base.tar", Compression::None),
    ("base.tar.gz", Compression::Gzip),
    ("base.tar.zst", Compression::Zstd),
    ("base.tar.lz4", Compression::Lz4),
];

#[derive(Debug)]
pub struct BackupFiles {
    pub format: BackupFormat,
    pub label_text: String,
    /// When backup_label was written: close to the backup's start.
    pub label_mtime: Option<SystemTime>,
    pub manifest: Option<Manifest>,
    /// When the manifest was written: just after the backup ended.
    pub manifest_mtime: Option<SystemTime>,
    /// From global/pg_control (plain backups only: in a tar it is the last member).
    pub control: Option<ControlFacts>,
    /// From a segment in pg_wal/ (plain backups taken with -X fetch or stream).
    pub wal_header: Option<(SegmentSize, u64)>,
    /// The major version in PG_VERSION (plain backups only: in a tar it may lie anywhere).
    pub pg_major: Option<u32>,
    /// A plain backup holding `INCREMENTAL.*` files under base/ (17+ incremental backups).
    pub has_incremental_files: bool,
    /// Bytes on disk.
    pub size_bytes: u64,
    /// Problems that do not stop the backup from being listed.
    pub warnings: Vec<String>,
}

/// Reads a backup directory; the error says what was expected.
pub fn read(dir: &Path) -> Result<BackupFiles, String> {
    let plain_label = dir.join("backup_label");
    let (format, label_text, label_mtime) = if plain_label.is_file() {
        let text = std::fs::read_to_string(&plain_label)
            .map_err(|e| format!("cannot read {}: {e}", plain_label.display()))?;
        (BackupFormat::Plain, text, mtime(&plain_label))
    } else if let Some((tar, compression)) = TAR_NAMES
        .iter()
        .map(|(n, c)| (dir.join(n), *c))
        .find(|(p, _)| p.is_file())
    {
        let text = label_from_tar(&tar, compression)?;
        (BackupFormat::Tar, text, mtime(&tar))
    } else {
        return Err(
            "expected a pg_basebackup output: backup_label (plain format) or base.tar, base.tar.gz, .zst or .lz4 (tar format)"
                .into(),
        );
    };
    let mut warnings = Vec::new();
    let manifest_path = dir.join("backup_manifest");
    let manifest = if manifest_path.is_file() {
        match std::fs::read_to_string(&manifest_path)
            .map_err(|e| e.to_string())
            .and_then(|t| Manifest::parse(&t))
        {
            Ok(m) => Some(m),
            Err(e) => {
                warnings.push(format!("{}: {e}", manifest_path.display()));
                None
            }
        }
    } else {
        None
    };
    let plain = format == BackupFormat::Plain;
    Ok(BackupFiles {
        format,
        label_text,
        label_mtime,
        manifest_mtime: manifest.as_ref().and_then(|_| mtime(&manifest_path)),
        manifest,
        control: if plain {
            read_control(&dir.join("global/pg_control"))
        } else {
            None
        },
        wal_header: if plain {
            wal_header(&dir.join("pg_wal"))
        } else {
            None
        },
        pg_major: if plain {
            std::fs::read_to_string(dir.join("PG_VERSION"))
                .ok()
                .and_then(|t| crate::domain::pg_version::major_of_pg_version_file(&t))
        } else {
            None
        },
        has_incremental_files: plain && has_incremental_files(&dir.join("base")),
        size_bytes: disk_usage(dir),
        warnings,
    })
}

/// Whether any database directory under `base` holds an `INCREMENTAL.` file.
fn has_incremental_files(base: &Path) -> bool {
    let Ok(dbs) = std::fs::read_dir(base) else {
        return false;
    };
    dbs.flatten().any(|db| {
        std::fs::read_dir(db.path()).is_ok_and(|files| {
            files
                .flatten()
                .any(|f| f.file_name().to_string_lossy().starts_with("INCREMENTAL."))
        })
    })
}

/// pg_basebackup writes backup_label as the tar's first member; stop there rather than
/// decompress a whole backup.
fn label_from_tar(tar: &Path, compression: Compression) -> Result<String, String> {
    let reader = open_decompressed(tar, compression)
        .map_err(|e| format!("cannot open {}: {e}", tar.display()))?;
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|e| format!("{} is not a readable tar archive: {e}", tar.display()))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| format!("{} is not a readable tar archive: {e}", tar.display()))?;
        let is_label = entry
            .path()
            .is_ok_and(|p| p.as_os_str() == "backup_label" || p.as_os_str() == "./backup_label");
        if is_label {
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read backup_label inside {}: {e}", tar.display()))?;
            return Ok(text);
        }
    }
    Err(format!("{} holds no backup_label", tar.display()))
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ControlFacts {
    pub system_identifier: u64,
    /// Only for layouts checked against pg_controldata (see `parse_control`).
    pub segment_size: Option<SegmentSize>,
}

fn read_control(path: &Path) -> Option<ControlFacts> {
    let mut head = [0u8; CONTROL_HEAD];
    std::fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
    Some(parse_control(&head))
}

const CONTROL_HEAD: usize = 232;

/// ControlFileData starts with the system identifier (u64) and pg_control_version (u32)
/// in every version. `xlog_seg_size` sits at byte 228 in layout 1300 (PostgreSQL 13 to 16),
/// checked against pg_controldata on 15; other layouts are not guessed.
pub fn parse_control(head: &[u8; CONTROL_HEAD]) -> ControlFacts {
    let u32_at = |o: usize| u32::from_le_bytes([head[o], head[o + 1], head[o + 2], head[o + 3]]);
    let mut sysid = [0u8; 8];
    sysid.copy_from_slice(&head[0..8]);
    let segment_size = (u32_at(8) == 1300)
        .then(|| SegmentSize::new(u64::from(u32_at(228))))
        .flatten();
    ControlFacts {
        system_identifier: u64::from_le_bytes(sysid),
        segment_size,
    }
}

fn wal_header(pg_wal: &Path) -> Option<(SegmentSize, u64)> {
    let mut names: Vec<_> = std::fs::read_dir(pg_wal)
        .ok()?
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            matches!(
                classify(&name.to_string_lossy()),
                ArchiveName::Segment {
                    partial: false,
                    compression: Compression::None,
                    ..
                }
            )
        })
        .map(|e| e.path())
        .collect();
    names.sort();
    names
        .iter()
        .find_map(|p| read_long_header(p, Compression::None).ok())
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn disk_usage(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| disk_usage(&e.path())).sum())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pg_control_layout_1300() {
        let mut head = [0u8; CONTROL_HEAD];
        head[0..8].copy_from_slice(&42u64.to_le_bytes());
        head[8..12].copy_from_slice(&1300u32.to_le_bytes());
        head[228..232].copy_from_slice(&(4u32 << 20).to_le_bytes());
        let facts = parse_control(&head);
        assert_eq!(facts.system_identifier, 42);
        assert_eq!(facts.segment_size.map(SegmentSize::bytes), Some(4 << 20));
        head[8..12].copy_from_slice(&1700u32.to_le_bytes());
        assert_eq!(parse_control(&head).segment_size, None);
    }
}
