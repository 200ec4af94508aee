//! The glue between configuration, catalog and engine: from "recover server S to target T"
//! to the `RecoveryInputs` of a plan, or a refusal that says why and what would work.
//!
//! Roles are checked here, before anything is read from a server, and enforced again by
//! the engine (`engine::roles`), so every driver gets the same rule.

use crate::adapters::catalog::{restore_for, RepositoryView};
use crate::config::{Config, RepositoryConfig, Role, ServerConfig};
use crate::domain::assess::{show, Reason, Recoverability, Verdict};
use crate::domain::backup::Backup;
use crate::domain::control::Control;
use crate::domain::coverage::{RecoverableWindow, WindowEnd};
use crate::domain::lsn::Lsn;
use crate::domain::prediction::Prediction;
use crate::domain::target::{RecoveryTarget, TimelineChoice};
use crate::domain::timeline::TimelineId;
use crate::domain::times::Stamp;
use crate::domain::zone::Zone;
use crate::engine::recovery::{
    AppSpec, CheckSpec, FinalAction, PatroniDaemon, PatroniSpec, RecoveryInputs, RestoreMode,
    ServerSpec, TimeColumn,
};
use crate::engine::roles::{journal_role_refusal, refusal_log, role_permits};
use crate::planning::predict::{Span, Unreachable};
use serde::Serialize;
use std::path::PathBuf;

/// Longest wait for replay to reach the target before the step fails (state left safe).
const REPLAY_TIMEOUT_SECS: u64 = 6 * 3600;

/// Why a recovery cannot be prepared. Each maps to one exit code of DESIGN.md.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Bad input or configuration (exit 2).
    #[error("{0}")]
    Input(String),
    /// The target cannot be reached from the repository (exit 3).
    #[error("{0}")]
    NotRecoverable(String),
    /// The role forbids it (exit 5); the refusal is journaled when `journal` is set.
    #[error("{message}")]
    Role {
        message: String,
        journal: Option<PathBuf>,
    },
}

/// How the target is resolved besides the target itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PlanOptions {
    /// The timeline whose history the target is looked up on, and recovery follows.
    pub timeline: TimelineChoice,
    /// Plan an xid the complete WAL index never saw end (it may end in WAL not archived yet).
    pub force_unknown_xid: bool,
}

/// What a refusal to plan says, for people and for `--json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RefusalDetail {
    pub reason: String,
    pub timeline: Option<TimelineId>,
    pub missing_segment: Option<String>,
    pub nearest_before: Option<Stamp>,
    pub nearest_after: Option<Stamp>,
    /// Targets that would work instead, as command-line flags.
    pub alternatives: Vec<String>,
}

/// WAL that `--latest` cannot reach because of a gap: the run needs an explicit yes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WalLoss {
    pub missing_segment: String,
    /// Where replay stops.
    pub stop_lsn: Lsn,
    pub stop: Option<Stamp>,
    /// The newest archived segment, unreachable behind the gap.
    pub archive_end_segment: String,
}

impl WalLoss {
    pub fn explain(&self, zone: &Zone) -> String {
        format!(
            "WAL segment {} is missing: replay stops at {} ({}) and the server promotes there; the WAL archived after the gap, up to {}, is NOT replayed and is lost to this recovery",
            self.missing_segment,
            self.stop_lsn,
            stamp(zone, self.stop),
            self.archive_end_segment
        )
    }
}

pub struct Request<'a> {
    pub config: &'a Config,
    pub server: &'a str,
    pub view: &'a RepositoryView,
    pub target: RecoveryTarget,
    pub mode: RestoreMode,
    pub action: FinalAction,
    pub role: Role,
    pub journal_dir: PathBuf,
    /// Zone of the explanations and nearest instants.
    pub zone: Zone,
    pub options: PlanOptions,
    /// A backup the operator picked by hand; None lets the planner choose.
    pub backup: Option<String>,
}

/// Inputs ready for `recovery::plan`, and what the operator should read beside the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Prepared {
    pub inputs: RecoveryInputs,
    /// Why this backup, and caveats (estimated times, targets the catalog cannot place).
    pub notes: Vec<String>,
    /// First and last WAL segment replay reads, when the catalog can tell.
    pub wal: Option<(String, String)>,
    /// What promoting at the target discards, when the WAL index can place it.
    pub cost: Option<super::cost::Cost>,
    /// Set for `--latest` when a gap stops replay short of the archive's end.
    pub wal_loss: Option<WalLoss>,
}

/// Refuses (and journals the refusal) when the role forbids this run. The refusal goes to
/// the console's own log (`<state dir>/refusals`), never to the configured journal
/// directory, which a refused role has no business writing.
pub fn enforce_role(
    role: Role,
    mode: &RestoreMode,
    server: &str,
    target: &RecoveryTarget,
) -> Result<(), Refusal> {
    let refusals = crate::engine::state_dir::current()
        .map(|s| refusal_log(&s))
        .map_err(|e| e.to_string());
    enforce_role_logging_in(role, mode, server, target, refusals)
}

