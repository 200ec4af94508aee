//! A repository's catalog with everything the console derives from it once per load:
//! time estimates, coverage, and the sorted instants the jump keys move between.

use crate::adapters::catalog::RepositoryView;
use crate::domain::assess::Recoverability;
use crate::domain::catalog::Catalog;
use crate::domain::coverage::Coverage;
use crate::domain::times::{Stamp, TimeSource};
use crate::wal::WalIndex;
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub struct RepoData {
    pub catalog: Catalog,
    pub times: Arc<dyn TimeSource + Send + Sync>,
    pub coverage: Coverage,
    /// The commit index, when the archive's WAL was read.
    pub index: Option<Arc<WalIndex>>,
    /// Every backup's consistency point, ascending.
    pub backup_points: Vec<DateTime<Utc>>,
    /// Start and end of every gap on every timeline, ascending.
    pub gap_edges: Vec<DateTime<Utc>>,
    /// First and last instant anything in the repository covers.
    pub extent: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Whether any time shown comes from file times rather than WAL or backup metadata.
    pub estimated: bool,
}

impl RepoData {
    pub fn prepare(view: RepositoryView) -> RepoData {
        let RepositoryView {
            catalog,
            times,
            coverage,
            index,
        } = view;
        let mut backup_points: Vec<DateTime<Utc>> =
            catalog.backups.iter().map(|b| b.stop_time).collect();
        backup_points.sort_unstable();
        backup_points.dedup();
        let mut gap_edges: Vec<DateTime<Utc>> = coverage
            .timelines
            .iter()
            .flat_map(|t| t.gaps.iter())
            .flat_map(|g| [g.start, g.end])
            .flatten()
            .map(|s| s.at)
            .collect();
        gap_edges.sort_unstable();
        gap_edges.dedup();
        let run_stamps = || {
            coverage
                .timelines
                .iter()
                .flat_map(|t| t.runs.iter())
                .flat_map(|r| [r.start, r.end])
                .flatten()
        };
        let estimated = run_stamps().any(|s: Stamp| s.estimated)
            || catalog.backups.iter().any(|b| !b.stop_time_exact);
        let starts = run_stamps()
            .map(|s| s.at)
            .chain(catalog.backups.iter().map(|b| b.start_time));
        let ends = run_stamps()
            .map(|s| s.at)
            .chain(catalog.backups.iter().map(|b| b.stop_time));
        let extent = starts.min().zip(ends.max());
        RepoData {
            catalog,
            times,
            coverage,
            index,
            backup_points,
            gap_edges,
            extent,
            estimated,
        }
    }

    pub fn recoverability(&self) -> Recoverability<'_> {
        Recoverability {
            catalog: &self.catalog,
            coverage: &self.coverage,
            times: self.times.as_ref(),
        }
    }
}

/// The first instant after `at` in an ascending list.
pub fn next_after(points: &[DateTime<Utc>], at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    points.get(points.partition_point(|p| *p <= at)).copied()
}

/// The last instant before `at` in an ascending list.
pub fn previous_before(points: &[DateTime<Utc>], at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    points
        .partition_point(|p| *p < at)
        .checked_sub(1)
        .map(|i| points[i])
}
