//! What `pg_controldata` says about a data directory, the identity a roll back must match.

use crate::domain::lsn::Lsn;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlData {
    pub system_identifier: u64,
    pub checkpoint: Lsn,
    pub timeline: u32,
    pub state: String,
}

impl ControlData {
    /// Parses `LC_ALL=C pg_controldata` output.
    pub fn parse(text: &str) -> Result<ControlData, String> {
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
                .map(str::trim)
                .ok_or_else(|| {
                    format!("pg_controldata output has no `{name}` line (run it with LC_ALL=C)")
                })
        };
        let sysid = field("Database system identifier")?;
        let system_identifier = sysid
            .parse()
            .map_err(|_| format!("system identifier `{sysid}` is not a number"))?;
        let cp = field("Latest checkpoint location")?;
        let checkpoint = cp.parse().map_err(|e| format!("{e}"))?;
        let tli = field("Latest checkpoint's TimeLineID")?;
        let timeline = tli
            .parse()
            .map_err(|_| format!("timeline `{tli}` is not a number"))?;
        Ok(ControlData {
            system_identifier,
            checkpoint,
            timeline,
            state: field("Database cluster state")?.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fields() {
        let out = "pg_control version number:            1300\nDatabase system identifier:           7323456789012345678\nDatabase cluster state:               shut down\nLatest checkpoint location:           0/3000028\nLatest checkpoint's TimeLineID:       2\n";
        let c = ControlData::parse(out).unwrap();
        assert_eq!(c.system_identifier, 7323456789012345678);
        assert_eq!(c.checkpoint, Lsn(0x3000028));
        assert_eq!(c.timeline, 2);
        assert_eq!(c.state, "shut down");
        assert!(ControlData::parse("nothing").is_err());
    }
}
