//! Reads the planned segment files, several at a time.
//!
//! Each worker thread reads one whole file with a reader of its own, as if a run of WAL
//! started there: from the first record that begins in the file (the page header says
//! how much of the page continues a record from the segment before). Records never
//! depend on each other except through the prev-link, the page timeline and the record
//! crossing into the file, so the main thread, which holds the reader state of the run,
//! only reads the start of each file up to the worker's first record (finishing the
//! crossing record on the way) and checks the first record's prev-link; when they agree
//! it takes the worker's result and end state. When they do not (damage, a switch,
//! a record longer than a segment) it reads the file again itself, in order, so every
//! result is what reading the files one after the other gives.

use super::arch_file::{append, stored_segment, ArchFile, BuildStats};
use super::collect::Collector;
use super::compress::{fill, open_segment};
use super::reader::{RecordRef, RecordSink, SegmentScan, WalStream};
use super::record::{RecordHeader, RelFileNode};
use super::store::{Resume, Stored};
use crate::domain::timeline::TimelineId;
use std::sync::{mpsc, Condvar, Mutex};

/// Read size: whole pages of every WAL page size. Measured here, the kernel's copy costs
/// about 15% less CPU with 1-2 MiB reads than with 128-256 KiB ones, and what was just
/// read is still in the shared cache when it is checked.
const CHUNK: usize = 1 << 20;
/// The start of a file kept for the main thread; a file whose first record begins
/// later than this (a record longer than this crossing into it) is read again instead.
const PREFIX_CAP: usize = 1 << 20;
/// Files finished ahead of the one the main thread waits for, per worker.
const AHEAD_PER_WORKER: usize = 2;

/// What a worker found in one file.
struct Pass {
    /// Bytes read (decompressed); `None` when the file could not be read to its end.
    len: Option<u64>,
    /// The file's first pages, up to the one where the worker's first record starts;
    /// `None` when that is beyond PREFIX_CAP or there is no such record.
    prefix: Option<Vec<u8>>,
    stream: WalStream,
    scan: SegmentScan,
    col: Collector,
}

fn pass_file(f: &ArchFile, seg_size: u64, buf: &mut Vec<u8>) -> Pass {
    let mut pass = Pass {
        len: None,
        prefix: None,
        stream: WalStream::new(),
        scan: SegmentScan::default(),
        col: Collector::for_segment(f.segment.timeline),
    };
    let Ok(mut input) = open_segment(&f.path, f.compression) else {
        return pass;
    };
    let no = f.segment.number;
    let mut prefix = Some(Vec::new());
    let mut want_prefix = true;
    let mut total = 0u64;
    buf.resize(CHUNK, 0);
    loop {
        let Ok(n) = fill(&mut input, buf) else {
            return pass;
        };
        let chunk = &buf[..n];
        if total == 0 {
            pass.stream.begin_segment(no, chunk);
        }
        pass.stream.feed_chunk(chunk, &mut pass.col);
        if let (true, Some(p)) = (want_prefix, &mut prefix) {
            p.extend_from_slice(chunk);
            let first_page_end =
                pass.stream
                    .first_rec
                    .zip(pass.stream.format)
                    .map(|((lsn, _), fmt)| {
                        let off = lsn.wrapping_sub(no.wrapping_mul(fmt.seg_size));
                        (off / fmt.page_size + 1) * fmt.page_size
                    });
            match first_page_end {
                Some(end) if end <= p.len() as u64 => {
                    p.truncate(end as usize);
                    want_prefix = false;
                }
                Some(_) => prefix = None,
                None if p.len() >= PREFIX_CAP => prefix = None,
                None => {}
            }
        }
        total += n as u64;
        if n < CHUNK || total >= seg_size {
            break;
        }
    }
    pass.scan = pass.stream.end_segment(total);
    pass.len = Some(total);
    if !want_prefix {
        pass.prefix = prefix;
    }
    pass
}

/// Reads a file in order with the run's own reader state.
fn read_in_order(
    stream: &mut WalStream,
    col: &mut Collector,
    f: &ArchFile,
    seg_size: u64,
    buf: &mut Vec<u8>,
) -> (SegmentScan, u64) {
    let no = f.segment.number;
    let mut input = match open_segment(&f.path, f.compression) {
        Ok(r) => r,
        Err(e) => return (stream.give_up(no, format!("cannot read the file: {e}")), 0),
    };
    let mut total = 0u64;
    buf.resize(CHUNK, 0);
    loop {
        match fill(&mut input, buf) {
            Ok(n) => {
                if total == 0 {
                    stream.begin_segment(no, &buf[..n]);
                }
                stream.feed_chunk(&buf[..n], col);
                total += n as u64;
                if n < CHUNK || total >= seg_size {
                    return (stream.end_segment(total), total);
                }
            }
            Err(e) => {
                return (
                    stream.give_up(no, format!("cannot read the file: {e}")),
                    total,
                )
            }
        }
    }
}

