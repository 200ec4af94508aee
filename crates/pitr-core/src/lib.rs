//! pitr-console's core: what a recovery is and how it runs, with no terminal, SSH or
//! PostgreSQL client in reach (the compiler keeps it so: this crate does not depend on them).
//!
//! `domain` is pure (types and maths, no IO); `wal` reads PostgreSQL's WAL; `engine` runs the
//! journaled steps through the ports it defines, which `pitr-adapters` implements.

pub mod domain;
pub mod engine;
pub mod wal;
