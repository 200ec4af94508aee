//! The record header (`XLogRecord`) and the block-reference headers that precede the data.

use super::crc;
use serde::{Deserialize, Serialize};

pub const RECORD_HEADER_LEN: usize = 24;
/// PostgreSQL refuses records above about 1 GiB; anything larger is garbage.
pub const MAX_RECORD_LEN: u32 = 1 << 30;

const XLR_MAX_BLOCK_ID: u8 = 32;
const BLOCK_ID_DATA_SHORT: u8 = 255;
const BLOCK_ID_DATA_LONG: u8 = 254;
const BLOCK_ID_ORIGIN: u8 = 253;
const BLOCK_ID_TOPLEVEL_XID: u8 = 252;

const BKPBLOCK_HAS_IMAGE: u8 = 0x10;
const BKPBLOCK_HAS_DATA: u8 = 0x20;
const BKPBLOCK_SAME_REL: u8 = 0x80;
const BKPIMAGE_HAS_HOLE: u8 = 0x01;

/// A relation's on-disk identity as block references name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RelFileNode {
    pub spc: u32,
    pub db: u32,
    pub rel: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub tot_len: u32,
    pub xid: u32,
    pub prev: u64,
    pub info: u8,
    pub rmid: u8,
    pub crc: u32,
}

impl RecordHeader {
    pub fn parse(b: &[u8]) -> Option<RecordHeader> {
        let b = b.get(..RECORD_HEADER_LEN)?;
        Some(RecordHeader {
            tot_len: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            xid: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            prev: u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]),
            info: b[16],
            rmid: b[17],
            crc: u32::from_le_bytes([b[20], b[21], b[22], b[23]]),
        })
    }

    /// The checks PostgreSQL makes on a header before reading the rest of the record.
    /// `prev` is the previous record's LSN, or `None` at the start of a run, where only
    /// "points backwards" can be checked.
    pub fn validate(&self, lsn: u64, prev: Option<u64>, version: u8) -> Result<(), String> {
        if (self.tot_len as usize) < RECORD_HEADER_LEN {
            return Err(format!(
                "invalid record length: wanted {RECORD_HEADER_LEN}, got {}",
                self.tot_len
            ));
        }
        if self.tot_len > MAX_RECORD_LEN {
            return Err(format!("record length {} is too large", self.tot_len));
        }
        // 21 is the last built-in resource manager in 13..17; 15 added custom ones (128..).
        if self.rmid > 21 && !(version >= 15 && self.rmid >= 128) {
            return Err(format!("invalid resource manager ID {}", self.rmid));
        }
        match prev {
            Some(p) if self.prev != p => Err(format!(
                "record with incorrect prev-link {:X}/{:X}",
                self.prev >> 32,
                self.prev as u32
            )),
            None if self.prev >= lsn => Err(format!(
                "record with incorrect prev-link {:X}/{:X}",
                self.prev >> 32,
                self.prev as u32
            )),
            _ => Ok(()),
        }
    }
}

/// Checks the CRC of a complete record (header included).
pub fn crc_ok(record: &[u8], header: &RecordHeader) -> bool {
    let c = crc::update(!0, &record[RECORD_HEADER_LEN..]);
    let c = crc::update(c, &record[..20]);
    !c == header.crc
}

fn rd<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], String> {
    b.get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| "record too short for its block headers".to_string())
}

