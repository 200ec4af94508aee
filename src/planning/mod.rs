//! From what the operator asked (a server and a target) to the engine's inputs: the
//! configuration, the repository's catalog and the role decide the backup, the WAL, the
//! restore command and the ports; a refusal says why and what would work instead.
//! The CLI and the TUI both plan through here, so they cannot disagree.

pub mod abandon;
pub mod cost;
pub mod drill_run;
pub mod health;
pub mod live_checks;
pub mod patroni;
pub mod predict;
pub mod prepare;
pub mod resume_check;
pub mod run_request;
pub mod second_primary;
pub mod side_dir;
pub mod spool;
