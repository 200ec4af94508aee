//! Names and headers of the files in a WAL archive.

use crate::domain::catalog::Compression;
use crate::domain::segment::SegmentSize;
use crate::domain::timeline::TimelineId;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// What a file name in the archive says it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveName {
    /// A segment (`TTTTTTTTXXXXXXXXYYYYYYYY`), possibly compressed, possibly `.partial`.
    Segment {
        hex: String,
        compression: Compression,
        partial: bool,
    },
    /// `TTTTTTTT.history`, compressed like segments when the archive compresses them.
    History(TimelineId, Compression),
    /// `<segment>.<offset>.backup`, likewise.
    BackupHistory(Compression),
    Unknown,
}

/// A name without its compression suffix, and which one it was.
fn uncompressed(name: &str) -> (&str, Compression) {
    [
        (".gz", Compression::Gzip),
        (".zst", Compression::Zstd),
        (".lz4", Compression::Lz4),
    ]
    .into_iter()
    .find_map(|(suffix, c)| name.strip_suffix(suffix).map(|r| (r, c)))
    .unwrap_or((name, Compression::None))
}

pub fn classify(name: &str) -> ArchiveName {
    // Archive commands that compress segments (gzip %p, pgBackRest-like scripts) compress
    // the history and backup history files too: seed 003's archive holds .history.gz.
    let (bare, compression) = uncompressed(name);
    if let Some(tli) = bare.strip_suffix(".history") {
        return match u32::from_str_radix(tli, 16) {
            Ok(t) if tli.len() == 8 && t > 0 => ArchiveName::History(TimelineId(t), compression),
            _ => ArchiveName::Unknown,
        };
    }
    if let Some(rest) = bare.strip_suffix(".backup") {
        return match rest.split_once('.') {
            Some((seg, off)) if is_hex(seg, 24) && is_hex(off, 8) => {
                ArchiveName::BackupHistory(compression)
            }
            _ => ArchiveName::Unknown,
        };
    }
    // pg_receivewal writes `NAME.gz.partial`, servers and tools `NAME.partial[.gz]`.
    let mut rest = name;
    let mut partial = false;
    let mut compression = Compression::None;
    loop {
        if let Some(r) = rest.strip_suffix(".partial").filter(|_| !partial) {
            partial = true;
            rest = r;
            continue;
        }
        let found = [
            (".gz", Compression::Gzip),
            (".zst", Compression::Zstd),
            (".lz4", Compression::Lz4),
        ]
        .into_iter()
        .find_map(|(suffix, c)| rest.strip_suffix(suffix).map(|r| (r, c)));
        match found {
            Some((r, c)) if compression == Compression::None => {
                compression = c;
                rest = r;
            }
            _ => break,
        }
    }
    if is_hex(rest, 24) {
        ArchiveName::Segment {
            hex: rest.to_string(),
            compression,
            partial,
        }
    } else {
        ArchiveName::Unknown
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The decompressed text of a small archived file (history, backup history).
pub fn read_text(path: &Path, compression: Compression) -> std::io::Result<String> {
    let mut text = String::new();
    open_decompressed(path, compression)?.read_to_string(&mut text)?;
    Ok(text)
}

/// A reader over the decompressed bytes of an archived file.
pub fn open_decompressed(path: &Path, compression: Compression) -> std::io::Result<Box<dyn Read>> {
    let file = BufReader::new(File::open(path)?);
    Ok(match compression {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(file)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(file)?),
        Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(file)),
    })
}

/// The segment size and system identifier from a segment's long page header (its first
/// 40 bytes: `xlp_info` @2 with XLP_LONG_HEADER, `xlp_sysid` @24, `xlp_seg_size` @32).
pub fn read_long_header(
    path: &Path,
    compression: Compression,
) -> Result<(SegmentSize, u64), String> {
    let mut head = [0u8; 40];
    open_decompressed(path, compression)
        .and_then(|mut r| r.read_exact(&mut head))
        .map_err(|e| format!("cannot read its first 40 bytes: {e}"))?;
    parse_long_header(&head)
}

