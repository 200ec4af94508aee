//! Servers on other hosts: their commands and file operations run over SSH.
//!
//! One ControlMaster per host (a session cache keyed by host, user and port), opened by the
//! `openssh` crate with BatchMode (never a password prompt) and strict host key checking
//! unless told otherwise; key or agent authentication. Commands are multiplexed over the
//! master; `run_as` becomes `sudo -n -u USER --` on the remote side. A master that died
//! between two commands is reopened; one that dies while a command runs fails that command
//! with "lost connection to HOST", and the step with it, so the run can be resumed.

mod commands;
mod files;

pub use commands::RemoteCommands;
pub use files::RemoteFs;

use crate::config::model::ServerConfig;
use crate::engine::ports::{PortError, Ports};
use openssh::{KnownHosts, Session, SessionBuilder};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where and how to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub host: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// A private key; without it the agent and ssh's defaults are used.
    pub identity: Option<PathBuf>,
    /// A known_hosts file other than the user's own (tests, dedicated fleets).
    pub known_hosts: Option<PathBuf>,
    /// `Strict` unless the operator chose otherwise: an unknown host key refuses the login.
    pub host_key_check: HostKeyCheck,
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyCheck {
    #[default]
    Strict,
    /// Accept and remember a host never seen; still refuse a changed key.
    AcceptNew,
}

impl SshTarget {
    pub fn new(host: impl Into<String>) -> SshTarget {
        SshTarget {
            host: host.into(),
            user: None,
            port: None,
            identity: None,
            known_hosts: None,
            host_key_check: HostKeyCheck::Strict,
            connect_timeout: Duration::from_secs(15),
        }
    }

    /// The SSH target of a configured server; None when it is this machine.
    pub fn for_server(s: &ServerConfig) -> Option<SshTarget> {
        if s.is_local() {
            return None;
        }
        let mut t = SshTarget::new(s.host.clone());
        t.user = s.ssh_user.clone();
        t.port = s.ssh_port;
        t.identity = s.ssh_identity.clone();
        t.known_hosts = s.ssh_known_hosts.clone();
        Some(t)
    }

    /// `user@host:port` as the operator reads it in messages.
    pub fn label(&self) -> String {
        let mut s = String::new();
        if let Some(u) = &self.user {
            s.push_str(&format!("{u}@"));
        }
        s.push_str(&self.host);
        if let Some(p) = self.port {
            s.push_str(&format!(":{p}"));
        }
        s
    }

    /// The user commands run as when no `run_as` is asked: the login user.
    fn login_user(&self) -> Option<String> {
        self.user.clone().or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::Uid::effective())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
    }

    fn key(&self) -> (String, Option<String>, Option<u16>) {
        (self.host.clone(), self.user.clone(), self.port)
    }

    fn builder(&self) -> SessionBuilder {
        let mut b = SessionBuilder::default();
        b.known_hosts_check(match self.host_key_check {
            HostKeyCheck::Strict => KnownHosts::Strict,
            HostKeyCheck::AcceptNew => KnownHosts::Add,
        });
        b.connect_timeout(self.connect_timeout);
        b.server_alive_interval(Duration::from_secs(5));
        // A master left behind by a killed console goes away by itself.
        if let Some(idle) = std::num::NonZeroUsize::new(600) {
            b.control_persist(openssh::ControlPersist::IdleFor(idle));
        }
        if let Some(u) = &self.user {
            b.user(u.clone());
        }
        if let Some(p) = self.port {
            b.port(p);
        }
        if let Some(k) = &self.identity {
            b.keyfile(k);
        }
        if let Some(k) = &self.known_hosts {
            b.user_known_hosts_file(k);
        }
        b
    }
}

type Key = (String, Option<String>, Option<u16>);

/// The open masters, one per host+user+port, shared by every runner of the process.
#[derive(Default)]
pub struct SshPool {
    sessions: tokio::sync::Mutex<HashMap<Key, Arc<Session>>>,
}

impl SshPool {
    pub fn new() -> Arc<SshPool> {
        Arc::new(SshPool::default())
    }

