//! A Patroni cluster as its REST API describes it: members with roles, timelines and lag
//! (`GET /cluster`), one node's own view (`GET /patroni`), and the timeline history
//! (`GET /history`). Parsing only; the HTTP lives in `adapters::patroni`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Leader,
    StandbyLeader,
    SyncStandby,
    Replica,
    /// A role this console does not know (a newer Patroni), kept as Patroni spelled it.
    Other(String),
}

impl Role {
    pub fn parse(s: &str) -> Role {
        match s {
            "leader" | "master" | "primary" => Role::Leader,
            "standby_leader" => Role::StandbyLeader,
            "sync_standby" => Role::SyncStandby,
            "replica" => Role::Replica,
            other => Role::Other(other.to_string()),
        }
    }

    pub fn is_leader(&self) -> bool {
        matches!(self, Role::Leader | Role::StandbyLeader)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Role::Leader => "leader",
            Role::StandbyLeader => "standby leader",
            Role::SyncStandby => "sync standby",
            Role::Replica => "replica",
            Role::Other(s) => s,
        }
    }
}

/// How far a replica is behind the leader, as Patroni reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lag {
    /// The leader itself: no lag applies.
    None,
    Bytes(u64),
    /// Patroni has no position for the member (stopped, starting, unreachable).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub role: Role,
    /// `running`, `streaming`, `stopped`, `starting`, `creating replica`...
    pub state: String,
    pub timeline: Option<u32>,
    pub lag: Lag,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// The member's own REST endpoint (`.../patroni`).
    pub api_url: Option<String>,
}

