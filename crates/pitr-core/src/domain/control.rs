//! How a server is stopped and started: the `control` key of a `[[server]]`, and what the
//! engine runs for it. Names here end up in command lines and paths, so they are checked
//! to a plain alphabet when read.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The `control` key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Control {
    /// `pg_ctl -D PGDATA` (with `-c config_file=` when `config_dir` is set).
    #[default]
    PgCtl,
    /// Debian/Ubuntu's `pg_ctlcluster VERSION NAME` (postgresql-common).
    PgCtlCluster(DebianCluster),
    /// `systemctl start|stop UNIT`; refused at config load where systemd does not run.
    Systemd { unit: String },
    /// A Patroni member: Patroni is paused and the node stopped before the recovery.
    Patroni,
    /// Accepted for monitoring only; a recovery refuses it.
    Command,
}

/// A cluster of postgresql-common, e.g. `15/main`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebianCluster {
    pub version: String,
    pub name: String,
}

impl DebianCluster {
    /// Where postgresql-common keeps the cluster's configuration (`PG_CLUSTER_CONF_ROOT`
    /// aside, which the console does not follow: set `config_dir` then).
    pub fn config_dir(&self) -> PathBuf {
        PathBuf::from(format!("/etc/postgresql/{}/{}", self.version, self.name))
    }

    /// The log `pg_ctlcluster start` writes to unless the cluster configures its own.
    pub fn log_file(&self) -> PathBuf {
        PathBuf::from(format!(
            "/var/log/postgresql/postgresql-{}-{}.log",
            self.version, self.name
        ))
    }
}

impl fmt::Display for DebianCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.version, self.name)
    }
}

/// What stops and starts the production server during a recovery. A Patroni member is
/// stopped with pg_ctl once Patroni has let go of it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Service {
    #[default]
    PgCtl,
    PgCtlCluster {
        cluster: DebianCluster,
    },
    Systemd {
        unit: String,
    },
}

impl Control {
    /// The service behind it, or `None` for `command`, which a recovery cannot drive.
    pub fn service(&self) -> Option<Service> {
        match self {
            Control::PgCtl | Control::Patroni => Some(Service::PgCtl),
            Control::PgCtlCluster(c) => Some(Service::PgCtlCluster { cluster: c.clone() }),
            Control::Systemd { unit } => Some(Service::Systemd { unit: unit.clone() }),
            Control::Command => None,
        }
    }

    /// The configuration directory this control implies when `config_dir` is not set.
    pub fn default_config_dir(&self) -> Option<PathBuf> {
        match self {
            Control::PgCtlCluster(c) => Some(c.config_dir()),
            _ => None,
        }
    }
}

const EXPECTED: &str =
    "expected pg_ctl, pg_ctlcluster:VERSION/NAME (e.g. pg_ctlcluster:15/main), systemd:UNIT (e.g. systemd:postgresql@15-main), patroni or command";

fn plain(s: &str, extra: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c) || extra.contains(c))
}

impl FromStr for Control {
    type Err = String;

    fn from_str(s: &str) -> Result<Control, String> {
        match s {
            "pg_ctl" => return Ok(Control::PgCtl),
            "patroni" => return Ok(Control::Patroni),
            "command" => return Ok(Control::Command),
            _ => {}
        }
        if let Some(unit) = s.strip_prefix("systemd:") {
            if !plain(unit, "@:\\") {
                return Err(format!(
                    "`{s}`: the unit name must be letters, digits and _.-@:\\ (e.g. systemd:postgresql@15-main)"
                ));
            }
            return Ok(Control::Systemd {
                unit: unit.to_string(),
            });
        }
        if let Some(spec) = s.strip_prefix("pg_ctlcluster:") {
            let (version, name) = spec.split_once('/').unwrap_or((spec, ""));
            let version_ok =
                !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.');
            if !version_ok || !plain(name, "") || name.starts_with('.') {
                return Err(format!(
                    "`{s}`: write it as pg_ctlcluster:VERSION/NAME as pg_lsclusters shows them, e.g. pg_ctlcluster:15/main"
                ));
            }
            return Ok(Control::PgCtlCluster(DebianCluster {
                version: version.to_string(),
                name: name.to_string(),
            }));
        }
        Err(format!("`{s}`: {EXPECTED}"))
    }
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Control::PgCtl => f.write_str("pg_ctl"),
            Control::PgCtlCluster(c) => write!(f, "pg_ctlcluster:{c}"),
            Control::Systemd { unit } => write!(f, "systemd:{unit}"),
            Control::Patroni => f.write_str("patroni"),
            Control::Command => f.write_str("command"),
        }
    }
}

impl TryFrom<String> for Control {
    type Error = String;
    fn try_from(s: String) -> Result<Control, String> {
        s.parse()
    }
}

impl From<Control> for String {
    fn from(c: Control) -> String {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_reads_back_as_written() {
        for s in [
            "pg_ctl",
            "patroni",
            "command",
            "systemd:postgresql@15-main",
            "pg_ctlcluster:15/main",
            "pg_ctlcluster:9.6/app_db",
        ] {
            let c: Control = s.parse().unwrap();
            assert_eq!(c.to_string(), s);
        }
        let c: Control = "pg_ctlcluster:15/main".parse().unwrap();
        assert_eq!(
            c.default_config_dir(),
            Some(PathBuf::from("/etc/postgresql/15/main"))
        );
    }

    #[test]
    fn names_that_would_reach_a_shell_are_refused() {
        for s in [
            "pg_ctlcluster:15",
            "pg_ctlcluster:15/",
            "pg_ctlcluster:15/ma in",
            "pg_ctlcluster:x/main",
            "pg_ctlcluster:15/../main",
            "pg_ctlcluster:15/..",
            "systemd:",
            "systemd:pg;reboot",
            "pgctl",
        ] {
            let e = s.parse::<Control>().unwrap_err();
            assert!(e.contains(s), "{e}");
        }
    }
}
