//! The live tail's two touches of a running server: reading its pg_wal (on this host as the
//! console's user, on another over SSH as the server's OS user) and `pg_switch_wal()`, the one
//! write the console makes outside a run, which the operator confirmed.

use crate::config::ServerConfig;
use crate::domain::lsn::Lsn;
use crate::domain::segment::{SegmentSize, WalSegment};
use crate::engine::ports::Sql;
use crate::ssh::{RemoteCommands, RemoteFs, SshPool, SshTarget};
use crate::wal::TailRead;
use std::sync::Arc;

/// Reads `segments` from the server's pg_wal.
pub fn read(
    server: &ServerConfig,
    segments: &[WalSegment],
    size: SegmentSize,
    upto: Lsn,
    pool: &Arc<SshPool>,
) -> Result<TailRead, String> {
    let pg_wal = server.pgdata.join("pg_wal");
    let Some(target) = SshTarget::for_server(server) else {
        return crate::wal::read_unarchived(&pg_wal, segments, size, upto);
    };
    let host = target.label();
    let fs = RemoteFs::new(
        RemoteCommands::new(target, pool.clone()),
        server.run_as.clone(),
    );
    crate::wal::read_unarchived_with(segments, size, upto, |name, len| {
        fs.read_head(&pg_wal.join(name), len).map_err(|e| {
            format!(
                "cannot read {name} from {} on {host}: {e}",
                pg_wal.display()
            )
        })
    })
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
