//! WAL page headers: the short one on every page, the long one opening each segment.

/// The page starts with the rest of a record begun on an earlier page.
pub const XLP_FIRST_IS_CONTRECORD: u16 = 0x1;
pub const XLP_LONG_HEADER: u16 = 0x2;
/// A record that was being continued was abandoned; a new record starts here instead.
pub const XLP_FIRST_IS_OVERWRITE_CONTRECORD: u16 = 0x8;

pub const SHORT_HEADER_LEN: usize = 24;
pub const LONG_HEADER_LEN: usize = 40;

/// Page magic of each major version this reader knows (`XLOG_PAGE_MAGIC` in each release's
/// xlog_internal.h). 16 to 18 changed the magic but not the page, record or block-header layout.
pub const KNOWN_MAGICS: [(u16, u8); 6] = [
    (0xD106, 13),
    (0xD10D, 14),
    (0xD110, 15),
    (0xD113, 16),
    (0xD116, 17),
    (0xD118, 18),
];

/// PostgreSQL major version that writes pages with this magic, 13 to 18.
pub fn version_for_magic(magic: u16) -> Option<u8> {
    KNOWN_MAGICS
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, v)| *v)
}

/// Why a page magic is not read: which side of the known range it falls on, so the operator
/// learns "newer than 18" rather than a bare number. Magics only grow between releases.
pub fn unknown_magic(magic: u16) -> String {
    let list = KNOWN_MAGICS
        .iter()
        .map(|(m, v)| format!("{v}: {m:#06X}"))
        .collect::<Vec<_>>()
        .join(", ");
    let guess = match magic {
        0xD000..=0xD105 => "WAL of a PostgreSQL older than 13, which this console does not read",
        0xD119..=0xD1FF => {
            "WAL of a PostgreSQL newer than 18 (or a development build), which this console \
             does not read yet"
        }
        _ => "not PostgreSQL WAL of any release",
    };
    format!("page magic {magic:#06X} is {guess} (it reads 13 to 18: {list})")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageHeader {
    pub magic: u16,
    pub info: u16,
    pub tli: u32,
    pub pageaddr: u64,
    pub rem_len: u32,
}

impl PageHeader {
    /// Reads the short header; `None` when fewer than 24 bytes are given.
    pub fn parse(b: &[u8]) -> Option<PageHeader> {
        let b = b.get(..SHORT_HEADER_LEN)?;
        Some(PageHeader {
            magic: u16::from_le_bytes([b[0], b[1]]),
            info: u16::from_le_bytes([b[2], b[3]]),
            tli: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            pageaddr: u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]),
            rem_len: u32::from_le_bytes([b[16], b[17], b[18], b[19]]),
        })
    }

    pub fn len(&self) -> usize {
        if self.info & XLP_LONG_HEADER != 0 {
            LONG_HEADER_LEN
        } else {
            SHORT_HEADER_LEN
        }
    }
}

/// The fields only the first page of a segment carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongHeader {
    pub sysid: u64,
    pub seg_size: u32,
    pub blcksz: u32,
}

impl LongHeader {
    pub fn parse(b: &[u8]) -> Option<LongHeader> {
        let b = b.get(..LONG_HEADER_LEN)?;
        Some(LongHeader {
            sysid: u64::from_le_bytes([b[24], b[25], b[26], b[27], b[28], b[29], b[30], b[31]]),
            seg_size: u32::from_le_bytes([b[32], b[33], b[34], b[35]]),
            blcksz: u32::from_le_bytes([b[36], b[37], b[38], b[39]]),
        })
    }
}

/// What the first page of a segment says about the cluster that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WalFormat {
    pub magic: u16,
    pub version: u8,
    pub sysid: u64,
    pub seg_size: u64,
    pub page_size: u64,
}

impl WalFormat {
    /// Reads the format from the first page of a segment file, checking it is plausible.
    pub fn from_segment_start(b: &[u8]) -> Result<WalFormat, String> {
        let (Some(h), Some(l)) = (PageHeader::parse(b), LongHeader::parse(b)) else {
            return Err(format!(
                "only {} bytes, shorter than a WAL page header",
                b.len()
            ));
        };
        let version = version_for_magic(h.magic).ok_or_else(|| unknown_magic(h.magic))?;
        if h.info & XLP_LONG_HEADER == 0 {
            return Err("first page lacks the long header flag".into());
        }
        let seg = u64::from(l.seg_size);
        let page = u64::from(l.blcksz);
        if !page.is_power_of_two() || !(1024..=65536).contains(&page) {
            return Err(format!(
                "implausible WAL block size {page} in the long page header"
            ));
        }
        if !seg.is_power_of_two() || !(1 << 20..=1 << 30).contains(&seg) {
            return Err(format!(
                "implausible WAL segment size {seg} in the long page header"
            ));
        }
        Ok(WalFormat {
            magic: h.magic,
            version,
            sysid: l.sysid,
            seg_size: seg,
            page_size: page,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_per_version() {
        assert_eq!(version_for_magic(0xD110), Some(15));
        assert_eq!(version_for_magic(0xD116), Some(17));
        assert_eq!(version_for_magic(0xD118), Some(18));
        assert_eq!(version_for_magic(0xD101), None);
    }

    #[test]
    fn an_unknown_magic_names_the_version_it_would_be() {
        let newer = unknown_magic(0xD120);
        assert!(
            newer.contains("0xD120") && newer.contains("newer than 18"),
            "{newer}"
        );
        assert!(newer.contains("18: 0xD118"), "{newer}");
        assert!(unknown_magic(0xD101).contains("older than 13"));
        assert!(unknown_magic(0x1234).contains("not PostgreSQL WAL"));
    }

    #[test]
    fn long_header_round_trip() {
        let mut b = vec![0u8; 40];
        b[0..2].copy_from_slice(&0xD110u16.to_le_bytes());
        b[2..4].copy_from_slice(&XLP_LONG_HEADER.to_le_bytes());
        b[24..32].copy_from_slice(&42u64.to_le_bytes());
        b[32..36].copy_from_slice(&(16u32 << 20).to_le_bytes());
        b[36..40].copy_from_slice(&8192u32.to_le_bytes());
        let f = WalFormat::from_segment_start(&b).unwrap();
        assert_eq!(
            (f.version, f.sysid, f.seg_size, f.page_size),
            (15, 42, 16 << 20, 8192)
        );
        b[36..40].copy_from_slice(&3000u32.to_le_bytes());
        assert!(WalFormat::from_segment_start(&b).is_err());
        assert!(WalFormat::from_segment_start(&b[..20]).is_err());
    }
}
