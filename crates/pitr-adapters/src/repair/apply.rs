//! The repair's writes, inside the session's open transaction, and the files that let
//! `repair --undo` take them out again: the rows as production holds them after the write
//! (so undo only removes rows nobody changed since) and, for an overwrite, as they were.

use super::shape::TableShape;
use super::sql::{error_text, Sql};
use super::{RepairError, RepairMode};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use tokio_postgres::Client;

/// Rows saved in COPY text format, with the checksum undo checks before reading them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowsFile {
    pub path: PathBuf,
    pub sha256: String,
    pub rows: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Keys of the rows inserted, as text, in key order.
    pub inserted: Vec<Vec<String>>,
    /// Keys of the rows overwritten.
    pub updated: Vec<Vec<String>>,
    pub inserted_rows: Option<RowsFile>,
    pub overwritten_before: Option<RowsFile>,
    pub overwritten_after: Option<RowsFile>,
}

const MISSING: &str = "pitr_repair_missing";
const CHANGED: &str = "pitr_repair_changed";

pub async fn apply(
    client: &Client,
    shape: &TableShape,
    side_rows: &str,
    mode: RepairMode,
    stem: &Path,
) -> Result<Applied, RepairError> {
    let p = Sql::new(client, "production");
    let t = &shape.name;
    let keys = shape.key_text("s");
    let mut applied = Applied::default();

    if mode == RepairMode::Overwrite {
        p.batch(&format!(
            "CREATE TEMP TABLE {CHANGED} ON COMMIT DROP AS SELECT s.* FROM {side_rows} s JOIN {t} p ON {} WHERE {}",
            shape.key_match("p", "s"),
            shape.rows_differ("p", "s")
        ))
        .await?;
        let set = shape.update_set("s");
        if !set.is_empty() {
            let now = rows_of(shape, CHANGED);
            applied.overwritten_before =
                Some(save(client, &now, &path_with(stem, "overwritten-before.copy")).await?);
            applied.updated = p
                .keys(&format!(
                    "UPDATE {t} p SET {set} FROM {CHANGED} s WHERE {} RETURNING {keys}",
                    shape.key_match("p", "s")
                ))
                .await?;
            applied.overwritten_after =
                Some(save(client, &now, &path_with(stem, "overwritten-after.copy")).await?);
        }
    }

    p.batch(&format!(
        "CREATE TEMP TABLE {MISSING} ON COMMIT DROP AS SELECT s.* FROM {side_rows} s WHERE NOT EXISTS (SELECT 1 FROM {t} p WHERE {})",
        shape.key_match("p", "s")
    ))
    .await?;
    applied.inserted = p
        .keys(&format!(
            "INSERT INTO {t} AS s ({cols}){over} SELECT {cols} FROM {MISSING} ORDER BY {order} RETURNING {keys}",
            cols = shape.insert_list(None),
            over = shape.overriding(),
            order = shape.key_order(MISSING),
        ))
        .await?;
    if !applied.inserted.is_empty() {
        applied.inserted_rows = Some(
            save(
                client,
                &rows_of(shape, MISSING),
                &path_with(stem, "inserted.copy"),
            )
            .await?,
        );
    }
    Ok(applied)
}

/// `COPY (production's rows whose key is in `keys_from`) TO STDOUT`.
fn rows_of(shape: &TableShape, keys_from: &str) -> String {
    format!(
        "COPY (SELECT {cols} FROM {t} p WHERE EXISTS (SELECT 1 FROM {keys_from} s WHERE {m}) ORDER BY {order}) TO STDOUT",
        cols = shape.column_list(Some("p")),
        t = shape.name,
        m = shape.key_match("p", "s"),
        order = shape.key_order("p"),
    )
}

pub fn path_with(stem: &Path, suffix: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_os_string();
    s.push(format!(".{suffix}"));
    PathBuf::from(s)
}

/// Copies rows into a new file (0600), fsynced before the caller journals it.
async fn save(client: &Client, copy_sql: &str, path: &Path) -> Result<RowsFile, RepairError> {
    let file_err = |err| RepairError::File {
        what: "cannot write the repair's rows to",
        path: path.display().to_string(),
        err,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(file_err)?;
    let failed = |e: tokio_postgres::Error| RepairError::Query {
        which: "production",
        what: "saving the rows".into(),
        reason: error_text(&e),
    };
    let stream = client.copy_out(copy_sql).await.map_err(failed)?;
    futures::pin_mut!(stream);
    let mut hash = Sha256::new();
    let mut rows = 0u64;
    while let Some(chunk) = stream.try_next().await.map_err(failed)? {
        rows += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        hash.update(&chunk);
        file.write_all(&chunk).map_err(file_err)?;
    }
    file.sync_all().map_err(file_err)?;
    Ok(RowsFile {
        path: path.to_path_buf(),
        sha256: hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        rows,
    })
}
