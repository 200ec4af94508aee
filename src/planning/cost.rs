//! What each choice costs. Promoting in place at the target throws away every commit
//! production made after it; a side restore leaves production as it is, and `repair`
//! pulls the lost rows back. The WAL index says which commits those are, when and which
//! tables they wrote; it knows blocks, not rows.

use crate::domain::target::RecoveryTarget;
use crate::domain::zone::Zone;
use crate::engine::recovery::RestoreMode;
use crate::engine::training::stop_index;
use crate::wal::{RelFileNode, WalIndex};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Above this many discarded commits an in-place promote is not the recommended choice.
pub const SIDE_RESTORE_ABOVE_COMMITS: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableCost {
    pub node: RelFileNode,
    /// `schema.table` where the server could name it.
    pub name: Option<String>,
    /// Discarded commits that wrote this relation.
    pub commits: usize,
}

/// The archived commits after the target on production's newest timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    pub commits: usize,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    pub tables: Vec<TableCost>,
}

impl Cost {
    pub fn recommends_side_restore(&self) -> bool {
        self.commits > SIDE_RESTORE_ABOVE_COMMITS
    }

    /// The sentences plan and decision show for a run in `mode`.
    pub fn lines(&self, mode: &RestoreMode, zone: &Zone) -> Vec<String> {
        let span = match (self.first, self.last) {
            (Some(a), Some(b)) => format!(
                " ({} .. {}, {} of work)",
                zone.format(a),
                zone.format(b),
                duration((b - a).num_milliseconds())
            ),
            _ => String::new(),
        };
        let tables = if self.tables.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = self
                .tables
                .iter()
                .map(|t| {
                    let name = t.name.clone().unwrap_or_else(|| {
                        format!("relfilenode {}/{}/{}", t.node.spc, t.node.db, t.node.rel)
                    });
                    format!("{name} ({} commits)", t.commits)
                })
                .collect();
            format!("; they wrote {}", names.join(", "))
        };
        match mode {
            RestoreMode::InPlace if self.commits == 0 => vec![
                "An in-place promote discards no archived commit (WAL not yet archived is lost all the same)."
                    .into(),
            ],
            RestoreMode::InPlace => {
                let mut v = vec![format!(
                    "An in-place promote discards {} archived commit(s) made after the target{span}{tables}; WAL not yet archived is lost too.",
                    self.commits
                )];
                if self.recommends_side_restore() {
                    v.push(format!(
                        "Recommended: restore beside production instead (--restore-to DIR --port N) and pull the lost rows back with `pitr-console repair JOURNAL --table T`: more than {SIDE_RESTORE_ABOVE_COMMITS} commits would be thrown away."
                    ));
                }
                v
            }
            RestoreMode::Side { .. } => vec![format!(
                "A side restore keeps production as it is: its {} commit(s) after the target{span} stay; `pitr-console repair JOURNAL --table T` then pulls rows back.",
                self.commits
            )],
        }
    }
}

fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
        _ => format!("{} h {} min", ms / 3_600_000, (ms % 3_600_000) / 60_000),
    }
}

/// The cost of stopping at `target`, or None when the index cannot place it.
pub fn discarded(index: &WalIndex, target: &RecoveryTarget) -> Option<Cost> {
    let newest = index.tx_ends().iter().map(|t| t.timeline).max()?;
    let ends: Vec<_> = index
        .tx_ends()
        .iter()
        .filter(|t| t.timeline == newest)
        .cloned()
        .collect();
    let stop = stop_index(&ends, target, |n| index.restore_point(n).map(|p| p.lsn))?;
    let lost: Vec<_> = ends[stop.min(ends.len())..]
        .iter()
        .filter(|t| t.kind.is_commit())
        .collect();
    let mut tables: Vec<TableCost> = Vec::new();
    for t in &lost {
        for r in index.relations(t) {
            match tables.iter_mut().find(|c| c.node == r.node) {
                Some(c) => c.commits += 1,
                None => tables.push(TableCost {
                    node: r.node,
                    name: None,
                    commits: 1,
                }),
            }
        }
    }
    tables.sort_by_key(|t| std::cmp::Reverse(t.commits));
    Some(Cost {
        commits: lost.len(),
        first: lost.first().map(|t| t.time()),
        last: lost.last().map(|t| t.time()),
        tables,
    })
}

/// Names the tables through the server (best effort: unnamed ones keep their node), and
/// keeps only what the server calls tables of its database, when it could name any.
pub async fn name_tables(cost: &mut Cost, dsn: &str) {
    let nodes: Vec<RelFileNode> = cost.tables.iter().map(|t| t.node).collect();
    let Ok(names) = crate::adapters::relation_names::resolve(dsn, &nodes).await else {
        return;
    };
    for (node, name) in names {
        if let Some(t) = cost.tables.iter_mut().find(|t| t.node == node) {
            t.name = name;
        }
    }
    if cost.tables.iter().any(|t| t.name.is_some()) {
        // Indexes and TOAST show up as relations too; the operator thinks in tables.
        cost.tables.retain(|t| {
            t.name
                .as_deref()
                .is_some_and(|n| !n.starts_with("pg_toast"))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::path::PathBuf;

    fn cost(commits: usize) -> Cost {
        Cost {
            commits,
            first: Utc.timestamp_opt(1_700_000_000, 0).single(),
            last: Utc.timestamp_opt(1_700_000_095, 0).single(),
            tables: vec![TableCost {
                node: RelFileNode {
                    spc: 1663,
                    db: 5,
                    rel: 16390,
                },
                name: Some("public.orders".into()),
                commits,
            }],
        }
    }

    #[test]
    fn in_place_says_what_it_throws_away_and_recommends_a_side_restore_past_the_threshold() {
        let lines = cost(20).lines(&RestoreMode::InPlace, &Zone::UTC);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].contains("discards 20 archived commit(s)"),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains("1 min 35 s of work"), "{}", lines[0]);
        assert!(
            lines[0].contains("public.orders (20 commits)"),
            "{}",
            lines[0]
        );
        assert!(lines[1].starts_with("Recommended: restore beside production"));
        let few = cost(3).lines(&RestoreMode::InPlace, &Zone::UTC);
        assert_eq!(few.len(), 1, "no recommendation for 3 commits: {few:?}");
        let side = cost(20).lines(
            &RestoreMode::Side {
                dir: PathBuf::from("/tmp/side"),
                port: 5499,
            },
            &Zone::UTC,
        );
        assert!(side[0].starts_with("A side restore keeps production as it is: its 20 commit(s)"));
    }
}
