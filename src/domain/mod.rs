//! Pure types and maths: no IO, no async runtime, no terminal.

pub mod backup;
pub mod catalog;
pub mod lsn;
pub mod segment;
pub mod target;
pub mod timeline;
