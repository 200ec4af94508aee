//! Main data of the records the index keeps: transaction ends, restore points, checkpoints.

use serde::{Deserialize, Serialize};

pub const RM_XLOG_ID: u8 = 0;
pub const RM_XACT_ID: u8 = 1;

pub const XLOG_CHECKPOINT_SHUTDOWN: u8 = 0x00;
pub const XLOG_CHECKPOINT_ONLINE: u8 = 0x10;
pub const XLOG_SWITCH: u8 = 0x40;
pub const XLOG_RESTORE_POINT: u8 = 0x70;

const XLOG_XACT_OPMASK: u8 = 0x70;
const XLOG_XACT_HAS_INFO: u8 = 0x80;

const XINFO_HAS_DBINFO: u32 = 0x01;
const XINFO_HAS_SUBXACTS: u32 = 0x02;
const XINFO_HAS_RELFILENODES: u32 = 0x04;
const XINFO_HAS_INVALS: u32 = 0x08;
const XINFO_HAS_TWOPHASE: u32 = 0x10;
const XINFO_HAS_DROPPED_STATS: u32 = 0x100;

/// Microseconds from the Unix epoch to PostgreSQL's 2000-01-01.
pub const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum XactKind {
    Commit,
    Abort,
    CommitPrepared,
    AbortPrepared,
}

impl XactKind {
    pub fn is_commit(self) -> bool {
        matches!(self, XactKind::Commit | XactKind::CommitPrepared)
    }

    pub fn code(self) -> u8 {
        match self {
            XactKind::Commit => 0,
            XactKind::Abort => 1,
            XactKind::CommitPrepared => 2,
            XactKind::AbortPrepared => 3,
        }
    }

    pub fn from_code(c: u8) -> Option<XactKind> {
        [
            XactKind::Commit,
            XactKind::Abort,
            XactKind::CommitPrepared,
            XactKind::AbortPrepared,
        ]
        .get(usize::from(c))
        .copied()
    }
}

/// A commit or abort as its record states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XactEnd<'a> {
    pub kind: XactKind,
    /// The transaction's own xid (for prepared ones, the twophase field's).
    pub xid: u32,
    /// Unix microseconds.
    pub time_us: i64,
    /// Subtransaction xids, 4 bytes each, little-endian.
    pub subxacts: &'a [u8],
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn i64_at(b: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn counted(b: &[u8], at: usize, item: usize) -> Option<(usize, usize)> {
    let n = usize::try_from(i32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?)).ok()?;
    let end = at.checked_add(4)?.checked_add(n.checked_mul(item)?)?;
    (end <= b.len()).then_some((at + 4, end))
}

/// Parses an RM_XACT record's main data; `None` for other opcodes or short data.
pub fn xact_end(info: u8, header_xid: u32, main: &[u8], version: u8) -> Option<XactEnd<'_>> {
    let kind = match info & XLOG_XACT_OPMASK {
        0x00 => XactKind::Commit,
        0x20 => XactKind::Abort,
        0x30 => XactKind::CommitPrepared,
        0x40 => XactKind::AbortPrepared,
        _ => return None,
    };
    let time_us = i64_at(main, 0)?.checked_add(PG_EPOCH_UNIX_MICROS)?;
    let mut end = XactEnd {
        kind,
        xid: header_xid,
        time_us,
        subxacts: &[],
    };
    if info & XLOG_XACT_HAS_INFO == 0 {
        return Some(end);
    }
    let xinfo = u32_at(main, 8)?;
    let mut at = 12;
    if xinfo & XINFO_HAS_DBINFO != 0 {
        at += 8;
    }
    if xinfo & XINFO_HAS_SUBXACTS != 0 {
        let (s, e) = counted(main, at, 4)?;
        end.subxacts = &main[s..e];
        at = e;
    }
    if xinfo & XINFO_HAS_RELFILENODES != 0 {
        at = counted(main, at, 12)?.1;
    }
    if version >= 15 && xinfo & XINFO_HAS_DROPPED_STATS != 0 {
        at = counted(main, at, 12)?.1;
    }
    if kind.is_commit() && xinfo & XINFO_HAS_INVALS != 0 {
        at = counted(main, at, 16)?.1;
    }
    if xinfo & XINFO_HAS_TWOPHASE != 0 {
        end.xid = u32_at(main, at)?;
    }
    Some(end)
}

/// `(time in Unix microseconds, name)` of a restore point record.
pub fn restore_point(main: &[u8]) -> Option<(i64, String)> {
    let t = i64_at(main, 0)?.checked_add(PG_EPOCH_UNIX_MICROS)?;
    let raw = main.get(8..main.len().min(72))?;
    let name = raw.split(|&b| b == 0).next().unwrap_or(raw);
    Some((t, String::from_utf8_lossy(name).into_owned()))
}

/// `(redo LSN, time in Unix seconds)` of a checkpoint record.
pub fn checkpoint(main: &[u8]) -> Option<(u64, i64)> {
    let redo = u64::from_le_bytes(main.get(0..8)?.try_into().ok()?);
    Some((redo, i64_at(main, 64)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_commit_time() {
        let main = 1_000_000i64.to_le_bytes();
        let e = xact_end(0x00, 77, &main, 15).unwrap();
        assert_eq!(
            (e.kind, e.xid, e.time_us),
            (XactKind::Commit, 77, PG_EPOCH_UNIX_MICROS + 1_000_000)
        );
    }

    #[test]
    fn commit_prepared_takes_the_twophase_xid() {
        let mut m = 5i64.to_le_bytes().to_vec();
        m.extend_from_slice(
            &(XINFO_HAS_DBINFO | XINFO_HAS_SUBXACTS | XINFO_HAS_TWOPHASE).to_le_bytes(),
        );
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&2i32.to_le_bytes());
        m.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
        m.extend_from_slice(&741u32.to_le_bytes());
        let e = xact_end(0x30 | 0x80, 0, &m, 15).unwrap();
        assert_eq!(
            (e.kind, e.xid, e.subxacts.len()),
            (XactKind::CommitPrepared, 741, 8)
        );
        assert!(xact_end(0x30 | 0x80, 0, &m[..m.len() - 2], 15).is_none());
        assert!(xact_end(0x10, 5, &m, 15).is_none());
    }

    #[test]
    fn restore_point_name() {
        let mut m = 0i64.to_le_bytes().to_vec();
        m.extend_from_slice(b"before_delete\0garbage");
        assert_eq!(restore_point(&m).unwrap().1, "before_delete");
    }
}
