//! The site's role policy: which OS users and groups may use which role at most. The file
//! is trusted only when root owns it and nobody else may write it; `--role` and the
//! configuration's `role` can then only lower what it allows.
//!
//! ```toml
//! default = "trainee"          # users the file does not name (trainee when absent)
//! [users]
//! alice = "operator"
//! [groups]
//! dba = "operator"
//! drills = "drill"
//! ```

use crate::domain::role::Role;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub const POLICY_FILE: &str = "/etc/pitr-console/policy.toml";
/// Another policy file, for tests; ignored unless that file is root-owned and private.
pub const POLICY_ENV: &str = "PITR_CONSOLE_POLICY";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub default: Option<Role>,
    #[serde(default)]
    pub users: BTreeMap<String, Role>,
    #[serde(default)]
    pub groups: BTreeMap<String, Role>,
}

/// How much a role may do, for "at most" comparisons.
fn rank(r: Role) -> u8 {
    match r {
        Role::Trainee => 0,
        Role::Drill => 1,
        Role::Operator => 2,
    }
}

pub fn lower(a: Role, b: Role) -> Role {
    if rank(a) <= rank(b) {
        a
    } else {
        b
    }
}

impl Policy {
    /// The highest role for `user` in `groups`.
    pub fn ceiling(&self, user: &str, groups: &[String]) -> Role {
        let named = self
            .users
            .get(user)
            .into_iter()
            .chain(groups.iter().filter_map(|g| self.groups.get(g)))
            .copied()
            .max_by_key(|r| rank(*r));
        named.unwrap_or(self.default.unwrap_or(Role::Trainee))
    }
}

/// The policy in force: the default file, or the test override when it may be trusted.
/// A policy file that exists but cannot be trusted or read is an error, never "no policy".
pub fn load() -> Result<Option<(PathBuf, Policy)>, String> {
    let path = std::env::var_os(POLICY_ENV)
        .map(PathBuf::from)
        .filter(|p| trusted(p).is_ok())
        .unwrap_or_else(|| PathBuf::from(POLICY_FILE));
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(None);
    }
    trusted(&path)?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("role policy {}: {e}", path.display()))?;
    let policy = toml::from_str(&text)
        .map_err(|e| format!("role policy {}: {}", path.display(), e.message()))?;
    Ok(Some((path, policy)))
}

fn trusted(path: &Path) -> Result<(), String> {
    let m = std::fs::symlink_metadata(path)
        .map_err(|e| format!("role policy {}: {e}", path.display()))?;
    if !m.is_file() || m.uid() != 0 || m.mode() & 0o022 != 0 {
        return Err(format!(
            "role policy {} must be a regular file owned by root that only root may write (chown root {0}; chmod 644 {0}); refusing to run until it is",
            path.display()
        ));
    }
    Ok(())
}

/// The effective user's name and the names of its groups.
pub fn who_am_i() -> (String, Vec<String>) {
    use nix::unistd::{getgroups, Gid, Group, Uid, User};
    let user = User::from_uid(Uid::effective()).ok().flatten();
    let name = user
        .as_ref()
        .map(|u| u.name.clone())
        .unwrap_or_else(|| Uid::effective().to_string());
    let mut gids: Vec<Gid> = getgroups().unwrap_or_default();
    gids.push(Gid::effective());
    if let Some(u) = &user {
        gids.push(u.gid);
    }
    let groups = gids
        .into_iter()
        .filter_map(|g| Group::from_gid(g).ok().flatten().map(|g| g.name))
        .collect();
    (name, groups)
}

/// The role to act as: what the policy allows this user (or, without a policy, what the
/// configuration says, operator when it says nothing), lowered by the configuration and by
/// `--role`, never raised.
pub fn effective_role(flag: Option<Role>, configured: Option<Role>) -> Result<Role, String> {
    let ceiling = match load()? {
        Some((_, policy)) => {
            let (user, groups) = who_am_i();
            policy.ceiling(&user, &groups)
        }
        None => configured.unwrap_or(Role::Operator),
    };
    let role = [configured, flag]
        .into_iter()
        .flatten()
        .fold(ceiling, lower);
    Ok(role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_and_config_only_lower() {
        let p: Policy =
            toml::from_str("[users]\nalice = \"drill\"\n[groups]\ndba = \"operator\"\n").unwrap();
        assert_eq!(p.ceiling("alice", &[]), Role::Drill);
        assert_eq!(p.ceiling("alice", &["dba".into()]), Role::Operator);
        assert_eq!(p.ceiling("bob", &[]), Role::Trainee);
        assert_eq!(lower(Role::Trainee, Role::Operator), Role::Trainee);
        assert_eq!(lower(Role::Operator, Role::Drill), Role::Drill);
    }

    #[test]
    fn an_untrusted_override_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("policy.toml");
        std::fs::write(&f, "default = \"operator\"").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(trusted(&f).unwrap_err().contains("owned by root"));
    }
}
