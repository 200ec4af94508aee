//! A recovered server promoted in place archives into its repository from then on. When
//! another server that archives into the same repository runs as a primary, the two would
//! write their timelines side by side there: the standby of a plain streaming pair, or a
//! member recovered without its cluster manager. Refused before anything runs.

use crate::config::{Config, ServerConfig};
use crate::engine::recovery::{RecoveryInputs, RestoreMode};

/// The servers to ask whether they run as a primary: the others configured on the same
/// repository. A side restore never archives; a Patroni member hands the leader over.
pub fn neighbours<'a>(config: &'a Config, inputs: &RecoveryInputs) -> Vec<&'a ServerConfig> {
    if !matches!(inputs.mode, RestoreMode::InPlace) || inputs.server.patroni.is_some() {
        return Vec::new();
    }
    let Some(me) = config.servers.iter().find(|s| s.name == inputs.server.name) else {
        return Vec::new();
    };
    config
        .servers
        .iter()
        .filter(|s| s.name != me.name && s.repository == me.repository)
        .collect()
}

pub fn refusal(server: &str, repository: &str, primary: &str) -> String {
    format!(
        "{server} would become a second primary archiving into repository `{repository}`: {primary} archives there and runs as a primary now (pg_is_in_recovery() is false). Stop {primary} first if {server} is to replace it, recover {server} beside production (--restore-to DIR --port N), or manage both with Patroni (control = \"patroni\") so the leader is handed over"
    )
}
