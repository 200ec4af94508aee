//! Turns validated records into index entries: transaction ends with the size of the
//! change they close, restore points and checkpoints.

use super::decode::{self, XactKind, RM_XACT_ID, RM_XLOG_ID};
use super::reader::{RecordRef, RecordSink};
use super::record::RelFileNode;
use crate::domain::lsn::Lsn;
use crate::domain::timeline::TimelineId;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Distinct relations kept per transaction; a bulk load touching thousands of relations
/// says enough with its first ones and `more_relations`.
pub const MAX_RELATIONS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RelationTouch {
    pub node: RelFileNode,
    /// Block references to this relation by the transaction's records.
    pub blocks: u32,
}

/// A commit or abort, with what the transaction wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TxEnd {
    pub timeline: TimelineId,
    pub lsn: Lsn,
    /// First byte after the commit/abort record: recovery that includes this transaction
    /// has replayed up to here.
    pub end: Lsn,
    pub xid: u32,
    /// Unix microseconds (use [`TxEnd::time`]).
    pub time_us: i64,
    pub kind: XactKind,
    /// Records and bytes carrying this xid (or one of its subtransactions) seen in this
    /// run of WAL, the commit record included.
    pub records: u32,
    pub bytes: u64,
    /// Where this transaction's relations are in the index's shared list
    /// (read them with `WalIndex::relations`); one list keeps a million commits cheap.
    pub rel_start: u32,
    pub rel_len: u32,
    /// More than MAX_RELATIONS relations were touched; the first ones are listed.
    pub more_relations: bool,
}

impl TxEnd {
    pub fn time(&self) -> chrono::DateTime<chrono::Utc> {
        micros_to_time(self.time_us)
    }
}

