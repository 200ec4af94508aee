//! The engine's `Sql` port over tokio-postgres (simple query protocol: every value as text).

use crate::domain::lsn::Lsn;
use crate::engine::ports::{PortError, ReplayStatus, Rows, Sql, BLOCKERS_SQL};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use std::time::Duration;
use tokio_postgres::{Client, Config, NoTls, SimpleQueryMessage};

pub struct Postgres;

/// How long a statement of the console waits for a lock.
pub const LOCK_TIMEOUT: &str = "10s";
/// How long one statement of the console may run (exact row counts of big tables included).
pub const STATEMENT_TIMEOUT: &str = "15min";

async fn connect(dsn: &str) -> Result<Client, PortError> {
    let mut config: Config = dsn.parse().map_err(|e| {
        PortError::new(
            crate::engine::ports::PortErrorKind::Refused,
            format!(
                "connection string `{}` is not valid: {e}",
                crate::engine::redact::redact(dsn)
            ),
        )
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    // Nothing the console asks may wait in silence: a lock held elsewhere fails the
    // statement within LOCK_TIMEOUT (and the holder is named), a slow one within
    // STATEMENT_TIMEOUT.
    let options = format!(
        "{} -c lock_timeout={LOCK_TIMEOUT} -c statement_timeout={STATEMENT_TIMEOUT}",
        config.get_options().unwrap_or_default()
    );
    config.options(options.trim());
    let (client, conn) = config.connect(NoTls).await.map_err(|e| {
        PortError::new(
            crate::engine::ports::PortErrorKind::Unreachable,
            format!(
                "cannot connect ({}): {}",
                crate::engine::redact::redact(dsn),
                error_text(&e)
            ),
        )
    })?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("postgres connection ended: {e}");
        }
    });
    Ok(client)
}

fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

async fn query(client: &Client, sql: &str) -> Result<Rows, PortError> {
    let msgs = match client.simple_query(sql).await {
        Ok(m) => m,
        Err(e) => {
            let mut text = format!("`{sql}` failed: {}", error_text(&e));
            if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) {
                text.push_str(&blockers(client).await);
            }
            return Err(PortError::new(
                crate::engine::ports::PortErrorKind::Remote,
                text,
            ));
        }
    };
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect())
}

/// Who holds the locks, as lines for the error (the connection is still usable: the failed
/// statement ran outside a transaction).
async fn blockers(client: &Client) -> String {
    let Ok(msgs) = client.simple_query(BLOCKERS_SQL).await else {
        return String::new();
    };
    let lines: Vec<String> = msgs
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                let c = |i: usize| r.get(i).unwrap_or_default().to_string();
                Some(format!(
                    "\n  blocked by pid {} (user {}, application `{}`, {}, transaction open {}) holding {} on {}: {}\n  end it if it is safe to: select pg_terminate_backend({})",
                    c(0), c(1), c(2), c(3), c(4), c(5), c(6), c(7), c(0)
                ))
            }
            _ => None,
        })
        .collect();
    if lines.is_empty() {
        return "\n  (the lock holder had let go by the time it was looked up)".into();
    }
    lines.concat()
}

fn cell(rows: &Rows, col: usize) -> Option<String> {
    rows.first().and_then(|r| r.get(col).cloned().flatten())
}

impl Sql for Postgres {
    fn rows<'a>(&'a self, dsn: &'a str, sql: &'a str) -> BoxFuture<'a, Result<Rows, PortError>> {
        Box::pin(async move { query(&connect(dsn).await?, sql).await })
    }

    fn replay_status<'a>(&'a self, dsn: &'a str) -> BoxFuture<'a, Result<ReplayStatus, PortError>> {
        Box::pin(async move {
            let client = connect(dsn).await?;
            let version: u32 = cell(&query(&client, "show server_version_num").await?, 0)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            // pg_get_wal_replay_pause_state() exists from 14; before, only a boolean.
            let pause = if version >= 140000 {
                "case when pg_is_in_recovery() then pg_get_wal_replay_pause_state() end"
            } else {
                "case when pg_is_in_recovery() then case when pg_is_wal_replay_paused() then 'paused' else 'not paused' end end"
            };
            let sql = format!(
                "select pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, extract(epoch from pg_last_xact_replay_timestamp())::text, {pause}"
            );
            let rows = query(&client, &sql).await?;
            let in_recovery = cell(&rows, 0).as_deref() == Some("t");
            let replay_lsn = cell(&rows, 1).and_then(|s| s.parse::<Lsn>().ok());
            let last_replay_time =
                cell(&rows, 2)
                    .and_then(|s| s.parse::<f64>().ok())
                    .and_then(|secs| {
                        DateTime::<Utc>::from_timestamp_micros((secs * 1e6).round() as i64)
                    });
            Ok(ReplayStatus {
                in_recovery,
                replay_lsn,
                last_replay_time,
                pause_state: cell(&rows, 3),
            })
        })
    }
}
