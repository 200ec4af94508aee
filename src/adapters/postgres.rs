//! The engine's `Sql` port over tokio-postgres (simple query protocol: every value as text).

use crate::domain::lsn::Lsn;
use crate::engine::ports::{PortError, ReplayStatus, Rows, Sql};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use std::time::Duration;
use tokio_postgres::{Client, Config, NoTls, SimpleQueryMessage};

pub struct Postgres;

async fn connect(dsn: &str) -> Result<Client, PortError> {
    let mut config: Config = dsn.parse().map_err(|e| {
        PortError(format!(
            "connection string `{}` is not valid: {e}",
            crate::engine::redact::redact(dsn)
        ))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    let (client, conn) = config.connect(NoTls).await.map_err(|e| {
        PortError(format!(
            "cannot connect ({}): {}",
            crate::engine::redact::redact(dsn),
            error_text(&e)
        ))
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
    let msgs = client
        .simple_query(sql)
        .await
        .map_err(|e| PortError(format!("`{sql}` failed: {}", error_text(&e))))?;
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
