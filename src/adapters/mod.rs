//! Implementations of the engine's ports against the real world: processes, PostgreSQL,
//! repositories.

pub mod barman;
pub mod barman_cloud;
pub mod catalog;
pub mod drill_checks;
pub mod export;
pub mod fs;
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