    /// The master for `t`, opened (or reopened, if it died since the last command) as needed.
    pub async fn session(&self, t: &SshTarget) -> Result<Arc<Session>, PortError> {
        let mut sessions = self.sessions.lock().await;
        if let Some(s) = sessions.get(&t.key()) {
            if s.check().await.is_ok() {
                return Ok(s.clone());
            }
            tracing::info!(host = %t.label(), "SSH master gone; reconnecting");
            sessions.remove(&t.key());
        }
        let s = t
            .builder()
            .connect(&t.host)
            .await
            .map_err(|e| connect_error(t, &e))?;
        let s = Arc::new(s);
        sessions.insert(t.key(), s.clone());
        Ok(s)
    }

    /// Whether the master for `t` is open and answering (without opening one).
    pub async fn is_alive(&self, t: &SshTarget) -> bool {
        let sessions = self.sessions.lock().await;
        match sessions.get(&t.key()) {
            Some(s) => s.check().await.is_ok(),
            None => false,
        }
    }

    /// The control socket of the open master for `t` (tests use it to cut the connection).
    pub async fn control_socket(&self, t: &SshTarget) -> Option<PathBuf> {
        let sessions = self.sessions.lock().await;
        sessions
            .get(&t.key())
            .map(|s| s.control_socket().to_path_buf())
    }

    /// Closes every master (at exit: masters otherwise outlive the process for a while).
    pub async fn close_all(&self) {
        let drained: Vec<Arc<Session>> =
            self.sessions.lock().await.drain().map(|(_, s)| s).collect();
        for s in drained {
            if let Ok(s) = Arc::try_unwrap(s) {
                let _ = s.close().await;
            }
        }
    }
}

fn connect_error(t: &SshTarget, e: &openssh::Error) -> PortError {
    let mut detail = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        detail.push_str(&format!(": {s}"));
        src = s.source();
    }
    let hint = if detail.contains("Host key verification failed") {
        let file = t
            .known_hosts
            .as_ref()
            .map_or("known_hosts".to_string(), |f| f.display().to_string());
        format!(
            "; the host key of {} is not in {file}: check it and add it (ssh-keyscan, then compare the fingerprint)",
            t.host
        )
    } else if detail.contains("Permission denied") {
        "; the key is refused: set ssh_identity or load the key into ssh-agent".to_string()
    } else {
        String::new()
    };
    PortError::new(
        crate::engine::ports::PortErrorKind::Unreachable,
        format!(
            "cannot open an SSH connection to {}: {}{hint}",
            t.label(),
            detail.trim()
        ),
    )
}

/// The ports for a server on `target`: commands and files over SSH, SQL by the server's
/// DSN (which must reach the remote server over the network), Patroni over HTTP.
pub fn remote_ports(target: SshTarget, run_as: Option<String>, pool: Arc<SshPool>) -> Ports {
    let commands = RemoteCommands::new(target, pool);
    Ports {
        fs: Arc::new(RemoteFs::new(commands.clone(), run_as)),
        commands: Arc::new(commands),
        sql: Arc::new(super::postgres::Postgres),
        patroni: Arc::new(super::patroni::RestClient::default()),
    }
}

/// The ports for a configured server: local when its host is this machine, else SSH.
pub fn ports_for(server: &ServerConfig, pool: &Arc<SshPool>) -> Ports {
    match SshTarget::for_server(server) {
        None => super::fs::local_ports(),
        Some(t) => remote_ports(t, server.run_as.clone(), pool.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(host: &str) -> ServerConfig {
        ServerConfig {
            name: "db1".into(),
            host: host.into(),
            ssh_user: Some("postgres".into()),
            ssh_port: Some(2222),
            ssh_identity: Some("/k".into()),
            ssh_known_hosts: Some("/etc/pitr/known_hosts".into()),
            run_as: Some("postgres".into()),
            pgdata: "/d".into(),
            config_dir: None,
            bin_dir: None,
            port: 5432,
            dsn: String::new(),
            repository: "r".into(),
            control: crate::domain::control::Control::PgCtl,
            patroni_url: None,
            patroni_stop: None,
            patroni_start: None,
            time_column: None,
        }
    }

    #[test]
    fn local_hosts_have_no_ssh_target() {
        assert!(SshTarget::for_server(&server("localhost")).is_none());
        let t = SshTarget::for_server(&server("db1.example")).unwrap();
        assert_eq!(t.label(), "postgres@db1.example:2222");
        assert_eq!(t.host_key_check, HostKeyCheck::Strict);
        assert_eq!(t.identity.as_deref(), Some(std::path::Path::new("/k")));
        assert_eq!(
            t.known_hosts.as_deref(),
            Some(std::path::Path::new("/etc/pitr/known_hosts"))
        );
    }
}
