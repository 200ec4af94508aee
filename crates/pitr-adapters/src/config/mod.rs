//! The configuration file: its shape, where it is found, and how mistakes are reported.

pub mod load;
pub mod model;
pub mod policy;

pub use crate::domain::role::Role;
pub use load::{load, locate, ConfigError, Origin};
pub use model::{
    AppConfig, CheckConfig, Config, RepositoryConfig, RepositoryKind, RestoreMethod, ServerConfig,
};
#[cfg(test)]
mod example_test;