impl Member {
    /// The base URL of the member's REST API (without `/patroni`).
    pub fn api_base(&self) -> Option<String> {
        self.api_url.as_ref().map(|u| {
            u.trim_end_matches('/')
                .trim_end_matches("/patroni")
                .to_string()
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterState {
    pub members: Vec<Member>,
    /// Maintenance mode: Patroni neither starts, stops nor fails over anything.
    pub paused: bool,
}

impl ClusterState {
    pub fn leader(&self) -> Option<&Member> {
        self.members.iter().find(|m| m.role.is_leader())
    }

    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The member whose REST API is at `url`, else the one whose PostgreSQL listens on
    /// `port` (older Patroni versions do not tell a node its own name in `/patroni`).
    pub fn find_node(&self, url: &str, port: u16) -> Option<&Member> {
        let want = normalise_url(url);
        self.members
            .iter()
            .find(|m| m.api_base().map(|b| normalise_url(&b)) == Some(want.clone()))
            .or_else(|| {
                let by_port: Vec<&Member> = self
                    .members
                    .iter()
                    .filter(|m| m.port == Some(port))
                    .collect();
                (by_port.len() == 1).then(|| by_port[0])
            })
    }
}

fn normalise_url(u: &str) -> String {
    u.trim_end_matches('/')
        .replace("://localhost", "://127.0.0.1")
        .to_ascii_lowercase()
}

/// One node's own report (`GET /patroni`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Newer Patroni versions name the node here; 3.0 does not.
    pub name: Option<String>,
    pub scope: Option<String>,
    pub state: String,
    pub role: Role,
    pub timeline: Option<u32>,
    pub paused: bool,
    pub server_version: Option<u32>,
    pub system_identifier: Option<String>,
}

/// A line of `GET /history`: the timeline that ended at `lsn`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub timeline: u32,
    pub lsn: u64,
    pub reason: String,
    pub timestamp: Option<String>,
    pub new_leader: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected Patroni {what} answer: {why}")]
pub struct ParseError {
    pub what: &'static str,
    pub why: String,
}

fn bad(what: &'static str, why: impl Into<String>) -> ParseError {
    ParseError {
        what,
        why: why.into(),
    }
}

fn json(what: &'static str, body: &str) -> Result<Value, ParseError> {
    serde_json::from_str(body).map_err(|e| bad(what, format!("not JSON ({e})")))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn small(v: &Value, key: &str) -> Option<u32> {
    v.get(key)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

/// Parses `GET /cluster`.
pub fn parse_cluster(body: &str) -> Result<ClusterState, ParseError> {
    let v = json("/cluster", body)?;
    let list = v
        .get("members")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("/cluster", "no `members` list"))?;
    let mut members = Vec::with_capacity(list.len());
    for m in list {
        let name = text(m, "name").ok_or_else(|| bad("/cluster", "a member without a name"))?;
        let role = Role::parse(&text(m, "role").unwrap_or_default());
        let lag = match m.get("lag") {
            _ if role.is_leader() => Lag::None,
            Some(Value::Number(n)) => n.as_u64().map(Lag::Bytes).unwrap_or(Lag::Unknown),
            _ => Lag::Unknown,
        };
        members.push(Member {
            name,
            role,
            state: text(m, "state").unwrap_or_default(),
            timeline: small(m, "timeline"),
            lag,
            host: text(m, "host"),
            port: m
                .get("port")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok()),
            api_url: text(m, "api_url"),
        });
    }
    Ok(ClusterState {
        members,
        paused: v.get("pause").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// Parses `GET /patroni` (also the body of a 503 from it: a node that is not running).
pub fn parse_node(body: &str) -> Result<NodeStatus, ParseError> {
    let v = json("/patroni", body)?;
    let patroni = v.get("patroni").cloned().unwrap_or(Value::Null);
    Ok(NodeStatus {
        name: text(&patroni, "name"),
        scope: text(&patroni, "scope"),
        state: text(&v, "state").ok_or_else(|| bad("/patroni", "no `state`"))?,
        role: Role::parse(&text(&v, "role").unwrap_or_default()),
        timeline: small(&v, "timeline"),
        paused: v.get("pause").and_then(Value::as_bool).unwrap_or(false),
        server_version: small(&v, "server_version"),
        system_identifier: text(&v, "database_system_identifier"),
    })
}

/// Parses `GET /history`: `[[timeline, lsn, reason, timestamp, new_leader], ...]`.
pub fn parse_history(body: &str) -> Result<Vec<HistoryEntry>, ParseError> {
    let v = json("/history", body)?;
    let rows = v.as_array().ok_or_else(|| bad("/history", "not a list"))?;
    rows.iter()
        .map(|r| {
            let r = r
                .as_array()
                .ok_or_else(|| bad("/history", "an entry that is not a list"))?;
            let num = |i: usize| r.get(i).and_then(Value::as_u64);
            let s = |i: usize| r.get(i).and_then(Value::as_str).map(str::to_string);
            Ok(HistoryEntry {
                timeline: num(0)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| bad("/history", "an entry without a timeline"))?,
                lsn: num(1).ok_or_else(|| bad("/history", "an entry without an LSN"))?,
                reason: s(2).unwrap_or_default(),
                timestamp: s(3),
                new_leader: s(4),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTER: &str = r#"{"members": [
        {"name": "pg1", "role": "leader", "state": "running", "api_url": "http://127.0.0.1:8008/patroni",
         "host": "127.0.0.1", "port": 5432, "timeline": 3},
        {"name": "pg2", "role": "replica", "state": "streaming", "api_url": "http://127.0.0.1:8009/patroni",
         "host": "127.0.0.1", "port": 5433, "timeline": 3, "lag": 1024},
        {"name": "pg3", "role": "sync_standby", "state": "stopped", "host": "10.0.0.3", "port": 5432,
         "lag": "unknown"}
    ], "pause": true}"#;

    #[test]
    fn cluster_members_roles_and_lag() {
        let c = parse_cluster(CLUSTER).unwrap();
        assert!(c.paused);
        assert_eq!(c.leader().unwrap().name, "pg1");
        assert_eq!(c.members[0].lag, Lag::None);
        assert_eq!(c.members[1].lag, Lag::Bytes(1024));
        assert_eq!(c.members[1].timeline, Some(3));
        assert_eq!(c.members[2].role, Role::SyncStandby);
        assert_eq!(c.members[2].lag, Lag::Unknown);
        assert_eq!(c.members[2].timeline, None);
        assert_eq!(
            c.members[1].api_base().as_deref(),
            Some("http://127.0.0.1:8009")
        );
    }

    #[test]
    fn a_node_is_found_by_its_api_url_then_by_port() {
        let c = parse_cluster(CLUSTER).unwrap();
        assert_eq!(
            c.find_node("http://localhost:8009/", 1).unwrap().name,
            "pg2"
        );
        assert_eq!(c.find_node("http://other:1", 5433).unwrap().name, "pg2");
        assert!(c.find_node("http://other:1", 5432).is_none(), "ambiguous");
    }

    #[test]
    fn unpaused_cluster_has_no_pause_key() {
        let c = parse_cluster(r#"{"members": []}"#).unwrap();
        assert!(!c.paused);
        assert!(parse_cluster(r#"{"nodes": []}"#).is_err());
        assert!(parse_cluster("<html>").is_err());
    }

    #[test]
    fn node_status() {
        let n = parse_node(
            r#"{"state": "running", "role": "master", "server_version": 150004, "timeline": 2,
                "database_system_identifier": "7301", "pause": true,
                "patroni": {"version": "3.0.2", "scope": "demo"}}"#,
        )
        .unwrap();
        assert_eq!(n.role, Role::Leader);
        assert!(n.paused);
        assert_eq!(n.scope.as_deref(), Some("demo"));
        assert_eq!(n.name, None);
        assert_eq!(n.timeline, Some(2));
        let stopped = parse_node(r#"{"state": "stopped", "role": "replica"}"#).unwrap();
        assert!(!stopped.paused);
        assert_eq!(stopped.timeline, None);
    }

    #[test]
    fn history() {
        let h = parse_history(
            r#"[[1, 25623960, "no recovery target specified", "2019-09-23T16:57:57+02:00", "pg2"],
                [2, 25624344, "no recovery target specified"]]"#,
        )
        .unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].lsn, 25623960);
        assert_eq!(h[0].new_leader.as_deref(), Some("pg2"));
        assert_eq!(h[1].timestamp, None);
        assert!(parse_history(r#"[["x"]]"#).is_err());
    }
}
