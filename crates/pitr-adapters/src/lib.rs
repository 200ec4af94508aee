//! Implementations of the engine's ports against the real world: processes, PostgreSQL,
//! SSH, repositories; and the configuration file they are built from.

// The core's modules under the names the code has always used (`crate::engine::...`).
use pitr_core::{domain, engine, wal};

pub mod config;

pub mod backup_links;
pub mod barman;
pub mod barman_cloud;
pub mod catalog;
pub mod drill_checks;
pub mod export;
pub mod fs;
pub mod live_tail;
pub mod local_repo;
pub mod patroni;
pub mod pgbackrest;
pub mod postgres;
pub mod process;
pub mod readable;
pub mod relation_names;
pub mod repair;
pub mod repo_tool;
pub mod run_as;
pub mod server_status;
pub mod ssh;
pub mod wal_fetch;
pub mod walg;
