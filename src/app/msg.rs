//! What reaches the model (messages) and what it asks the event loop to do (commands).

use super::plan_ready::{PlanReady, StartRun};
use crate::adapters::catalog::RepositoryView;
use crate::adapters::wal_fetch::FetchProgress;
use crate::domain::server_status::ServerStatus;
use crate::engine::journal::Record;
use crate::engine::{Decision, EngineEvent};
use crate::planning::run_request::{Refused, RunRequest};
use crate::wal::RelFileNode;
use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// The terminal's size in cells.
    Resize {
        width: u16,
        height: u16,
    },
    /// The loop's clock; the model never reads the wall clock itself.
    Tick {
        now: DateTime<Utc>,
    },
    CatalogLoaded {
        repository: String,
        result: Result<RepositoryView, String>,
    },
    /// Loading `repository` fetched one more segment through the repository's tool.
    CatalogProgress {
        repository: String,
        progress: FetchProgress,
    },
    ServerStatus(ServerStatus),
    /// What `pitr-console check` finds for a server, asked in the background.
    Health(Box<crate::planning::health::ServerHealth>),
    /// Names `server` gave the relations of a `Cmd::ResolveRelations`.
    RelationNames {
        server: String,
        result: Result<Vec<(RelFileNode, Option<String>)>, String>,
    },
    /// What `Cmd::ReadTail` found in the server's pg_wal.
    TailRead {
        server: String,
        result: Result<std::sync::Arc<crate::wal::TailRead>, String>,
    },
    /// The server's answer to `Cmd::SwitchWal`: what `pg_switch_wal()` returned.
    WalSwitched {
        server: String,
        result: Result<crate::domain::lsn::Lsn, String>,
    },
    /// The runs this host left unfinished, found on open.
    Unfinished(Vec<super::unfinished::UnfinishedBanner>),
    /// What `Cmd::UnfinishedRun` came to, in words, or why it failed.
    UnfinishedDone {
        journal: PathBuf,
        result: Result<String, String>,
    },
    /// The plan (or refusal) for a `Cmd::Prepare`.
    Prepared {
        request: RunRequest,
        result: Result<Box<PlanReady>, Refused>,
    },
    /// What the running engine reports.
    Engine(EngineEvent),
    /// The engine refused to start the run; nothing was touched.
    RunNotStarted(String),
    /// The run's journal, read again.
    JournalRead(Result<Vec<Record>, String>),
    NoteWritten(Result<(), String>),
    /// The recovered server's last log lines, or why they could not be read.
    ServerLogRead(Result<Vec<String>, String>),
    /// Where a role's refusal to start was journaled, or why it could not be.
    RefusalJournaled(Result<PathBuf, String>),
    /// The drill's preparation (backup located and verified), or why it could not be done.
    DrillPrepared(Result<Box<super::drill_jobs::DrillReady>, String>),
    /// The drill's end: its record as written, and the Markdown report's path.
    DrillConcluded(Result<Box<(crate::engine::drill::DrillRecord, Option<PathBuf>)>, String>),
}

/// Work the event loop runs off the model; results come back as `Msg`s. Only `StartRun`
/// and the decisions of a run change a server, and the model emits them only after the
/// operator typed the server's name, and never for a role that forbids it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    Quit,
    LoadCatalog {
        repository: String,
    },
    /// List the runs left unfinished on this host (reads the state directory).
    ListUnfinished,
    /// Resume, promote, roll back or abandon an unfinished run, which the operator
    /// confirmed; answers `Msg::UnfinishedDone`.
    UnfinishedRun {
        journal: PathBuf,
        action: super::unfinished::RunAction,
        role: crate::config::Role,
    },
    ProbeServer {
        server: String,
    },
    /// `check`'s probes for a server (archiver, backups, WAL continuity, the restore
    /// command as the server's user, free space), off the loop.
    CheckHealth {
        server: String,
    },
    /// Ask a live server which tables these relfilenodes are (read-only catalog queries).
    ResolveRelations {
        server: String,
        nodes: Vec<RelFileNode>,
    },
    /// Read the unarchived `segments` from the server's pg_wal, up to its insert position.
    ReadTail {
        server: String,
        segments: Vec<crate::domain::segment::WalSegment>,
        size: crate::domain::segment::SegmentSize,
        upto: crate::domain::lsn::Lsn,
    },
    /// `pg_switch_wal()` on the server, which the operator confirmed; journaled in the
    /// console's log.
    SwitchWal {
        server: String,
    },
    /// Read the server's repository afresh and prepare the plan (changes nothing).
    Prepare(RunRequest),
    StartRun(Box<StartRun>),
    /// The operator's answer to the running engine's question.
    Decide(Decision),
    /// A note for the running engine's journal.
    WriteNote(String),
    ReadJournal(PathBuf),
    /// The last lines of the recovered server's log, on the host of `server`; answers
    /// `Msg::ServerLogRead`.
    ReadServerLog {
        server: String,
        path: PathBuf,
    },
    /// Journal that the role refused to start this plan (nothing else is done).
    JournalRefusal(Box<RoleRefusal>),
    /// Locate and verify the backup for a drill (reads only); answers `Msg::DrillPrepared`.
    DrillPrepare(Box<super::drill_jobs::DrillStart>),
    /// Verify the side instance, sign off, write the record and report; answers
    /// `Msg::DrillConcluded`.
    DrillConclude(Box<super::drill_jobs::DrillConclusion>),
}

/// A run the role refused, as the journal records it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleRefusal {
    pub server: String,
    pub target: String,
    pub role: crate::config::Role,
    pub reason: String,
}
