//! The differential harness: real PostgreSQL clusters shaped like incidents, the console's
//! verdict per target, and a real recovery per target to check it against.

#![allow(dead_code)]

pub mod cluster;
pub mod compare;
pub mod console;
pub mod model;
pub mod restore;
pub mod scenario;
pub mod shape;
pub mod targets;
