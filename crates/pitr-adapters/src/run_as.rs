//! Running server-side commands as the OS user that owns the cluster.
//!
//! `initdb` and `postgres` refuse to run as root, and a data directory must be owned by the
//! user the server runs as. The same rule holds on real servers, so the lab and the engine
//! both wrap their commands through here.

use nix::unistd::{Uid, User};
use std::ffi::OsStr;
use std::process::Command;

/// How a command reaches the wanted user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Switch {
    /// Already that user (or no user was asked for).
    Direct,
    /// We are root: `runuser -u USER --` needs no password and no sudoers entry.
    Runuser(String),
    /// Another unprivileged user: `sudo -n -u USER --`, failing instead of prompting.
    Sudo(String),
}

impl Switch {
    /// Decides how to become `user` from the current effective user.
    pub fn to(user: Option<&str>) -> Switch {
        let Some(user) = user else {
            return Switch::Direct;
        };
        let euid = Uid::effective();
        let current = User::from_uid(euid).ok().flatten().map(|u| u.name);
        if current.as_deref() == Some(user) {
            Switch::Direct
        } else if euid.is_root() {
            Switch::Runuser(user.to_string())
        } else {
            Switch::Sudo(user.to_string())
        }
    }

    /// The words to put before a command line (empty for `Direct`).
    pub fn prefix(&self) -> Vec<String> {
        match self {
            Switch::Direct => Vec::new(),
            Switch::Runuser(u) => vec!["runuser".into(), "-u".into(), u.clone(), "--".into()],
            Switch::Sudo(u) => vec![
                "sudo".into(),
                "-n".into(),
                "-u".into(),
                u.clone(),
                "--".into(),
            ],
        }
    }

    /// A `Command` for `program args...` run as the wanted user.
    pub fn command<S: AsRef<OsStr>>(&self, program: S) -> Command {
        let prefix = self.prefix();
        match prefix.split_first() {
            None => Command::new(program),
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(program);
                c
            }
        }
    }
}

/// The user a server's files should belong to when this process must create them:
/// `postgres` when running as root (PostgreSQL refuses root), else the current user.
pub fn default_server_user() -> Option<String> {
    if Uid::effective().is_root() {
        Some("postgres".to_string())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_user_means_direct() {
        assert_eq!(Switch::to(None), Switch::Direct);
        assert!(Switch::Direct.prefix().is_empty());
    }

    #[test]
    fn prefixes() {
        assert_eq!(
            Switch::Runuser("postgres".into()).prefix().join(" "),
            "runuser -u postgres --"
        );
        assert_eq!(
            Switch::Sudo("postgres".into()).prefix().join(" "),
            "sudo -n -u postgres --"
        );
        let c = Switch::Runuser("postgres".into()).command("initdb");
        assert_eq!(c.get_program(), "runuser");
        let args: Vec<_> = c.get_args().collect();
        assert_eq!(args, ["-u", "postgres", "--", "initdb"]);
    }
}