fn enforce_role_logging_in(
    role: Role,
    mode: &RestoreMode,
    server: &str,
    target: &RecoveryTarget,
    refusals: Result<PathBuf, String>,
) -> Result<(), Refusal> {
    let Err(refusal) = role_permits(role, mode, server) else {
        return Ok(());
    };
    let message = refusal.to_string();
    let logged = refusals.and_then(|dir| {
        journal_role_refusal(&dir, server, &target.to_string(), role, &message)
            .map_err(|e| e.to_string())
    });
    match logged {
        Ok(path) => Err(Refusal::Role {
            message,
            journal: Some(path),
        }),
        Err(e) => Err(Refusal::Role {
            message: format!("{message} (and the refusal could not be journaled: {e})"),
            journal: None,
        }),
    }
}

/// The configured server named `name`, or the list of names that exist.
pub fn find_server<'c>(config: &'c Config, name: &str) -> Result<&'c ServerConfig, Refusal> {
    config
        .servers
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = config.servers.iter().map(|s| s.name.as_str()).collect();
            Refusal::Input(format!(
                "no server named `{name}` in the configuration; configured: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
}

/// The repository a server's backups and WAL live in.
pub fn find_repository<'c>(
    config: &'c Config,
    server: &ServerConfig,
) -> Result<&'c RepositoryConfig, Refusal> {
    config
        .repositories
        .iter()
        .find(|r| r.name == server.repository)
        .ok_or_else(|| {
            Refusal::Input(format!(
                "server `{}` names repository `{}`, which is not configured",
                server.name, server.repository
            ))
        })
}

/// Chooses the backup, checks the target, and assembles the inputs of the plan.
pub fn prepare(req: &Request<'_>) -> Result<Prepared, Refusal> {
    prepare_detailed(req).map_err(|(r, _)| r)
}

/// As `prepare`, with the detail of a refusal to place the target.
pub fn prepare_detailed(
    req: &Request<'_>,
) -> Result<Prepared, (Refusal, Option<Box<RefusalDetail>>)> {
    let plain = |r: Refusal| (r, None);
    let server = find_server(req.config, req.server).map_err(plain)?;
    let spec = server_spec(server).map_err(plain)?;
    if let RestoreMode::Side { port, .. } = &req.mode {
        if *port == spec.port {
            return Err(plain(Refusal::Input(format!(
                "--port {port} is server {}'s own port: choose a free port for the side instance",
                spec.name
            ))));
        }
    }
    let repo = find_repository(req.config, server).map_err(plain)?;
    if let RestoreMode::Side { dir, .. } = &req.mode {
        super::side_dir::check(server, repo, dir).map_err(|e| plain(Refusal::Input(e)))?;
    }
    let timeline = resolve_timeline(req.view, req.options.timeline).map_err(plain)?;
    let choice = with_damaged(
        req.view,
        choose_backup(req.view, &req.target, timeline, req.options, &req.zone),
    )?;
    let choice = match req.backup.as_deref() {
        Some(id) if id != choice.backup.id => by_hand(req.view, &req.target, timeline, id, choice)?,
        _ => choice,
    };
    if let Some(why) = unreadable_wal(req.view, repo, server, timeline, choice.wal.as_ref()) {
        return Err(refused(
            format!("{} is not recoverable on timeline {timeline} as planned: {why}. PostgreSQL's restore_command runs as that user and would fail there, after production is stopped. Fix the file's owner or mode (e.g. chown {user} or chmod g+r) and plan again", req.target, user = server.run_as.as_deref().unwrap_or("the server user")),
            RefusalDetail {
                reason: why,
                timeline: Some(timeline),
                ..RefusalDetail::default()
            },
        ));
    }
    let chain = crate::domain::backup_chain::chain(&req.view.catalog.backups, &choice.backup)
        .map_err(|e| plain(Refusal::Input(e.to_string())))?;
    let chain: Vec<_> = chain[..chain.len() - 1]
        .iter()
        .map(|b| (*b).clone())
        .collect();
    let wal_version = req
        .view
        .index
        .as_ref()
        .and_then(|ix| ix.wal_versions().into_iter().next_back());
    // Named if preflight finds the chosen backup damaged.
    let mut older: Vec<&Backup> = req
        .view
        .catalog
        .backups
        .iter()
        .filter(|b| {
            b.id != choice.backup.id
                && b.timeline == choice.backup.timeline
                && b.stop_lsn < choice.backup.stop_lsn
        })
        .collect();
    older.sort_by_key(|b| std::cmp::Reverse(b.stop_lsn));
    let backup_check = crate::engine::recovery::BackupCheck {
        allow_unverified: false,
        alternatives: older.iter().map(|b| b.id.clone()).collect(),
    };
    let inputs = assemble(
        req.config,
        server,
        repo,
        Journaled {
            backup: choice.backup,
            target: req.target.clone(),
            mode: req.mode.clone(),
            action: req.action,
            role: req.role,
            journal_dir: req.journal_dir.clone(),
            backup_check,
            new_host: false,
            chain,
            wal_version,
            timeline: Some(timeline),
            prediction: choice.prediction,
            wal_runs: choice
                .wal
                .as_ref()
                .map(|(first, last)| {
                    super::spool::planned_runs(&req.view.catalog, timeline, first, last)
                })
                .unwrap_or_default(),
        },
    )
    .map_err(plain)?;
    Ok(Prepared {
        cost: req
            .view
            .index
            .as_ref()
            .and_then(|i| super::cost::discarded(i, &inputs.target)),
        inputs,
        notes: choice.notes,
        wal: choice.wal,
        wal_loss: choice.wal_loss,
    })
}

