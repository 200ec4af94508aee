//! Export: one table (or a selection of its rows) pulled out of a side instance into a file,
//! for the selective recovery of seed 004 ("export specific rows, import to production").
//! CSV goes through `COPY ... TO STDOUT` in one read-only snapshot that also counts the
//! rows; the custom format is `pg_dump -Fc -t`, PostgreSQL's own tool.

use super::repair::{connect, RepairError};
use futures::TryStreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// `pg_dump -Fc -t TABLE`: schema and rows, for `pg_restore`.
    Custom,
    /// The rows as CSV with a header line, for `COPY ... FROM` or `\copy`.
    Csv,
}

impl std::str::FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<ExportFormat, String> {
        match s {
            "custom" => Ok(ExportFormat::Custom),
            "csv" => Ok(ExportFormat::Csv),
            other => Err(format!(
                "`{other}` is not an export format: custom (pg_dump -Fc, for pg_restore) or csv (the rows with a header)"
            )),
        }
    }
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Custom => "dump",
            ExportFormat::Csv => "csv",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    /// The table as PostgreSQL names it (`public.orders` shows as `orders`).
    pub table: String,
    pub file: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    /// Rows written (CSV only: pg_dump does not say).
    pub rows: Option<u64>,
}

/// The table as PostgreSQL resolves and quotes it (`to_regclass`), or a refusal naming it:
/// the operator's text never reaches SQL unresolved.
pub async fn resolve_table(side_dsn: &str, table: &str) -> Result<String, RepairError> {
    let client = connect("the side instance", side_dsn).await?;
    let row = client
        .query_one("select to_regclass($1)::text", &[&table])
        .await
        .map_err(|e| RepairError::Query {
            which: "the side instance",
            what: format!("resolving table {table}"),
            reason: super::repair::sql_error_text(&e),
        })?;
    row.get::<_, Option<String>>(0)
        .ok_or_else(|| RepairError::NoTable {
            table: table.to_string(),
            which: "the side instance",
            hint: String::new(),
        })
}

/// A new file, mode 0600, never one that exists.
pub fn create(file: &Path) -> std::io::Result<std::fs::File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(file)
}

/// The selected rows of `table` (already resolved) as CSV into `file`.
pub async fn csv(
    side_dsn: &str,
    table: &str,
    filter: Option<&str>,
    file: &Path,
) -> Result<Exported, RepairError> {
    let client = connect("the side instance", side_dsn).await?;
    let query = |what: &str, e: tokio_postgres::Error| RepairError::Query {
        which: "the side instance",
        what: what.to_string(),
        reason: super::repair::sql_error_text(&e),
    };
    let condition = filter.map(|f| format!(" where {f}")).unwrap_or_default();
    client
        .batch_execute("begin isolation level repeatable read read only")
        .await
        .map_err(|e| query("begin", e))?;
    let rows: i64 = client
        .query_one(&format!("select count(*) from {table}{condition}"), &[])
        .await
        .map_err(|e| query("counting the rows", e))?
        .get(0);
    let copy =
        format!("copy (select * from {table}{condition}) to stdout with (format csv, header)");
    let stream = client.copy_out(&copy).await.map_err(|e| query(&copy, e))?;
    futures::pin_mut!(stream);
    let mut out = create(file).map_err(|e| io_failure(file, e))?;
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    while let Some(chunk) = stream.try_next().await.map_err(|e| query(&copy, e))? {
        out.write_all(&chunk).map_err(|e| io_failure(file, e))?;
        hash.update(&chunk);
        bytes += chunk.len() as u64;
    }
    out.sync_all().map_err(|e| io_failure(file, e))?;
    client
        .batch_execute("commit")
        .await
        .map_err(|e| query("commit", e))?;
    Ok(Exported {
        table: table.to_string(),
        file: file.to_path_buf(),
        bytes,
        sha256: hex(hash.finalize().as_slice()),
        rows: Some(rows.max(0) as u64),
    })
}

/// The sha256 and size of a file written by another process (pg_dump).
pub fn digest(file: &Path) -> Result<(u64, String), crate::engine::ports::PortError> {
    use crate::engine::ports::Fs;
    let bytes = std::fs::metadata(file)
        .map_err(|e| {
            crate::engine::ports::PortError::new(
                crate::engine::ports::PortErrorKind::Other,
                format!("{}: {e}", file.display()),
            )
        })?
        .len();
    Ok((bytes, super::fs::LocalFs.sha256(file)?))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn io_failure(file: &Path, err: std::io::Error) -> RepairError {
    RepairError::File {
        what: "cannot write the export file",
        path: file.display().to_string(),
        err,
    }
}
