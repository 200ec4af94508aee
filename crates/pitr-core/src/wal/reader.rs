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

#[derive(Debug, Default, Clone)]
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
#[derive(Debug, Default, Clone)]
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
    /// `(LSN, xl_prev)` of the first record validated since `begin_segment`.
    pub first_rec: Option<(u64, u64)>,
    /// Stop reading the segment when the next record would start here (see `sync_at`).
    stop_at: Option<u64>,
    stopped: bool,
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
    Stop,
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
        self.feed_chunk(data, sink);
        self.end_segment(data.len() as u64)
    }

    /// Starts on the file of segment `seg_no`; `first` is its start (its first page, or
    /// all of it when shorter). Follow with `feed_chunk` from offset 0, then `end_segment`.
    pub fn begin_segment(&mut self, seg_no: u64, first: &[u8]) {
        self.outcome = None;
        self.cursor = None;
        self.first_rec = None;
        self.stopped = false;
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
    pub fn feed_chunk(&mut self, chunk: &[u8], sink: &mut dyn RecordSink) {
        let Some(mut cur) = self.cursor else { return };
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
                Ok(Step::Stop) => {
                    self.cursor = None;
                    self.stopped = true;
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

    /// Reads the start of a segment file (`prefix`, whole pages from offset 0) the way
    /// `begin_segment` + `feed_chunk` would, but stops where a record at `lsn` would be
    /// read. True when it got there; false when the segment ended, broke, or switched
    /// first, in which case the stream is as after `feed_chunk` (see `end_segment`).
    pub fn sync_at(
        &mut self,
        seg_no: u64,
        prefix: &[u8],
        lsn: u64,
        sink: &mut dyn RecordSink,
    ) -> bool {
        self.begin_segment(seg_no, prefix);
        self.stop_at = Some(lsn);
        self.feed_chunk(prefix, sink);
        self.stop_at = None;
        std::mem::take(&mut self.stopped)
    }

    /// Takes over the run state of `other`, a stream that read the rest of the current
    /// segment from the point where `sync_at` stopped.
    pub fn adopt(&mut self, other: WalStream) {
        *self = WalStream {
            blocks: std::mem::take(&mut self.blocks),
            cursor: None,
            outcome: None,
            first_rec: None,
            stop_at: None,
            stopped: false,
            ..other
        };
    }

    fn continuing(&self, seg_no: u64) -> bool {
        self.expect_seg == Some(seg_no)
    }

    /// One page at segment offset `cur.page_off`; positions below are page-relative.
    // Over 100 lines on purpose: the page walker's state machine (headers, continuations, records) reads as one loop.
    #[allow(clippy::too_many_lines)]
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
                    Ok(Step::Next) => {}
                    Ok(step) => return Ok(step),
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
            if self.stop_at == Some(lsn) {
                return Ok(Step::Stop);
            }
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
                let hdr = RecordHeader::parse(&data[pos..])
                    .ok_or_else(|| (lsn, page_off + pos, "short header".to_string()))?;
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
                    Ok(Step::Next) => {}
                    Ok(step) => return Ok(step),
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
        if !record::crc_ok(rec, &header) {
            return Err(format!(
                "incorrect resource manager data checksum in record at {}",
                lsn_text(lsn)
            ));
        }
        let main = record::decode(rec, version, &mut self.blocks)
            .map_err(|why| format!("{why} in record at {}", lsn_text(lsn)))?;
        self.prev_rec = Some(lsn);
        self.first_rec.get_or_insert((lsn, header.prev));
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wal::crc;
    use crate::wal::page::XLP_LONG_HEADER;

    pub(crate) const PAGE: usize = 8192;
    pub(crate) const SEG: usize = 1 << 20;

    /// A commit record with a `pad`-byte main data tail, chained to `prev`.
    pub(crate) fn commit(xid: u32, prev: u64, time: i64, pad: usize) -> Vec<u8> {
        let mut main = time.to_le_bytes().to_vec();
        main.resize(8 + pad, 0);
        let mut r = vec![0u8; RECORD_HEADER_LEN];
        if main.len() < 256 {
            r.extend_from_slice(&[255, main.len() as u8]);
        } else {
            r.push(254);
            r.extend_from_slice(&(main.len() as u32).to_le_bytes());
        }
        r.extend_from_slice(&main);
        let tot = r.len() as u32;
        r[0..4].copy_from_slice(&tot.to_le_bytes());
        r[4..8].copy_from_slice(&xid.to_le_bytes());
        r[8..16].copy_from_slice(&prev.to_le_bytes());
        r[17] = 1;
        let c = !crc::update(crc::update(!0, &r[24..]), &r[..20]);
        r[20..24].copy_from_slice(&c.to_le_bytes());
        r
    }

    /// Lays records out in segment `seg_no` the way the server does, page headers included.
    pub(crate) struct Seg {
        pub(crate) data: Vec<u8>,
        base: u64,
        pub(crate) pos: usize,
    }

    impl Seg {
        pub(crate) fn new(seg_no: u64, segments: usize) -> Seg {
            let mut s = Seg {
                data: vec![0; SEG * segments],
                base: seg_no * SEG as u64,
                pos: 0,
            };
            s.header(0, 0);
            s
        }
        fn header(&mut self, info: u16, rem: u32) {
            let p = self.pos;
            let long = p.is_multiple_of(SEG);
            self.data[p..p + 2].copy_from_slice(&0xD110u16.to_le_bytes());
            let info = info | if long { XLP_LONG_HEADER } else { 0 };
            self.data[p + 2..p + 4].copy_from_slice(&info.to_le_bytes());
            self.data[p + 4..p + 8].copy_from_slice(&1u32.to_le_bytes());
            self.data[p + 8..p + 16].copy_from_slice(&(self.base + p as u64).to_le_bytes());
            self.data[p + 16..p + 20].copy_from_slice(&rem.to_le_bytes());
            if long {
                self.data[p + 24..p + 32].copy_from_slice(&7u64.to_le_bytes());
                self.data[p + 32..p + 36].copy_from_slice(&(SEG as u32).to_le_bytes());
                self.data[p + 36..p + 40].copy_from_slice(&(PAGE as u32).to_le_bytes());
                self.pos += 40;
            } else {
                self.pos += 24;
            }
        }
        fn lsn(&self) -> u64 {
            self.base + self.pos as u64
        }
        /// Writes `r`; returns its LSN.
        pub(crate) fn put(&mut self, r: &[u8]) -> u64 {
            let lsn = self.lsn();
            let mut left = r;
            while !left.is_empty() {
                if self.pos.is_multiple_of(PAGE) {
                    self.header(XLP_FIRST_IS_CONTRECORD, left.len() as u32);
                }
                let n = left.len().min(PAGE - self.pos % PAGE);
                self.data[self.pos..self.pos + n].copy_from_slice(&left[..n]);
                self.pos += n;
                left = &left[n..];
            }
            self.pos = (self.pos + 7) & !7;
            if self.pos.is_multiple_of(PAGE) {
                self.header(0, 0);
            }
            lsn
        }
    }

    #[derive(Default)]
    struct Seen(Vec<(u64, u32)>);

    impl RecordSink for Seen {
        fn record(&mut self, _version: u8, rec: &RecordRef<'_>) {
            self.0.push((rec.lsn, rec.header.xid));
        }
    }

    /// A commit record of exactly `len` bytes.
    fn commit_of_len(xid: u32, prev: u64, len: usize) -> Vec<u8> {
        let short = len - 34;
        let r = if short < 256 {
            commit(xid, prev, 9, short)
        } else {
            commit(xid, prev, 9, len - 37)
        };
        assert_eq!(r.len(), len);
        r
    }

    #[test]
    fn records_across_pages_split_headers_and_the_end_of_wal() {
        let mut s = Seg::new(3, 1);
        let a = s.put(&commit(10, 0, 1, 20));
        // The next record ends 8 bytes before the page end, so the one after has its
        // header split over two pages.
        let b = s.put(&commit_of_len(11, a, PAGE - 8 - s.pos));
        assert_eq!(PAGE - s.pos, 8);
        let c = s.put(&commit(12, b, 3, 100));
        let d = s.put(&commit(13, c, 4, 20_000));
        let end = s.lsn();
        let mut seen = Seen::default();
        let scan = WalStream::new().feed(3, &s.data, &mut seen);
        assert_eq!(seen.0, vec![(a, 10), (b, 11), (c, 12), (d, 13)]);
        let broken = scan.broken.unwrap();
        assert_eq!(broken.lsn, end);
        assert!(
            broken.reason.contains("invalid record length"),
            "{}",
            broken.reason
        );
    }

    #[test]
    fn overwrite_contrecord_drops_the_unfinished_record() {
        let mut s = Seg::new(3, 1);
        let a = s.put(&commit(10, 0, 1, 20));
        // A record that should continue onto the next page, which instead says the rest
        // was overwritten and starts a new record chained to `a`.
        let lost = commit(11, a, 2, 9000);
        let room = PAGE - s.pos % PAGE;
        let p = s.pos;
        s.data[p..p + room].copy_from_slice(&lost[..room]);
        s.pos += room;
        s.header(XLP_FIRST_IS_OVERWRITE_CONTRECORD, 0);
        let b = s.put(&commit(12, a, 3, 20));
        let mut seen = Seen::default();
        WalStream::new().feed(3, &s.data, &mut seen);
        assert_eq!(seen.0, vec![(a, 10), (b, 12)]);
    }

    #[test]
    fn switch_skips_the_rest_and_records_continue_into_the_next_segment() {
        let mut s = Seg::new(3, 3);
        let a = s.put(&commit(10, 0, 1, 20));
        let mut switch = commit(0, a, 0, 0);
        switch[16] = 0x40;
        switch[17] = 0;
        let c = !crc::update(crc::update(!0, &switch[24..]), &switch[..20]);
        switch[20..24].copy_from_slice(&c.to_le_bytes());
        let sw = s.put(&switch);
        s.data[s.pos..SEG].fill(0xAB);
        s.pos = SEG;
        s.header(0, 0);
        let b = s.put(&commit(11, sw, 2, 20));
        let mut prev = b;
        let mut fillers = 0;
        while s.pos + 600 < 2 * SEG {
            prev = s.put(&commit(100 + fillers, prev, 5, 500));
            fillers += 1;
        }
        let across = s.put(&commit(12, prev, 3, 3000));
        let after = s.put(&commit(13, across, 4, 20));
        assert_eq!((across / SEG as u64, after / SEG as u64), (4, 5));
        let mut st = WalStream::new();
        let mut seen = Seen::default();
        for (i, seg) in s.data.chunks(SEG).enumerate() {
            let scan = st.feed(3 + i as u64, seg, &mut seen);
            assert_eq!(scan.broken.is_some(), i == 2, "segment {i}: {scan:?}");
        }
        let ours: Vec<(u64, u32)> = seen.0.iter().copied().filter(|&(_, x)| x < 100).collect();
        assert_eq!(
            ours,
            vec![(a, 10), (sw, 0), (b, 11), (across, 12), (after, 13)]
        );
        assert_eq!(seen.0.len(), 5 + fillers as usize);

        // Read from segment 5 alone, the tail of `across` is skipped.
        let mut seen = Seen::default();
        WalStream::new().feed(5, &s.data[2 * SEG..], &mut seen);
        assert_eq!(seen.0, vec![(after, 13)]);
    }

    #[test]
    fn a_segment_read_on_its_own_joins_the_run_where_its_first_record_starts() {
        let mut s = Seg::new(3, 3);
        let (mut prev, mut xid) = (0, 10u32);
        while s.pos + 30_000 < 3 * SEG {
            prev = s.put(&commit(xid, prev, 1, 50 + (xid as usize * 997) % 20_000));
            xid += 1;
        }
        let mut seq = WalStream::new();
        let mut all = Seen::default();
        for (i, seg) in s.data.chunks(SEG).enumerate() {
            seq.feed(3 + i as u64, seg, &mut all);
        }
        let mut run = WalStream::new();
        let mut joined = Seen::default();
        for (i, seg) in s.data.chunks(SEG).enumerate() {
            let no = 3 + i as u64;
            let mut alone = WalStream::new();
            let mut own = Seen::default();
            alone.feed(no, seg, &mut own);
            let (first, first_prev) = alone.first_rec.unwrap();
            let page_end = ((first - no * SEG as u64) as usize / PAGE + 1) * PAGE;
            assert!(run.sync_at(no, &seg[..page_end], first, &mut joined));
            assert!(run.prev_rec.is_none_or(|p| p == first_prev));
            run.adopt(alone);
            joined.0.extend(own.0);
        }
        assert_eq!(joined.0, all.0);
        assert!(all.0.len() > 100);
        assert_eq!(
            (run.prev_rec, run.next_rec, run.expect_seg),
            (seq.prev_rec, seq.next_rec, seq.expect_seg)
        );

        // Where the worker started elsewhere (here: the wrong page), no sync.
        let mut run = WalStream::new();
        run.feed(3, &s.data[..SEG], &mut Seen::default());
        let next = &s.data[SEG..2 * SEG];
        assert!(!run.sync_at(
            4,
            &next[..PAGE],
            4 * SEG as u64 + PAGE as u64 + 24,
            &mut Seen::default()
        ));
    }
}
