//! Turns a timeline's segments, fed in order, into validated records.
//!
//! The stream carries state from one segment to the next (a record begun at the end of
//! one segment finishes in the next) and stops a run of valid WAL exactly where
//! PostgreSQL's reader would: bad page header, bad length, bad prev-link, bad CRC,
//! missing continuation. A segment that does not follow the previous one starts a new
//! run at its first record boundary, as pg_waldump does at its start point.

use super::page::{
    PageHeader, WalFormat, XLP_FIRST_IS_CONTRECORD, XLP_FIRST_IS_OVERWRITE_CONTRECORD,
    XLP_LONG_HEADER,
};
use super::record::{self, RecordHeader, RelFileNode, RECORD_HEADER_LEN};

/// A validated record handed to a [`RecordSink`].
pub struct RecordRef<'a> {
    pub lsn: u64,
    /// First byte after the record (not aligned).
    pub end: u64,
    pub header: RecordHeader,
    pub main: &'a [u8],
    /// Relation of each block reference, in block order.
    pub blocks: &'a [RelFileNode],
}

pub trait RecordSink {
    fn record(&mut self, version: u8, rec: &RecordRef<'_>);
}

/// Where and why a run of valid WAL ended inside a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalBreak {
    /// Where the next record would have started: the end of valid WAL.
    pub lsn: u64,
    /// Offset in the segment file where the problem was found.
    pub offset: u64,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct SegmentScan {
    pub broken: Option<WalBreak>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembly {
    pub lsn: u64,
    pub tot_len: usize,
    pub header_checked: bool,
}

/// Reader state between segments; public fields so the index can persist it.
#[derive(Debug, Default)]
pub struct WalStream {
    pub format: Option<WalFormat>,
    /// Highest page timeline seen in the run; page timelines never go down.
    pub page_tli: u32,
    /// Segment number that continues the current run, `None` when no run is open.
    pub expect_seg: Option<u64>,
    /// LSN of the last valid record (the next one's xl_prev).
    pub prev_rec: Option<u64>,
    /// Where the next record starts; `None` until the first page of a run is seen.
    pub next_rec: Option<u64>,
    pub assembly: Option<Assembly>,
    pub assembly_buf: Vec<u8>,
    blocks: Vec<RelFileNode>,
    cursor: Option<Cursor>,
    outcome: Option<SegmentScan>,
    /// LSNs of the current chunk whose CRC the reading thread already checked.
    verified: Vec<u64>,
    verified_at: usize,
}

/// Where reading the current segment file has got to.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    seg_no: u64,
    base: u64,
    fmt: WalFormat,
    page_off: usize,
}

fn maxalign(x: usize) -> usize {
    (x + 7) & !7
}

fn lsn_text(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn as u32)
}

enum Step {
    Next,
    Switch,
}

impl WalStream {
    pub fn new() -> WalStream {
        WalStream::default()
    }

    /// End of the valid WAL read so far: the start of the record in progress, else where
    /// the next one would begin.
    pub fn position(&self) -> Option<u64> {
        self.assembly.as_ref().map(|a| a.lsn).or(self.next_rec)
    }

    fn reset_run(&mut self) {
        self.expect_seg = None;
        self.prev_rec = None;
        self.next_rec = None;
        self.assembly = None;
        self.assembly_buf.clear();
        self.page_tli = 0;
    }

    fn stop(&mut self, at_lsn: u64, offset: usize, reason: String) -> SegmentScan {
        let lsn = self.assembly.as_ref().map_or(at_lsn, |a| a.lsn);
        self.reset_run();
        SegmentScan {
            broken: Some(WalBreak {
                lsn,
                offset: offset as u64,
                reason,
            }),
        }
    }

    /// Reads one whole segment file (decompressed) holding segment `seg_no`.
    pub fn feed(&mut self, seg_no: u64, data: &[u8], sink: &mut dyn RecordSink) -> SegmentScan {
        self.begin_segment(seg_no, data);
        self.feed_chunk(data, &[], sink);
        self.end_segment(data.len() as u64)
    }

