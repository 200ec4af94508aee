//! Who is at the keyboard: what the engine lets a run do depends on it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, in place and side.
    #[default]
    Operator,
    /// Side restores only: the monthly drill never touches a running server.
    Drill,
    /// Read-only: plans and explores, never starts a run.
    Trainee,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Operator, Role::Drill, Role::Trainee];

    /// The word a configuration file or the command line uses.
    pub fn name(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Drill => "drill",
            Role::Trainee => "trainee",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: use operator, drill or trainee")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_reads_back_from_its_name() {
        for r in Role::ALL {
            assert_eq!(r.name().parse::<Role>(), Ok(r));
        }
        assert!("admin".parse::<Role>().is_err());
    }
}
