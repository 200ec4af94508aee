//! pitr-console: a terminal console for PostgreSQL point-in-time recovery.
//!
//! Layers, dependencies pointing down only: `ui` -> `app` -> `engine` -> `domain`.
//! `domain`, `wal` and `engine` live in the `pitr-core` crate, `adapters` and `config` in
//! `pitr-adapters`; this crate holds planning, the app model, the screens, the CLI and the lab.

pub use pitr_adapters as adapters;
pub use pitr_adapters::config;
pub use pitr_core::{domain, engine, wal};

pub mod app;
pub mod cli;
pub mod lab;
pub mod planning;
pub mod report;
pub mod tui;
pub mod ui;
