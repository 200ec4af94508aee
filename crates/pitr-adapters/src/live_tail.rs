//! The live tail's two touches of a running server: reading its pg_wal (local servers
//! only, as the console's user) and `pg_switch_wal()`, the one write the console makes
//! outside a run, which the operator confirmed.

use crate::config::ServerConfig;
use crate::domain::lsn::Lsn;
use crate::domain::segment::{SegmentSize, WalSegment};
use crate::engine::ports::Sql;
use crate::wal::TailRead;

/// Reads `segments` from the server's pg_wal. Over SSH the files are not read yet.
pub fn read(
    server: &ServerConfig,
    segments: &[WalSegment],
    size: SegmentSize,
    upto: Lsn,
) -> Result<TailRead, String> {
    if !server.is_local() {
        return Err(format!(
            "`{}` is on {}: its pg_wal is read only on this host",
            server.name, server.host
        ));
    }
    crate::wal::read_unarchived(&server.pgdata.join("pg_wal"), segments, size, upto)
}

/// Closes the server's current WAL segment so that it is archived; returns what
/// `pg_switch_wal()` returned, the end of the closed segment's WAL.
pub async fn switch(server: &ServerConfig) -> Result<Lsn, String> {
    tracing::info!(server = %server.name, "pg_switch_wal() asked by the operator");
    let answer = crate::postgres::Postgres
        .scalar(&server.dsn, "select pg_switch_wal()::text")
        .await
        .map_err(|e| e.to_string())
        .and_then(|v| {
            v.ok_or_else(|| "pg_switch_wal() returned nothing".to_string())?
                .parse::<Lsn>()
                .map_err(|e| e.to_string())
        });
    match &answer {
        Ok(lsn) => tracing::info!(server = %server.name, %lsn, "WAL switched"),
        Err(e) => tracing::warn!(server = %server.name, error = %e, "WAL switch failed"),
    }
    answer
}
