//! What the harness knows it did to a cluster: every commit with its timeline, xid, commit
//! time and WAL positions, the restore points, backups, forks and the gap. From it follows
//! which commits lie on a timeline's history, which the targets are drawn from.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone)]
pub struct Commit {
    /// `NNNN-tlT`: the row it inserted; NNNN orders every commit of the cluster.
    pub label: String,
    pub timeline: u32,
    pub xid: u64,
    pub at: DateTime<Utc>,
    /// The insert position just before COMMIT: where the commit record starts.
    pub lsn_before: String,
    pub lsn_after: String,
    /// `count/max(label)` of the table once it committed.
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct RestorePoint {
    pub name: String,
    pub timeline: u32,
    /// Commits before it (an index into `Model::commits`, exclusive end).
    pub after: usize,
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct BaseBackup {
    pub id: String,
    pub timeline: u32,
    /// Commits of the cluster before it started.
    pub after: usize,
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct Timeline {
    pub id: u32,
    pub parent: Option<u32>,
    /// Commits of the cluster (all timelines) made before the promote.
    pub forked_after: usize,
    /// The last commit of the parent kept on this timeline (None: none after the backup).
    pub fork_commit: Option<usize>,
}

/// An idle stretch with checkpoints and switches but no commit.
#[derive(Debug, Clone)]
pub struct Idle {
    pub timeline: u32,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A removed archived segment and the commits on either side of it.
#[derive(Debug, Clone)]
pub struct Gap {
    pub segment: String,
    pub timeline: u32,
    pub last_before: usize,
    pub lost: usize,
    pub first_after: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Model {
    pub commits: Vec<Commit>,
    pub restore_points: Vec<RestorePoint>,
    pub backups: Vec<BaseBackup>,
    pub timelines: Vec<Timeline>,
    pub idle: Vec<Idle>,
    pub gap: Option<Gap>,
}

impl Model {
    pub fn timeline(&self, id: u32) -> &Timeline {
        self.timelines
            .iter()
            .find(|t| t.id == id)
            .expect("a timeline the harness made")
    }

    pub fn latest(&self) -> u32 {
        self.timelines.iter().map(|t| t.id).max().unwrap_or(1)
    }

    /// Indexes of the commits on timeline `id`'s history, oldest first.
    pub fn path(&self, id: u32) -> Vec<usize> {
        let tl = self.timeline(id);
        let mut path = match tl.parent {
            Some(p) => self
                .path(p)
                .into_iter()
                .filter(|i| tl.fork_commit.is_some_and(|f| *i <= f))
                .collect(),
            None => Vec::new(),
        };
        path.extend(
            self.commits
                .iter()
                .enumerate()
                .filter(|(_, c)| c.timeline == id)
                .map(|(i, _)| i),
        );
        path
    }

    /// Timelines whose history `id` continues, `id` included.
    pub fn lineage(&self, id: u32) -> Vec<u32> {
        let mut out = vec![id];
        let mut at = self.timeline(id).parent;
        while let Some(p) = at {
            out.push(p);
            at = self.timeline(p).parent;
        }
        out
    }

    /// Whether something made on timeline `on` after `after` commits of the cluster lies on
    /// timeline `id`'s history: made on it, or on an ancestor before the fork that left it.
    pub fn on_path(&self, id: u32, on: u32, after: usize) -> bool {
        let mut child = id;
        loop {
            if child == on {
                return true;
            }
            let tl = self.timeline(child);
            match tl.parent {
                Some(p) if p == on => return tl.fork_commit.is_some_and(|f| after <= f),
                Some(p) => {
                    if !self.on_path(child, p, after) {
                        return false;
                    }
                    child = p;
                }
                None => return false,
            }
        }
    }

    /// The newest backup on timeline `id`'s history that commit `k` can be replayed onto:
    /// taken before it, with no lost segment between.
    pub fn backup_for(&self, id: u32, k: usize) -> &BaseBackup {
        self.backups
            .iter()
            .filter(|b| self.on_path(id, b.timeline, b.after) && b.after <= k)
            .filter(|b| !self.lost_between(id, b.after, k))
            .max_by_key(|b| b.after)
            .unwrap_or(&self.backups[0])
    }

    /// Whether the gap's lost commit lies on `id`'s history at or after `from`, before `to`.
    pub fn lost_between(&self, id: u32, from: usize, to: usize) -> bool {
        self.gap
            .as_ref()
            .is_some_and(|g| self.path(id).contains(&g.lost) && from <= g.lost && g.lost <= to)
    }
}
