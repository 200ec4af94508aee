//! The transactions pane's model: commits, aborts and restore points around the cursor on
//! the assessed timeline, relation names learnt from the live server, and the target "just
//! before this transaction" the operator picks from it.
//!
//! Rows are computed by a pure function from a [`TxLog`] (the WAL index is one), so the
//! screen and its tests work from plain rows.

use super::msg::Cmd;
use crate::domain::lsn::Lsn;
use crate::domain::target::RecoveryTarget;
use crate::domain::timeline::{TimelineHistory, TimelineId};
use crate::domain::zone::Zone;
use crate::wal::{RelFileNode, RelationTouch, RestorePoint, TxEnd, WalIndex, XactKind};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Rows listed on each side of the cursor.
pub const AROUND: usize = 5;
/// A transaction stands out when it wrote this many times the median of the rows in view...
const BIG_FACTOR: u64 = 8;
/// ...and at least this much, so that a quiet stretch of one-row commits marks nothing.
const BIG_MIN_RECORDS: u64 = 100;
const BIG_MIN_BYTES: u64 = 64 * 1024;

/// Commits and aborts in LSN order: those the archive holds, then those only the live
/// server's pg_wal holds yet.
#[derive(Debug, Clone, Copy)]
pub struct TxSpan<'a> {
    pub archived: &'a [TxEnd],
    pub unarchived: &'a [TxEnd],
}

impl<'a> TxSpan<'a> {
    pub fn archived(archived: &'a [TxEnd]) -> TxSpan<'a> {
        TxSpan {
            archived,
            unarchived: &[],
        }
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &'a TxEnd> {
        self.archived.iter().chain(self.unarchived)
    }
}

/// Where commits, aborts and restore points come from.
pub trait TxLog: Send + Sync {
    /// Commits and aborts of `timeline` with `from <= lsn < to`, ascending.
    fn tx_ends_between(&self, timeline: TimelineId, from: Lsn, to: Lsn) -> TxSpan<'_>;
    fn relations(&self, t: &TxEnd) -> &[RelationTouch];
    /// Every restore point, by (timeline, LSN).
    fn restore_points(&self) -> &[RestorePoint];
    /// Whether `t` is in WAL the archive does not hold yet.
    fn is_unarchived(&self, _t: &TxEnd) -> bool {
        false
    }
    /// Where the cursor at `at` stands in this log, given the archive's answer `before`
    /// (replay to `at` stops before it); a log that knows WAL past the archive moves it on.
    fn place(&self, _timeline: TimelineId, _at: DateTime<Utc>, before: Option<Lsn>) -> Option<Lsn> {
        before
    }
}

impl TxLog for WalIndex {
    fn tx_ends_between(&self, timeline: TimelineId, from: Lsn, to: Lsn) -> TxSpan<'_> {
        TxSpan::archived(WalIndex::tx_ends_between(self, timeline, from, to))
    }
    fn relations(&self, t: &TxEnd) -> &[RelationTouch] {
        WalIndex::relations(self, t)
    }
    fn restore_points(&self) -> &[RestorePoint] {
        WalIndex::restore_points(self)
    }
}

/// Entries held in memory, sorted by (timeline, LSN), for a log that was not read from an
/// archive by the console (and for tests).
#[derive(Debug, Clone, Default)]
pub struct TxList {
    pub tx_ends: Vec<TxEnd>,
    /// The shared list `TxEnd::rel_start`/`rel_len` point into.
    pub relations: Vec<RelationTouch>,
    pub restore_points: Vec<RestorePoint>,
}

impl TxLog for TxList {
    fn tx_ends_between(&self, timeline: TimelineId, from: Lsn, to: Lsn) -> TxSpan<'_> {
        let lo = self
            .tx_ends
            .partition_point(|t| (t.timeline, t.lsn) < (timeline, from));
        let hi = self
            .tx_ends
            .partition_point(|t| (t.timeline, t.lsn) < (timeline, to));
        TxSpan::archived(&self.tx_ends[lo..hi.max(lo)])
    }
    fn relations(&self, t: &TxEnd) -> &[RelationTouch] {
        let (s, n) = (t.rel_start as usize, t.rel_len as usize);
        self.relations.get(s..s + n).unwrap_or(&[])
    }
    fn restore_points(&self) -> &[RestorePoint] {
        &self.restore_points
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowKind {
    Tx(XactKind),
    RestorePoint { name: String },
}

/// One line of the pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRow {
    pub timeline: TimelineId,
    pub lsn: Lsn,
    pub time: DateTime<Utc>,
    pub kind: RowKind,
    /// 0 for restore points.
    pub xid: u32,
    pub records: u32,
    pub bytes: u64,
    pub relations: Vec<RelFileNode>,
    pub more_relations: bool,
    /// Wrote far more than the rows around it.
    pub big: bool,
    /// Read from the live server's pg_wal: the archive does not hold it yet.
    pub unarchived: bool,
}

