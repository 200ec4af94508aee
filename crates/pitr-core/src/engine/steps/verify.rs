//! The checklist while paused at the target. Row counts against the snapshot inform; the
//! other items must hold.

use super::snapshot::{row_counts, ROW_COUNTS_SQL};
use super::Recovery;
use crate::domain::prediction::{Prediction, Reached};
use crate::domain::target::RecoveryTarget;
use crate::engine::ports::ReplayStatus;
use crate::engine::step::{fail, Step, StepCtx, StepFuture};
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct Verify(pub Arc<Recovery>);

pub use crate::engine::check_item::CheckItem;

impl Verify {
    fn time_column_sql(&self) -> Option<String> {
        let r = &self.0;
        let (tc, at) = (r.inputs.time_column.as_ref()?, r.inputs.target.time()?);
        Some(format!(
            "select count(*) from {} where {} > '{}'",
            tc.table,
            tc.column,
            at.format("%Y-%m-%d %H:%M:%S%.6f+00")
        ))
    }
}

/// The reached position against the planner's prediction: a mismatch fails the step,
/// since a recovery that stopped elsewhere is not the one that was planned.
fn prediction_item(prediction: Option<&Prediction>, status: &ReplayStatus) -> CheckItem {
    let Some(p) = prediction else {
        return CheckItem {
            item: "reached the predicted stop".into(),
            ok: true,
            required: false,
            detail: format!(
                "not predicted (WAL not indexed); replay at {}",
                status
                    .replay_lsn
                    .map_or("an unknown position".into(), |l| l.to_string())
            ),
        };
    };
    let mismatches = p.check(&Reached {
        replay_lsn: status.replay_lsn,
        last_replay_time: status.last_replay_time,
    });
    CheckItem {
        item: "reached the predicted stop".into(),
        ok: mismatches.is_empty(),
        required: true,
        detail: if mismatches.is_empty() {
            format!(
                "timeline {}, replay at {}, last transaction end {}",
                p.timeline,
                status.replay_lsn.map_or("?".into(), |l| l.to_string()),
                p.last_kept.map_or("none".into(), |m| m.to_string())
            )
        } else {
            mismatches.join("; ")
        },
    }
}

fn truthy(v: Option<&str>) -> bool {
    matches!(v, Some("t" | "true" | "on" | "1"))
}

