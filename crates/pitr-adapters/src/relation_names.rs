//! Naming relations from the WAL (tablespace, database, relfilenode) through a live server.
//!
//! `pg_filenode_relation` only knows the connected database's relations and takes 0 for its
//! default tablespace; relations of other databases stay unnamed. Read-only.

use crate::server_status::PROBE_TIMEOUT;
use crate::wal::RelFileNode;

const DATABASE: &str =
    "select oid, dattablespace from pg_database where datname = current_database()";
const NAME: &str = "select pg_filenode_relation($1, $2)::regclass::text";
/// Shared catalogs (pg_database...) live in pg_global and belong to no database.
const GLOBAL_TABLESPACE: u32 = 1664;

/// The name of each node the server can name, None for the others. An error says why the
/// server could not be asked at all.
pub async fn resolve(
    dsn: &str,
    nodes: &[RelFileNode],
) -> Result<Vec<(RelFileNode, Option<String>)>, String> {
    let work = async {
        let config = super::server_status::watcher_config(dsn)?;
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("cannot connect to `{dsn}`: {e}"))?;
        let conn = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "relation-name connection ended");
            }
        });
        let result = names(&client, nodes).await;
        drop(client);
        conn.abort();
        result
    };
    // Twice the probe's time: a connection plus up to one query per relation in view.
    match tokio::time::timeout(PROBE_TIMEOUT * 2, work).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no answer within {} s from `{dsn}`",
            (PROBE_TIMEOUT * 2).as_secs()
        )),
    }
}

async fn names(
    client: &tokio_postgres::Client,
    nodes: &[RelFileNode],
) -> Result<Vec<(RelFileNode, Option<String>)>, String> {
    let row = client
        .query_one(DATABASE, &[])
        .await
        .map_err(|e| format!("cannot read the current database's oid: {e}"))?;
    let db: u32 = row.try_get(0).map_err(|e| e.to_string())?;
    let default_spc: u32 = row.try_get(1).map_err(|e| e.to_string())?;
    let stmt = client
        .prepare(NAME)
        .await
        .map_err(|e| format!("cannot prepare pg_filenode_relation: {e}"))?;
    let mut out = Vec::with_capacity(nodes.len());
    for node in nodes {
        let ours = node.db == db || (node.db == 0 && node.spc == GLOBAL_TABLESPACE);
        if !ours {
            out.push((*node, None));
            continue;
        }
        let spc = if node.spc == default_spc { 0 } else { node.spc };
        let name: Option<String> = client
            .query_one(&stmt, &[&spc, &node.rel])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(|e| format!("pg_filenode_relation({spc}, {}): {e}", node.rel))?;
        out.push((*node, name));
    }
    Ok(out)
}