impl TxRow {
    pub fn is_tx(&self) -> bool {
        matches!(self.kind, RowKind::Tx(_))
    }
}

/// What the previous/next keys move to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seek {
    Transaction,
    RestorePoint,
}

impl Seek {
    fn matches(self, row: &TxRow) -> bool {
        row.is_tx() == (self == Seek::Transaction)
    }
}

/// What the operator picked as the recovery target, for the recovery wizard to plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingTarget {
    pub server: String,
    pub target: RecoveryTarget,
    pub label: String,
}

/// What the rows were computed for; rows are recomputed only when it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    repo: usize,
    timeline: TimelineId,
    before: Lsn,
}

/// A row the cursor was moved onto by a key: the pane stays on it while the cursor stays
/// at its time, even when other transactions share or straddle that instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pin {
    at: DateTime<Utc>,
    timeline: TimelineId,
    lsn: Lsn,
}

/// Relation names as one server told them; None: not a relation of its database (now).
pub type NameCache = HashMap<RelFileNode, Option<String>>;

#[derive(Default)]
pub struct Transactions {
    /// The repository whose log is attached, and the log (None: no WAL index).
    source: Option<(usize, Option<Arc<dyn TxLog>>)>,
    key: Option<Key>,
    pin: Option<Pin>,
    pub rows: Vec<TxRow>,
    /// The row the cursor sits just after (or on).
    pub current: Option<usize>,
    /// On a screen too small for both, the transactions pane replaces the cursor detail.
    pub swapped: bool,
    /// Per server name.
    pub names: HashMap<String, NameCache>,
    resolving: HashSet<(String, RelFileNode)>,
    /// Why the last key in the pane did nothing.
    pub notice: Option<String>,
}

impl Transactions {
    /// Uses `log` for repository `repo` from now on (None: it has no WAL index).
    pub fn attach(&mut self, repo: usize, log: Option<Arc<dyn TxLog>>) {
        self.source = Some((repo, log));
        self.key = None;
        self.pin = None;
        self.rows.clear();
        self.current = None;
    }

    /// Whether a log is attached for `repo`; false also when none was attached yet.
    pub fn has_log(&self, repo: usize) -> bool {
        matches!(&self.source, Some((r, Some(_))) if *r == repo)
    }

    pub fn attached(&self, repo: usize) -> bool {
        matches!(&self.source, Some((r, _)) if *r == repo)
    }

    /// Shows plain rows, as computed elsewhere: the pane keeps them until the log is
    /// attached again.
    pub fn show_rows(&mut self, rows: Vec<TxRow>, current: Option<usize>) {
        self.rows = rows;
        self.current = current;
    }

    pub fn current_row(&self) -> Option<&TxRow> {
        self.current.and_then(|i| self.rows.get(i))
    }

    /// The name `server` gave a relation; None while unknown or unresolvable.
    pub fn name_of(&self, server: Option<&str>, node: &RelFileNode) -> Option<&str> {
        self.names.get(server?)?.get(node)?.as_deref()
    }

    /// Brings the rows up to date for the cursor at `at`, placed at `before` by the time
    /// source (replay to `at` stops before that position).
    pub(crate) fn refresh(
        &mut self,
        repo: usize,
        histories: &[TimelineHistory],
        timeline: TimelineId,
        at: DateTime<Utc>,
        before: Option<Lsn>,
    ) {
        let Some((r, Some(log))) = &self.source else {
            return;
        };
        if *r != repo {
            return;
        }
        let pin = self
            .pin
            .filter(|p| p.at == at && p.timeline == timeline)
            .map(|p| Lsn(p.lsn.0 + 1));
        if pin.is_none() {
            self.pin = None;
        }
        let before = pin.or_else(|| log.place(timeline, at, before));
        let key = Key {
            repo,
            timeline,
            before: before.unwrap_or(Lsn(0)),
        };
        if self.key == Some(key) {
            return;
        }
        let (rows, current) = rows_around(log.as_ref(), histories, timeline, key.before, AROUND);
        self.rows = rows;
        self.current = current;
        self.key = Some(key);
    }