    /// Starts on the file of segment `seg_no`; `first` is its start (its first page, or
    /// all of it when shorter). Follow with `feed_chunk` from offset 0, then `end_segment`.
    pub fn begin_segment(&mut self, seg_no: u64, first: &[u8]) {
        self.outcome = None;
        self.cursor = None;
        let fmt = match WalFormat::from_segment_start(first) {
            Ok(f) => f,
            Err(e) => {
                let at = self.continuing(seg_no).then_some(self.next_rec).flatten();
                let base = self.format.map_or(0, |f| seg_no.saturating_mul(f.seg_size));
                self.outcome = Some(self.stop(at.unwrap_or(base), 0, e));
                return;
            }
        };
        let base = seg_no.saturating_mul(fmt.seg_size);
        if let Some(known) = self.format {
            if known != fmt {
                let at = self
                    .next_rec
                    .filter(|_| self.continuing(seg_no))
                    .unwrap_or(base);
                let why = if known.magic != fmt.magic {
                    format!(
                        "segment written by PostgreSQL {}, the run before it by PostgreSQL {}",
                        fmt.version, known.version
                    )
                } else {
                    format!(
                        "segment from another cluster or layout (system id {}, segment size {}, block size {}; expected {}, {}, {})",
                        fmt.sysid, fmt.seg_size, fmt.page_size, known.sysid, known.seg_size, known.page_size
                    )
                };
                self.outcome = Some(self.stop(at, 0, why));
                return;
            }
        }
        self.format = Some(fmt);
        if !self.continuing(seg_no) {
            self.reset_run();
        }
        self.cursor = Some(Cursor {
            seg_no,
            base,
            fmt,
            page_off: 0,
        });
    }

    /// The next bytes of the file, starting where the previous chunk ended; every chunk
    /// but the file's last must hold whole pages. Ignored once the segment is finished.
    /// `verified`: ascending LSNs of records in this chunk whose CRC is known to match.
    pub fn feed_chunk(&mut self, chunk: &[u8], verified: &[u64], sink: &mut dyn RecordSink) {
        let Some(mut cur) = self.cursor else { return };
        self.verified.clear();
        self.verified.extend_from_slice(verified);
        self.verified_at = 0;
        let page = cur.fmt.page_size as usize;
        let seg = cur.fmt.seg_size as usize;
        let mut lo = 0;
        while lo < chunk.len() && cur.page_off < seg {
            if chunk.len() - lo < page {
                let len = cur.page_off + chunk.len() - lo;
                let at = self.position().unwrap_or(cur.base + cur.page_off as u64);
                self.cursor = None;
                self.outcome = Some(self.stop(
                    at,
                    len,
                    format!("file ends after {len} bytes, inside a page"),
                ));
                return;
            }
            match self.scan_page(&cur, &chunk[lo..lo + page], sink) {
                Ok(Step::Next) => {}
                Ok(Step::Switch) => {
                    self.next_rec = Some(cur.base + cur.fmt.seg_size);
                    self.finish_segment(&cur);
                    return;
                }
                Err((lsn, off, why)) => {
                    self.cursor = None;
                    self.outcome = Some(self.stop(lsn, off, why));
                    return;
                }
            }
            lo += page;
            cur.page_off += page;
        }
        if cur.page_off >= seg {
            self.finish_segment(&cur);
        } else {
            self.cursor = Some(cur);
        }
    }

    fn finish_segment(&mut self, cur: &Cursor) {
        self.cursor = None;
        self.expect_seg = Some(cur.seg_no + 1);
        self.outcome = Some(SegmentScan::default());
    }

    /// The file ended after `len` bytes: what reading it found.
    pub fn end_segment(&mut self, len: u64) -> SegmentScan {
        if let Some(cur) = self.cursor.take() {
            let at = self.position().unwrap_or(cur.base + cur.page_off as u64);
            return self.stop(
                at,
                len as usize,
                format!("file ends after {len} bytes, short of a whole segment"),
            );
        }
        self.outcome.take().unwrap_or_default()
    }