impl Step for Verify {
    fn id(&self) -> &'static str {
        "verify"
    }
    fn title(&self) -> String {
        "Verify: paused at the target, checks, row counts".into()
    }
    fn describe(&self) -> Vec<String> {
        let r = &self.0;
        let mut d = vec![if r.inputs.target.pauses() {
            "SQL select pg_is_in_recovery(), pg_get_wal_replay_pause_state()  (must be true, 'paused')".to_string()
        } else {
            "SQL select pg_is_in_recovery()  (must be false: latest promotes by itself)".to_string()
        }];
        if r.inputs.target.time().is_some() {
            d.push("SQL select pg_last_xact_replay_timestamp()  (not after the target)".into());
        }
        match &r.inputs.prediction {
            Some(p) => d.push(format!(
                "SQL select pg_last_wal_replay_lsn(), pg_last_xact_replay_timestamp()  (must match the prediction: {})",
                p.describe()
            )),
            None => d.push("no prediction to compare the replay position with (WAL not indexed)".into()),
        }
        for c in &r.inputs.checks {
            d.push(format!(
                "SQL {}  (check \"{}\" must be true)",
                c.sql, c.name
            ));
        }
        d.push(format!(
            "SQL {ROW_COUNTS_SQL}, then the statement it returns  (compared with the snapshot)"
        ));
        if let Some(sql) = self.time_column_sql() {
            d.push(format!("SQL {sql}  (must be 0)"));
        }
        d
    }
    // Over 100 lines on purpose: the comparisons of verification in the order the report lists them.
    #[allow(clippy::too_many_lines)]
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            let dsn = r.recovered_dsn();
            let sql = ctx.ports.sql.clone();
            let mut items = Vec::new();
            let status = sql.replay_status(&dsn).await?;
            let (ok, detail) = if r.inputs.target.pauses() {
                let paused = status.in_recovery && status.pause_state.as_deref() == Some("paused");
                (
                    paused,
                    format!(
                        "in recovery: {}, pause state: {}",
                        status.in_recovery,
                        status
                            .pause_state
                            .as_deref()
                            .unwrap_or("unknown (the server did not say)")
                    ),
                )
            } else {
                (
                    !status.in_recovery,
                    format!("in recovery: {}", status.in_recovery),
                )
            };
            items.push(CheckItem {
                item: "paused at the target".into(),
                ok,
                required: true,
                detail,
            });
            if let RecoveryTarget::Time { at, inclusive } = &r.inputs.target {
                let last = status.last_replay_time;
                let ok = last.is_none_or(|t| if *inclusive { t <= *at } else { t < *at });
                let detail = match last {
                    Some(t) => format!(
                        "last replayed commit {}, target {}",
                        t.to_rfc3339(),
                        at.to_rfc3339()
                    ),
                    None => "no commit replayed after the backup".into(),
                };
                items.push(CheckItem {
                    item: "last commit not after the target".into(),
                    ok,
                    required: true,
                    detail,
                });
            }
            items.push(prediction_item(r.inputs.prediction.as_ref(), &status));
            for c in &r.inputs.checks {
                let (ok, detail) = match sql.scalar(&dsn, &c.sql).await {
                    Ok(v) => (
                        truthy(v.as_deref()),
                        format!("returned {}", v.as_deref().unwrap_or("NULL")),
                    ),
                    Err(e) => (false, e.message),
                };
                items.push(CheckItem {
                    item: c.name.clone(),
                    ok,
                    required: true,
                    detail,
                });
            }
            let before: BTreeMap<String, i64> = ctx
                .get(crate::engine::facts::ROW_COUNTS)
                .unwrap_or_default();
            let now = row_counts(sql.as_ref(), &dsn).await?;
            let mut diffs = Vec::new();
            for t in before
                .keys()
                .chain(now.keys())
                .collect::<std::collections::BTreeSet<_>>()
            {
                let (b, n) = (before.get(t), now.get(t));
                if b != n {
                    let show =
                        |v: Option<&i64>| v.map(|x| x.to_string()).unwrap_or_else(|| "-".into());
                    diffs.push(format!("{t}: {} -> {}", show(b), show(n)));
                }
            }
            let detail = if before.is_empty() {
                "no snapshot counts (server was down)".to_string()
            } else if diffs.is_empty() {
                "same as before".to_string()
            } else {
                diffs.join(", ")
            };
            items.push(CheckItem {
                item: "row counts against the snapshot".into(),
                ok: true,
                required: false,
                detail,
            });
            ctx.set(crate::engine::facts::ROW_COUNTS_AFTER, &now);
            if let Some(q) = self.time_column_sql() {
                let (ok, detail) = match sql.scalar(&dsn, &q).await {
                    Ok(v) => (
                        v.as_deref() == Some("0"),
                        format!("{} rows newer than the target", v.unwrap_or_default()),
                    ),
                    Err(e) => (false, e.message),
                };
                items.push(CheckItem {
                    item: "no row newer than the target".into(),
                    ok,
                    required: true,
                    detail,
                });
            }
            for i in &items {
                ctx.note(i.line())?;
            }
            ctx.set(crate::engine::facts::CHECKLIST, &items);
            let failed: Vec<String> = items
                .iter()
                .filter(|i| i.required && !i.ok)
                .map(|i| format!("{}: {}", i.item, i.detail))
                .collect();
            if !failed.is_empty() {
                return fail(format!("verification failed:\n  {}", failed.join("\n  ")));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lsn::Lsn;
    use crate::domain::prediction::{Stop, TxMark};
    use crate::domain::timeline::TimelineId;
    use chrono::TimeZone;

    #[test]
    fn a_replay_that_stopped_elsewhere_fails_the_check() {
        let kept = TxMark {
            xid: 740,
            lsn: Lsn(0x300_0100),
            end: Lsn(0x300_0130),
            at: chrono::Utc.timestamp_opt(1_700_000_000, 5000).unwrap(),
        };
        let p = Prediction {
            timeline: TimelineId(1),
            stop: Stop::AfterTx { record: kept },
            last_kept: Some(kept),
            or_kept: None,
            replay_min: kept.end,
            replay_max: kept.end,
        };
        let at = |lsn: u64, t| ReplayStatus {
            in_recovery: true,
            replay_lsn: Some(Lsn(lsn)),
            last_replay_time: Some(t),
            pause_state: Some("paused".into()),
        };
        assert!(prediction_item(Some(&p), &at(0x300_0130, kept.at)).ok);
        // Timeline 2's xid 740 of the same number, later and elsewhere.
        let other = chrono::Utc.timestamp_opt(1_700_000_100, 0).unwrap();
        let item = prediction_item(Some(&p), &at(0x500_0000, other));
        assert!(!item.ok && item.required, "{item:?}");
        assert!(
            item.detail.contains("replay reached 0/5000000"),
            "{}",
            item.detail
        );
        assert!(!prediction_item(None, &at(1, other)).required);
    }

    #[test]
    fn checklist_lines_read_back() {
        for (ok, required) in [(true, true), (false, true), (true, false)] {
            let item = CheckItem {
                item: "orders present".into(),
                ok,
                required,
                detail: "returned t: fine".into(),
            };
            assert_eq!(CheckItem::parse(&item.line()), Some(item));
        }
        assert_eq!(CheckItem::parse("replayed to 0/3000000"), None);
    }
}
