//! What a plan says about the Patroni cluster of the server it recovers: the members as
//! they are now, which one leads, and what becomes of that leader.

use crate::domain::patroni::ClusterState;
use crate::engine::recovery::PatroniSpec;

pub fn outlook(c: &ClusterState, server: &str, spec: &PatroniSpec, port: u16) -> Vec<String> {
    let members = c
        .members
        .iter()
        .map(|m| {
            let tli = m
                .timeline
                .map(|t| format!(", timeline {t}"))
                .unwrap_or_default();
            format!("{} ({}, {}{tli})", m.name, m.role.as_str(), m.state)
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut lines = vec![format!(
        "Patroni cluster{}: {members}",
        if c.paused { " (paused)" } else { "" }
    )];
    let Some(me) = c.find_node(&spec.url, port) else {
        lines.push(format!(
            "no member has the REST URL {} or port {port} of {server}: the run will stop at the Patroni step",
            spec.url
        ));
        return lines;
    };
    let how = match &spec.daemon {
        Some(d) => format!(
            "Patroni is stopped on {} for the whole recovery (`{}`) and started again after it (`{}`), the cluster paused meanwhile",
            me.name, d.stop, d.start
        ),
        None => "the cluster is paused (maintenance mode) for the recovery; Patroni keeps running on the node".into(),
    };
    match c.leader() {
        Some(l) if l.name == me.name => {
            lines.push(format!(
                "{server} is the current leader {}: clients lose the primary until it is promoted (the run asks you to type `leader`, or --confirm-leader); {how}; the other members are reinitialised from it",
                l.name
            ));
        }
        Some(_) if spec.daemon.is_none() => {
            lines.extend(refusal(c, server, spec, port));
        }
        Some(l) => {
            lines.push(format!(
                "{server} is the replica {} of the current leader {}: {how}",
                me.name, l.name
            ));
            lines.push(format!(
                "current leader {}: keeps serving clients until {} is promoted; then it hands its leader key over (POST /failover with candidate {}, it demotes itself) and is reinitialised from {} onto the new timeline, as is every other member: the safety dump of {server} (taken before the stop) holds the data as it was then, writes after it are lost with the reinitialisation",
                l.name, me.name, me.name, me.name
            ));
        }
        None => lines.push(format!(
            "the cluster has no leader now: {} takes the leader key once promoted; {how}",
            me.name
        )),
    }
    lines
}

/// Why recovering this member is refused before anything runs, if it is: a replica whose
/// Patroni the run cannot stop.
pub fn refusal(c: &ClusterState, server: &str, spec: &PatroniSpec, port: u16) -> Option<String> {
    let me = c.find_node(&spec.url, port)?;
    if spec.daemon.is_some() || me.role.is_leader() {
        return None;
    }
    Some(crate::engine::steps::patroni::replica_refusal(
        server,
        &me.name,
        c.leader().map(|l| l.name.as_str()),
    ))
}
