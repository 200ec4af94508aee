//! Incremental backup chains (PostgreSQL 17+): each incremental names its parent by the
//! parent's start (`INCREMENTAL FROM LSN/TLI`); restoring one needs the whole chain down to
//! a full backup, combined oldest first.

use super::backup::Backup;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error(
        "incremental backup {backup} was taken on a backup that started at {lsn} on timeline {timeline}, \
         and no backup in the repository did: its chain is broken and it cannot be restored \
         (restore a full backup instead, or bring the missing parent back)"
    )]
    MissingParent {
        backup: String,
        lsn: super::lsn::Lsn,
        timeline: super::timeline::TimelineId,
    },
    #[error("incremental backup {backup} leads back to itself through its parents")]
    Cycle { backup: String },
}

/// The backup `b` was taken on: the one of the same cluster that started exactly where `b`
/// says. `None` for a full backup or when no such backup is there.
pub fn parent<'a>(backups: &'a [Backup], b: &Backup) -> Option<&'a Backup> {
    let from = b.incremental?;
    backups.iter().find(|p| {
        p.id != b.id
            && p.start_lsn == from.lsn
            && p.timeline == from.timeline
            && match (p.system_identifier, b.system_identifier) {
                (Some(x), Some(y)) => x == y,
                _ => true,
            }
    })
}

/// The chain restoring `b` needs, oldest (the full backup) first, `b` last; just `[b]` for a
/// full backup.
pub fn chain<'a>(backups: &'a [Backup], b: &'a Backup) -> Result<Vec<&'a Backup>, ChainError> {
    let mut chain = vec![b];
    let mut at = b;
    while let Some(from) = at.incremental {
        let p = parent(backups, at).ok_or_else(|| ChainError::MissingParent {
            backup: at.id.clone(),
            lsn: from.lsn,
            timeline: from.timeline,
        })?;
        if chain.iter().any(|c| c.id == p.id) {
            return Err(ChainError::Cycle {
                backup: b.id.clone(),
            });
        }
        chain.push(p);
        at = p;
    }
    chain.reverse();
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::backup::{BackupFormat, IncrementalFrom};
    use crate::domain::lsn::Lsn;
    use crate::domain::segment::SegmentSize;
    use crate::domain::timeline::TimelineId;

    fn backup(id: &str, start: u64, from: Option<u64>) -> Backup {
        let t = chrono::DateTime::UNIX_EPOCH;
        Backup {
            id: id.into(),
            label: None,
            format: BackupFormat::Plain,
            location: format!("/b/{id}"),
            timeline: TimelineId(1),
            start_lsn: Lsn(start),
            stop_lsn: Lsn(start + 0x100),
            start_time: t,
            stop_time: t,
            stop_time_exact: true,
            segment_size: SegmentSize::new(1 << 20).unwrap(),
            system_identifier: Some(7),
            size_bytes: None,
            manifest_wal_ranges: vec![],
            has_manifest: true,
            pg_major: Some(18),
            incremental: from.map(|lsn| IncrementalFrom {
                lsn: Lsn(lsn),
                timeline: TimelineId(1),
            }),
        }
    }

    #[test]
    fn an_incremental_on_an_incremental_chains_down_to_the_full() {
        let all = vec![
            backup("full", 0x1000, None),
            backup("inc2", 0x3000, Some(0x2000)),
            backup("inc1", 0x2000, Some(0x1000)),
        ];
        let ids: Vec<&str> = chain(&all, &all[1])
            .unwrap()
            .iter()
            .map(|b| b.id.as_str())
            .collect();
        assert_eq!(ids, ["full", "inc1", "inc2"]);
        assert_eq!(chain(&all, &all[0]).unwrap().len(), 1);
    }

    #[test]
    fn a_missing_parent_is_named() {
        let all = vec![
            backup("inc2", 0x3000, Some(0x2000)),
            backup("inc1", 0x2000, Some(0x1000)),
        ];
        let err = chain(&all, &all[0]).unwrap_err().to_string();
        assert!(err.contains("inc1") && err.contains("0/1000"), "{err}");
        let mut other = backup("full", 0x1000, None);
        other.system_identifier = Some(8);
        let all = vec![other, backup("inc1", 0x2000, Some(0x1000))];
        assert!(
            chain(&all, &all[1]).is_err(),
            "another cluster's backup is no parent"
        );
    }
}
