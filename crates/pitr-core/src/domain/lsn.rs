//! Log sequence numbers and their arithmetic against a segment size.
//!
//! The segment size is a property of the cluster (initdb --wal-segsize), read from a
//! backup or a segment's long page header, so nothing here assumes 16 MiB.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A position in the write-ahead log, printed the PostgreSQL way (`16/B374D848`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl Lsn {
    pub const ZERO: Lsn = Lsn(0);

    /// Number of the segment that holds this position.
    pub fn segment_number(self, seg_size: u64) -> u64 {
        self.0 / seg_size
    }

    /// Offset of this position inside its segment.
    pub fn segment_offset(self, seg_size: u64) -> u64 {
        self.0 % seg_size
    }

    /// Bytes from `earlier` to `self`, zero when `earlier` is not earlier.
    pub fn bytes_since(self, earlier: Lsn) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an LSN: expected two hexadecimal numbers separated by a slash, like 0/16B3748")]
pub struct LsnParseError {
    pub input: String,
}

impl FromStr for Lsn {
    type Err = LsnParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || LsnParseError {
            input: s.to_string(),
        };
        let (hi, lo) = s.trim().split_once('/').ok_or_else(err)?;
        if hi.is_empty() || lo.is_empty() || hi.len() > 8 || lo.len() > 8 {
            return Err(err());
        }
        let hi = u32::from_str_radix(hi, 16).map_err(|_| err())?;
        let lo = u32::from_str_radix(lo, 16).map_err(|_| err())?;
        Ok(Lsn((u64::from(hi) << 32) | u64::from(lo)))
    }
}

impl Serialize for Lsn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Lsn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_like_postgres() {
        let lsn: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(lsn.0, 0x16_B374_D848);
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!(Lsn(0x0100_0000).to_string(), "0/1000000");
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "0", "/1", "1/", "G/1", "1/2/3", "123456789/0"] {
            assert!(bad.parse::<Lsn>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn segment_arithmetic_uses_the_given_size() {
        let lsn = Lsn(0x0300_0010);
        assert_eq!(lsn.segment_number(16 << 20), 3);
        assert_eq!(lsn.segment_offset(16 << 20), 0x10);
        assert_eq!(lsn.segment_number(1 << 20), 0x30);
        assert_eq!(lsn.segment_number(64 << 20), 0);
    }
}
