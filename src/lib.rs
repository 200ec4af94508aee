//! pitr-console: a terminal console for PostgreSQL point-in-time recovery.
//!
//! Layers, dependencies pointing down only: `ui` -> `app` -> `engine` -> `domain`.
//! `adapters` implement the ports that `engine` defines; `lab` builds the local sandbox.

pub mod adapters;
pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod engine;
pub mod lab;
pub mod planning;
pub mod report;
pub mod tui;
pub mod ui;
pub mod wal;
