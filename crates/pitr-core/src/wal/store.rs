//! The index cache file: a compact little-endian binary layout with a CRC-32C trailer.
//!
//! JSON would be simpler but an archive of a busy day holds millions of commits: a
//! binary layout is ~40 bytes per commit, loads in milliseconds and needs no extra
//! crate. The trailer turns any corruption (or truncation by a crash) into a clean
//! "rebuild" instead of wrong data. The layout is versioned by its magic.

use super::collect::{Checkpoint, RelationTouch, RestorePoint, TxAcc, TxEnd, XidMap};
use super::crc;
use super::decode::XactKind;
use super::page::WalFormat;
use super::reader::{Assembly, WalStream};
use super::record::RelFileNode;
use crate::domain::catalog::Compression;
use crate::domain::lsn::Lsn;
use crate::domain::segment::WalSegment;
use crate::domain::timeline::TimelineId;
use std::io::{self, Write};

const MAGIC: &[u8; 12] = b"PITRWALIDX02";

/// One archived file as last read, and what reading it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSegment {
    pub segment: WalSegment,
    pub file_name: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub compression: Compression,
    pub partial: bool,
    pub valid_end: Option<Lsn>,
    pub warning: Option<String>,
}

/// Reader state at the end of a timeline's last scanned segment, so that the next run
/// continues with the next segment instead of reading the timeline again.
#[derive(Debug, Default)]
pub struct Resume {
    pub stream: WalStream,
    pub open: XidMap<TxAcc>,
}

#[derive(Debug, Default)]
pub struct Stored {
    pub seg_size: u64,
    pub segments: Vec<StoredSegment>,
    pub tx_ends: Vec<TxEnd>,
    /// Relations of all `tx_ends`, addressed by their `rel_start` and `rel_len`.
    pub relations: Vec<RelationTouch>,
    pub restore_points: Vec<RestorePoint>,
    pub checkpoints: Vec<Checkpoint>,
    pub resume: Vec<(TimelineId, Resume)>,
}

/// Writes through a 64 KiB buffer, checksumming what it writes, so that encoding a big
/// index needs no second copy of it in memory.
struct W<'a> {
    buf: Vec<u8>,
    crc: u32,
    out: &'a mut dyn Write,
    err: Option<io::Error>,
}

impl W<'_> {
    #[inline]
    fn put(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= 64 << 10 {
            self.flush();
        }
    }
    fn flush(&mut self) {
        self.crc = crc::update(self.crc, &self.buf);
        if self.err.is_none() {
            if let Err(e) = self.out.write_all(&self.buf) {
                self.err = Some(e);
            }
        }
        self.buf.clear();
    }
    fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }
    fn u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.put(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.put(b);
    }
    fn opt_u64(&mut self, v: Option<u64>) {
        self.u8(u8::from(v.is_some()));
        self.u64(v.unwrap_or(0));
    }
    fn opt_str(&mut self, v: &Option<String>) {
        self.u8(u8::from(v.is_some()));
        self.bytes(v.as_deref().unwrap_or("").as_bytes());
    }
}

struct R<'a> {
    b: &'a [u8],
    at: usize,
}

type Res<T> = Result<T, String>;

impl R<'_> {
    fn take(&mut self, n: usize) -> Res<&[u8]> {
        let s = self
            .at
            .checked_add(n)
            .and_then(|e| self.b.get(self.at..e))
            .ok_or_else(|| format!("cut short at byte {}", self.at))?;
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self) -> Res<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Res<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| "u32")?,
        ))
    }
    fn u64(&mut self) -> Res<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| "u64")?,
        ))
    }
    fn i64(&mut self) -> Res<i64> {
        Ok(self.u64()? as i64)
    }
    fn len(&mut self) -> Res<usize> {
        let n = self.u64()?;
        // Every counted item takes at least one byte, so a count above what is left is corrupt.
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.b.len() - self.at)
            .ok_or_else(|| format!("count {n} at byte {} exceeds the file", self.at))
    }
    fn bytes(&mut self) -> Res<&[u8]> {
        let n = self.len()?;
        self.take(n)
    }
    fn string(&mut self) -> Res<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| "invalid UTF-8".to_string())
    }
    fn opt_u64(&mut self) -> Res<Option<u64>> {
        let some = self.u8()? != 0;
        let v = self.u64()?;
        Ok(some.then_some(v))
    }
    fn opt_str(&mut self) -> Res<Option<String>> {
        let some = self.u8()? != 0;
        let v = self.string()?;
        Ok(some.then_some(v))
    }
}

fn compression_code(c: Compression) -> u8 {
    match c {
        Compression::None => 0,
        Compression::Gzip => 1,
        Compression::Zstd => 2,
        Compression::Lz4 => 3,
    }
}