    /// Ends the run at segment `seg_no`, which could not be read at all.
    pub fn give_up(&mut self, seg_no: u64, reason: String) -> SegmentScan {
        self.cursor = None;
        self.outcome = None;
        let base = self.format.map_or(0, |f| seg_no.saturating_mul(f.seg_size));
        let at = self
            .next_rec
            .filter(|_| self.continuing(seg_no))
            .unwrap_or(base);
        self.stop(at, 0, reason)
    }

    fn continuing(&self, seg_no: u64) -> bool {
        self.expect_seg == Some(seg_no)
    }

    /// One page at segment offset `cur.page_off`; positions below are page-relative.
    fn scan_page(
        &mut self,
        cur: &Cursor,
        data: &[u8],
        sink: &mut dyn RecordSink,
    ) -> Result<Step, (u64, usize, String)> {
        let fmt = cur.fmt;
        let page_off = cur.page_off;
        let page_lsn = cur.base + page_off as u64;
        let page_end = data.len();
        let h = PageHeader::parse(data).unwrap_or(PageHeader {
            magic: 0,
            info: 0,
            tli: 0,
            pageaddr: 0,
            rem_len: 0,
        });
        if let Err(why) = self.check_page(&fmt, &h, page_lsn, page_off) {
            return Err((self.position().unwrap_or(page_lsn), page_off, why));
        }
        self.page_tli = h.tli;
        let mut pos = h.len();
        if let Some(a) = self.assembly.clone() {
            if h.info & XLP_FIRST_IS_OVERWRITE_CONTRECORD != 0 {
                self.assembly = None;
                self.assembly_buf.clear();
                self.next_rec = Some(page_lsn + pos as u64);
            } else {
                let need = a.tot_len.saturating_sub(self.assembly_buf.len());
                if h.info & XLP_FIRST_IS_CONTRECORD == 0 {
                    return Err((
                        a.lsn,
                        page_off,
                        format!("there is no contrecord flag at {}", lsn_text(page_lsn)),
                    ));
                }
                if h.rem_len as usize != need {
                    return Err((
                        a.lsn,
                        page_off,
                        format!(
                            "invalid contrecord length {} (expected {need}) at {}",
                            h.rem_len,
                            lsn_text(page_lsn)
                        ),
                    ));
                }
                let n = need.min(page_end - pos);
                self.assembly_buf.extend_from_slice(&data[pos..pos + n]);
                pos += n;
                if self.assembly_buf.len() < a.tot_len {
                    return Ok(Step::Next);
                }
                let buf = std::mem::take(&mut self.assembly_buf);
                self.assembly = None;
                let step = self.finish(
                    fmt.version,
                    a.lsn,
                    page_lsn + pos as u64,
                    &buf,
                    !a.header_checked,
                    sink,
                );
                self.assembly_buf = buf;
                self.assembly_buf.clear();
                match step {
                    Err(why) => return Err((a.lsn, page_off + pos, why)),
                    Ok(Step::Switch) => return Ok(Step::Switch),
                    Ok(Step::Next) => {}
                }
                pos = maxalign(pos);
                self.next_rec = Some(page_lsn + pos as u64);
            }
        } else if self.next_rec.is_none() {
            if h.info & XLP_FIRST_IS_CONTRECORD != 0 {
                let skip = maxalign(h.rem_len as usize);
                if skip >= page_end - h.len() {
                    return Ok(Step::Next);
                }
                pos += skip;
            }
            self.next_rec = Some(page_lsn + pos as u64);
        }
        while pos < page_end {
            let lsn = page_lsn + pos as u64;
            let avail = page_end - pos;
            let tot_len =
                u32::from_le_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]);
            if (tot_len as usize) < RECORD_HEADER_LEN {
                return Err((
                    lsn,
                    page_off + pos,
                    format!(
                        "invalid record length at {}: wanted 24, got {tot_len}",
                        lsn_text(lsn)
                    ),
                ));
            }
            let header_here = avail >= RECORD_HEADER_LEN;
            if header_here {
                let hdr = RecordHeader::parse(&data[pos..]).ok_or((
                    lsn,
                    page_off + pos,
                    "short header".to_string(),
                ))?;
                if let Err(why) = hdr.validate(lsn, self.prev_rec, fmt.version) {
                    return Err((lsn, page_off + pos, format!("{why} at {}", lsn_text(lsn))));
                }
            } else if tot_len > record::MAX_RECORD_LEN {
                return Err((
                    lsn,
                    page_off + pos,
                    format!("record length {tot_len} at {} is too large", lsn_text(lsn)),
                ));
            }
            let tot = tot_len as usize;
            if tot <= avail {
                match self.finish(
                    fmt.version,
                    lsn,
                    lsn + tot as u64,
                    &data[pos..pos + tot],
                    false,
                    sink,
                ) {
                    Err(why) => return Err((lsn, page_off + pos, why)),
                    Ok(Step::Switch) => return Ok(Step::Switch),
                    Ok(Step::Next) => {}
                }
                pos = maxalign(pos + tot);
                self.next_rec = Some(page_lsn + pos as u64);
            } else {
                self.assembly = Some(Assembly {
                    lsn,
                    tot_len: tot,
                    header_checked: header_here,
                });
                self.assembly_buf.clear();
                self.assembly_buf.extend_from_slice(&data[pos..page_end]);
                pos = page_end;
            }
        }
        Ok(Step::Next)
    }

    fn check_page(
        &self,
        fmt: &WalFormat,
        h: &PageHeader,
        addr: u64,
        page_off: usize,
    ) -> Result<(), String> {
        if h.magic != fmt.magic {
            return Err(format!(
                "invalid magic number {:04X} in WAL page at offset {page_off}",
                h.magic
            ));
        }
        if h.info & !0x0F != 0 {
            return Err(format!(
                "invalid info bits {:04X} at offset {page_off}",
                h.info
            ));
        }
        if (h.info & XLP_LONG_HEADER != 0) != (page_off == 0) {
            return Err(format!(
                "invalid info bits {:04X} at offset {page_off}",
                h.info
            ));
        }
        if h.pageaddr != addr {
            return Err(format!(
                "unexpected pageaddr {} at offset {page_off}",
                lsn_text(h.pageaddr)
            ));
        }
        if h.tli < self.page_tli {
            return Err(format!(
                "out-of-sequence timeline ID {} (after {}) at offset {page_off}",
                h.tli, self.page_tli
            ));
        }
        Ok(())
    }

    fn was_verified(&mut self, lsn: u64) -> bool {
        while self
            .verified
            .get(self.verified_at)
            .is_some_and(|&v| v < lsn)
        {
            self.verified_at += 1;
        }
        let hit = self.verified.get(self.verified_at) == Some(&lsn);
        self.verified_at += usize::from(hit);
        hit
    }

    fn finish(
        &mut self,
        version: u8,
        lsn: u64,
        end: u64,
        rec: &[u8],
        check_header: bool,
        sink: &mut dyn RecordSink,
    ) -> Result<Step, String> {
        let header = RecordHeader::parse(rec).ok_or("record shorter than its header")?;
        if check_header {
            header
                .validate(lsn, self.prev_rec, version)
                .map_err(|why| format!("{why} at {}", lsn_text(lsn)))?;
        }
        if !self.was_verified(lsn) && !record::crc_ok(rec, &header) {
            return Err(format!(
                "incorrect resource manager data checksum in record at {}",
                lsn_text(lsn)
            ));
        }
        let main = record::decode(rec, version, &mut self.blocks)
            .map_err(|why| format!("{why} in record at {}", lsn_text(lsn)))?;
        self.prev_rec = Some(lsn);
        sink.record(
            version,
            &RecordRef {
                lsn,
                end,
                header,
                main,
                blocks: &self.blocks,
            },
        );
        let switch = header.rmid == super::decode::RM_XLOG_ID
            && header.info & 0xF0 == super::decode::XLOG_SWITCH;
        Ok(if switch { Step::Switch } else { Step::Next })
    }
}