/// What a run's inputs take from the operator's request rather than from the configuration.
pub struct Journaled {
    pub backup: Backup,
    pub target: RecoveryTarget,
    pub mode: RestoreMode,
    pub action: FinalAction,
    pub role: Role,
    pub journal_dir: PathBuf,
    pub backup_check: crate::engine::recovery::BackupCheck,
    /// Restored onto an empty data directory: no snapshot, dump or move aside.
    pub new_host: bool,
    /// The older members of an incremental chain, full first (from the catalog).
    pub chain: Vec<Backup>,
    /// The WAL's major version, when the archive was read.
    pub wal_version: Option<u8>,
    /// The timeline the target was resolved on; the settings pin it.
    pub timeline: Option<crate::domain::timeline::TimelineId>,
    /// What replay will reach, when the WAL index could tell; verification checks it.
    pub prediction: Option<crate::domain::prediction::Prediction>,
    /// The archived segments replay reads, in order: what the run stages ahead of replay.
    pub wal_runs: Vec<crate::domain::wal_spool::SegmentRun>,
}

/// The run's inputs: every command and path from the configuration, the rest as asked.
/// `resume` calls it again to rebuild what a journal may only repeat, never dictate.
pub fn assemble(
    config: &Config,
    server: &ServerConfig,
    repo: &RepositoryConfig,
    asked: Journaled,
) -> Result<RecoveryInputs, Refusal> {
    let spec = server_spec(server)?;
    let dest = match &asked.mode {
        RestoreMode::InPlace => server.pgdata.as_path(),
        RestoreMode::Side { dir, .. } => dir.as_path(),
    };
    let restore = restore_for(repo, server, &asked.backup, &asked.target, dest)
        .map_err(|e| Refusal::Input(e.to_string()))?;
    let spool = super::spool::spool_for(config, repo, asked.backup.segment_size, &asked.wal_runs);
    if spool.is_some() {
        // The spool is `<dest>.pitr-<run id>-wal` and reaches restore_command's shell line.
        crate::domain::paths::check_plain_path(
            "the restore directory (the WAL spool lies beside it)",
            dest,
        )
        .map_err(|e| Refusal::Input(e.to_string()))?;
    }
    let time_column = server
        .time_column
        .as_deref()
        .map(parse_time_column)
        .transpose()?;
    Ok(RecoveryInputs {
        server: spec,
        backup: asked.backup,
        restore_command: restore.restore_command,
        target: asked.target,
        action: asked.action,
        mode: asked.mode,
        apps: config
            .apps
            .iter()
            .filter(|a| a.serves(&server.name))
            .map(|a| AppSpec {
                name: a.name.clone(),
                stop: a.stop.clone(),
                start: a.start.clone(),
                check: a.check.clone().unwrap_or_default(),
            })
            .collect(),
        checks: config
            .checks
            .iter()
            .map(|c| CheckSpec {
                name: c.name.clone(),
                sql: c.sql.clone(),
            })
            .collect(),
        safety_dump_dir: asked.journal_dir.join("dumps"),
        journal_dir: asked.journal_dir,
        time_column,
        replay_timeout_secs: REPLAY_TIMEOUT_SECS,
        replay_stall_secs: config
            .replay_stall_secs
            .unwrap_or(crate::engine::recovery::DEFAULT_STALL_SECS),
        role: asked.role,
        tool_restore: restore.tool_restore,
        new_host: asked.new_host,
        chain: asked.chain,
        wal_version: asked.wal_version,
        backup_check: asked.backup_check,
        timeline: asked.timeline,
        prediction: asked.prediction,
        wal_spool: spool,
    })
}

