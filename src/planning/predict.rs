//! The planner's prediction of what replay reaches, from the WAL index along the chosen
//! timeline's path, following PostgreSQL's rules (xlogrecovery.c): a time target stops
//! only before a commit or abort record later than it (inclusive) or not earlier
//! (exclusive); an xid target before or after that xid's commit or abort; a name target
//! just after its restore point; an LSN target at the first record at or after it.
//! A stop before the backup's consistency point, or one replay never meets in contiguous
//! WAL, is refused here, before anything runs.

use crate::domain::backup::Backup;
use crate::domain::lsn::Lsn;
use crate::domain::prediction::{aligned, Prediction, Stop, TxMark};
use crate::domain::target::RecoveryTarget;
use crate::domain::timeline::TimelinePath;
use crate::wal::{path, TxEnd, WalIndex};

fn mark(t: &TxEnd) -> TxMark {
    TxMark {
        xid: t.xid,
        lsn: t.lsn,
        end: t.end,
        at: t.time(),
    }
}

/// Why a target cannot be reached, and what nearby can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    pub reason: String,
    pub alternatives: Vec<String>,
}

/// The WAL replay may read: from the backup's redo point to the end of contiguous WAL.
pub struct Span<'a> {
    pub index: &'a WalIndex,
    pub path: &'a TimelinePath,
    pub backup: &'a Backup,
    /// The end of the recoverable window (first missing segment, or the archive's end).
    pub end: Lsn,
}