/// Walks the block-reference headers the way PostgreSQL's DecodeXLogRecord does, pushing
/// each referenced relation into `blocks` (cleared first) and returning the main data.
pub fn decode<'a>(
    record: &'a [u8],
    version: u8,
    blocks: &mut Vec<RelFileNode>,
) -> Result<&'a [u8], String> {
    blocks.clear();
    let tot = record.len();
    let mut pos = RECORD_HEADER_LEN;
    let mut datatotal: usize = 0;
    let mut main_len: usize = 0;
    let mut next_block: u8 = 0;
    let mut last_rel: Option<RelFileNode> = None;
    while tot - pos > datatotal {
        let [id] = rd::<1>(record, pos)?;
        pos += 1;
        match id {
            BLOCK_ID_DATA_SHORT => {
                let [l] = rd::<1>(record, pos)?;
                pos += 1;
                main_len = usize::from(l);
                datatotal += main_len;
                break;
            }
            BLOCK_ID_DATA_LONG => {
                main_len = u32::from_le_bytes(rd::<4>(record, pos)?) as usize;
                pos += 4;
                datatotal = datatotal.saturating_add(main_len);
                break;
            }
            BLOCK_ID_ORIGIN => pos += 2,
            BLOCK_ID_TOPLEVEL_XID if version >= 14 => pos += 4,
            id if id <= XLR_MAX_BLOCK_ID => {
                if id < next_block {
                    return Err(format!("out-of-order block_id {id}"));
                }
                next_block = id + 1;
                let [fork_flags] = rd::<1>(record, pos)?;
                let data_len = usize::from(u16::from_le_bytes(rd::<2>(record, pos + 1)?));
                pos += 3;
                let has_data = fork_flags & BKPBLOCK_HAS_DATA != 0;
                if has_data == (data_len == 0) {
                    return Err(format!(
                        "block {id}: data flag and data length ({data_len}) disagree"
                    ));
                }
                datatotal += data_len;
                if fork_flags & BKPBLOCK_HAS_IMAGE != 0 {
                    let bimg_len = usize::from(u16::from_le_bytes(rd::<2>(record, pos)?));
                    let [bimg_info] = rd::<1>(record, pos + 4)?;
                    pos += 5;
                    let compressed = if version >= 15 {
                        bimg_info & (0x04 | 0x08 | 0x10) != 0
                    } else {
                        bimg_info & 0x02 != 0
                    };
                    if bimg_info & BKPIMAGE_HAS_HOLE != 0 && compressed {
                        pos += 2;
                    }
                    if bimg_len == 0 {
                        return Err(format!("block {id}: image of length 0"));
                    }
                    datatotal += bimg_len;
                }
                if fork_flags & BKPBLOCK_SAME_REL == 0 {
                    let spc = u32::from_le_bytes(rd::<4>(record, pos)?);
                    let db = u32::from_le_bytes(rd::<4>(record, pos + 4)?);
                    let rel = u32::from_le_bytes(rd::<4>(record, pos + 8)?);
                    pos += 12;
                    last_rel = Some(RelFileNode { spc, db, rel });
                }
                let rel = last_rel.ok_or_else(|| {
                    format!("block {id}: BKPBLOCK_SAME_REL set but no previous rel")
                })?;
                rd::<4>(record, pos)?;
                pos += 4;
                blocks.push(rel);
            }
            other => return Err(format!("invalid block_id {other}")),
        }
        if pos > tot {
            return Err("record too short for its block headers".into());
        }
    }
    if tot.checked_sub(pos) != Some(datatotal) {
        return Err("record length does not match its block headers".into());
    }
    Ok(&record[tot - main_len..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(body: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; RECORD_HEADER_LEN];
        r[0..4].copy_from_slice(&((RECORD_HEADER_LEN + body.len()) as u32).to_le_bytes());
        r.extend_from_slice(body);
        r
    }

    #[test]
    fn main_data_and_blocks() {
        let mut body = vec![0u8, BKPBLOCK_HAS_DATA, 2, 0];
        for v in [1663u32, 5, 16384, 7] {
            body.extend_from_slice(&v.to_le_bytes());
        }
        body.extend_from_slice(&[1, BKPBLOCK_SAME_REL, 0, 0, 9, 0, 0, 0]);
        body.extend_from_slice(&[BLOCK_ID_DATA_SHORT, 3]);
        body.extend_from_slice(&[0xAA, 0xBB, 1, 2, 3]);
        let r = record(&body);
        let mut blocks = Vec::new();
        let main = decode(&r, 15, &mut blocks).unwrap();
        assert_eq!(main, &[1, 2, 3]);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[1].rel, 16384);
    }

    #[test]
    fn rejects_inconsistent_lengths() {
        let mut blocks = Vec::new();
        assert!(decode(&record(&[BLOCK_ID_DATA_SHORT, 9, 1]), 15, &mut blocks).is_err());
        assert!(decode(&record(&[40]), 15, &mut blocks).is_err());
        assert!(decode(&record(&[0, BKPBLOCK_SAME_REL, 0, 0]), 15, &mut blocks).is_err());
        assert!(decode(&record(&[]), 15, &mut blocks).unwrap().is_empty());
    }
}