pub fn micros_to_time(us: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(us).unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RestorePoint {
    pub timeline: TimelineId,
    pub lsn: Lsn,
    pub end: Lsn,
    pub name: String,
    pub time_us: i64,
}

impl RestorePoint {
    pub fn time(&self) -> chrono::DateTime<chrono::Utc> {
        micros_to_time(self.time_us)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Checkpoint {
    pub timeline: TimelineId,
    pub lsn: Lsn,
    pub redo: Lsn,
    /// Unix seconds, as the record stores it.
    pub time_s: i64,
    pub shutdown: bool,
}

/// Running totals of a transaction that has not ended yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxAcc {
    pub records: u32,
    pub bytes: u64,
    pub relations: Vec<RelationTouch>,
    pub more_relations: bool,
}

impl TxAcc {
    fn add(&mut self, node: RelFileNode, blocks: u32) {
        if let Some(t) = self.relations.iter_mut().find(|t| t.node == node) {
            t.blocks = t.blocks.saturating_add(blocks);
        } else if self.relations.len() < MAX_RELATIONS {
            self.relations.push(RelationTouch { node, blocks });
        } else {
            self.more_relations = true;
        }
    }

    fn absorb(&mut self, other: &TxAcc) {
        self.records = self.records.saturating_add(other.records);
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.more_relations |= other.more_relations;
        for t in &other.relations {
            self.add(t.node, t.blocks);
        }
    }
}

/// Xids are dense small integers: a multiply is hash enough and much cheaper than SipHash.
#[derive(Default)]
pub struct XidHasher(u64);

impl Hasher for XidHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = u64::from(v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub type XidMap<V> = HashMap<u32, V, BuildHasherDefault<XidHasher>>;

/// A transaction end with subtransactions as a worker saw it, before folding: enough to
/// fold again when earlier segments hold parts of the transaction.
pub struct EndParts {
    /// Index of the end in the worker's `tx_ends`.
    end: usize,
    top: TxAcc,
    /// Every subtransaction xid of the record, with what the worker had for it.
    subs: Vec<(u32, Option<TxAcc>)>,
}

/// Collects one timeline's entries; `open` survives between segments (and index runs).
#[derive(Default)]
pub struct Collector {
    pub timeline: Option<TimelineId>,
    pub open: XidMap<TxAcc>,
    pub tx_ends: Vec<TxEnd>,
    /// The relations of `tx_ends`, each transaction's in one stretch.
    pub relations: Vec<RelationTouch>,
    /// Emptied relation lists, reused so that a transaction costs no allocation.
    spare: Vec<Vec<RelationTouch>>,
    pub restore_points: Vec<RestorePoint>,
    pub checkpoints: Vec<Checkpoint>,
    /// Kept by a worker's collector (see `for_segment`), for `merge`.
    parts: Option<Vec<EndParts>>,
}

impl Collector {
    pub fn new(timeline: TimelineId, open: XidMap<TxAcc>) -> Collector {
        Collector {
            timeline: Some(timeline),
            open,
            ..Collector::default()
        }
    }

    /// For a worker reading one segment on its own, knowing nothing of earlier ones;
    /// `merge` then adds what it found to the collector of the whole timeline.
    pub fn for_segment(timeline: TimelineId) -> Collector {
        Collector {
            parts: Some(Vec::new()),
            ..Collector::new(timeline, XidMap::default())
        }
    }

    /// Adds what `seg` (from `for_segment`) collected from the records that follow
    /// this collector's, with the same result as if this collector had read them:
    /// transactions begun earlier get their earlier records, relations and
    /// subtransactions added, in the same order.
    pub fn merge(&mut self, mut seg: Collector) {
        let mut parts = seg.parts.take().unwrap_or_default().into_iter().peekable();
        for (i, mut t) in seg.tx_ends.into_iter().enumerate() {
            let part = parts.next_if(|p| p.end == i);
            let rels = seg
                .relations
                .get(t.rel_start as usize..t.rel_start as usize + t.rel_len as usize)
                .unwrap_or(&[]);
            let begun_earlier = !self.open.is_empty()
                && (self.open.contains_key(&t.xid)
                    || part
                        .as_ref()
                        .is_some_and(|p| p.subs.iter().any(|(x, _)| self.open.contains_key(x))));
            t.rel_start = u32::try_from(self.relations.len()).unwrap_or(u32::MAX);
            if !begun_earlier {
                self.relations.extend_from_slice(rels);
                self.tx_ends.push(t);
                continue;
            }
            let mut acc = self.open.remove(&t.xid).unwrap_or_default();
            match part {
                None => acc.absorb(&TxAcc {
                    records: t.records,
                    bytes: t.bytes,
                    relations: rels.to_vec(),
                    more_relations: t.more_relations,
                }),
                Some(p) => {
                    acc.absorb(&p.top);
                    for (sub, here) in p.subs {
                        let whole = match (self.open.remove(&sub), here) {
                            (None, None) => continue,
                            (Some(mut before), Some(here)) => {
                                before.absorb(&here);
                                before
                            }
                            (Some(one), None) | (None, Some(one)) => one,
                        };
                        acc.absorb(&whole);
                    }
                }
            }
            t.records = acc.records;
            t.bytes = acc.bytes;
            t.more_relations = acc.more_relations;
            t.rel_len = acc.relations.len() as u32;
            self.relations.append(&mut acc.relations);
            self.tx_ends.push(t);
        }
        for (xid, acc) in seg.open {
            match self.open.entry(xid) {
                std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().absorb(&acc),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(acc);
                }
            }
        }
        self.restore_points.append(&mut seg.restore_points);
        self.checkpoints.append(&mut seg.checkpoints);
    }
}

impl RecordSink for Collector {
    fn record(&mut self, version: u8, rec: &RecordRef<'_>) {
        let h = &rec.header;
        if h.xid != 0 {
            let spare = &mut self.spare;
            let acc = self.open.entry(h.xid).or_insert_with(|| TxAcc {
                relations: spare.pop().unwrap_or_default(),
                ..TxAcc::default()
            });
            acc.records = acc.records.saturating_add(1);
            acc.bytes = acc.bytes.saturating_add(u64::from(h.tot_len));
            for &b in rec.blocks {
                acc.add(b, 1);
            }
        }
        let timeline = self.timeline.unwrap_or(TimelineId(0));
        match h.rmid {
            RM_XACT_ID => {
                let Some(end) = decode::xact_end(h.info, h.xid, rec.main, version) else {
                    return;
                };
                let mut acc = self.open.remove(&end.xid).unwrap_or_default();
                if h.xid != end.xid {
                    acc.records = acc.records.saturating_add(1);
                    acc.bytes = acc.bytes.saturating_add(u64::from(h.tot_len));
                }
                let mut parts =
                    (self.parts.is_some() && !end.subxacts.is_empty()).then(|| EndParts {
                        end: self.tx_ends.len(),
                        top: acc.clone(),
                        subs: Vec::new(),
                    });
                for sub in end.subxacts.chunks_exact(4) {
                    let sub = u32::from_le_bytes([sub[0], sub[1], sub[2], sub[3]]);
                    let here = self.open.remove(&sub);
                    if let Some(p) = &mut parts {
                        p.subs.push((sub, here.clone()));
                    }
                    if let Some(mut s) = here {
                        acc.absorb(&s);
                        s.relations.clear();
                        self.spare.push(s.relations);
                    }
                }
                self.tx_ends.push(TxEnd {
                    timeline,
                    lsn: Lsn(rec.lsn),
                    end: Lsn(rec.end),
                    xid: end.xid,
                    time_us: end.time_us,
                    kind: end.kind,
                    records: acc.records,
                    bytes: acc.bytes,
                    rel_start: u32::try_from(self.relations.len()).unwrap_or(u32::MAX),
                    rel_len: acc.relations.len() as u32,
                    more_relations: acc.more_relations,
                });
                self.relations.append(&mut acc.relations);
                self.spare.push(acc.relations);
                if let (Some(all), Some(p)) = (&mut self.parts, parts) {
                    all.push(p);
                }
            }
            RM_XLOG_ID => match h.info & 0xF0 {
                decode::XLOG_RESTORE_POINT => {
                    if let Some((time_us, name)) = decode::restore_point(rec.main) {
                        self.restore_points.push(RestorePoint {
                            timeline,
                            lsn: Lsn(rec.lsn),
                            end: Lsn(rec.end),
                            name,
                            time_us,
                        });
                    }
                }
                op @ (decode::XLOG_CHECKPOINT_SHUTDOWN | decode::XLOG_CHECKPOINT_ONLINE) => {
                    if let Some((redo, time_s)) = decode::checkpoint(rec.main) {
                        self.checkpoints.push(Checkpoint {
                            timeline,
                            lsn: Lsn(rec.lsn),
                            redo: Lsn(redo),
                            time_s,
                            shutdown: op == decode::XLOG_CHECKPOINT_SHUTDOWN,
                        });
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::record::RecordHeader;

    /// A record of `xid` touching `rels`, or, with `subs`, its commit listing them.
    struct Rec {
        xid: u32,
        rels: Vec<u32>,
        commit: Option<Vec<u32>>,
    }

    fn feed(col: &mut Collector, lsn: u64, r: &Rec) {
        let blocks: Vec<RelFileNode> = r
            .rels
            .iter()
            .map(|&rel| RelFileNode { spc: 1, db: 2, rel })
            .collect();
        let mut main = Vec::new();
        let (rmid, info) = match &r.commit {
            Some(subs) => {
                main.extend_from_slice(&5i64.to_le_bytes());
                main.extend_from_slice(&0x02u32.to_le_bytes());
                main.extend_from_slice(&(subs.len() as i32).to_le_bytes());
                for s in subs {
                    main.extend_from_slice(&s.to_le_bytes());
                }
                (RM_XACT_ID, 0x80)
            }
            None => (10, 0),
        };
        let header = RecordHeader {
            tot_len: 100 + lsn as u32,
            xid: r.xid,
            prev: 0,
            info,
            rmid,
            crc: 0,
        };
        col.record(
            15,
            &RecordRef {
                lsn,
                end: lsn + 1,
                header,
                main: &main,
                blocks: &blocks,
            },
        );
    }

    type Summary = (Vec<(TxEnd, Vec<RelationTouch>)>, Vec<(u32, TxAcc)>);

    fn summary(col: &Collector) -> Summary {
        let ends = col
            .tx_ends
            .iter()
            .map(|t| {
                let r = &col.relations[t.rel_start as usize..][..t.rel_len as usize];
                let mut t = t.clone();
                t.rel_start = 0;
                (t, r.to_vec())
            })
            .collect();
        let mut open: Vec<(u32, TxAcc)> = col.open.iter().map(|(x, a)| (*x, a.clone())).collect();
        open.sort_by_key(|o| o.0);
        (ends, open)
    }

    #[test]
    fn merging_segments_equals_reading_them_in_one_go() {
        let rec = |xid, rels: &[u32]| Rec {
            xid,
            rels: rels.to_vec(),
            commit: None,
        };
        let commit = |xid, subs: &[u32]| Rec {
            xid,
            rels: vec![],
            commit: Some(subs.to_vec()),
        };
        // Transaction 7 and its subtransactions 8 and 9 write in all three segments;
        // 20 begins in the first and ends in the second; 30 stays open; 40 is local.
        let segments = vec![
            vec![rec(7, &[1, 2]), rec(8, &[3]), rec(20, &[5]), rec(30, &[6])],
            vec![
                rec(9, &[4, 1]),
                rec(40, &[7]),
                commit(40, &[]),
                rec(20, &[5, 8]),
                commit(20, &[]),
                rec(8, &[2]),
            ],
            vec![
                rec(7, &[9]),
                rec(9, &[3]),
                commit(7, &[8, 9, 99]),
                rec(30, &[1]),
            ],
        ];
        let mut whole = Collector::new(TimelineId(1), XidMap::default());
        let mut joined = Collector::new(TimelineId(1), XidMap::default());
        let mut lsn = 0;
        for seg in &segments {
            let mut part = Collector::for_segment(TimelineId(1));
            for r in seg {
                lsn += 8;
                feed(&mut whole, lsn, r);
                feed(&mut part, lsn, r);
            }
            joined.merge(part);
        }
        assert_eq!(summary(&joined), summary(&whole));
        let (ends, open) = summary(&whole);
        assert_eq!(ends.len(), 3);
        assert_eq!(ends[2].0.records, 7);
        assert_eq!(ends[2].1.len(), 5);
        assert_eq!(open.len(), 1);
    }
}