    /// The row to move to for "next"/"previous" among rows matching `wanted`, searching the
    /// whole log when the rows in view have none.
    pub(crate) fn find(
        &self,
        histories: &[TimelineHistory],
        timeline: TimelineId,
        forward: bool,
        seek: Seek,
    ) -> Option<TxRow> {
        let wanted = |r: &TxRow| seek.matches(r);
        let from = self.current;
        let in_view = if forward {
            let start = from.map_or(0, |i| i + 1);
            self.rows.iter().skip(start).find(|r| wanted(r))
        } else {
            from.and_then(|i| self.rows[..i].iter().rev().find(|r| wanted(r)))
        };
        if let Some(r) = in_view {
            return Some(r.clone());
        }
        let (_, Some(log)) = self.source.as_ref()? else {
            return None;
        };
        let edge = if forward {
            self.rows.last().map_or(Lsn(0), |r| Lsn(r.lsn.0 + 1))
        } else {
            self.rows.first().map_or(Lsn(u64::MAX), |r| r.lsn)
        };
        let chain = chain(histories, timeline);
        if forward {
            collect_after(log.as_ref(), &chain, edge, 1, wanted).pop()
        } else {
            collect_before(log.as_ref(), &chain, edge, 1, wanted).pop()
        }
    }

    /// Keeps the pane on `row` while the cursor stays at its time.
    pub(crate) fn pin_to(&mut self, row: &TxRow) {
        self.pin = Some(Pin {
            at: row.time,
            timeline: row.timeline,
            lsn: row.lsn,
        });
    }

    /// Relations in view that `server` was not asked about yet, marked as asked.
    pub(crate) fn names_wanted(&mut self, server: &str) -> Vec<RelFileNode> {
        let known = self.names.get(server);
        let mut wanted: Vec<RelFileNode> = self
            .rows
            .iter()
            .flat_map(|r| r.relations.iter().copied())
            .filter(|n| known.is_none_or(|k| !k.contains_key(n)))
            .filter(|n| !self.resolving.contains(&(server.to_string(), *n)))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        for n in &wanted {
            self.resolving.insert((server.to_string(), *n));
        }
        wanted
    }

    /// Takes the server's answer. A failed lookup keeps the oids on screen; the relations
    /// are asked again when they come into view after the next catalog load.
    pub(crate) fn names_resolved(
        &mut self,
        server: &str,
        result: Result<Vec<(RelFileNode, Option<String>)>, String>,
    ) {
        self.resolving.retain(|(s, _)| s != server);
        match result {
            Ok(names) => self
                .names
                .entry(server.to_string())
                .or_default()
                .extend(names),
            Err(e) => tracing::warn!(%server, error = %e, "relation names not resolved"),
        }
    }

    /// The command resolving relations in view through `server`, when there are any new.
    pub(crate) fn resolve_cmd(&mut self, server: &str) -> Option<Cmd> {
        let nodes = self.names_wanted(server);
        (!nodes.is_empty()).then(|| Cmd::ResolveRelations {
            server: server.to_string(),
            nodes,
        })
    }
}

/// The pieces of WAL that recovery onto `timeline` reads, oldest first: each ancestor up
/// to the point where its child branched off, then the timeline itself.
pub fn chain(histories: &[TimelineHistory], timeline: TimelineId) -> Vec<(TimelineId, Lsn, Lsn)> {
    let Some(h) = histories.iter().find(|h| h.timeline == timeline) else {
        return vec![(timeline, Lsn(0), Lsn(u64::MAX))];
    };
    let mut pieces = Vec::with_capacity(h.entries.len() + 1);
    let mut from = Lsn(0);
    for e in &h.entries {
        pieces.push((e.parent, from, e.switch_point));
        from = e.switch_point;
    }
    pieces.push((timeline, from, Lsn(u64::MAX)));
    pieces
}

