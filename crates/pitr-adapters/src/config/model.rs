//! The configuration file's shape. Every key is documented in `pitr-console.toml.example`.

use crate::domain::control::Control;
use crate::domain::role::Role;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Display and default input zone (IANA name or offset); UTC when absent.
    pub timezone: Option<String>,
    /// Where run journals, locks and reports go.
    pub journal_dir: Option<PathBuf>,
    /// Per-host state (run locks, unfinished runs, the journal key); see
    /// `engine::state_dir::locate` for the default. `PITR_CONSOLE_STATE_DIR` overrides it.
    pub state_dir: Option<PathBuf>,
    /// Role when the command line gives none.
    pub role: Option<Role>,
    /// Seconds without replay progress before the run reports a stall (default 60).
    pub replay_stall_secs: Option<u64>,
    /// MiB of WAL staged ahead of replay and not yet replayed, per run (default 1024; 0
    /// turns staging off). Local repositories only.
    pub wal_spool_mib: Option<u64>,
    /// The site's drill checklist (a copy of assets/drill-checklist.toml); the shipped one
    /// when absent.
    pub drill_checklist: Option<PathBuf>,
    /// Application smoke command a drill runs against the restored side instance.
    pub drill_smoke: Option<String>,
    #[serde(default, rename = "repository")]
    pub repositories: Vec<RepositoryConfig>,
    #[serde(default, rename = "server")]
    pub servers: Vec<ServerConfig>,
    #[serde(default, rename = "app")]
    pub apps: Vec<AppConfig>,
    #[serde(default, rename = "check")]
    pub checks: Vec<CheckConfig>,
    /// Thresholds of `pitr-console check` (`[health]`).
    #[serde(default)]
    pub health: crate::domain::health::Thresholds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepositoryKind {
    #[default]
    Local,
    Barman,
    Pgbackrest,
    Walg,
    /// Barman's cloud tools (`barman-cloud-*`) on an S3 API.
    #[serde(rename = "barman-cloud")]
    BarmanCloud,
}

impl RepositoryKind {
    /// The name a configuration file gives the kind.
    pub fn name(self) -> &'static str {
        match self {
            RepositoryKind::Local => "local",
            RepositoryKind::Barman => "barman",
            RepositoryKind::Pgbackrest => "pgbackrest",
            RepositoryKind::Walg => "walg",
            RepositoryKind::BarmanCloud => "barman-cloud",
        }
    }
}

/// `Default` is for code building one by hand (tests, benches): it names nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryConfig {
    pub name: String,
    pub kind: RepositoryKind,
    /// local: one pg_basebackup output per subdirectory.
    pub backups: Option<PathBuf>,
    /// local: archived segments, `.history` and `.backup` files.
    pub wal_archive: Option<PathBuf>,
    /// barman: the server's name in Barman's configuration (`barman list-backups NAME`).
    pub barman_server: Option<String>,
    /// barman: the Barman host, reached as `ssh barman_user@barman_host`; absent: this host.
    pub barman_host: Option<String>,
    /// barman: OS user Barman runs as (default `barman`).
    pub barman_user: Option<String>,
    /// barman: Barman's configuration file (`barman -c FILE`); absent: Barman's default.
    pub barman_config: Option<PathBuf>,
    /// barman on another host: the host, reached over ssh both by the console and by the
    /// restore_command replay runs as the server's user (same as `barman_host`).
    pub ssh_host: Option<String>,
    /// barman: the ssh user on that host (same as `barman_user`; default `barman`).
    pub ssh_user: Option<String>,
    /// barman: the ssh port on that host (default ssh's, 22).
    pub ssh_port: Option<u16>,
    /// barman: the private key ssh uses (`-i`, IdentitiesOnly), readable by the console's
    /// user and by the server's user that runs the restore_command.
    pub ssh_identity: Option<PathBuf>,
    /// barman: a known_hosts file holding that host's key (`UserKnownHostsFile`); host keys
    /// are always checked strictly (`StrictHostKeyChecking=yes`).
    pub ssh_known_hosts: Option<PathBuf>,
    /// barman: the `--remote-ssh-command` `barman recover` uses to reach the database host
    /// when Barman is remote (default `ssh RUN_AS@HOST` of the recovered server).
    pub barman_remote_ssh_command: Option<String>,
    /// pgbackrest: the stanza (`pgbackrest --stanza=NAME`).
    pub stanza: Option<String>,
    /// pgbackrest: its configuration file (`pgbackrest --config=FILE`); absent: its default.
    pub pgbackrest_config: Option<PathBuf>,
    /// pgbackrest: OS user pgBackRest runs as (default `postgres`).
    pub pgbackrest_user: Option<String>,
    /// walg: WAL-G's configuration file (`wal-g --config FILE`); absent: its environment.
    pub walg_config: Option<PathBuf>,
    /// walg: OS user WAL-G runs as (default `postgres`).
    pub walg_user: Option<String>,
    /// barman-cloud: where the tools keep backups and WAL, `s3://BUCKET/PREFIX`.
    pub destination: Option<String>,
    /// barman-cloud: the server name the tools were given (`... s3://B/P SERVER`).
    pub cloud_server: Option<String>,
    /// barman-cloud: the S3 API's URL (`--endpoint-url`); absent: AWS itself.
    pub endpoint_url: Option<String>,
    /// barman-cloud: the directory holding `barman-cloud-*` (default
    /// /opt/pitr-console/cloud-venv/bin, where scripts/install-object-storage puts them).
    pub cloud_tools: Option<PathBuf>,
    /// barman-cloud: the AWS profile (`--profile`); absent: the environment's credentials.
    pub aws_profile: Option<String>,
    /// barman-cloud: an AWS shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`), readable
    /// by the server's user, for replay's restore_command. Only its path is ever written.
    pub aws_credentials_file: Option<PathBuf>,
    /// barman-cloud and walg: bound of the local copy of fetched WAL, in MiB (default 4096).
    pub wal_cache_mib: Option<u64>,
    /// barman and pgbackrest: how a recovery restores the base backup and fetches WAL.
    pub restore_method: Option<RestoreMethod>,
}

