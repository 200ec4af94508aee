//! What each screen column of the timeline pane shows, computed when the view or the data
//! changes (never per frame), in time linear in the number of intervals plus columns.

use super::repo::RepoData;
use super::view::TimeView;
use crate::domain::timeline::TimelineId;
use crate::domain::times::Stamp;

/// One column of one timeline, by precedence: a gap anywhere in the column wins, so that a
/// single missing segment stays visible however far out the view is zoomed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Empty,
    /// Archived WAL that no backup can reach from a consistency point.
    Wal,
    Recoverable,
    Gap,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRow {
    pub timeline: TimelineId,
    pub parent: Option<TimelineId>,
    pub cells: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    pub rows: Vec<TimelineRow>,
    /// Backups whose consistency point falls in each column.
    pub backups: Vec<u16>,
}

/// Marks columns covered by intervals through a difference array.
struct Marks(Vec<i32>);

impl Marks {
    fn new(columns: u16) -> Marks {
        Marks(vec![0; usize::from(columns) + 1])
    }

    fn add(&mut self, view: &TimeView, start: Option<Stamp>, end: Option<Stamp>) {
        let (Some(s), Some(e)) = (start, end) else {
            return;
        };
        if let Some((a, b)) = view.columns_of(s.at, e.at.max(s.at)) {
            self.0[usize::from(a)] += 1;
            self.0[usize::from(b) + 1] -= 1;
        }
    }

    fn covered(self) -> Vec<bool> {
        let mut level = 0;
        let mut out: Vec<bool> = self
            .0
            .into_iter()
            .map(|d| {
                level += d;
                level > 0
            })
            .collect();
        out.pop();
        out
    }
}

pub fn prepare(data: &RepoData, view: &TimeView) -> Buckets {
    let rows = data
        .coverage
        .timelines
        .iter()
        .map(|tl| {
            let mut wal = Marks::new(view.columns);
            let mut gaps = Marks::new(view.columns);
            let mut windows = Marks::new(view.columns);
            for r in &tl.runs {
                wal.add(view, r.start, r.end);
            }
            for g in &tl.gaps {
                gaps.add(view, g.start, g.end);
            }
            for w in data
                .coverage
                .windows
                .iter()
                .filter(|w| w.timeline == tl.timeline)
            {
                windows.add(view, w.start, w.end);
            }
            let cells = wal
                .covered()
                .into_iter()
                .zip(gaps.covered())
                .zip(windows.covered())
                .map(|((wal, gap), window)| match (gap, window, wal) {
                    (true, _, _) => Span::Gap,
                    (_, true, _) => Span::Recoverable,
                    (_, _, true) => Span::Wal,
                    _ => Span::Empty,
                })
                .collect();
            TimelineRow {
                timeline: tl.timeline,
                parent: tl.parent.map(|(p, _)| p),
                cells,
            }
        })
        .collect();
    let mut backups = vec![0u16; usize::from(view.columns)];
    let lo = data.backup_points.partition_point(|p| *p < view.start);
    let hi = data.backup_points.partition_point(|p| *p < view.end());
    for p in &data.backup_points[lo..hi] {
        let c = usize::from(view.column_clamped(*p));
        backups[c] = backups[c].saturating_add(1);
    }
    Buckets { rows, backups }
}
