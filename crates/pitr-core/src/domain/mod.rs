//! Pure types and maths: no IO, no async runtime, no terminal.

pub mod assess;
pub mod backup;
pub mod backup_chain;
pub mod catalog;
pub mod control;
pub mod coverage;
pub mod health;
pub mod live_tail;
pub mod lsn;
pub mod paths;
pub mod patroni;
pub mod pg_version;
pub mod prediction;
pub mod restore_command;
pub mod role;
pub mod segment;
pub mod server_status;
pub mod setting;
pub mod target;
pub mod time_input;
pub mod timeline;
pub mod times;
pub mod wal_spool;
pub mod zone;
