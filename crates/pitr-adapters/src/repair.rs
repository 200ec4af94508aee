//! Repair: rows pulled back from a side instance into production, in one transaction.
//!
//! The side instance's selection is COPYed straight into a temporary table of the
//! production session; the comparison, the insert (or update) and the record of what
//! changed are plain SQL against it, so PostgreSQL checks every constraint and fires every
//! trigger as for any other write. Nothing is committed until the caller has journaled
//! the keys (`Session::commit`).

mod apply;
mod shape;
mod sql;
mod undo;

pub use apply::{Applied, RowsFile};
pub use shape::{Column, TableShape};
pub use sql::error_text as sql_error_text;
pub use undo::{undo, UndoSession, Undone};

use futures::{SinkExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio_postgres::{Client, Config, NoTls};

/// What a repair does to the selected rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairMode {
    /// Insert the rows production lacks; leave every existing row as it is.
    Missing,
    /// Also overwrite production's rows that differ from the side instance's.
    Overwrite,
}

impl std::str::FromStr for RepairMode {
    type Err = String;
    fn from_str(s: &str) -> Result<RepairMode, String> {
        match s {
            "missing" => Ok(RepairMode::Missing),
            "overwrite" => Ok(RepairMode::Overwrite),
            other => Err(format!(
                "`{other}` is not a repair mode: missing (insert the rows production lacks) or overwrite (also overwrite the rows that differ)"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RepairRequest {
    /// The table as the operator wrote it (resolved by PostgreSQL, never spliced).
    pub table: String,
    /// Columns identifying a row; the primary key when absent.
    pub key: Option<Vec<String>>,
    /// A condition on the table's columns choosing the rows to compare.
    pub filter: Option<String>,
    pub mode: RepairMode,
}

#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error("cannot connect to {which} ({dsn}): {reason}")]
    Connect {
        which: &'static str,
        dsn: String,
        reason: String,
    },
    #[error("{which}: {what} failed: {reason}")]
    Query {
        which: &'static str,
        what: String,
        reason: String,
    },
    #[error("no table `{table}` in {which}{hint}")]
    NoTable {
        table: String,
        which: &'static str,
        hint: String,
    },
    #[error("the table differs between production and the side instance, so rows cannot be compared:\n  {}", .0.join("\n  "))]
    SchemaDiffers(Vec<String>),
    #[error("{0}")]
    Key(String),
    #[error("{what} {path}: {err}")]
    File {
        what: &'static str,
        path: String,
        err: std::io::Error,
    },
}

/// Counts of the comparison by key, with a few keys of each kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// Rows the side instance selected.
    pub selected: u64,
    pub missing: u64,
    pub different: u64,
    pub only_production: u64,
    pub sample_missing: Vec<Vec<String>>,
    pub sample_different: Vec<Vec<String>>,
    pub sample_only_production: Vec<Vec<String>>,
}

const SAMPLE: usize = 5;
/// The temporary table holding the side instance's selection.
const SIDE_ROWS: &str = "pitr_repair_side";

/// An open production transaction holding the side instance's rows.
pub struct Session {
    production: Client,
    pub shape: TableShape,
    pub comparison: Comparison,
}

impl Session {
    /// Connects to both, checks the table has the same shape on both, copies the selection
    /// into production's temporary table and compares. Production's transaction stays open.
    pub async fn open(
        production_dsn: &str,
        side_dsn: &str,
        req: &RepairRequest,
    ) -> Result<Session, RepairError> {
        let production = connect("production", production_dsn).await?;
        let side = connect("the side instance", side_dsn).await?;
        let shape =
            TableShape::read(&production, "production", &req.table, req.key.as_deref()).await?;
        let side_shape = TableShape::read(&side, "the side instance", &shape.name, None).await?;
        shape.same_columns_as(&side_shape, "the side instance")?;

        let p = Sql::new(&production, "production");
        let s = Sql::new(&side, "the side instance");
        // A snapshot of the side instance (read-only: it may still be in recovery).
        s.batch("BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ")
            .await?;
        p.batch("BEGIN").await?;
        p.batch(&format!(
            "CREATE TEMP TABLE {SIDE_ROWS} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA",
            cols = shape.column_list(None),
            table = shape.name
        ))
        .await?;
        let selection = format!(
            "COPY (SELECT {cols} FROM {table}{filter}) TO STDOUT",
            cols = shape.column_list(None),
            table = shape.name,
            filter = sql::where_clause(req.filter.as_deref()),
        );
        copy_between(
            (&side, "the side instance"),
            &selection,
            (&production, "production"),
            &format!("COPY {SIDE_ROWS} ({}) FROM STDIN", shape.column_list(None)),
        )
        .await?;
        s.batch("COMMIT").await?;
        shape.check_key_in(&p, SIDE_ROWS, req.mode).await?;
        let comparison = compare(&p, &shape, req.filter.as_deref()).await?;
        Ok(Session {
            production,
            shape,
            comparison,
        })
    }

    /// Gives up: nothing was written.
    pub async fn abandon(self) -> Result<(), RepairError> {
        Sql::new(&self.production, "production")
            .batch("ROLLBACK")
            .await
    }

    /// Writes the repair inside the open transaction and saves the rows it touched (as
    /// production holds them after the write, and the overwritten ones as they were) under
    /// `files_stem`. Not committed yet.
    pub async fn apply(
        &self,
        mode: RepairMode,
        files_stem: &std::path::Path,
    ) -> Result<Applied, RepairError> {
        apply::apply(&self.production, &self.shape, SIDE_ROWS, mode, files_stem).await
    }

    pub async fn commit(self) -> Result<(), RepairError> {
        Sql::new(&self.production, "production")
            .batch("COMMIT")
            .await
    }
}

async fn compare(
    p: &Sql<'_>,
    shape: &TableShape,
    filter: Option<&str>,
) -> Result<Comparison, RepairError> {
    let t = &shape.name;
    let keys = shape.key_text("s");
    let order = shape.key_order("s");
    let missing_where = format!(
        "FROM {SIDE_ROWS} s WHERE NOT EXISTS (SELECT 1 FROM {t} p WHERE {})",
        shape.key_match("p", "s")
    );
    let different_where = format!(
        "FROM {SIDE_ROWS} s JOIN {t} p ON {} WHERE {}",
        shape.key_match("p", "s"),
        shape.rows_differ("p", "s")
    );
    // Unaliased, so the operator's condition reads the table's columns as written.
    let only_where = format!(
        "FROM {t} s WHERE NOT EXISTS (SELECT 1 FROM {SIDE_ROWS} x WHERE {}){}",
        shape.key_match("x", "s"),
        filter.map(|f| format!(" AND ({f})")).unwrap_or_default()
    );
    Ok(Comparison {
        selected: p.count(&format!("FROM {SIDE_ROWS}")).await?,
        missing: p.count(&missing_where).await?,
        different: p.count(&different_where).await?,
        only_production: p.count(&only_where).await?,
        sample_missing: p
            .keys(&format!(
                "SELECT {keys} {missing_where} ORDER BY {order} LIMIT {SAMPLE}"
            ))
            .await?,
        sample_different: p
            .keys(&format!(
                "SELECT {keys} {different_where} ORDER BY {order} LIMIT {SAMPLE}"
            ))
            .await?,
        sample_only_production: p
            .keys(&format!(
                "SELECT {keys} {only_where} ORDER BY {order} LIMIT {SAMPLE}"
            ))
            .await?,
    })
}

pub(crate) use sql::Sql;

pub(crate) async fn connect(which: &'static str, dsn: &str) -> Result<Client, RepairError> {
    let shown = crate::engine::redact::redact(dsn);
    let fail = |reason: String| RepairError::Connect {
        which,
        dsn: shown.clone(),
        reason,
    };
    let mut config: Config = dsn
        .parse()
        .map_err(|e| fail(format!("not a connection string: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    config.application_name("pitr-console repair");
    let (client, conn) = config
        .connect(NoTls)
        .await
        .map_err(|e| fail(sql::error_text(&e)))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("repair connection ended: {e}");
        }
    });
    Ok(client)
}

/// Streams `COPY ... TO STDOUT` on one server into `COPY ... FROM STDIN` on another.
async fn copy_between(
    (from, from_name): (&Client, &'static str),
    out_sql: &str,
    (to, to_name): (&Client, &'static str),
    in_sql: &str,
) -> Result<u64, RepairError> {
    let failed = |which: &'static str, what: &str| {
        let what = what.to_string();
        move |e: tokio_postgres::Error| RepairError::Query {
            which,
            what: what.clone(),
            reason: sql::error_text(&e),
        }
    };
    let rows = from
        .copy_out(out_sql)
        .await
        .map_err(failed(from_name, "reading the selection"))?;
    let sink = to
        .copy_in(in_sql)
        .await
        .map_err(failed(to_name, "loading the selection"))?;
    futures::pin_mut!(rows, sink);
    while let Some(chunk) = rows
        .try_next()
        .await
        .map_err(failed(from_name, "reading the selection"))?
    {
        sink.send(chunk)
            .await
            .map_err(failed(to_name, "loading the selection"))?;
    }
    sink.as_mut()
        .finish()
        .await
        .map_err(failed(to_name, "loading the selection"))
}
