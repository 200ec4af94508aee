//! The console's model: everything the screen shows, and nothing about how it is drawn.

use super::buckets::{self, Buckets};
use super::geometry;
use super::keymap::Keymap;
use super::live_tail::{TailState, Tailed};
use super::msg::Cmd;
use super::repo::RepoData;
use super::transactions::{PendingTarget, Transactions, TxLog};
use super::view::{TimeView, STEPS};
use super::wizard::Wizard;
use crate::adapters::wal_fetch::FetchProgress;
use crate::config::{Config, Role};
use crate::domain::assess::Verdict;
use crate::domain::lsn::Lsn;
use crate::domain::server_status::ServerStatus;
use crate::domain::timeline::TimelineId;
use crate::domain::zone::Zone;
use chrono::{DateTime, Duration, Utc};
use std::path::PathBuf;
use std::sync::Arc;

/// How often servers are probed again.
pub const SERVER_REFRESH: Duration = Duration::seconds(5);
/// While a WAL switch waits for the archive, the server is probed this often.
pub const SWITCH_REFRESH: Duration = Duration::seconds(1);
/// A probe that has not come back after this long is asked again.
pub const PROBE_STALE: Duration = Duration::seconds(15);
/// `check`'s probes read the repository and run the restore command: every ten minutes is
/// what monitoring would do, and `R` asks at once.
pub const HEALTH_REFRESH: Duration = Duration::minutes(10);
/// A check that has not come back after this long (a restore command may take two
/// minutes) is asked again.
pub const HEALTH_STALE: Duration = Duration::minutes(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Servers,
    Timeline,
    Detail,
}

impl Focus {
    pub fn next(self) -> Focus {
        match self {
            Focus::Servers => Focus::Timeline,
            Focus::Timeline => Focus::Detail,
            Focus::Detail => Focus::Servers,
        }
    }

    pub fn previous(self) -> Focus {
        self.next().next()
    }
}

