//! Targets drawn from the model: commit instants and ±1 µs, xids both ways, LSNs, restore
//! point names, window ends, idle stretches, gap edges, on each timeline — each with the
//! recovery settings the harness writes for it and what the model says PostgreSQL reaches.

use super::console::TargetArgs;
use super::model::{BaseBackup, Model};
use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone)]
pub enum Kind {
    Time { at: DateTime<Utc>, inclusive: bool },
    Xid { xid: u64, inclusive: bool },
    Lsn { lsn: String, inclusive: bool },
    Name(String),
    Immediate,
    Latest,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub what: String,
    pub kind: Kind,
    /// None: the console's default (the latest timeline), 'latest' for PostgreSQL.
    pub timeline: Option<u32>,
    /// The timeline whose history the target is read on.
    pub on: u32,
    /// The commit the target is about (for the harness's choice of backup).
    pub near: usize,
}

/// What the model says a real recovery with this backup does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    State(String),
    Fails,
}

impl Target {
    pub fn console_args(&self) -> TargetArgs {
        let mut args = match &self.kind {
            Kind::Time { at, .. } => vec![
                "--time".into(),
                at.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string(),
            ],
            Kind::Xid { xid, .. } => vec!["--xid".into(), xid.to_string()],
            Kind::Lsn { lsn, .. } => vec!["--lsn".into(), lsn.clone()],
            Kind::Name(n) => vec!["--name".into(), n.clone()],
            Kind::Immediate => vec!["--immediate".into()],
            Kind::Latest => vec!["--latest".into()],
        };
        if matches!(
            self.kind,
            Kind::Time {
                inclusive: false,
                ..
            } | Kind::Xid {
                inclusive: false,
                ..
            } | Kind::Lsn {
                inclusive: false,
                ..
            }
        ) {
            args.push("--exclusive".into());
        }
        TargetArgs {
            args,
            timeline: self.timeline,
        }
    }

    /// recovery_target_* as the harness writes them (the timeline is written separately).
    pub fn settings(&self) -> Vec<String> {
        let incl = |i: &bool| format!("recovery_target_inclusive = {i}");
        match &self.kind {
            Kind::Time { at, inclusive } => vec![
                format!(
                    "recovery_target_time = '{}'",
                    at.format("%Y-%m-%d %H:%M:%S%.6f+00")
                ),
                incl(inclusive),
            ],
            Kind::Xid { xid, inclusive } => {
                vec![format!("recovery_target_xid = '{xid}'"), incl(inclusive)]
            }
            Kind::Lsn { lsn, inclusive } => {
                vec![format!("recovery_target_lsn = '{lsn}'"), incl(inclusive)]
            }
            Kind::Name(n) => vec![format!("recovery_target_name = '{n}'")],
            Kind::Immediate => vec!["recovery_target = 'immediate'".into()],
            Kind::Latest => Vec::new(),
        }
    }

    /// What replay from `backup` reaches, by the model: the first commit on the history after
    /// the backup where PostgreSQL's stop rule fires, or a failure when the WAL ends first.
    pub fn expect(&self, m: &Model, backup: &BaseBackup) -> Expect {
        let path = m.path(self.on);
        let replayable: Vec<usize> = path
            .iter()
            .copied()
            .filter(|i| *i >= backup.after && !m.lost_between(self.on, backup.after, *i))
            .collect();
        let before = |k: usize| {
            path.iter()
                .copied()
                .filter(|i| *i < k)
                .max()
                .map_or("0/-".to_string(), |i| m.commits[i].state.clone())
        };
        let first = |stops: &dyn Fn(usize) -> bool| replayable.iter().copied().find(|i| stops(*i));
        match &self.kind {
            Kind::Time { at, inclusive } => {
                let stop = first(&|i| {
                    if *inclusive {
                        m.commits[i].at > *at
                    } else {
                        m.commits[i].at >= *at
                    }
                });
                stop.map_or(Expect::Fails, |k| Expect::State(before(k)))
            }
            Kind::Xid { xid, inclusive } => match first(&|i| m.commits[i].xid == *xid) {
                Some(k) if *inclusive => Expect::State(m.commits[k].state.clone()),
                Some(k) => Expect::State(before(k)),
                None => Expect::Fails,
            },
            Kind::Lsn { inclusive, .. } => {
                let k = self.near;
                if !replayable.contains(&k) {
                    Expect::Fails
                } else if *inclusive {
                    Expect::State(m.commits[k].state.clone())
                } else {
                    Expect::State(before(k))
                }
            }
            Kind::Name(n) => m
                .restore_points
                .iter()
                .filter(|r| r.name == *n && m.on_path(self.on, r.timeline, r.after))
                .find(|r| {
                    r.after >= backup.after && !m.lost_between(self.on, backup.after, r.after)
                })
                .map_or(Expect::Fails, |r| Expect::State(r.state.clone())),
            Kind::Immediate => Expect::State(backup.state.clone()),
            Kind::Latest => Expect::State(
                replayable
                    .last()
                    .map_or(backup.state.clone(), |k| m.commits[*k].state.clone()),
            ),
        }
    }
}

