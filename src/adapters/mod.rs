//! Implementations of the engine's ports against the real world: processes, PostgreSQL,
//! repositories.

pub mod run_as;
