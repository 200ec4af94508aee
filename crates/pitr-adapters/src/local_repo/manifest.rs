//! The parts of a `backup_manifest` (PostgreSQL 13+) the catalog needs.

use crate::domain::lsn::Lsn;
use crate::domain::timeline::TimelineId;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Raw {
    #[serde(rename = "PostgreSQL-Backup-Manifest-Version")]
    version: u32,
    /// PostgreSQL 17+ only.
    #[serde(rename = "System-Identifier")]
    system_identifier: Option<u64>,
    #[serde(rename = "WAL-Ranges", default)]
    wal_ranges: Vec<RawRange>,
}

#[derive(Debug, Deserialize)]
struct RawRange {
    #[serde(rename = "Timeline")]
    timeline: u32,
    #[serde(rename = "Start-LSN")]
    start: Lsn,
    #[serde(rename = "End-LSN")]
    end: Lsn,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub system_identifier: Option<u64>,
    pub wal_ranges: Vec<(TimelineId, Lsn, Lsn)>,
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let raw: Raw = serde_json::from_str(text).map_err(|e| {
            format!("expected a backup manifest (JSON with PostgreSQL-Backup-Manifest-Version and WAL-Ranges): {e}")
        })?;
        if !(1..=2).contains(&raw.version) {
            return Err(format!(
                "manifest version {} is not one this console knows (1 or 2)",
                raw.version
            ));
        }
        Ok(Manifest {
            system_identifier: raw.system_identifier,
            wal_ranges: raw
                .wal_ranges
                .into_iter()
                .map(|r| (TimelineId(r.timeline), r.start, r.end))
                .collect(),
        })
    }

    /// The backup's consistency point: the end of its last WAL range.
    pub fn end_lsn(&self) -> Option<Lsn> {
        self.wal_ranges.iter().map(|r| r.2).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wal_ranges() {
        let text = r#"{ "PostgreSQL-Backup-Manifest-Version": 1,
"Files": [
{ "Path": "backup_label", "Size": 227, "Last-Modified": "2026-11-21 05:53:40 GMT", "Checksum-Algorithm": "CRC32C", "Checksum": "a1b2c3d4" }
],
"WAL-Ranges": [
{ "Timeline": 1, "Start-LSN": "0/9000028", "End-LSN": "0/9000138" }
],
"Manifest-Checksum": "00"}"#;
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.end_lsn(), Some("0/9000138".parse().unwrap()));
        assert_eq!(m.wal_ranges[0].0, TimelineId(1));
        assert_eq!(m.system_identifier, None);
    }

    #[test]
    fn says_what_it_expected() {
        let err = Manifest::parse("{}").unwrap_err();
        assert!(err.contains("PostgreSQL-Backup-Manifest-Version"), "{err}");
    }
}