fn tx_row(log: &dyn TxLog, t: &TxEnd) -> TxRow {
    TxRow {
        timeline: t.timeline,
        lsn: t.lsn,
        time: t.time(),
        kind: RowKind::Tx(t.kind),
        xid: t.xid,
        records: t.records,
        bytes: t.bytes,
        relations: log.relations(t).iter().map(|r| r.node).collect(),
        more_relations: t.more_relations,
        big: false,
        unarchived: log.is_unarchived(t),
    }
}

fn point_row(p: &RestorePoint) -> TxRow {
    TxRow {
        timeline: p.timeline,
        lsn: p.lsn,
        time: p.time(),
        kind: RowKind::RestorePoint {
            name: p.name.clone(),
        },
        xid: 0,
        records: 0,
        bytes: 0,
        relations: Vec::new(),
        more_relations: false,
        big: false,
        unarchived: false,
    }
}

/// Restore points of one piece of the chain, ascending.
fn points_in(
    log: &dyn TxLog,
    tl: TimelineId,
    from: Lsn,
    to: Lsn,
) -> impl Iterator<Item = &RestorePoint> {
    log.restore_points()
        .iter()
        .filter(move |p| p.timeline == tl && from <= p.lsn && p.lsn < to)
}

/// Up to `n` rows matching `wanted` with `lsn < before` along the chain, the last one first.
fn collect_before(
    log: &dyn TxLog,
    chain: &[(TimelineId, Lsn, Lsn)],
    before: Lsn,
    n: usize,
    wanted: impl Fn(&TxRow) -> bool,
) -> Vec<TxRow> {
    let mut out = Vec::new();
    for &(tl, from, to) in chain.iter().rev() {
        if from >= before {
            continue;
        }
        let to = to.min(before);
        let mut points: Vec<&RestorePoint> = points_in(log, tl, from, to).collect();
        let span = log.tx_ends_between(tl, from, to);
        let mut txs = span.iter().rev();
        let mut next_tx = txs.next();
        while out.len() < n {
            let take_point = match (points.last(), next_tx) {
                (Some(p), Some(t)) => p.lsn > t.lsn,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let row = if take_point {
                points.pop().map(point_row)
            } else {
                let row = next_tx.map(|t| tx_row(log, t));
                next_tx = txs.next();
                row
            };
            if let Some(row) = row.filter(|r| wanted(r)) {
                out.push(row);
            }
        }
        if out.len() >= n {
            break;
        }
    }
    out
}

/// Up to `n` rows matching `wanted` with `lsn >= after` along the chain, ascending.
fn collect_after(
    log: &dyn TxLog,
    chain: &[(TimelineId, Lsn, Lsn)],
    after: Lsn,
    n: usize,
    wanted: impl Fn(&TxRow) -> bool,
) -> Vec<TxRow> {
    let mut out = Vec::new();
    for &(tl, from, to) in chain {
        if to <= after {
            continue;
        }
        let from = from.max(after);
        let mut points = points_in(log, tl, from, to).peekable();
        let span = log.tx_ends_between(tl, from, to);
        let mut txs = span.iter().peekable();
        while out.len() < n {
            let take_point = match (points.peek(), txs.peek()) {
                (Some(p), Some(t)) => p.lsn < t.lsn,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let row = if take_point {
                points.next().map(point_row)
            } else {
                txs.next().map(|t| tx_row(log, t))
            };
            if let Some(row) = row.filter(|r| wanted(r)) {
                out.push(row);
            }
        }
        if out.len() >= n {
            break;
        }
    }
    out
}

/// The `n` rows before `before` and the `n` from it on, along the WAL recovery onto
/// `timeline` reads; the row the cursor sits just after is the last one before `before`.
pub fn rows_around(
    log: &dyn TxLog,
    histories: &[TimelineHistory],
    timeline: TimelineId,
    before: Lsn,
    n: usize,
) -> (Vec<TxRow>, Option<usize>) {
    let chain = chain(histories, timeline);
    let mut rows = collect_before(log, &chain, before, n, |_| true);
    rows.reverse();
    let current = rows.len().checked_sub(1);
    rows.extend(collect_after(log, &chain, before, n, |_| true));
    mark_big(&mut rows);
    (rows, current)
}

/// Marks transactions that wrote far more than the median of the rows in view, by records
/// or by bytes.
pub fn mark_big(rows: &mut [TxRow]) {
    let median = |f: fn(&TxRow) -> u64| {
        let mut v: Vec<u64> = rows.iter().filter(|r| r.is_tx()).map(f).collect();
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0).max(1)
    };
    let records = median(|r| u64::from(r.records));
    let bytes = median(|r| r.bytes);
    for r in rows.iter_mut().filter(|r| r.is_tx()) {
        let rec = u64::from(r.records);
        r.big = (rec >= BIG_MIN_RECORDS && rec >= records * BIG_FACTOR)
            || (r.bytes >= BIG_MIN_BYTES && r.bytes >= bytes * BIG_FACTOR);
    }
}

pub fn kind_label(kind: &RowKind) -> &'static str {
    match kind {
        RowKind::Tx(XactKind::Commit) => "commit",
        RowKind::Tx(XactKind::Abort) => "abort",
        RowKind::Tx(XactKind::CommitPrepared) => "commit prepared",
        RowKind::Tx(XactKind::AbortPrepared) => "abort prepared",
        RowKind::RestorePoint { .. } => "restore point",
    }
}