fn server_spec(s: &ServerConfig) -> Result<ServerSpec, Refusal> {
    let patroni = match (&s.control, &s.patroni_url) {
        (Control::Patroni, Some(url)) => Some(PatroniSpec {
            url: url.clone(),
            confirm_leader: false,
            daemon: match (&s.patroni_stop, &s.patroni_start) {
                (Some(stop), Some(start)) => Some(PatroniDaemon {
                    stop: stop.clone(),
                    start: start.clone(),
                }),
                _ => None,
            },
        }),
        (Control::Patroni, None) => {
            return Err(Refusal::Input(format!(
                "server `{}`: control = \"patroni\" needs patroni_url (its Patroni REST API, e.g. http://127.0.0.1:8008)",
                s.name
            )))
        }
        _ => None,
    };
    let Some(service) = s.control.service() else {
        return Err(Refusal::Input(format!(
            "server `{}`: control = \"{}\" is not supported for recovery; use \"pg_ctl\", \"pg_ctlcluster:VERSION/NAME\", \"systemd:UNIT\" or \"patroni\"",
            s.name, s.control
        )));
    };
    let bin_dir = match &s.bin_dir {
        Some(d) => d.clone(),
        None => pg_ctl_dir().ok_or_else(|| {
            Refusal::Input(format!(
                "server `{}`: no bin_dir configured and no pg_ctl on PATH; set bin_dir to PostgreSQL's binaries, e.g. /usr/lib/postgresql/15/bin",
                s.name
            ))
        })?,
    };
    Ok(ServerSpec {
        name: s.name.clone(),
        pgdata: s.pgdata.clone(),
        bin_dir,
        port: s.port,
        run_as: s.run_as.clone(),
        dsn: s.dsn.clone(),
        socket_dir: socket_dir(&s.dsn),
        service,
        config_file: s.config_dir().map(|d| d.join("postgresql.conf")),
        patroni,
    })
}

fn pg_ctl_dir() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).find(|d| d.join("pg_ctl").is_file()))
}

/// The unix socket directory a key=value DSN connects through (`host=/path`).
fn socket_dir(dsn: &str) -> Option<PathBuf> {
    dsn.split_whitespace()
        .find_map(|w| w.strip_prefix("host="))
        .filter(|h| h.starts_with('/'))
        .map(PathBuf::from)
}

/// `orders.created_at` or `public.orders.created_at`.
fn parse_time_column(text: &str) -> Result<TimeColumn, Refusal> {
    match text.rsplit_once('.') {
        Some((table, column)) if !table.is_empty() && !column.is_empty() => Ok(TimeColumn {
            table: table.to_string(),
            column: column.to_string(),
        }),
        _ => Err(Refusal::Input(format!(
            "time_column = \"{text}\": write it as TABLE.COLUMN or SCHEMA.TABLE.COLUMN, e.g. orders.created_at"
        ))),
    }
}

struct Choice {
    backup: Backup,
    notes: Vec<String>,
    wal: Option<(String, String)>,
    prediction: Option<Prediction>,
    wal_loss: Option<WalLoss>,
}

type Refused = (Refusal, Option<Box<RefusalDetail>>);

fn stamp(zone: &Zone, s: Option<Stamp>) -> String {
    s.map_or("an unknown time".into(), |s| show(zone, s))
}