/// A record met while reading up to the worker's start, held until that is known to
/// succeed.
struct Held {
    version: u8,
    lsn: u64,
    end: u64,
    header: RecordHeader,
    main: Vec<u8>,
    blocks: Vec<RelFileNode>,
}

#[derive(Default)]
struct Hold(Vec<Held>);

impl RecordSink for Hold {
    fn record(&mut self, version: u8, rec: &RecordRef<'_>) {
        self.0.push(Held {
            version,
            lsn: rec.lsn,
            end: rec.end,
            header: rec.header,
            main: rec.main.to_vec(),
            blocks: rec.blocks.to_vec(),
        });
    }
}

/// Adds the worker's pass over `f` to the run, or reads `f` again in order.
fn take_pass(
    stream: &mut WalStream,
    col: &mut Collector,
    f: &ArchFile,
    pass: Pass,
    seg_size: u64,
    buf: &mut Vec<u8>,
) -> (SegmentScan, u64) {
    if let (Some(len), Some(prefix), Some((first, first_prev))) =
        (pass.len, &pass.prefix, pass.stream.first_rec)
    {
        let before = stream.clone();
        let mut hold = Hold::default();
        if stream.sync_at(f.segment.number, prefix, first, &mut hold)
            && stream.prev_rec.is_none_or(|p| p == first_prev)
        {
            for h in hold.0 {
                col.record(
                    h.version,
                    &RecordRef {
                        lsn: h.lsn,
                        end: h.end,
                        header: h.header,
                        main: &h.main,
                        blocks: &h.blocks,
                    },
                );
            }
            stream.adopt(pass.stream);
            col.merge(pass.col);
            return (pass.scan, len);
        }
        *stream = before;
    }
    read_in_order(stream, col, f, seg_size, buf)
}

/// Hands out files to workers in order, never more than `ahead` past the one taken last.
struct Dispatch {
    state: Mutex<(usize, usize)>,
    moved: Condvar,
    ahead: usize,
}

impl Dispatch {
    /// The next file for a worker, once the main thread has taken enough of the earlier.
    fn next(&self, files: usize) -> Option<usize> {
        let mut st = self.state.lock().ok()?;
        while st.0 < files && st.0 >= st.1 + self.ahead {
            st = self.moved.wait(st).ok()?;
        }
        (st.0 < files).then(|| {
            st.0 += 1;
            st.0 - 1
        })
    }

    fn taken(&self, n: usize) {
        if let Ok(mut st) = self.state.lock() {
            st.1 = n;
        }
        self.moved.notify_all();
    }
}

/// Reads the planned files of each timeline, continuing from its saved state.
pub(super) fn scan(
    stored: &mut Stored,
    work: Vec<(TimelineId, Vec<ArchFile>, Resume)>,
    stats: &mut BuildStats,
) {
    let files: Vec<ArchFile> = work
        .iter()
        .flat_map(|(_, f, _)| f.iter().cloned())
        .collect();
    let seg_size = stored.seg_size;
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 16)
        .min(files.len().max(1));
    let dispatch = Dispatch {
        state: Mutex::new((0, 0)),
        moved: Condvar::new(),
        ahead: workers * AHEAD_PER_WORKER,
    };
    let (done_tx, done_rx) = mpsc::channel::<(usize, Pass)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let (files, dispatch) = (&files, &dispatch);
            scope.spawn(move || {
                let mut buf = Vec::new();
                while let Some(i) = dispatch.next(files.len()) {
                    if done_tx
                        .send((i, pass_file(&files[i], seg_size, &mut buf)))
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        let mut ready: Vec<Option<Pass>> = (0..files.len()).map(|_| None).collect();
        let mut next = 0;
        let mut buf = Vec::new();
        for (tl, files, resume) in work {
            let Resume { mut stream, open } = resume;
            let mut col = Collector::new(tl, open);
            for f in files {
                while ready[next].is_none() {
                    match done_rx.recv() {
                        Ok((i, pass)) => ready[i] = Some(pass),
                        Err(_) => break,
                    }
                }
                let pass = ready[next].take();
                next += 1;
                dispatch.taken(next);
                let (result, len) = match pass {
                    Some(p) => take_pass(&mut stream, &mut col, &f, p, seg_size, &mut buf),
                    None => read_in_order(&mut stream, &mut col, &f, seg_size, &mut buf),
                };
                stats.segments_read += 1;
                stats.bytes_read += len;
                stored.segments.push(stored_segment(&f, result));
            }
            let offset = u32::try_from(stored.relations.len()).unwrap_or(u32::MAX);
            for t in &mut col.tx_ends {
                t.rel_start = t.rel_start.saturating_add(offset);
            }
            append(&mut stored.tx_ends, col.tx_ends);
            append(&mut stored.relations, col.relations);
            stored.restore_points.append(&mut col.restore_points);
            stored.checkpoints.append(&mut col.checkpoints);
            stored.resume.push((
                tl,
                Resume {
                    stream,
                    open: col.open,
                },
            ));
        }
    });
}

