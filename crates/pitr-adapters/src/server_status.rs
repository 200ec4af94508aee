//! Probing one server with tokio-postgres: role, timeline, position and archiver health.
//!
//! A probe never takes longer than `PROBE_TIMEOUT`; an unreachable server comes back as
//! `Down` with the reason instead of an error, so callers can show it and move on.

use crate::config::ServerConfig;
use crate::domain::lsn::Lsn;
use crate::domain::server_status::{
    ArchiverStats, PatroniState, ServerFacts, ServerState, ServerStatus,
};
use crate::domain::timeline::TimelineId;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Connecting and querying together; a server slower than this is shown as down.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

const QUERY: &str = "select pg_is_in_recovery(),
        (select timeline_id from pg_control_checkpoint()),
        (case when pg_is_in_recovery() then pg_last_wal_replay_lsn()
              else pg_current_wal_lsn() end)::text,
        a.last_archived_wal, a.last_archived_time, a.failed_count,
        a.last_failed_wal, a.last_failed_time
   from pg_stat_archiver a";

/// Asks the server named in `server` how it is; read-only.
pub async fn probe(server: &ServerConfig) -> ServerStatus {
    let (state, patroni) = tokio::join!(
        tokio::time::timeout(PROBE_TIMEOUT, facts(&server.dsn)),
        patroni_state(server)
    );
    let state = match state {
        Ok(Ok(facts)) => ServerState::Up(facts),
        Ok(Err(error)) => ServerState::Down { error },
        Err(_) => ServerState::Down {
            error: format!(
                "no answer within {} s from `{}`",
                PROBE_TIMEOUT.as_secs(),
                server.dsn
            ),
        },
    };
    if let ServerState::Down { error } = &state {
        tracing::debug!(server = %server.name, %error, "server probe failed");
    }
    ServerStatus {
        server: server.name.clone(),
        checked_at: Utc::now(),
        state,
        patroni,
    }
}

/// Members, roles and lag from Patroni's REST API, for servers it manages.
async fn patroni_state(server: &ServerConfig) -> Option<PatroniState> {
    let url = server
        .patroni_url
        .as_deref()
        .filter(|_| server.control == crate::domain::control::Control::Patroni)?;
    let answer = tokio::time::timeout(PROBE_TIMEOUT, crate::patroni::cluster_members(url)).await;
    Some(match answer {
        Ok(Ok((members, paused))) => PatroniState::Cluster { members, paused },
        Ok(Err(e)) => PatroniState::Unreachable {
            error: e.to_string(),
        },
        Err(_) => PatroniState::Unreachable {
            error: format!("no answer within {} s from {url}", PROBE_TIMEOUT.as_secs()),
        },
    })
}

/// The connection the console itself opens to look at a server: bounded in time and
/// read-only at the server (`default_transaction_read_only`), whatever the role; what it
/// runs only reads, and a trainee's console must not be able to change anything.
pub fn watcher_config(dsn: &str) -> Result<tokio_postgres::Config, String> {
    let mut config: tokio_postgres::Config = dsn
        .parse()
        .map_err(|e| format!("dsn `{dsn}` does not parse: {e}"))?;
    config.connect_timeout(PROBE_TIMEOUT);
    let options = match config.get_options() {
        Some(o) if !o.is_empty() => format!("{o} -c default_transaction_read_only=on"),
        _ => "-c default_transaction_read_only=on".to_string(),
    };
    config.options(&options);
    Ok(config)
}

async fn facts(dsn: &str) -> Result<ServerFacts, String> {
    let config = watcher_config(dsn)?;
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("cannot connect: {}", describe(&e)))?;
    let conn = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "probe connection ended");
        }
    });
    let row = client
        .query_one(QUERY, &[])
        .await
        .map_err(|e| format!("status query failed: {}", describe(&e)));
    drop(client);
    conn.abort();
    let row = row?;
    let lsn: Option<String> = row.try_get(2).map_err(|e| e.to_string())?;
    let timeline: Option<i32> = row.try_get(1).map_err(|e| e.to_string())?;
    Ok(ServerFacts {
        in_recovery: row.try_get(0).map_err(|e| e.to_string())?,
        timeline: timeline.and_then(|t| u32::try_from(t).ok()).map(TimelineId),
        lsn: lsn.and_then(|l| l.parse::<Lsn>().ok()),
        archiver: ArchiverStats {
            last_archived_wal: row.try_get(3).map_err(|e| e.to_string())?,
            last_archived_time: row
                .try_get::<_, Option<DateTime<Utc>>>(4)
                .map_err(|e| e.to_string())?,
            failed_count: row.try_get(5).map_err(|e| e.to_string())?,
            last_failed_wal: row.try_get(6).map_err(|e| e.to_string())?,
            last_failed_time: row
                .try_get::<_, Option<DateTime<Utc>>>(7)
                .map_err(|e| e.to_string())?,
        },
    })
}

/// tokio-postgres hides the server's message behind `source()`; show it.
fn describe(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(inner) => format!("{e}: {inner}"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_console_watches_read_only() {
        let c = super::watcher_config("host=/tmp port=5432 options='-c work_mem=4MB'").unwrap();
        assert_eq!(
            c.get_options(),
            Some("-c work_mem=4MB -c default_transaction_read_only=on")
        );
        let c = super::watcher_config("host=/tmp").unwrap();
        assert_eq!(c.get_options(), Some("-c default_transaction_read_only=on"));
    }
}
