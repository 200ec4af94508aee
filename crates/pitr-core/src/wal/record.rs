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
    crc::record_crc(&record[RECORD_HEADER_LEN..], &record[..20]) == header.crc
}

/// Why block headers did not parse; turned into text only when a record is bad, so that
/// the walk over millions of good records passes nothing bigger than a register.
enum Bad {
    Short,
    OutOfOrder(u8),
    DataFlag(u8, usize),
    EmptyImage(u8),
    NoPreviousRel(u8),
    InvalidId(u8),
    Length,
}

impl Bad {
    fn text(self) -> String {
        match self {
            Bad::Short => "record too short for its block headers".into(),
            Bad::OutOfOrder(id) => format!("out-of-order block_id {id}"),
            Bad::DataFlag(id, len) => {
                format!("block {id}: data flag and data length ({len}) disagree")
            }
            Bad::EmptyImage(id) => format!("block {id}: image of length 0"),
            Bad::NoPreviousRel(id) => {
                format!("block {id}: BKPBLOCK_SAME_REL set but no previous rel")
            }
            Bad::InvalidId(id) => format!("invalid block_id {id}"),
            Bad::Length => "record length does not match its block headers".into(),
        }
    }
}

#[inline(always)]
fn rd<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], Bad> {
    match b.get(at..at.wrapping_add(N)) {
        Some(s) => {
            let mut a = [0u8; N];
            a.copy_from_slice(s);
            Ok(a)
        }
        None => Err(Bad::Short),
    }
}

/// Walks the block-reference headers the way PostgreSQL's DecodeXLogRecord does, pushing
/// each referenced relation into `blocks` (cleared first) and returning the main data.
pub fn decode<'a>(
    record: &'a [u8],
    version: u8,
    blocks: &mut Vec<RelFileNode>,
) -> Result<&'a [u8], String> {
    blocks.clear();
    match walk(record, version, blocks) {
        Ok(main_len) => Ok(&record[record.len() - main_len..]),
        Err(bad) => Err(bad.text()),
    }
}

/// The length of the main data, after checking the lengths add up.
#[inline]
fn walk(record: &[u8], version: u8, blocks: &mut Vec<RelFileNode>) -> Result<usize, Bad> {
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
                    return Err(Bad::OutOfOrder(id));
                }
                next_block = id + 1;
                let [fork_flags, l0, l1] = rd::<3>(record, pos)?;
                let data_len = usize::from(u16::from_le_bytes([l0, l1]));
                pos += 3;
                let has_data = fork_flags & BKPBLOCK_HAS_DATA != 0;
                if has_data == (data_len == 0) {
                    return Err(Bad::DataFlag(id, data_len));
                }
                datatotal += data_len;
                if fork_flags & BKPBLOCK_HAS_IMAGE != 0 {
                    let [b0, b1, _, _, bimg_info] = rd::<5>(record, pos)?;
                    let bimg_len = usize::from(u16::from_le_bytes([b0, b1]));
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
                        return Err(Bad::EmptyImage(id));
                    }
                    datatotal += bimg_len;
                }
                if fork_flags & BKPBLOCK_SAME_REL == 0 {
                    let r = rd::<12>(record, pos)?;
                    pos += 12;
                    last_rel = Some(RelFileNode {
                        spc: u32::from_le_bytes([r[0], r[1], r[2], r[3]]),
                        db: u32::from_le_bytes([r[4], r[5], r[6], r[7]]),
                        rel: u32::from_le_bytes([r[8], r[9], r[10], r[11]]),
                    });
                }
                let rel = last_rel.ok_or(Bad::NoPreviousRel(id))?;
                rd::<4>(record, pos)?;
                pos += 4;
                blocks.push(rel);
            }
            other => return Err(Bad::InvalidId(other)),
        }
        if pos > tot {
            return Err(Bad::Short);
        }
    }
    if tot.checked_sub(pos) != Some(datatotal) {
        return Err(Bad::Length);
    }
    Ok(main_len)
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