fn compression_from(c: u8) -> Res<Compression> {
    Ok(match c {
        0 => Compression::None,
        1 => Compression::Gzip,
        2 => Compression::Zstd,
        3 => Compression::Lz4,
        _ => return Err(format!("unknown compression code {c}")),
    })
}

/// Fills a fixed-size entry field by field, so that a million entries cost a million
/// buffer appends rather than ten million.
struct Fixed<const N: usize> {
    b: [u8; N],
    at: usize,
}

impl<const N: usize> Fixed<N> {
    fn new() -> Self {
        Fixed { b: [0; N], at: 0 }
    }
    #[inline(always)]
    fn put<const K: usize>(&mut self, v: [u8; K]) {
        self.b[self.at..self.at + K].copy_from_slice(&v);
        self.at += K;
    }
}

fn put_relations(w: &mut W, rels: &[RelationTouch]) {
    w.len(rels.len());
    for t in rels {
        let mut f = Fixed::<16>::new();
        f.put(t.node.spc.to_le_bytes());
        f.put(t.node.db.to_le_bytes());
        f.put(t.node.rel.to_le_bytes());
        f.put(t.blocks.to_le_bytes());
        w.put(&f.b);
    }
}

fn get_relations(r: &mut R<'_>) -> Res<Vec<RelationTouch>> {
    let n = r.len()?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let node = RelFileNode {
            spc: r.u32()?,
            db: r.u32()?,
            rel: r.u32()?,
        };
        v.push(RelationTouch {
            node,
            blocks: r.u32()?,
        });
    }
    Ok(v)
}

/// Writes the index to `out`, checksum trailer included.
pub fn encode(s: &Stored, out: &mut dyn Write) -> io::Result<()> {
    let mut w = W {
        buf: Vec::with_capacity(65 << 10),
        crc: !0,
        out,
        err: None,
    };
    w.put(MAGIC);
    w.u64(s.seg_size);
    w.len(s.segments.len());
    for g in &s.segments {
        w.u32(g.segment.timeline.0);
        w.u64(g.segment.number);
        w.bytes(g.file_name.as_bytes());
        w.u64(g.size);
        w.i64(g.mtime_ns);
        w.u8(compression_code(g.compression));
        w.u8(u8::from(g.partial));
        w.opt_u64(g.valid_end.map(|l| l.0));
        w.opt_str(&g.warning);
    }
    w.len(s.tx_ends.len());
    for t in &s.tx_ends {
        let mut f = Fixed::<54>::new();
        f.put(t.timeline.0.to_le_bytes());
        f.put(t.lsn.0.to_le_bytes());
        f.put(t.end.0.to_le_bytes());
        f.put(t.xid.to_le_bytes());
        f.put(t.time_us.to_le_bytes());
        f.put([t.kind.code()]);
        f.put(t.records.to_le_bytes());
        f.put(t.bytes.to_le_bytes());
        f.put(t.rel_start.to_le_bytes());
        f.put(t.rel_len.to_le_bytes());
        f.put([u8::from(t.more_relations)]);
        w.put(&f.b);
    }
    put_relations(&mut w, &s.relations);
    w.len(s.restore_points.len());
    for p in &s.restore_points {
        w.u32(p.timeline.0);
        w.u64(p.lsn.0);
        w.u64(p.end.0);
        w.bytes(p.name.as_bytes());
        w.i64(p.time_us);
    }
    w.len(s.checkpoints.len());
    for c in &s.checkpoints {
        w.u32(c.timeline.0);
        w.u64(c.lsn.0);
        w.u64(c.redo.0);
        w.i64(c.time_s);
        w.u8(u8::from(c.shutdown));
    }
    w.len(s.resume.len());
    for (tl, res) in &s.resume {
        w.u32(tl.0);
        let st = &res.stream;
        w.u8(u8::from(st.format.is_some()));
        if let Some(f) = st.format {
            w.u32(u32::from(f.magic));
            w.u8(f.version);
            w.u64(f.sysid);
            w.u64(f.seg_size);
            w.u64(f.page_size);
        }
        w.u32(st.page_tli);
        w.opt_u64(st.expect_seg);
        w.opt_u64(st.prev_rec);
        w.opt_u64(st.next_rec);
        w.u8(u8::from(st.assembly.is_some()));
        if let Some(a) = &st.assembly {
            w.u64(a.lsn);
            w.u64(a.tot_len as u64);
            w.u8(u8::from(a.header_checked));
            w.bytes(&st.assembly_buf);
        }
        w.len(res.open.len());
        for (xid, acc) in &res.open {
            w.u32(*xid);
            w.u32(acc.records);
            w.u64(acc.bytes);
            put_relations(&mut w, &acc.relations);
            w.u8(u8::from(acc.more_relations));
        }
    }
    w.flush();
    let trailer = (!w.crc).to_le_bytes();
    match w.err {
        Some(e) => Err(e),
        None => w.out.write_all(&trailer),
    }
}

