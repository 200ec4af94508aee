//! The embedded default: a real local PostgreSQL sandbox with a WAL archive, two base
//! backups, a steady workload, restore points and an incident, plus the configuration that
//! points the console at it.
//!
//! Blocking on purpose: it drives the server through its own programs (initdb, pg_ctl,
//! psql, pg_basebackup) so it works from any caller, async or not.

mod backup;
pub mod binaries;
mod build;
mod cluster;
mod config_file;
mod error;
mod paths;
mod record;
mod settings;
mod workload;

pub use build::{down, incident, status, up, LabOptions, LabStatus};
pub use config_file::{REPOSITORY_NAME, SERVER_NAME};
pub use error::LabError;
pub use paths::{default_dir, find_existing, ROOT_DEFAULT_DIR};
pub use record::{Incident, LabBackup, LabRecord, RestorePoint};

/// Port of the default lab; tests pass their own.
pub const DEFAULT_PORT: u16 = 55432;

/// The lab's WAL segment size in MiB. Not the 16 MiB default on purpose: everything that
/// reads the lab must take the size from the backup or the segments, never assume it, and
/// small segments give a busy archive (many segments, a gap that is one file) from little data.
pub const WAL_SEGMENT_MIB: u32 = 1;