pub fn parse_long_header(head: &[u8; 40]) -> Result<(SegmentSize, u64), String> {
    const XLP_LONG_HEADER: u16 = 0x0002;
    let info = u16::from_le_bytes([head[2], head[3]]);
    if info & XLP_LONG_HEADER == 0 {
        return Err("its first page has no long header (not the start of a WAL segment)".into());
    }
    let mut sysid = [0u8; 8];
    sysid.copy_from_slice(&head[24..32]);
    let seg_size = u32::from_le_bytes([head[32], head[33], head[34], head[35]]);
    let size = SegmentSize::new(u64::from(seg_size))
        .ok_or_else(|| format!("its header gives a segment size of {seg_size} bytes, not a power of two between 1 MiB and 1 GiB"))?;
    Ok((size, u64::from_le_bytes(sysid)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_names() {
        let seg = |hex: &str, compression, partial| ArchiveName::Segment {
            hex: hex.into(),
            compression,
            partial,
        };
        let n = "00000001000000000000000A";
        assert_eq!(classify(n), seg(n, Compression::None, false));
        assert_eq!(
            classify(&format!("{n}.gz")),
            seg(n, Compression::Gzip, false)
        );
        assert_eq!(
            classify(&format!("{n}.zst")),
            seg(n, Compression::Zstd, false)
        );
        assert_eq!(
            classify(&format!("{n}.partial")),
            seg(n, Compression::None, true)
        );
        assert_eq!(
            classify(&format!("{n}.lz4.partial")),
            seg(n, Compression::Lz4, true)
        );
        assert_eq!(
            classify(&format!("{n}.partial.gz")),
            seg(n, Compression::Gzip, true)
        );
        assert_eq!(
            classify("00000002.history"),
            ArchiveName::History(TimelineId(2), Compression::None)
        );
        assert_eq!(
            classify("00000003.history.gz"),
            ArchiveName::History(TimelineId(3), Compression::Gzip)
        );
        assert_eq!(
            classify(&format!("{n}.00000028.backup")),
            ArchiveName::BackupHistory(Compression::None)
        );
        assert_eq!(
            classify(&format!("{n}.00000028.backup.zst")),
            ArchiveName::BackupHistory(Compression::Zstd)
        );
        for bad in [
            "README",
            ".tmp.123",
            "0000000100000000000000.gz",
            &format!("{n}.gz.gz"),
            "00000000.history",
            "00000002.history.gz.gz",
        ] {
            assert_eq!(classify(bad), ArchiveName::Unknown, "{bad}");
        }
    }

    pub fn header(seg_size: u32, sysid: u64) -> [u8; 40] {
        let mut h = [0u8; 40];
        h[0..2].copy_from_slice(&0xD110u16.to_le_bytes());
        h[2..4].copy_from_slice(&2u16.to_le_bytes());
        h[4..8].copy_from_slice(&1u32.to_le_bytes());
        h[24..32].copy_from_slice(&sysid.to_le_bytes());
        h[32..36].copy_from_slice(&seg_size.to_le_bytes());
        h[36..40].copy_from_slice(&8192u32.to_le_bytes());
        h
    }

    #[test]
    fn reads_the_long_header() {
        let (size, sysid) = parse_long_header(&header(1 << 20, 7_300_000_000_000_000_001)).unwrap();
        assert_eq!(size.bytes(), 1 << 20);
        assert_eq!(sysid, 7_300_000_000_000_000_001);
        let mut short = header(1 << 20, 1);
        short[2] = 0;
        assert!(parse_long_header(&short).is_err());
        assert!(parse_long_header(&header(3 << 20, 1))
            .unwrap_err()
            .contains("power of two"));
    }
}
