//! WAL segment file names (`TTTTTTTTXXXXXXXXYYYYYYYY`) and their arithmetic.
//!
//! The "XXXXXXXX" part counts 4 GiB "log ids" and "YYYYYYYY" the segment inside one, so the
//! mapping from segment number to name depends on the segment size.

use super::lsn::Lsn;
use super::timeline::TimelineId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Smallest and largest segment sizes initdb accepts (1 MiB .. 1 GiB, powers of two).
pub const MIN_SEGMENT_SIZE: u64 = 1 << 20;
pub const MAX_SEGMENT_SIZE: u64 = 1 << 30;

/// A cluster's WAL segment size, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SegmentSize(u64);

impl SegmentSize {
    pub const DEFAULT: SegmentSize = SegmentSize(16 << 20);

    pub fn new(bytes: u64) -> Option<SegmentSize> {
        (bytes.is_power_of_two() && (MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&bytes))
            .then_some(SegmentSize(bytes))
    }

    pub fn bytes(self) -> u64 {
        self.0
    }

    /// Segments in one 4 GiB log id.
    pub fn per_log_id(self) -> u64 {
        0x1_0000_0000 / self.0
    }
}

/// One segment of one timeline: what an archived WAL file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WalSegment {
    pub timeline: TimelineId,
    pub number: u64,
}

impl WalSegment {
    pub fn new(timeline: TimelineId, number: u64) -> Self {
        WalSegment { timeline, number }
    }

    pub fn containing(timeline: TimelineId, lsn: Lsn, size: SegmentSize) -> Self {
        WalSegment::new(timeline, lsn.segment_number(size.bytes()))
    }

    pub fn start_lsn(self, size: SegmentSize) -> Lsn {
        Lsn(self.number * size.bytes())
    }

    /// First position after this segment.
    pub fn end_lsn(self, size: SegmentSize) -> Lsn {
        Lsn((self.number + 1) * size.bytes())
    }

    pub fn file_name(self, size: SegmentSize) -> String {
        let per = size.per_log_id();
        format!(
            "{:08X}{:08X}{:08X}",
            self.timeline.0,
            self.number / per,
            self.number % per
        )
    }

    /// Parses a 24-hex-digit segment name; `None` for anything else (history files,
    /// `.backup` labels and suffixes are the caller's business).
    pub fn parse_file_name(name: &str, size: SegmentSize) -> Option<WalSegment> {
        if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let tli = u32::from_str_radix(&name[0..8], 16).ok()?;
        let log = u64::from_str_radix(&name[8..16], 16).ok()?;
        let seg = u64::from_str_radix(&name[16..24], 16).ok()?;
        if tli == 0 || seg >= size.per_log_id() {
            return None;
        }
        Some(WalSegment::new(
            TimelineId(tli),
            log * size.per_log_id() + seg,
        ))
    }

    /// A value that prints its file name; handy in messages.
    pub fn display(self, size: SegmentSize) -> SegmentDisplay {
        SegmentDisplay { seg: self, size }
    }
}

pub struct SegmentDisplay {
    seg: WalSegment,
    size: SegmentSize,
}

impl fmt::Display for SegmentDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.seg.file_name(self.size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_with_16_mib() {
        let size = SegmentSize::DEFAULT;
        let seg = WalSegment::containing(TimelineId(1), "1/2000028".parse().unwrap(), size);
        assert_eq!(seg.file_name(size), "000000010000000100000002");
        assert_eq!(
            WalSegment::parse_file_name("000000010000000100000002", size),
            Some(seg)
        );
    }

    #[test]
    fn names_depend_on_segment_size() {
        let one_mib = SegmentSize::new(1 << 20).unwrap();
        let lsn: Lsn = "0/2A00000".parse().unwrap();
        let seg = WalSegment::containing(TimelineId(2), lsn, one_mib);
        assert_eq!(seg.number, 0x2A);
        assert_eq!(seg.file_name(one_mib), "00000002000000000000002A");
        let big = SegmentSize::new(1 << 30).unwrap();
        let seg = WalSegment::containing(TimelineId(1), "5/40000000".parse().unwrap(), big);
        assert_eq!(seg.file_name(big), "000000010000000500000001");
        // With 1 GiB segments there are only four per log id: 0x04 is not a valid low part.
        assert_eq!(
            WalSegment::parse_file_name("000000010000000500000004", big),
            None
        );
    }

    #[test]
    fn segment_bounds() {
        let size = SegmentSize::DEFAULT;
        let seg = WalSegment::new(TimelineId(1), 3);
        assert_eq!(seg.start_lsn(size).to_string(), "0/3000000");
        assert_eq!(seg.end_lsn(size).to_string(), "0/4000000");
    }

    #[test]
    fn rejects_non_segment_names() {
        let size = SegmentSize::DEFAULT;
        for bad in [
            "00000002.history",
            "000000000000000000000001",
            "00000001000000000000000G",
        ] {
            assert_eq!(WalSegment::parse_file_name(bad, size), None);
        }
        assert_eq!(SegmentSize::new(3 << 20), None);
        assert_eq!(SegmentSize::new(2 << 30), None);
    }
}
