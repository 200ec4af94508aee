//! What a recovery run is built from: the server, the backup, the target, the action. Plain
//! data, journaled with the run so `resume` rebuilds the same plan; steps and role checks read
//! it without depending on how a run is started.

use crate::domain::backup::Backup;
use crate::domain::control::Service;
use crate::domain::role::Role;
use crate::domain::target::RecoveryTarget;
use crate::engine::ports::CommandSpec;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSpec {
    pub name: String,
    pub pgdata: PathBuf,
    pub bin_dir: PathBuf,
    pub port: u16,
    /// OS user owning the cluster; server-side commands run as this user.
    pub run_as: Option<String>,
    /// key=value connection string to the server's database (the one dumped and counted).
    pub dsn: String,
    /// Unix socket directory passed to the server at start (`-k`), when not left to its config.
    pub socket_dir: Option<PathBuf>,
    /// What stops and starts production (pg_ctl, pg_ctlcluster, a systemd unit).
    #[serde(default, skip_serializing_if = "is_pg_ctl")]
    pub service: Service,
    /// postgresql.conf when it lives outside pgdata (Debian's /etc/postgresql/V/N): the
    /// restored server starts with it, a side instance with its own overrides on top.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_file: Option<PathBuf>,
    /// Set when the server is a Patroni member (control = patroni).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patroni: Option<PatroniSpec>,
}

fn is_pg_ctl(s: &Service) -> bool {
    *s == Service::PgCtl
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatroniSpec {
    /// The REST API of this server's own Patroni (`patroni_url`).
    pub url: String,
    /// The operator already agreed to recover the cluster's leader (headless runs); else the
    /// run asks when the node turns out to be the leader.
    #[serde(default)]
    pub confirm_leader: bool,
    /// How Patroni itself is stopped and started on this node, when configured: then it is
    /// stopped for the whole recovery and cannot rewrite the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon: Option<PatroniDaemon>,
}

/// The shell commands that stop and start the Patroni daemon on the recovered node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatroniDaemon {
    pub stop: String,
    pub start: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSpec {
    pub name: String,
    pub stop: String,
    pub start: String,
    /// Succeeds while the application runs.
    pub check: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSpec {
    pub name: String,
    /// Must return a single true value.
    pub sql: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum RestoreMode {
    /// Into the server's pgdata; the original is moved aside.
    InPlace,
    /// A new instance in `dir` on `port`; production is not touched.
    Side { dir: PathBuf, port: u16 },
}

/// What happens once paused at the target and verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalAction {
    /// Ask the operator: promote or roll back.
    Pause,
    /// Promote without asking (headless `--action promote`) when verification passed.
    Promote,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeColumn {
    /// As written in SQL, e.g. `public.orders`.
    pub table: String,
    pub column: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryInputs {
    pub server: ServerSpec,
    pub backup: Backup,
    /// `restore_command` for the repository (with %f and %p).
    pub restore_command: String,
    pub target: RecoveryTarget,
    pub action: FinalAction,
    pub mode: RestoreMode,
    pub apps: Vec<AppSpec>,
    pub checks: Vec<CheckSpec>,
    pub safety_dump_dir: PathBuf,
    pub journal_dir: PathBuf,
    pub time_column: Option<TimeColumn>,
    /// Longest wait for replay to reach the target.
    pub replay_timeout_secs: u64,
    /// Replay that has not moved for this long is reported (with the server log's tail and
    /// the choices) instead of waited on in silence.
    #[serde(default = "default_stall_secs")]
    pub replay_stall_secs: u64,
    /// Who asked for the run; `start` refuses what the role forbids.
    #[serde(default)]
    pub role: Role,
    /// For backups a tool holds (`BackupFormat::Tool`): the tool's restore commands.
    #[serde(default)]
    pub tool_restore: Option<ToolRestore>,
    /// In place onto a new host: pgdata is missing or empty, so there is nothing to
    /// snapshot, dump, stop or move aside.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_host: bool,
    /// When `backup` is incremental (17+): the backups it was taken on, the full one first.
    /// The restore combines them with it (pg_combinebackup) instead of copying it.
    #[serde(default)]
    pub chain: Vec<Backup>,
    /// The major version the archive's WAL pages were written by (their page magic), when
    /// the archive was read; checked against the backup and the binaries before anything runs.
    #[serde(default)]
    pub wal_version: Option<u8>,
    /// The timeline the target was resolved on; the settings pin it.
    #[serde(default)]
    pub timeline: Option<crate::domain::timeline::TimelineId>,
    /// What replay will reach, when the WAL index can tell; verification checks it.
    #[serde(default)]
    pub prediction: Option<crate::domain::prediction::Prediction>,
    /// How preflight treats the backup's verification.
    #[serde(default)]
    pub backup_check: BackupCheck,
    /// WAL staged ahead of replay into the run's spool, when the repository allows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_spool: Option<crate::domain::wal_spool::WalSpool>,
}

/// Replay stalls are reported after a minute by default (`replay_stall_secs`).
pub const DEFAULT_STALL_SECS: u64 = 60;

fn default_stall_secs() -> u64 {
    DEFAULT_STALL_SECS
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupCheck {
    /// The operator accepted a backup without a manifest (`--allow-unverified-backup`).
    #[serde(default)]
    pub allow_unverified: bool,
    /// Other backups that also reach the target, newest first: named when this one is refused.
    #[serde(default)]
    pub alternatives: Vec<String>,
}

/// A fresh run id: UTC time plus a few random hex digits, safe in file names.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now();
    let seed = format!(
        "{}{}",
        now.timestamp_nanos_opt().unwrap_or_default(),
        std::process::id()
    );
    let h = super::journal::sha256_hex(seed.as_bytes());
    format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), &h[..4])
}

/// The commands that restore a tool-held backup into the recovery's data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolRestore {
    /// `barman`, `pgbackrest`, `wal-g`: for titles and messages.
    pub tool: String,
    /// Run in order; each must succeed.
    pub commands: Vec<CommandSpec>,
    /// The tool's own check of the backup (Barman's `verify-backup` and `check-backup`,
    /// `pgbackrest verify`), run in preflight before production is touched; empty when
    /// the tool has none.
    #[serde(default)]
    pub verify: Vec<CommandSpec>,
}