/// The instant being typed after `t`, with the last parse error.
#[derive(Debug, Clone, Default)]
pub struct TimeInput {
    pub input: tui_input::Input,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Mode {
    Normal,
    /// The help, over the box it was opened from (an instant half typed, the unfinished
    /// runs), which is given back as it was when the help closes.
    Help(super::help::HelpState, Option<Box<Mode>>),
    Input(TimeInput),
    /// The box of runs left unfinished on this host (`u`).
    Unfinished(super::unfinished_box::UnfinishedBox),
    /// `pg_switch_wal()` on this server asked for, waiting for `y`.
    ConfirmSwitch {
        server: String,
    },
}

#[derive(Debug, Clone)]
pub struct ServerRow {
    pub name: String,
    pub repository: String,
    pub status: Option<ServerStatus>,
    /// When the probe in flight was asked for.
    pub probing_since: Option<DateTime<Utc>>,
    /// Its WAL not archived yet, when it is a primary.
    pub tail: TailState,
    /// What `check` last found, and when.
    pub health: Option<(DateTime<Utc>, crate::planning::health::ServerHealth)>,
    /// When the check in flight was asked for.
    pub health_asked: Option<DateTime<Utc>>,
}

pub enum RepoState {
    Loading,
    Failed(String),
    Ready(Box<RepoData>),
}

pub struct RepoSlot {
    pub name: String,
    pub state: RepoState,
    /// While loading: how far fetching object-storage WAL has come.
    pub fetch: Option<FetchProgress>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneChoice {
    pub zone: Zone,
    pub label: &'static str,
}

/// The verdict for the cursor, computed when the cursor, timeline or data change.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub repo: usize,
    pub timeline: TimelineId,
    pub at: DateTime<Utc>,
    pub verdict: Verdict,
}

/// A live tail read as the pane's log joined it: the server, and the read's (from, upto).
#[derive(Debug, Clone, PartialEq, Eq)]
struct TailKey {
    server: String,
    from: Lsn,
    upto: Lsn,
}

pub struct App {
    pub role: Role,
    /// Where the configuration came from, as the title bar shows it.
    pub origin: String,
    pub keymap: Keymap,
    pub focus: Focus,
    pub mode: Mode,
    pub servers: Vec<ServerRow>,
    pub selected_server: usize,
    pub repos: Vec<RepoSlot>,
    pub zones: Vec<ZoneChoice>,
    pub zone_index: usize,
    pub cursor: DateTime<Utc>,
    pub step: usize,
    pub view: TimeView,
    /// The timeline the cursor is assessed on, per the selected repository.
    pub timeline: Option<TimelineId>,
    /// Column buckets for `(repo, view)`; recomputed only when either changes.
    pub buckets: Option<(usize, TimeView, Buckets)>,
    pub assessment: Option<Assessment>,
    /// Whether the cursor was placed on the current repository's data yet.
    pub placed: Option<usize>,
    /// Commits, aborts and restore points around the cursor.
    pub transactions: Transactions,
    /// What the transactions pane's log was built from: the repository and the live tail
    /// read (server, from, up to) joined to it.
    tail_attached: Option<(usize, Option<TailKey>)>,
    /// The target picked in the transactions pane, for the recovery wizard.
    pub pending_target: Option<PendingTarget>,
    /// The recovery wizard, while open (it covers the panes).
    pub wizard: Option<Wizard>,
    /// Where run journals go; None when neither configured nor derivable.
    pub journal_dir: Option<PathBuf>,
    /// The drill checklist screen, while open (it covers the panes).
    pub drill: Option<super::drill::DrillScreen>,
    /// The drill's checklist: the shipped one until the loop loads the site's.
    pub checklist: crate::engine::drill::Checklist,
    pub quitting: bool,
    /// Runs left unfinished on this host, and when the console learnt of them.
    pub unfinished: Vec<super::unfinished::UnfinishedBanner>,
    /// The loop's last clock tick (ages are shown against it).
    pub now: Option<DateTime<Utc>>,
    /// The terminal's (width, height), for the help's pages.
    pub size: (u16, u16),
}

impl App {
    /// `display` is the configured (or --tz) zone; `local` the machine's, when known.
    pub fn new(
        config: &Config,
        origin: String,
        role: Role,
        display: Zone,
        local: Option<Zone>,
    ) -> App {
        let mut zones = vec![ZoneChoice {
            zone: display,
            label: "configured",
        }];
        for (zone, label) in [(Some(Zone::UTC), "UTC"), (local, "local")] {
            if let Some(zone) = zone.filter(|z| zones.iter().all(|c| c.zone != *z)) {
                zones.push(ZoneChoice { zone, label });
            }
        }
        let columns = geometry::timeline_columns(80);
        App {
            role,
            origin,
            keymap: Keymap::default(),
            focus: Focus::Timeline,
            mode: Mode::Normal,
            servers: config
                .servers
                .iter()
                .map(|s| ServerRow {
                    name: s.name.clone(),
                    repository: s.repository.clone(),
                    status: None,
                    probing_since: None,
                    tail: TailState::default(),
                    health: None,
                    health_asked: None,
                })
                .collect(),
            selected_server: 0,
            repos: config
                .repositories
                .iter()
                .map(|r| RepoSlot {
                    name: r.name.clone(),
                    state: RepoState::Loading,
                    fetch: None,
                })
                .collect(),
            zones,
            zone_index: 0,
            cursor: DateTime::UNIX_EPOCH,
            step: 2,
            view: TimeView::fitting(DateTime::UNIX_EPOCH, DateTime::UNIX_EPOCH, columns),
            timeline: None,
            buckets: None,
            assessment: None,
            placed: None,
            transactions: Transactions::default(),
            tail_attached: None,
            pending_target: None,
            wizard: None,
            journal_dir: crate::planning::run_request::journal_dir(config),
            drill: None,
            checklist: crate::engine::drill::Checklist::builtin(),
            quitting: false,
            unfinished: Vec::new(),
            now: None,
            size: (80, 24),
        }
    }

    /// The first commands: read every repository and probe every server. Until a catalog
    /// arrives the cursor stands at `now`.
    pub fn start(&mut self, now: DateTime<Utc>) -> Vec<Cmd> {
        if self.placed.is_none() {
            self.cursor = now;
            self.view = self.view.centred_on(now);
        }
        let mut cmds: Vec<Cmd> = self
            .repos
            .iter()
            .map(|r| Cmd::LoadCatalog {
                repository: r.name.clone(),
            })
            .collect();
        self.now = Some(now);
        cmds.push(Cmd::ListUnfinished);
        for s in &mut self.servers {
            s.probing_since = Some(now);
            s.health_asked = Some(now);
            cmds.push(Cmd::ProbeServer {
                server: s.name.clone(),
            });
            cmds.push(Cmd::CheckHealth {
                server: s.name.clone(),
            });
        }
        cmds
    }

    pub fn zone(&self) -> Zone {
        self.zones[self.zone_index].zone
    }

    pub fn zone_choice(&self) -> ZoneChoice {
        self.zones[self.zone_index]
    }

    pub fn step_seconds(&self) -> i64 {
        STEPS[self.step]
    }

    /// The repository the timeline pane shows: the selected server's, else the first.
    pub fn repo_index(&self) -> Option<usize> {
        let by_server = self
            .servers
            .get(self.selected_server)
            .and_then(|s| self.repos.iter().position(|r| r.name == s.repository));
        by_server.or((!self.repos.is_empty()).then_some(0))
    }

