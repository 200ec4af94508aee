//! Checks record CRCs on the thread that reads files, ahead of the reader proper.
//!
//! Checksumming is the largest single cost of indexing. The reading thread walks record
//! boundaries through each file's pages on its own (from the first record that starts in
//! the file) and lists the LSNs whose CRC matched; the reader then skips the checksum for
//! exactly those records and still does every other check itself. The walk gives up at
//! the first thing that does not look like a record; whatever it did not vouch for, the
//! reader checksums as usual, so a wrong walk costs time, never correctness.

use super::crc;
use super::page::{PageHeader, XLP_FIRST_IS_CONTRECORD};
use super::record::{MAX_RECORD_LEN, RECORD_HEADER_LEN};

struct Partial {
    lsn: u64,
    tot: usize,
    got: usize,
    head: [u8; RECORD_HEADER_LEN],
    crc: u32,
}

/// The walk through one segment file.
pub struct PreCheck {
    base: u64,
    page: usize,
    seg_off: usize,
    skip: usize,
    rec: Option<Partial>,
    dead: bool,
}

impl PreCheck {
    /// For the file of segment `seg_no`; `page` is the WAL block size, 0 when unknown
    /// (which turns the walk off).
    pub fn new(seg_no: u64, seg_size: u64, page: usize) -> PreCheck {
        PreCheck {
            base: seg_no.saturating_mul(seg_size),
            page,
            seg_off: 0,
            skip: 0,
            rec: None,
            dead: page == 0,
        }
    }

    /// Walks the next chunk of the file (whole pages), pushing verified LSNs to `ok`.
    pub fn chunk(&mut self, chunk: &[u8], ok: &mut Vec<u64>) {
        ok.clear();
        for p in chunk.chunks_exact(self.page.max(1)) {
            if self.dead {
                return;
            }
            self.page(p, ok);
            self.seg_off += p.len();
        }
    }

    fn page(&mut self, p: &[u8], ok: &mut Vec<u64>) {
        let Some(h) = PageHeader::parse(p) else {
            self.dead = true;
            return;
        };
        let mut i = h.len();
        if self.seg_off == 0 && h.info & XLP_FIRST_IS_CONTRECORD != 0 {
            self.skip = h.rem_len as usize;
        }
        if self.skip > 0 {
            let n = self.skip.min(p.len() - i);
            self.skip -= n;
            if self.skip > 0 {
                return;
            }
            i = align(i + n);
        }
        if let Some(mut r) = self.rec.take() {
            let n = (r.tot - r.got).min(p.len() - i);
            feed(&mut r, &p[i..i + n]);
            i += n;
            if r.got < r.tot {
                self.rec = Some(r);
                return;
            }
            if !self.settle(&r, ok) {
                return;
            }
            i = align(i);
        }
        while i + 8 <= p.len() {
            let tot = u32::from_le_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
            if (tot as usize) < RECORD_HEADER_LEN || tot > MAX_RECORD_LEN {
                self.dead = true;
                return;
            }
            let mut r = Partial {
                lsn: self.base + (self.seg_off + i) as u64,
                tot: tot as usize,
                got: 0,
                head: [0; RECORD_HEADER_LEN],
                crc: !0,
            };
            let n = r.tot.min(p.len() - i);
            feed(&mut r, &p[i..i + n]);
            i += n;
            if r.got < r.tot {
                self.rec = Some(r);
                return;
            }
            if !self.settle(&r, ok) {
                return;
            }
            i = align(i);
        }
    }

    fn settle(&mut self, r: &Partial, ok: &mut Vec<u64>) -> bool {
        let c = !crc::update(r.crc, &r.head[..20]);
        if c == u32::from_le_bytes([r.head[20], r.head[21], r.head[22], r.head[23]]) {
            ok.push(r.lsn);
            true
        } else {
            self.dead = true;
            false
        }
    }
}

fn align(x: usize) -> usize {
    (x + 7) & !7
}

fn feed(r: &mut Partial, mut b: &[u8]) {
    if r.got < RECORD_HEADER_LEN {
        let k = (RECORD_HEADER_LEN - r.got).min(b.len());
        r.head[r.got..r.got + k].copy_from_slice(&b[..k]);
        r.got += k;
        b = &b[k..];
    }
    r.crc = crc::update(r.crc, b);
    r.got += b.len();
}
