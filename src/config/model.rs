//! The configuration file's shape. Every key is documented in `pitr-console.toml.example`.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Display and default input zone (IANA name or offset); UTC when absent.
    pub timezone: Option<String>,
    /// Where run journals, locks and reports go.
    pub journal_dir: Option<PathBuf>,
    /// Role when the command line gives none.
    pub role: Option<Role>,
    #[serde(default, rename = "repository")]
    pub repositories: Vec<RepositoryConfig>,
    #[serde(default, rename = "server")]
    pub servers: Vec<ServerConfig>,
    #[serde(default, rename = "app")]
    pub apps: Vec<AppConfig>,
    #[serde(default, rename = "check")]
    pub checks: Vec<CheckConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Operator,
    Drill,
    Trainee,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepositoryKind {
    Local,
    Barman,
    Pgbackrest,
    Walg,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryConfig {
    pub name: String,
    pub kind: RepositoryKind,
    /// local: one pg_basebackup output per subdirectory.
    pub backups: Option<PathBuf>,
    /// local: archived segments, `.history` and `.backup` files.
    pub wal_archive: Option<PathBuf>,
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
    /// OS user that owns the cluster; server-side commands run as it.
    pub run_as: Option<String>,
    pub pgdata: PathBuf,
    pub bin_dir: Option<PathBuf>,
    #[serde(default = "default_port")]
    pub port: u16,
    /// libpq-style connection string for the console's own queries.
    pub dsn: String,
    pub repository: String,
    #[serde(default = "default_control")]
    pub control: String,
    pub patroni_url: Option<String>,
    /// `TABLE.COLUMN` holding each row's creation time: after a time target, no row may be
    /// newer than the target.
    pub time_column: Option<String>,
}

impl ServerConfig {
    pub fn is_local(&self) -> bool {
        matches!(self.host.as_str(), "localhost" | "127.0.0.1" | "::1" | "")
    }
}

fn localhost() -> String {
    "localhost".to_string()
}

fn default_port() -> u16 {
    5432
}

fn default_control() -> String {
    "pg_ctl".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    pub name: String,
    pub stop: String,
    pub start: String,
    pub check: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    pub name: String,
    pub sql: String,
}