// Over 100 lines on purpose: decodes the stored index field by field in the order `encode` writes them.
#[allow(clippy::too_many_lines)]
pub fn decode(b: &[u8]) -> Res<Stored> {
    if b.len() < MAGIC.len() + 4 || &b[..MAGIC.len()] != MAGIC {
        return Err("not a pitr-console WAL index (wrong magic)".into());
    }
    let (body, tail) = b.split_at(b.len() - 4);
    let want = u32::from_le_bytes(tail.try_into().map_err(|_| "trailer")?);
    if !crc::update(!0, body) != want {
        return Err("checksum mismatch".into());
    }
    let mut r = R {
        b: body,
        at: MAGIC.len(),
    };
    let mut s = Stored {
        seg_size: r.u64()?,
        ..Stored::default()
    };
    for _ in 0..r.len()? {
        s.segments.push(StoredSegment {
            segment: WalSegment::new(TimelineId(r.u32()?), r.u64()?),
            file_name: r.string()?,
            size: r.u64()?,
            mtime_ns: r.i64()?,
            compression: compression_from(r.u8()?)?,
            partial: r.u8()? != 0,
            valid_end: r.opt_u64()?.map(Lsn),
            warning: r.opt_str()?,
        });
    }
    for _ in 0..r.len()? {
        let timeline = TimelineId(r.u32()?);
        let lsn = Lsn(r.u64()?);
        let end = Lsn(r.u64()?);
        let xid = r.u32()?;
        let time_us = r.i64()?;
        let kind = XactKind::from_code(r.u8()?).ok_or("unknown transaction kind")?;
        let records = r.u32()?;
        let bytes = r.u64()?;
        s.tx_ends.push(TxEnd {
            timeline,
            lsn,
            end,
            xid,
            time_us,
            kind,
            records,
            bytes,
            rel_start: r.u32()?,
            rel_len: r.u32()?,
            more_relations: r.u8()? != 0,
        });
    }
    s.relations = get_relations(&mut r)?;
    let n = s.relations.len() as u64;
    if s.tx_ends
        .iter()
        .any(|t| u64::from(t.rel_start) + u64::from(t.rel_len) > n)
    {
        return Err("a transaction's relations lie outside the relation list".into());
    }
    for _ in 0..r.len()? {
        s.restore_points.push(RestorePoint {
            timeline: TimelineId(r.u32()?),
            lsn: Lsn(r.u64()?),
            end: Lsn(r.u64()?),
            name: r.string()?,
            time_us: r.i64()?,
        });
    }
    for _ in 0..r.len()? {
        s.checkpoints.push(Checkpoint {
            timeline: TimelineId(r.u32()?),
            lsn: Lsn(r.u64()?),
            redo: Lsn(r.u64()?),
            time_s: r.i64()?,
            shutdown: r.u8()? != 0,
        });
    }
    for _ in 0..r.len()? {
        let tl = TimelineId(r.u32()?);
        let mut st = WalStream::new();
        if r.u8()? != 0 {
            st.format = Some(WalFormat {
                magic: u16::try_from(r.u32()?).map_err(|_| "magic")?,
                version: r.u8()?,
                sysid: r.u64()?,
                seg_size: r.u64()?,
                page_size: r.u64()?,
            });
        }
        st.page_tli = r.u32()?;
        st.expect_seg = r.opt_u64()?;
        st.prev_rec = r.opt_u64()?;
        st.next_rec = r.opt_u64()?;
        if r.u8()? != 0 {
            st.assembly = Some(Assembly {
                lsn: r.u64()?,
                tot_len: usize::try_from(r.u64()?).map_err(|_| "record length")?,
                header_checked: r.u8()? != 0,
            });
            st.assembly_buf = r.bytes()?.to_vec();
            if st
                .assembly
                .as_ref()
                .is_some_and(|a| st.assembly_buf.len() >= a.tot_len)
            {
                return Err("saved partial record is longer than the record".into());
            }
        }
        let mut open = XidMap::default();
        for _ in 0..r.len()? {
            let xid = r.u32()?;
            let records = r.u32()?;
            let bytes = r.u64()?;
            let relations = get_relations(&mut r)?;
            let more_relations = r.u8()? != 0;
            open.insert(
                xid,
                TxAcc {
                    records,
                    bytes,
                    relations,
                    more_relations,
                },
            );
        }
        s.resume.push((tl, Resume { stream: st, open }));
    }
    if r.at != body.len() {
        return Err(format!(
            "{} unexpected bytes after the last section",
            body.len() - r.at
        ));
    }
    Ok(s)
}