/// The timeline `choice` names in this repository.
pub fn resolve_timeline(
    view: &RepositoryView,
    choice: TimelineChoice,
) -> Result<TimelineId, Refusal> {
    let known = view.catalog.timelines();
    let listed = || {
        known
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let picked = match choice {
        TimelineChoice::Latest => known.last().copied(),
        TimelineChoice::Current => view
            .catalog
            .backups
            .iter()
            .max_by_key(|b| (b.stop_lsn, b.timeline))
            .map(|b| b.timeline),
        TimelineChoice::Number(n) => {
            if !known.contains(&n) {
                return Err(Refusal::Input(format!(
                    "--timeline {n}: repository `{}` has no timeline {n}; it has {}",
                    view.catalog.repository,
                    listed()
                )));
            }
            Some(n)
        }
    };
    picked.ok_or_else(|| {
        Refusal::NotRecoverable(format!(
            "repository `{}` holds no backups and no WAL",
            view.catalog.repository
        ))
    })
}

/// Names the backups the catalog left out as damaged: a refusal says they were not
/// considered, a plan on another backup says why it did not take them.
fn with_damaged(view: &RepositoryView, result: Result<Choice, Refused>) -> Result<Choice, Refused> {
    let named: Vec<String> = view
        .catalog
        .damaged
        .iter()
        .map(|d| {
            format!(
                "backup {} ({}) is damaged and was left out: {}",
                d.id, d.location, d.problem
            )
        })
        .collect();
    if named.is_empty() {
        return result;
    }
    match result {
        Ok(mut choice) => {
            choice
                .notes
                .extend(named.iter().map(|n| format!("WARNING: {n}")));
            Ok(choice)
        }
        Err((Refusal::NotRecoverable(message), detail)) => Err((
            Refusal::NotRecoverable(format!("{message}\n{}", named.join("\n"))),
            detail,
        )),
        Err(other) => Err(other),
    }
}

fn refused(message: String, detail: RefusalDetail) -> Refused {
    (Refusal::NotRecoverable(message), Some(Box::new(detail)))
}

/// The backup the operator picked instead of `chosen`, when its WAL reaches the target on
/// this path; else a refusal that says why and which backup can.
fn by_hand(
    view: &RepositoryView,
    target: &RecoveryTarget,
    timeline: TimelineId,
    id: &str,
    chosen: Choice,
) -> Result<Choice, Refused> {
    let r = Recoverability {
        catalog: &view.catalog,
        coverage: &view.coverage,
        times: view.times.as_ref(),
    };
    if let Some(d) = view.catalog.damaged.iter().find(|d| d.id == id) {
        return Err(refused(
            format!(
                "backup {id} ({}) is damaged: {}; backup {} can",
                d.location, d.problem, chosen.backup.id
            ),
            RefusalDetail::default(),
        ));
    }
    let Some(backup) = view.catalog.backups.iter().find(|b| b.id == id).cloned() else {
        return Err(refused(
            format!("backup {id} is in no catalog listing"),
            RefusalDetail::default(),
        ));
    };
    let windows = r.path_windows(timeline);
    let mine: Vec<_> = windows.iter().filter(|w| w.backup_id == id).collect();
    let reaches = |w: &&RecoverableWindow| match (target, chosen.prediction.as_ref()) {
        (RecoveryTarget::Time { at, .. }, _) => {
            w.start.is_some_and(|s| s.at <= *at) && w.end.is_none_or(|e| *at <= e.at)
        }
        (RecoveryTarget::Lsn { lsn, .. }, _) => w.contains_lsn(*lsn),
        (_, Some(p)) => w.contains_lsn(p.replay_max),
        _ => false,
    };
    if !mine.iter().any(reaches) {
        let span = mine
            .iter()
            .map(|w| format!("{} .. {}", w.start_lsn, w.end_lsn))
            .collect::<Vec<_>>()
            .join(", ");
        let why = if span.is_empty() {
            format!("backup {id} has no WAL on timeline {timeline}'s path to become consistent")
        } else {
            format!("backup {id} cannot reach {target}: its WAL on timeline {timeline}'s path covers {span}")
        };
        return Err(refused(
            format!("{why}; backup {} can", chosen.backup.id),
            RefusalDetail {
                reason: why,
                timeline: Some(timeline),
                ..RefusalDetail::default()
            },
        ));
    }
    let size = view.coverage.segment_size;
    let first =
        crate::domain::segment::WalSegment::containing(backup.timeline, backup.start_lsn, size)
            .file_name(size);
    let mut notes = vec![format!(
        "backup {id} picked by hand (the planner's choice was {})",
        chosen.backup.id
    )];
    notes.extend(
        chosen
            .notes
            .into_iter()
            .filter(|n| !n.starts_with("backup ")),
    );
    // Replay from this backup may stop as early as its own consistency point allows.
    let prediction = chosen.prediction.map(|mut p| {
        let kept = p
            .last_kept
            .map_or(backup.stop_lsn, |k| k.end.max(backup.stop_lsn));
        p.replay_min = p.replay_min.min(kept);
        p
    });
    Ok(Choice {
        backup,
        notes,
        wal: chosen.wal.map(|(_, last)| (first, last)),
        prediction,
        wal_loss: chosen.wal_loss,
    })
}

// Over 100 lines on purpose: the verdict for every target kind shares its closures over the view; splitting it is left for a later change.
#[allow(clippy::too_many_lines)]
fn choose_backup(
    view: &RepositoryView,
    target: &RecoveryTarget,
    timeline: TimelineId,
    options: PlanOptions,
    zone: &Zone,
) -> Result<Choice, Refused> {
    let r = Recoverability {
        catalog: &view.catalog,
        coverage: &view.coverage,
        times: view.times.as_ref(),
    };
    let path = view.catalog.path(timeline);
    let windows = r.path_windows(timeline);
    let backup_of = |id: &str| -> Result<Backup, Refused> {
        view.catalog
            .backups
            .iter()
            .find(|b| b.id == id)
            .cloned()
            .ok_or_else(|| {
                (
                    Refusal::NotRecoverable(format!("backup {id} is in no catalog listing")),
                    None,
                )
            })
    };
    // The end of the WAL a backup's windows on this path reach.
    let window_end = |id: &str| {
        windows
            .iter()
            .filter(|w| w.backup_id == id)
            .map(|w| w.end_lsn)
            .max()
    };
    // The WAL index knows where transactions end and restore points are, on this path.
    let placed = view.index.as_ref().and_then(|index| match target {
        RecoveryTarget::Xid { xid, .. } => {
            crate::wal::path::tx_end_by_xid(index, &path, (*xid % (1 << 32)) as u32).map(|t| t.lsn)
        }
        RecoveryTarget::Name { name } => {
            crate::wal::path::restore_point(index, &path, name).map(|p| p.lsn)
        }
        _ => None,
    });
    let verdict = match (target, placed) {
        (RecoveryTarget::Time { at, .. }, _) => Some(r.at_time(timeline, *at)),
        (RecoveryTarget::Lsn { lsn, .. }, _) => Some(r.at_lsn(timeline, *lsn)),
        (_, Some(lsn)) => Some(r.at_lsn(timeline, lsn)),
        _ => None,
    };
    // Predicts from the WAL index; a target replay would not meet is refused here.
    let predict = |backup: &Backup,
                   notes: &mut Vec<String>|
     -> Result<Option<Prediction>, Refused> {
        let (Some(index), Some(end)) = (view.index.as_ref(), window_end(&backup.id)) else {
            notes.push("no WAL index: the stop position is not predicted, and verification cannot compare it".into());
            return Ok(None);
        };
        let span = Span {
            index,
            path: &path,
            backup,
            end,
        };
        match span.predict(target) {
            Ok(Some(p)) => {
                notes.push(format!("prediction: {}", p.describe()));
                Ok(Some(p))
            }
            Ok(None) => {
                notes.push("the WAL index has not read all WAL this replay needs: the stop position is not predicted".into());
                Ok(None)
            }
            Err(Unreachable {
                reason,
                alternatives,
            }) => {
                let message = format!(
                    "{target} is not recoverable on timeline {timeline}: {reason}. Would work instead: {}",
                    alternatives.join("; ")
                );
                Err(refused(
                    message,
                    RefusalDetail {
                        reason,
                        timeline: Some(timeline),
                        alternatives,
                        ..RefusalDetail::default()
                    },
                ))
            }
        }
    };
    if let Some(v) = verdict {
        return match v {
            Verdict::Recoverable(rec) => {
                let backup = backup_of(&rec.backup_id)?;
                let mut notes = Vec::new();
                if let Some(lsn) = placed {
                    notes.push(format!(
                        "the WAL index places {target} at {lsn} on timeline {timeline}'s path"
                    ));
                }
                notes.push(format!(
                    "backup {} (consistent from {}): the latest whose consistency point is at or before the target; replay reads {} .. {} ({} segments) on timeline {}",
                    backup.id,
                    stamp(zone, rec.window_start),
                    rec.first_segment,
                    rec.last_segment,
                    rec.segments,
                    rec.timeline
                ));
                if rec.estimated {
                    notes.push("times near this window's edges are estimated from file times (~): the server, not the catalog, has the last word on where replay stops".into());
                }
                let prediction = predict(&backup, &mut notes)?;
                before_backup_end(&backup, target, placed, prediction.is_some(), zone)
                    .map_err(|r| (r, None))?;
                Ok(Choice {
                    backup,
                    notes,
                    wal: Some((rec.first_segment, rec.last_segment)),
                    prediction,
                    wal_loss: None,
                })
            }
            Verdict::NotRecoverable {
                reason,
                nearest_before,
                nearest_after,
            } => {
                let missing_segment = match &reason {
                    Reason::InGap {
                        missing_segment, ..
                    } => Some(missing_segment.clone()),
                    _ => None,
                };
                let mut alternatives = Vec::new();
                let fmt_time = |s: Stamp| {
                    format!(
                        "--time '{} UTC'{}",
                        s.at.format("%Y-%m-%d %H:%M:%S%.6f"),
                        if s.estimated { " (estimated)" } else { "" }
                    )
                };
                alternatives.extend(nearest_before.map(fmt_time));
                alternatives.extend(nearest_after.map(fmt_time));
                if let Some(index) = view.index.as_ref() {
                    // Of the windows ending there, one with a transaction end after its
                    // consistency point (a later backup's may hold none).
                    let last = windows
                        .iter()
                        .filter(|w| nearest_before.is_some_and(|b| w.end == Some(b)))
                        .filter(|w| w.start.zip(w.end).is_none_or(|(s, e)| s.at <= e.at))
                        .max_by_key(|w| w.end_lsn);
                    if let (Some(w), Ok(b)) =
                        (last, backup_of(last.map_or("", |w| w.backup_id.as_str())))
                    {
                        let span = Span {
                            index,
                            path: &path,
                            backup: &b,
                            end: w.end_lsn,
                        };
                        alternatives.extend(
                            span.alternatives()
                                .into_iter()
                                .filter(|a| !a.starts_with("--time")),
                        );
                    }
                }
                let explained = reason.explain(zone);
                let message = format!(
                    "{target} is not recoverable on timeline {timeline}: {explained}. Nearest recoverable instants: before {}, after {}",
                    nearest_before.map_or("none".into(), |s| show(zone, s)),
                    nearest_after.map_or("none".into(), |s| show(zone, s)),
                );
                Err(refused(
                    message,
                    RefusalDetail {
                        reason: explained,
                        timeline: Some(timeline),
                        missing_segment,
                        nearest_before,
                        nearest_after,
                        alternatives,
                    },
                ))
            }
        };
    }
    let latest = windows.iter().max_by_key(|w| (w.start_lsn, w.timeline));
    let Some(latest) = latest else {
        return Err((
            Refusal::NotRecoverable(
                "not recoverable: no base backup has the WAL it needs to become consistent".into(),
            ),
            None,
        ));
    };
    let segs = |w: &RecoverableWindow, b: &Backup| {
        let size = view.coverage.segment_size;
        let first = crate::domain::segment::WalSegment::containing(b.timeline, b.start_lsn, size);
        let last = crate::domain::segment::WalSegment::containing(w.timeline, w.end_lsn, size);
        (first.file_name(size), last.file_name(size))
    };
    match target {
        RecoveryTarget::Latest => {
            let reaching = windows
                .iter()
                .filter(|w| matches!(w.ends_because, WindowEnd::EndOfArchive { .. }))
                .max_by_key(|w| (w.start_lsn, w.timeline));
            let (w, wal_loss) = match reaching {
                Some(w) => (w, None),
                None => {
                    let missing = match &latest.ends_because {
                        WindowEnd::Gap { missing_segment } => missing_segment.clone(),
                        WindowEnd::EndOfArchive { last_segment } => last_segment.clone(),
                    };
                    let size = view.coverage.segment_size;
                    let archive_end = view
                        .catalog
                        .segments
                        .iter()
                        .filter(|s| {
                            !s.partial
                                && path.timeline_at(s.segment.start_lsn(size))
                                    == Some(s.segment.timeline)
                        })
                        .max_by_key(|s| s.segment.number)
                        .map_or_else(|| missing.clone(), |s| s.file_name.clone());
                    (
                        latest,
                        Some(WalLoss {
                            missing_segment: missing,
                            stop_lsn: latest.end_lsn,
                            stop: latest.end,
                            archive_end_segment: archive_end,
                        }),
                    )
                }
            };
            let backup = backup_of(&w.backup_id)?;
            let wal = segs(w, &backup);
            let mut notes = vec![format!(
                "backup {}: the latest whose WAL reaches {} on timeline {timeline}; replay reads {} .. {} and the server promotes itself there",
                backup.id,
                if reaching.is_some() { "the end of the archive" } else { "furthest" },
                wal.0,
                wal.1
            )];
            if let Some(loss) = &wal_loss {
                notes.push(format!("WARNING: {}", loss.explain(zone)));
            }
            let prediction = predict(&backup, &mut notes)?;
            Ok(Choice {
                backup,
                notes,
                wal: Some(wal),
                prediction,
                wal_loss,
            })
        }
        _ => {
            if let (RecoveryTarget::Xid { xid, .. }, Some(index)) = (target, view.index.as_ref()) {
                let b = backup_of(&latest.backup_id)?;
                let span = Span {
                    index,
                    path: &path,
                    backup: &b,
                    end: latest.end_lsn,
                };
                let earliest = windows
                    .iter()
                    .filter_map(|w| view.catalog.backups.iter().find(|b| b.id == w.backup_id))
                    .map(|b| b.start_lsn)
                    .min()
                    .unwrap_or(b.start_lsn);
                // Every backup's WAL up to the archive's end, or up to a hole: the xid is
                // either nowhere or in the hole, and no backup's replay reaches it there
                // (one before the hole stops at it; one after it starts past the xid).
                let hole = windows.iter().find_map(|w| match &w.ends_because {
                    WindowEnd::Gap { missing_segment } => Some(missing_segment.clone()),
                    WindowEnd::EndOfArchive { .. } => None,
                });
                let complete = crate::wal::path::covers(index, &path, earliest, latest.end_lsn)
                    && span.complete();
                if !options.force_unknown_xid && (complete || hole.is_some()) {
                    let reason = match &hole {
                        Some(seg) if !complete => format!(
                            "the WAL index read the WAL on timeline {timeline}'s path from {earliest} except what is missing from segment {seg} on, and xid {xid} never commits or aborts in it: if it does at all, it is in the missing WAL, which replay cannot cross"
                        ),
                        _ => format!(
                            "the WAL index read all WAL on timeline {timeline}'s path from {earliest} to {} and xid {xid} never commits or aborts there",
                            latest.end_lsn
                        ),
                    };
                    let mut alternatives = vec![
                        "--force-unknown-xid (plan it anyway: replay runs to the end of the WAL and fails if the xid is not there)".to_string(),
                        "another --timeline".to_string(),
                    ];
                    if let Some(seg) = &hole {
                        alternatives.push(format!(
                            "put segment {seg} back in the archive and plan again"
                        ));
                    }
                    return Err(refused(
                        format!(
                            "{target} is not recoverable: {reason}; {}",
                            alternatives.join("; ")
                        ),
                        RefusalDetail {
                            reason,
                            timeline: Some(timeline),
                            missing_segment: hole,
                            alternatives,
                            ..RefusalDetail::default()
                        },
                    ));
                }
            }
            let backup = backup_of(&latest.backup_id)?;
            let wal = segs(latest, &backup);
            let mut notes = vec![format!(
                "backup {}: the latest with the WAL to become consistent ({} .. {})",
                backup.id, wal.0, wal.1
            )];
            if matches!(
                target,
                RecoveryTarget::Xid { .. } | RecoveryTarget::Name { .. }
            ) {
                notes.push(format!(
                    "the WAL index does not place {target} (not indexed, or not in the archive): the latest backup is used; if the target lies before its consistency point ({}), replay ends without reaching it and the run fails safely",
                    stamp(zone, latest.start)
                ));
            }
            let prediction = if matches!(target, RecoveryTarget::Immediate) {
                predict(&backup, &mut notes)?
            } else {
                None
            };
            Ok(Choice {
                backup,
                notes,
                wal: Some(wal),
                prediction,
                wal_loss: None,
            })
        }
    }
}

/// A WAL segment replay needs that the server user cannot read (the console may be root):
/// PostgreSQL would fail on it like on a missing one. Local archives on this machine only;
/// `pitr-console check` tries the restore command itself everywhere.
fn unreadable_wal(
    view: &RepositoryView,
    repo: &RepositoryConfig,
    server: &ServerConfig,
    timeline: TimelineId,
    wal: Option<&(String, String)>,
) -> Option<String> {
    let (Some((first, last)), Some(user), Some(archive)) =
        (wal, server.run_as.as_deref(), repo.wal_archive.as_ref())
    else {
        return None;
    };
    if repo.kind != crate::config::RepositoryKind::Local || !server.is_local() {
        return None;
    }
    let size = view.catalog.segment_size;
    let number = |name: &str| {
        crate::domain::segment::WalSegment::parse_file_name(name, size).map(|s| s.number)
    };
    let (lo, hi) = (number(first)?, number(last)?);
    let reader = crate::adapters::readable::Reader::named(user)?;
    let path = view.catalog.path(timeline);
    view.catalog
        .segments
        .iter()
        .filter(|s| (lo..=hi).contains(&s.segment.number))
        .filter(|s| path.timeline_at(s.segment.start_lsn(size)) == Some(s.segment.timeline))
        .find_map(|s| reader.cannot_read(&archive.join(&s.file_name)))
}

/// A time or position before the chosen backup's end cannot be reached from it.
/// With a prediction, the WAL index has already found the transaction end a time target
/// stops before and checked it lies past the consistency point; a time just before the
/// backup label's whole-second stop time can still reach it (it stops before a commit made
/// after the backup), so the label decides only when the index could not tell.
fn before_backup_end(
    b: &Backup,
    target: &RecoveryTarget,
    placed: Option<Lsn>,
    predicted: bool,
    zone: &Zone,
) -> Result<(), Refusal> {
    let early = match target {
        RecoveryTarget::Time { at, .. } => !predicted && b.stop_time_exact && *at < b.stop_time,
        RecoveryTarget::Lsn { lsn, .. } => *lsn < b.stop_lsn,
        _ => placed.is_some_and(|lsn| lsn < b.stop_lsn),
    };
    if early {
        return Err(Refusal::NotRecoverable(format!(
            "{target} is not recoverable from backup {}: it is consistent only from {} ({}); choose a later instant",
            b.id,
            zone.format(b.stop_time),
            b.stop_lsn
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        let side = RestoreMode::Side {
            dir: "/tmp/x".into(),
            port: 5999,
        };
        assert!(role_permits(Role::Operator, &RestoreMode::InPlace, "db1").is_ok());
        assert!(role_permits(Role::Drill, &side, "db1").is_ok());
        let e = role_permits(Role::Drill, &RestoreMode::InPlace, "db1").unwrap_err();
        assert!(e.to_string().contains("--restore-to"), "{e}");
        assert!(role_permits(Role::Trainee, &side, "db1").is_err());
    }

    #[test]
    fn time_column_and_socket() {
        let t = parse_time_column("public.orders.created_at").unwrap();
        assert_eq!(
            (t.table.as_str(), t.column.as_str()),
            ("public.orders", "created_at")
        );
        assert!(parse_time_column("orders").is_err());
        assert_eq!(
            socket_dir("host=/var/run/postgresql port=5432"),
            Some(PathBuf::from("/var/run/postgresql"))
        );
        assert_eq!(socket_dir("host=db.example port=5432"), None);
    }

    #[test]
    fn a_role_refusal_is_journaled_and_ended() {
        let dir = tempfile::tempdir().unwrap();
        let err = enforce_role_logging_in(
            Role::Trainee,
            &RestoreMode::InPlace,
            "db1",
            &RecoveryTarget::Latest,
            Ok(dir.path().join("refusals")),
        )
        .unwrap_err();
        let Refusal::Role {
            journal: Some(path),
            ..
        } = err
        else {
            panic!("{err:?}")
        };
        let state = crate::engine::journal::JournalState::read(&path).unwrap();
        assert!(
            matches!(&state.ended, Some(crate::engine::event::RunStatus::Refused { reason }) if reason.contains("trainee"))
        );
    }
}