    pub fn repo(&self) -> Option<&RepoSlot> {
        self.repo_index().map(|i| &self.repos[i])
    }

    pub fn data(&self) -> Option<&RepoData> {
        match &self.repo()?.state {
            RepoState::Ready(d) => Some(d),
            _ => None,
        }
    }

    /// The server relation names come from: the selected one, when it serves the shown
    /// repository.
    pub fn names_server(&self) -> Option<&str> {
        let s = self.servers.get(self.selected_server)?;
        self.repo()
            .is_some_and(|r| r.name == s.repository)
            .then_some(s.name.as_str())
    }

    pub fn current_buckets(&self) -> Option<&Buckets> {
        let (repo, view, b) = self.buckets.as_ref()?;
        (Some(*repo) == self.repo_index() && *view == self.view).then_some(b)
    }

    /// Brings derived state up to date after a change: places the cursor on newly loaded
    /// data, re-buckets when the view moved, re-assesses when the cursor moved.
    pub(crate) fn refresh(&mut self) {
        let Some(repo) = self.repo_index() else {
            return;
        };
        let RepoState::Ready(data) = &self.repos[repo].state else {
            return;
        };
        if self.placed != Some(repo) {
            self.placed = Some(repo);
            self.timeline = data.recoverability().latest_timeline();
            if let Some((from, to)) = data.extent {
                self.view = TimeView::fitting(from, to, self.view.columns);
                self.step = super::view::fitting_step(to - from);
                // The coverage's end may lie just past the last instant replay can stop at
                // (the last segment's end): open on that instant instead.
                self.cursor = match self.timeline.map(|t| data.recoverability().at_time(t, to)) {
                    Some(Verdict::NotRecoverable {
                        nearest_before: Some(s),
                        ..
                    }) if s.at >= from => s.at,
                    _ => to,
                };
            }
        }
        self.attach_log(repo);
        let RepoState::Ready(data) = &self.repos[repo].state else {
            return;
        };
        if !self.view.contains(self.cursor) {
            self.view = self.view.centred_on(self.cursor);
        }
        if self.current_buckets().is_none() {
            self.buckets = Some((repo, self.view, buckets::prepare(data, &self.view)));
        }
        let Some(timeline) = self.timeline else {
            return;
        };
        self.transactions.refresh(
            repo,
            &data.catalog.histories,
            timeline,
            self.cursor,
            data.times.lsn_at(timeline, self.cursor),
        );
        let fresh = self
            .assessment
            .as_ref()
            .is_some_and(|a| a.repo == repo && a.timeline == timeline && a.at == self.cursor);
        if !fresh {
            self.assessment = Some(Assessment {
                repo,
                timeline,
                at: self.cursor,
                verdict: data.recoverability().at_time(timeline, self.cursor),
            });
        }
    }

    /// The server whose live tail the pane joins to repository `repo`'s WAL: the one
    /// relation names come from.
    pub fn tail_server(&self) -> Option<&ServerRow> {
        let name = self.names_server()?;
        self.servers.iter().find(|s| s.name == name)
    }

    /// Attaches the pane's log for `repo` again when the archive or the tail read changed.
    fn attach_log(&mut self, repo: usize) {
        let RepoState::Ready(data) = &self.repos[repo].state else {
            return;
        };
        let tail = self.tail_server().and_then(|s| {
            let t = s.tail.tail.as_ref()?;
            let read = s.tail.commits()?;
            Some((s.name.clone(), t.timeline, read.clone()))
        });
        let key = (
            repo,
            tail.as_ref().map(|(n, _, r)| TailKey {
                server: n.clone(),
                from: r.from,
                upto: r.upto,
            }),
        );
        if self.tail_attached.as_ref() == Some(&key) {
            return;
        }
        let archive = data.index.clone().map(|i| i as Arc<dyn TxLog>);
        let log = match tail {
            Some((_, timeline, read)) => {
                let from = read.from;
                Some(Arc::new(Tailed::new(archive, read, timeline, from)) as Arc<dyn TxLog>)
            }
            None => archive,
        };
        self.transactions.attach(repo, log);
        self.tail_attached = Some(key);
    }

    /// Forgets what was derived from a repository's data, after it was (re)loaded.
    pub(crate) fn invalidate(&mut self, repo: usize) {
        if self.buckets.as_ref().is_some_and(|(r, _, _)| *r == repo) {
            self.buckets = None;
        }
        if self.assessment.as_ref().is_some_and(|a| a.repo == repo) {
            self.assessment = None;
        }
        if self.placed == Some(repo) {
            self.placed = None;
        }
        if self.tail_attached.as_ref().is_some_and(|(r, _)| *r == repo) {
            self.tail_attached = None;
        }
    }
}