impl Span<'_> {
    /// Where valid WAL ends: damage inside a listed segment ends it too.
    fn wal_end(&self) -> Lsn {
        path::valid_end(self.index, self.path, self.backup.start_lsn)
            .map_or(self.end, |v| v.min(self.end))
    }

    fn txs(&self) -> impl Iterator<Item = &TxEnd> {
        path::tx_ends(self.index, self.path, self.backup.start_lsn, self.wal_end())
    }

    /// Whether the index read all of it, so that "not found" means "not there".
    pub fn complete(&self) -> bool {
        path::covers(self.index, self.path, self.backup.start_lsn, self.wal_end())
    }

    fn last_before(&self, lsn: Lsn) -> Option<TxMark> {
        self.txs().take_while(|t| t.lsn < lsn).last().map(mark)
    }

    /// What an operator can ask for instead when a target lies past the window's last
    /// transaction end.
    pub fn alternatives(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(last) = self.txs().last() {
            out.push(format!(
                "--xid {} (inclusive: keeps that last transaction end, at {} UTC)",
                last.xid,
                last.time().format("%Y-%m-%d %H:%M:%S%.6f")
            ));
            out.push(format!(
                "--lsn {} --exclusive (stops right after it)",
                last.end
            ));
            if let Some(t) = chrono::DateTime::from_timestamp_micros(last.time_us - 1) {
                out.push(format!(
                    "--time '{} UTC' (keeps everything before it)",
                    t.format("%Y-%m-%d %H:%M:%S%.6f")
                ));
            }
        }
        out.push("--latest (all WAL there is)".into());
        out.push(format!(
            "--immediate (backup {}'s consistency point)",
            self.backup.id
        ));
        out
    }

    fn refuse(&self, reason: String) -> Unreachable {
        Unreachable {
            reason,
            alternatives: self.alternatives(),
        }
    }

    fn before_consistency(&self, what: &str, lsn: Lsn) -> Result<(), Unreachable> {
        if lsn < self.backup.stop_lsn {
            return Err(Unreachable {
                reason: format!(
                    "{what} is at {lsn}, before backup {}'s consistency point {}: PostgreSQL refuses to stop there",
                    self.backup.id, self.backup.stop_lsn
                ),
                alternatives: vec![format!(
                    "--immediate (backup {}'s consistency point)",
                    self.backup.id
                )],
            });
        }
        Ok(())
    }

    fn stop_before(&self, record: &TxEnd) -> Prediction {
        let kept = self.last_before(record.lsn);
        Prediction {
            timeline: self.path.target(),
            stop: Stop::BeforeTx {
                record: mark(record),
            },
            last_kept: kept,
            or_kept: None,
            replay_min: kept.map_or(self.backup.stop_lsn, |k| k.end.max(self.backup.stop_lsn)),
            replay_max: record.lsn,
        }
    }

    /// The prediction for `target`, None when the index has not read the WAL it needs.
    // Over 100 lines on purpose: one arm per target kind, each PostgreSQL's own stopping rule.
    #[allow(clippy::too_many_lines)]
    pub fn predict(&self, target: &RecoveryTarget) -> Result<Option<Prediction>, Unreachable> {
        if !self.complete() {
            return Ok(None);
        }
        let timeline = self.path.target();
        let end = self.wal_end();
        let p = match target {
            RecoveryTarget::Time { at, inclusive } => {
                let us = at.timestamp_micros();
                let stop = self.txs().find(|t| {
                    if *inclusive {
                        t.time_us > us
                    } else {
                        t.time_us >= us
                    }
                });
                let Some(stop) = stop else {
                    return Err(self.refuse(format!(
                        "no commit or abort after it in contiguous WAL (up to {end}): PostgreSQL stops a time target only before a later transaction end, so replay would end with \"recovery ended before configured recovery target was reached\""
                    )));
                };
                self.before_consistency("the first transaction end after it", stop.lsn)?;
                self.stop_before(stop)
            }
            RecoveryTarget::Xid { xid, inclusive } => {
                let short = (*xid % (1 << 32)) as u32;
                let Some(t) = self.txs().find(|t| t.xid == short) else {
                    let elsewhere = path::tx_end_by_xid(self.index, self.path, short);
                    return Err(self.refuse(match elsewhere {
                        Some(t) if t.lsn < self.backup.start_lsn => format!(
                            "xid {xid} ended at {} on timeline {}, before backup {} began: it is already in the backup",
                            t.lsn, t.timeline, self.backup.id
                        ),
                        Some(t) => format!(
                            "xid {xid} ended at {} on timeline {}, after the end of contiguous WAL ({end})",
                            t.lsn, t.timeline
                        ),
                        None => format!(
                            "the WAL index read all WAL of timeline {timeline}'s path from backup {} to {end} and xid {xid} never commits or aborts there",
                            self.backup.id
                        ),
                    }));
                };
                self.before_consistency(&format!("xid {xid}'s end"), t.lsn)?;
                if *inclusive {
                    Prediction {
                        timeline,
                        stop: Stop::AfterTx { record: mark(t) },
                        last_kept: Some(mark(t)),
                        or_kept: None,
                        replay_min: t.end,
                        replay_max: aligned(t.end),
                    }
                } else {
                    self.stop_before(t)
                }
            }
            RecoveryTarget::Name { name } => {
                let Some(p) = path::restore_point(self.index, self.path, name)
                    .filter(|p| self.backup.start_lsn <= p.lsn && p.end <= end)
                else {
                    return Err(self.refuse(format!(
                        "no restore point \"{name}\" in the WAL replay reads on timeline {timeline} (backup {} to {end})",
                        self.backup.id
                    )));
                };
                self.before_consistency(&format!("restore point \"{name}\""), p.lsn)?;
                Prediction {
                    timeline,
                    stop: Stop::AfterRestorePoint {
                        lsn: p.lsn,
                        end: p.end,
                    },
                    last_kept: self.last_before(p.lsn),
                    or_kept: None,
                    replay_min: p.end,
                    replay_max: aligned(p.end),
                }
            }
            RecoveryTarget::Lsn { lsn, inclusive } => {
                if *lsn > end {
                    return Err(
                        self.refuse(format!("{lsn} is after the end of contiguous WAL ({end})"))
                    );
                }
                let next = self.txs().find(|t| t.lsn >= *lsn).map(mark);
                let kept = self.last_before(*lsn);
                let upper = next.map_or(end, |n| if *inclusive { aligned(n.end) } else { n.lsn });
                Prediction {
                    timeline,
                    stop: Stop::AtLsn {
                        lsn: *lsn,
                        inclusive: *inclusive,
                    },
                    last_kept: kept,
                    // The first record at or after the LSN may be that transaction end.
                    or_kept: if *inclusive { next } else { None },
                    replay_min: if *inclusive {
                        *lsn
                    } else {
                        kept.map_or(self.backup.stop_lsn, |k| k.end.max(self.backup.stop_lsn))
                    },
                    replay_max: upper,
                }
            }
            RecoveryTarget::Immediate => {
                let stop = self.backup.stop_lsn;
                let next = self.txs().find(|t| t.lsn >= stop);
                Prediction {
                    timeline,
                    stop: Stop::Consistency { lsn: stop },
                    last_kept: self.txs().take_while(|t| t.end <= stop).last().map(mark),
                    or_kept: None,
                    replay_min: stop,
                    replay_max: next.map_or(end, |n| n.lsn),
                }
            }
            RecoveryTarget::Latest => {
                let kept = self.txs().last().map(mark);
                Prediction {
                    timeline,
                    stop: Stop::EndOfWal { lsn: end },
                    last_kept: kept,
                    or_kept: None,
                    replay_min: kept
                        .map_or(self.backup.stop_lsn, |k| k.end.max(self.backup.stop_lsn)),
                    replay_max: end,
                }
            }
        };
        Ok(Some(p))
    }
}