/// Up to five commits of a list: both ends and the middle, where the edges are.
fn sample(ks: &[usize]) -> Vec<usize> {
    if ks.len() <= 5 {
        return ks.to_vec();
    }
    let n = ks.len();
    let mut out = vec![ks[0], ks[1], ks[n / 2], ks[n - 2], ks[n - 1]];
    out.dedup();
    out
}

/// The targets on timeline `on`; `explicit` says whether they name it (`--timeline`).
pub fn on_timeline(m: &Model, on: u32, explicit: bool) -> Vec<Target> {
    let timeline = explicit.then_some(on);
    let tag = if explicit {
        format!("tl{on}")
    } else {
        "latest".into()
    };
    let first_backup = m.backups[0].after;
    let path: Vec<usize> = m
        .path(on)
        .into_iter()
        .filter(|i| *i >= first_backup)
        .collect();
    // Named timelines test their own commits; the default one its whole history.
    let own: Vec<usize> = if explicit {
        path.iter()
            .copied()
            .filter(|i| m.commits[*i].timeline == on)
            .collect()
    } else {
        path.clone()
    };
    let mut out = Vec::new();
    let mut push = |what: String, kind: Kind, near: usize| {
        out.push(Target {
            what: format!("{tag}: {what}"),
            kind,
            timeline,
            on,
            near,
        })
    };
    let us = Duration::microseconds(1);
    for (n, k) in sample(&own).into_iter().enumerate() {
        let c = &m.commits[k];
        let l = &c.label;
        push(
            format!("time of commit {l}"),
            Kind::Time {
                at: c.at,
                inclusive: true,
            },
            k,
        );
        push(
            format!("time of commit {l} -1us"),
            Kind::Time {
                at: c.at - us,
                inclusive: true,
            },
            k,
        );
        push(
            format!("time of commit {l} +1us"),
            Kind::Time {
                at: c.at + us,
                inclusive: true,
            },
            k,
        );
        let (what, kind) = match n % 4 {
            0 => (
                format!("xid {} ({l}) inclusive", c.xid),
                Kind::Xid {
                    xid: c.xid,
                    inclusive: true,
                },
            ),
            1 => (
                format!("xid {} ({l}) exclusive", c.xid),
                Kind::Xid {
                    xid: c.xid,
                    inclusive: false,
                },
            ),
            2 => (
                format!("lsn {} (commit record of {l}) inclusive", c.lsn_before),
                Kind::Lsn {
                    lsn: c.lsn_before.clone(),
                    inclusive: true,
                },
            ),
            _ => (
                format!("time of commit {l} exclusive"),
                Kind::Time {
                    at: c.at,
                    inclusive: false,
                },
            ),
        };
        push(what, kind, k);
    }
    if let Some(&last) = own.last() {
        let c = &m.commits[last];
        push(
            format!("window end: 1 s after the last commit {}", c.label),
            Kind::Time {
                at: c.at + Duration::seconds(1),
                inclusive: true,
            },
            last,
        );
        push(
            format!("xid {} of the last commit {} exclusive", c.xid, c.label),
            Kind::Xid {
                xid: c.xid,
                inclusive: false,
            },
            last,
        );
    }
    for idle in m.idle.iter().filter(|i| i.timeline == on || !explicit) {
        let mid = idle.from + (idle.to - idle.from) / 2;
        let near = path
            .iter()
            .copied()
            .find(|i| m.commits[*i].at > mid)
            .or(path.last().copied())
            .unwrap_or(first_backup);
        push(
            format!(
                "inside the idle stretch on tl{} (checkpoints only)",
                idle.timeline
            ),
            Kind::Time {
                at: mid,
                inclusive: true,
            },
            near,
        );
    }
    for rp in m
        .restore_points
        .iter()
        .filter(|r| m.on_path(on, r.timeline, r.after) && (!explicit || r.timeline == on))
    {
        push(
            format!("restore point {} (made on tl{})", rp.name, rp.timeline),
            Kind::Name(rp.name.clone()),
            rp.after.saturating_sub(1),
        );
    }
    if let Some(g) = m.gap.as_ref().filter(|g| path.contains(&g.lost)) {
        let before = &m.commits[g.last_before];
        let lost = &m.commits[g.lost];
        let after = &m.commits[g.first_after];
        push(
            format!(
                "gap edge: time of {} (last commit before the gap)",
                before.label
            ),
            Kind::Time {
                at: before.at,
                inclusive: true,
            },
            g.last_before,
        );
        push(
            format!("gap edge: xid {} ({}) inclusive", before.xid, before.label),
            Kind::Xid {
                xid: before.xid,
                inclusive: true,
            },
            g.last_before,
        );
        push(
            format!(
                "inside the gap: xid {} ({}, its segment is missing)",
                lost.xid, lost.label
            ),
            Kind::Xid {
                xid: lost.xid,
                inclusive: true,
            },
            g.lost,
        );
        push(
            format!(
                "gap edge: time of {} (first commit after the gap)",
                after.label
            ),
            Kind::Time {
                at: after.at,
                inclusive: true,
            },
            g.first_after,
        );
    }
    let end = path.last().copied().unwrap_or(first_backup);
    push("latest".into(), Kind::Latest, end);
    push("immediate".into(), Kind::Immediate, first_backup);
    out
}