#[cfg(test)]
mod tests {
    use crate::domain::timeline::TimelineId;
    use crate::wal::collect::Collector;
    use crate::wal::reader::tests::{commit, Seg, PAGE, SEG};
    use crate::wal::reader::WalStream;
    use crate::wal::WalIndex;

    const SEGMENTS: usize = 5;

    /// Records of every size up to a few pages, so that many cross pages and every
    /// segment boundary is crossed by one.
    fn archive() -> Vec<Vec<u8>> {
        let mut s = Seg::new(1, SEGMENTS);
        let (mut prev, mut xid) = (0, 100u32);
        while s.pos + 40_000 < SEGMENTS * SEG {
            prev = s.put(&commit(
                xid,
                prev,
                i64::from(xid),
                (xid as usize * 7919) % 30_000,
            ));
            xid += 1;
        }
        s.data.chunks(SEG).map(<[u8]>::to_vec).collect()
    }

    /// What reading the files one after the other with one reader gives.
    fn in_order(files: &[Vec<u8>]) -> (Vec<(u64, u32)>, Vec<Option<u64>>) {
        let mut stream = WalStream::new();
        let mut col = Collector::new(TimelineId(1), Default::default());
        let ends: Vec<Option<u64>> = files
            .iter()
            .enumerate()
            .map(|(i, f)| stream.feed(1 + i as u64, f, &mut col).broken.map(|b| b.lsn))
            .collect();
        let tx = col.tx_ends.iter().map(|t| (t.lsn.0, t.xid)).collect();
        (tx, ends)
    }

    fn indexed(files: &[Vec<u8>]) -> (Vec<(u64, u32)>, Vec<Option<u64>>) {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("archive");
        std::fs::create_dir(&archive).unwrap();
        for (i, f) in files.iter().enumerate() {
            std::fs::write(archive.join(format!("{:08X}{:08X}{:08X}", 1, 0, 1 + i)), f).unwrap();
        }
        let ix = WalIndex::open_or_build(&archive, &dir.path().join("ix"), None).unwrap();
        let tx = ix.tx_ends().iter().map(|t| (t.lsn.0, t.xid)).collect();
        let ends = ix.segments().map(|s| s.valid_end.map(|l| l.0)).collect();
        (tx, ends)
    }

    #[test]
    fn damage_anywhere_gives_what_reading_in_order_gives() {
        let good = archive();
        let (tx, ends) = indexed(&good);
        assert_eq!((tx.clone(), ends.clone()), in_order(&good));
        assert!(tx.len() > 100);
        type Damage = Box<dyn Fn(&mut Vec<Vec<u8>>)>;
        let damages: Vec<(&str, Damage)> = vec![
            (
                "first page of a segment zeroed",
                Box::new(|f| f[2][..PAGE].fill(0)),
            ),
            (
                "record crossing into a segment flipped",
                Box::new(|f| f[3][50] ^= 1),
            ),
            ("system id changed", Box::new(|f| f[3][30] ^= 1)),
            ("contrecord flag cleared", Box::new(|f| f[2][2] &= !1)),
            (
                "mid-segment byte flipped",
                Box::new(|f| f[1][SEG / 2 + 77] ^= 0x40),
            ),
            (
                "segment truncated",
                Box::new(|f| f[2].truncate(SEG / 3 + 5)),
            ),
            ("segment swapped", Box::new(|f| f.swap(1, 3))),
            ("long header zeroed", Box::new(|f| f[4][..40].fill(0))),
            ("page address wrong", Box::new(|f| f[3][2 * PAGE + 8] ^= 1)),
        ];
        for (what, damage) in damages {
            let mut files = good.clone();
            damage(&mut files);
            assert_eq!(indexed(&files), in_order(&files), "{what}");
        }
    }
}
