//! Reading archived segment files, plain or compressed the way archive commands do it.

use crate::domain::catalog::Compression;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Splits `NAME[.partial][.gz|.zst|.lz4]` into the bare name, compression and partial flag.
pub fn classify(file_name: &str) -> (&str, Compression, bool) {
    let (rest, compression) = if let Some(r) = file_name.strip_suffix(".gz") {
        (r, Compression::Gzip)
    } else if let Some(r) = file_name.strip_suffix(".zst") {
        (r, Compression::Zstd)
    } else if let Some(r) = file_name.strip_suffix(".lz4") {
        (r, Compression::Lz4)
    } else {
        (file_name, Compression::None)
    };
    match rest.strip_suffix(".partial") {
        Some(bare) => (bare, compression, true),
        None => (rest, compression, false),
    }
}

/// Opens a segment file for reading its decompressed bytes.
pub fn open_segment(path: &Path, compression: Compression) -> io::Result<Box<dyn Read + Send>> {
    let file = File::open(path)?;
    Ok(match compression {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(file)?),
        Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(file)),
    })
}

/// Reads until `buf` is full or the input ends; returns how much was read.
pub fn fill(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::segment::MAX_SEGMENT_SIZE;
    use std::io::Write;

    /// Reads a whole segment file into `buf` (reused between calls), decompressing it.
    /// Output beyond the largest segment size is refused, so a hostile file cannot fill memory.
    fn read_segment(path: &Path, compression: Compression, buf: &mut Vec<u8>) -> io::Result<()> {
        buf.clear();
        let limit = MAX_SEGMENT_SIZE + 1;
        let n = open_segment(path, compression)?
            .take(limit)
            .read_to_end(buf)?;
        if n as u64 >= limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "decompresses to more than 1 GiB, larger than any WAL segment",
            ));
        }
        Ok(())
    }

    #[test]
    fn names() {
        let n = "000000010000000000000003";
        assert_eq!(classify(n), (n, Compression::None, false));
        assert_eq!(
            classify(&format!("{n}.partial.zst")),
            (n, Compression::Zstd, true)
        );
        assert_eq!(classify(&format!("{n}.gz")), (n, Compression::Gzip, false));
    }

    #[test]
    fn round_trips_each_compression() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let gz = dir.path().join("a.gz");
        let mut e =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        e.write_all(&data).unwrap();
        e.finish().unwrap();
        let zst = dir.path().join("a.zst");
        std::fs::write(&zst, zstd::encode_all(&data[..], 3).unwrap()).unwrap();
        let lz = dir.path().join("a.lz4");
        let mut e = lz4_flex::frame::FrameEncoder::new(File::create(&lz).unwrap());
        e.write_all(&data).unwrap();
        e.finish().unwrap();
        let mut buf = Vec::new();
        for (p, c) in [
            (gz, Compression::Gzip),
            (zst, Compression::Zstd),
            (lz, Compression::Lz4),
        ] {
            read_segment(&p, c, &mut buf).unwrap();
            assert_eq!(buf, data);
        }
        std::fs::write(dir.path().join("bad.zst"), b"not zstd").unwrap();
        assert!(read_segment(&dir.path().join("bad.zst"), Compression::Zstd, &mut buf).is_err());
    }
}
