//! Implementations of the engine's ports against the real world: processes, PostgreSQL,
//! repositories.

<<<<<<< HEAD
pub mod catalog;
=======
pub mod fs;
pub mod postgres;
pub mod process;
>>>>>>> engine
pub mod run_as;