/// The target that keeps everything before `row` and nothing of it, with words for it.
pub fn target_before(row: &TxRow, relations: &str, zone: &Zone) -> (RecoveryTarget, String) {
    match &row.kind {
        RowKind::Tx(kind) => (
            RecoveryTarget::Xid {
                xid: u64::from(row.xid),
                inclusive: false,
            },
            format!(
                "just before xid {} ({} {}, {} records, {}{})",
                row.xid,
                kind_label(&RowKind::Tx(*kind)),
                zone.format(row.time),
                row.records,
                bytesize::ByteSize(row.bytes),
                if relations.is_empty() {
                    String::new()
                } else {
                    format!(", {relations}")
                }
            ),
        ),
        RowKind::RestorePoint { name } => (
            RecoveryTarget::Name { name: name.clone() },
            format!(
                "restore point '{}' ({})",
                crate::domain::setting::shown(name),
                zone.format(row.time)
            ),
        ),
    }
}

/// A relation as the pane shows it: its name when the server told it, else the oids as
/// pg_waldump prints them.
pub fn relation_label(node: &RelFileNode, name: Option<&str>) -> String {
    name.map_or_else(
        || format!("{}/{}/{}", node.spc, node.db, node.rel),
        str::to_string,
    )
}

/// What the pane says when the repository's WAL was not read.
pub const NO_INDEX: &str =
    "no WAL index for this repository: the console could not read its WAL (the catalog's warnings say why)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_follows_the_history_to_the_timeline() {
        let h =
            TimelineHistory::parse(TimelineId(3), "1\t0/3000000\tx\n2\t0/5000000\ty\n").unwrap();
        let c = chain(&[h], TimelineId(3));
        assert_eq!(
            c,
            vec![
                (TimelineId(1), Lsn(0), Lsn(0x300_0000)),
                (TimelineId(2), Lsn(0x300_0000), Lsn(0x500_0000)),
                (TimelineId(3), Lsn(0x500_0000), Lsn(u64::MAX)),
            ]
        );
        assert_eq!(chain(&[], TimelineId(1)).len(), 1);
    }

    fn row(records: u32, bytes: u64) -> TxRow {
        TxRow {
            timeline: TimelineId(1),
            lsn: Lsn(0),
            time: DateTime::UNIX_EPOCH,
            kind: RowKind::Tx(XactKind::Commit),
            xid: 1,
            records,
            bytes,
            relations: vec![],
            more_relations: false,
            big: false,
            unarchived: false,
        }
    }

    #[test]
    fn big_means_far_above_the_median_and_not_tiny() {
        let mut rows = vec![
            row(3, 400),
            row(2000, 3_000_000),
            row(4, 500),
            row(3, 300_000),
            row(3, 450),
        ];
        mark_big(&mut rows);
        let big: Vec<bool> = rows.iter().map(|r| r.big).collect();
        assert_eq!(big, vec![false, true, false, true, false]);
        let mut quiet = vec![row(1, 100), row(20, 2000)];
        mark_big(&mut quiet);
        assert!(
            quiet.iter().all(|r| !r.big),
            "small transactions never stand out"
        );
    }
}