/// How a tool-held backup is restored and its WAL fetched during replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestoreMethod {
    /// barman: `barman recover` with the target; WAL copied by Barman into `barman_wal/`.
    BarmanRecover,
    /// barman: `barman recover --get-wal`; WAL fetched atomically with `barman get-wal`.
    GetWal,
    /// barman: `barman recover --get-wal`; WAL fetched with barman-cli's `barman-wal-restore`.
    BarmanWalRestore,
    /// pgbackrest: `pgbackrest restore` writes the recovery settings (target included).
    Pgbackrest,
    /// pgbackrest: `pgbackrest restore --type=none`; the console writes the recovery settings
    /// with `restore_command = pgbackrest archive-get`.
    ArchiveGet,
}

impl RestoreMethod {
    pub fn kind(self) -> RepositoryKind {
        match self {
            RestoreMethod::BarmanRecover
            | RestoreMethod::GetWal
            | RestoreMethod::BarmanWalRestore => RepositoryKind::Barman,
            RestoreMethod::Pgbackrest | RestoreMethod::ArchiveGet => RepositoryKind::Pgbackrest,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub name: String,
    #[serde(default = "localhost")]
    pub host: String,
    pub ssh_user: Option<String>,
    pub ssh_port: Option<u16>,
    pub ssh_identity: Option<PathBuf>,
    /// A known_hosts file (on the console's host) holding this host's key, instead of the
    /// user's `~/.ssh/known_hosts`. Host keys are still checked strictly.
    pub ssh_known_hosts: Option<PathBuf>,
    /// OS user that owns the cluster; server-side commands run as it.
    pub run_as: Option<String>,
    pub pgdata: PathBuf,
    /// The directory holding postgresql.conf when it lives outside pgdata (Debian/Ubuntu:
    /// /etc/postgresql/15/main); the restored server starts with its postgresql.conf and
    /// includes. Default: none for pg_ctl, /etc/postgresql/V/N for pg_ctlcluster:V/N.
    pub config_dir: Option<PathBuf>,
    pub bin_dir: Option<PathBuf>,
    #[serde(default = "default_port")]
    pub port: u16,
    /// libpq-style connection string for the console's own queries.
    pub dsn: String,
    pub repository: String,
    #[serde(default)]
    pub control: Control,
    pub patroni_url: Option<String>,
    /// Shell commands, run on the server's host, that stop and start the Patroni daemon of
    /// this member (e.g. `systemctl stop patroni`). With them Patroni is stopped for the
    /// whole recovery and started again after it; a replica cannot be recovered without
    /// them (a paused Patroni still turns a recovering replica back into a standby).
    pub patroni_stop: Option<String>,
    pub patroni_start: Option<String>,
    /// `TABLE.COLUMN` holding each row's creation time: after a time target, no row may be
    /// newer than the target.
    pub time_column: Option<String>,
}

impl ServerConfig {
    pub fn is_local(&self) -> bool {
        matches!(self.host.as_str(), "localhost" | "127.0.0.1" | "::1" | "")
    }

    /// Where postgresql.conf is when it is not in pgdata: configured, or implied by control.
    pub fn config_dir(&self) -> Option<PathBuf> {
        self.config_dir
            .clone()
            .or_else(|| self.control.default_config_dir())
    }
}

fn localhost() -> String {
    "localhost".to_string()
}

fn default_port() -> u16 {
    5432
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    pub name: String,
    pub stop: String,
    pub start: String,
    pub check: Option<String>,
    /// The servers this application uses (`servers = ["db1"]`); left out, every server:
    /// recovering one server must not stop the applications of another.
    #[serde(default)]
    pub servers: Vec<String>,
}

impl AppConfig {
    /// Whether a recovery of `server` stops and starts this application.
    pub fn serves(&self, server: &str) -> bool {
        self.servers.is_empty() || self.servers.iter().any(|s| s == server)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    pub name: String,
    pub sql: String,
}
