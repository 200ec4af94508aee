//! Before a run is resumed, every command and path it will use is rebuilt from the trusted
//! configuration and compared with what its journal holds. A journal may repeat the
//! configuration, never dictate it: a difference refuses the resume and names the input,
//! without showing the value the configuration gives (that would tell a forger what to write).

use super::prepare::{assemble, find_repository, find_server, Journaled, Refusal};
use crate::config::Config;
use crate::engine::journal::redact_value;
use crate::engine::recovery::RecoveryInputs;
use serde_json::Value;

/// The inputs rebuilt from `config`, when the journal's (redacted) copy matches them.
pub fn check(config: &Config, journaled: &RecoveryInputs) -> Result<RecoveryInputs, Refusal> {
    let server = find_server(config, &journaled.server.name)?;
    let repo = find_repository(config, server)?;
    let rebuilt = assemble(
        config,
        server,
        repo,
        Journaled {
            backup: journaled.backup.clone(),
            target: journaled.target.clone(),
            mode: journaled.mode.clone(),
            action: journaled.action,
            role: journaled.role,
            journal_dir: journaled.journal_dir.clone(),
            backup_check: journaled.backup_check.clone(),
            new_host: journaled.new_host,
            chain: journaled.chain.clone(),
            wal_version: journaled.wal_version,
            timeline: journaled.timeline,
            prediction: journaled.prediction.clone(),
            wal_runs: journaled
                .wal_spool
                .as_ref()
                .map(|s| s.runs.clone())
                .unwrap_or_default(),
        },
    )?;
    // The journal holds its inputs redacted: compare like with like.
    let (a, b) = (
        redact_value(serde_json::to_value(journaled).unwrap_or(Value::Null)),
        redact_value(serde_json::to_value(&rebuilt).unwrap_or(Value::Null)),
    );
    match first_difference(&a, &b, String::new()) {
        None => Ok(rebuilt),
        Some(at) => Err(Refusal::Input(format!(
            "the journal's `{at}` differs from what the configuration gives for server {}: refusing to resume with it. Resume with the configuration the run started with, or settle the run by hand",
            journaled.server.name
        ))),
    }
}

/// The path (`server.pgdata`, `apps[0].stop`) of the first value that differs.
fn first_difference(a: &Value, b: &Value, at: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let here = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                first_difference(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    here,
                )
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, format!("{at}[{i}]"))),
        _ if a == b => None,
        _ => Some(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_input_not_its_value() {
        let a =
            json!({"restore_command": "cp x", "apps": [{"stop": "a"}], "server": {"pgdata": "/d"}});
        let b =
            json!({"restore_command": "cp x", "apps": [{"stop": "b"}], "server": {"pgdata": "/d"}});
        assert_eq!(
            first_difference(&a, &b, String::new()).as_deref(),
            Some("apps[0].stop")
        );
        assert_eq!(first_difference(&a, &a, String::new()), None);
    }
}
