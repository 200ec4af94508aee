//! pitr-console: a terminal console for PostgreSQL point-in-time recovery.
//!
//! Layers, dependencies pointing down only: `ui` -> `app` -> `engine` -> `domain`.
//! `adapters` implement the ports that `engine` defines; `lab` builds the local sandbox.

pub mod adapters;
pub mod domain;
pub mod wal;
