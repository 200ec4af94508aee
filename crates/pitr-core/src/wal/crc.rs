//! CRC-32C (Castagnoli), the checksum PostgreSQL puts on every WAL record.
//!
//! The SSE4.2 instruction is used when the CPU has it; the table fallback keeps other
//! machines correct. Checking every byte of every record dominates indexing time, which is
//! why this is not a plain bitwise loop.

const POLY: u32 = 0x82F6_3B78;

const TABLES: [[u32; 256]; 8] = build_tables();

const fn build_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut s = 1;
    while s < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

/// Continues a CRC-32C over `data`. Start with `!0`, finish with `!crc`, as PostgreSQL's
/// INIT_CRC32C / COMP_CRC32C / FIN_CRC32C do.
pub fn update(crc: u32, data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.2") {
            // SAFETY: the feature was detected just above.
            return unsafe { update_sse42(crc, data) };
        }
    }
    update_table(crc, data)
}

/// The finished CRC-32C of `body` then `head`, the order a WAL record is checked in.
pub fn record_crc(body: &[u8], head: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.2") {
            // SAFETY: the feature was detected just above.
            return unsafe { !update_sse42(update_sse42(!0, body), head) };
        }
    }
    !update_table(update_table(!0, body), head)
}

fn update_table(mut crc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) ^ crc;
        let hi = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        crc = TABLES[7][(lo & 0xFF) as usize]
            ^ TABLES[6][((lo >> 8) & 0xFF) as usize]
            ^ TABLES[5][((lo >> 16) & 0xFF) as usize]
            ^ TABLES[4][(lo >> 24) as usize]
            ^ TABLES[3][(hi & 0xFF) as usize]
            ^ TABLES[2][((hi >> 8) & 0xFF) as usize]
            ^ TABLES[1][((hi >> 16) & 0xFF) as usize]
            ^ TABLES[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        crc = (crc >> 8) ^ TABLES[0][((crc ^ u32::from(b)) & 0xFF) as usize];
    }
    crc
}

/// Carry-less multiplication of two reflected polynomials modulo POLY (zlib's multmodp).
const fn multmodp(a: u32, mut b: u32) -> u32 {
    let mut m: u32 = 1 << 31;
    let mut p: u32 = 0;
    loop {
        if a & m != 0 {
            p ^= b;
            if a & (m - 1) == 0 {
                break;
            }
        }
        m >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
    }
    p
}

/// Tables that advance a CRC register over `n` zero bytes: by linearity,
/// crc(A || B) = advance(crc(A), |B|) ^ crc_from_zero(B).
struct Advance([[u32; 256]; 4]);

const fn advance_table(n: usize) -> Advance {
    let mut xn: u32 = 1 << 31;
    let mut i = 0;
    while i < n {
        xn = multmodp(1 << 23, xn);
        i += 1;
    }
    let mut t = [[0u32; 256]; 4];
    let mut byte = 0;
    while byte < 4 {
        let mut v = 0;
        while v < 256 {
            t[byte][v] = multmodp(xn, (v as u32) << (8 * byte));
            v += 1;
        }
        byte += 1;
    }
    Advance(t)
}

impl Advance {
    #[inline(always)]
    fn apply(&self, r: u32) -> u32 {
        self.0[0][(r & 0xFF) as usize]
            ^ self.0[1][((r >> 8) & 0xFF) as usize]
            ^ self.0[2][((r >> 16) & 0xFF) as usize]
            ^ self.0[3][(r >> 24) as usize]
    }
}

const LONG: usize = 256;
const SHORT: usize = 128;
static ADVANCE_LONG: [Advance; 2] = [advance_table(LONG), advance_table(2 * LONG)];
static ADVANCE_SHORT: [Advance; 2] = [advance_table(SHORT), advance_table(2 * SHORT)];

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn update_sse42(crc: u32, data: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};

    #[inline(always)]
    fn word(d: &[u8], i: usize) -> u64 {
        u64::from_le_bytes([
            d[i],
            d[i + 1],
            d[i + 2],
            d[i + 3],
            d[i + 4],
            d[i + 5],
            d[i + 6],
            d[i + 7],
        ])
    }

    // Three independent streams hide the instruction's 3-cycle latency; the tables then
    // join them. Records holding page images are long enough for this to matter.
    #[inline(always)]
    fn three_way(c: u32, d: &[u8], k: usize, adv: &[Advance; 2]) -> u32 {
        let d = &d[..3 * k];
        let (mut ra, mut rb, mut rc) = (u64::from(c), 0u64, 0u64);
        let mut i = 0;
        while i < k {
            // SAFETY: i + 8 <= k, so all three reads lie inside `d` (3k bytes long);
            // the enclosing function only runs when SSE4.2 was detected.
            unsafe {
                let p = d.as_ptr().add(i);
                ra = _mm_crc32_u64(ra, std::ptr::read_unaligned(p.cast::<u64>()));
                rb = _mm_crc32_u64(rb, std::ptr::read_unaligned(p.add(k).cast::<u64>()));
                rc = _mm_crc32_u64(rc, std::ptr::read_unaligned(p.add(2 * k).cast::<u64>()));
            }
            i += 8;
        }
        adv[1].apply(ra as u32) ^ adv[0].apply(rb as u32) ^ rc as u32
    }

    let mut c = crc;
    let mut d = data;
    while d.len() >= 3 * LONG {
        c = three_way(c, d, LONG, &ADVANCE_LONG);
        d = &d[3 * LONG..];
    }
    while d.len() >= 3 * SHORT {
        c = three_way(c, d, SHORT, &ADVANCE_SHORT);
        d = &d[3 * SHORT..];
    }
    let mut c = u64::from(c);
    let mut chunks = d.chunks_exact(8);
    for ch in &mut chunks {
        c = _mm_crc32_u64(c, word(ch, 0));
    }
    let mut c = c as u32;
    for &b in chunks.remainder() {
        c = _mm_crc32_u8(c, b);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // RFC 3720 / iSCSI check value for "123456789".
        assert_eq!(!update(!0, b"123456789"), 0xE306_9283);
        assert_eq!(!update_table(!0, b"123456789"), 0xE306_9283);
    }

    #[test]
    fn table_and_hardware_agree_in_pieces() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for len in [
            0, 1, 7, 8, 383, 384, 385, 1000, 3071, 3072, 3080, 9000, 20_000,
        ] {
            let d = &data[..len];
            let whole = update(!0, d);
            assert_eq!(update_table(!0, d), whole, "length {len}");
            let (a, b) = d.split_at(len / 3);
            assert_eq!(update(update(!0, a), b), whole, "length {len}");
        }
    }
}
