//! `repair --undo`: the rows a repair inserted taken out, the rows it overwrote put back,
//! each only where production still holds what the repair left; anything changed since is
//! kept and named.

use super::apply::{Applied, RowsFile};
use super::shape::TableShape;
use super::sql::{error_text, Sql};
use super::{connect, RepairError};
use futures::SinkExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Undone {
    /// Inserted rows removed again.
    pub removed: Vec<Vec<String>>,
    /// Overwritten rows given their earlier values back.
    pub restored: Vec<Vec<String>>,
    /// Rows changed (or deleted) since the repair, left as they are.
    pub kept_changed: Vec<Vec<String>>,
}

/// The undo, written in an open transaction; `commit` makes it stick.
pub struct UndoSession {
    production: Client,
    pub undone: Undone,
}

impl UndoSession {
    pub async fn commit(self) -> Result<(), RepairError> {
        Sql::new(&self.production, "production")
            .batch("COMMIT")
            .await
    }

    pub async fn abandon(self) -> Result<(), RepairError> {
        Sql::new(&self.production, "production")
            .batch("ROLLBACK")
            .await
    }
}

const INSERTED: &str = "pitr_undo_inserted";
const BEFORE: &str = "pitr_undo_before";
const AFTER: &str = "pitr_undo_after";

pub async fn undo(
    production_dsn: &str,
    then: &TableShape,
    applied: &Applied,
) -> Result<UndoSession, RepairError> {
    let production = connect("production", production_dsn).await?;
    let now = TableShape::read(&production, "production", &then.name, None).await?;
    now.same_columns_as(then, "the table at the time of the repair")?;
    let p = Sql::new(&production, "production");
    let t = &then.name;
    let keys = then.key_text("p");
    let mut undone = Undone::default();
    p.batch("BEGIN").await?;

    if let Some(file) = &applied.inserted_rows {
        load(&production, then, INSERTED, file).await?;
        undone.removed = p
            .keys(&format!(
                "DELETE FROM {t} p USING {INSERTED} s WHERE {} AND {} RETURNING {keys}",
                then.key_match("p", "s"),
                then.rows_same("p", "s")
            ))
            .await?;
        undone.kept_changed.extend(
            p.keys(&format!(
                "SELECT {keys} FROM {t} p JOIN {INSERTED} s ON {} ORDER BY {}",
                then.key_match("p", "s"),
                then.key_order("p")
            ))
            .await?,
        );
    }
    if let (Some(before), Some(after)) = (&applied.overwritten_before, &applied.overwritten_after) {
        load(&production, then, BEFORE, before).await?;
        load(&production, then, AFTER, after).await?;
        undone.restored = p
            .keys(&format!(
                "UPDATE {t} p SET {set} FROM {BEFORE} b JOIN {AFTER} a ON {ab} WHERE {pb} AND {same} RETURNING {keys}",
                set = then.update_set("b"),
                ab = then.key_match("a", "b"),
                pb = then.key_match("p", "b"),
                same = then.rows_same("p", "a"),
            ))
            .await?;
        undone.kept_changed.extend(
            p.keys(&format!(
                "SELECT {} FROM {BEFORE} b WHERE NOT EXISTS (SELECT 1 FROM {t} p WHERE {} AND {}) ORDER BY {}",
                then.key_text("b"),
                then.key_match("p", "b"),
                then.rows_same("p", "b"),
                then.key_order("b"),
            ))
            .await?,
        );
    }
    Ok(UndoSession { production, undone })
}

/// Loads a saved rows file into a temporary table shaped like the table, after checking
/// it is the file the journal recorded.
async fn load(
    client: &Client,
    shape: &TableShape,
    temp: &str,
    file: &RowsFile,
) -> Result<(), RepairError> {
    let bytes = std::fs::read(&file.path).map_err(|err| RepairError::File {
        what: "cannot read the repair's saved rows",
        path: file.path.display().to_string(),
        err,
    })?;
    let sha: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if sha != file.sha256 {
        return Err(RepairError::File {
            what: "the repair's saved rows changed since the repair (checksum differs), refusing to undo from",
            path: file.path.display().to_string(),
            err: std::io::Error::other("sha256 mismatch"),
        });
    }
    let p = Sql::new(client, "production");
    p.batch(&format!(
        "CREATE TEMP TABLE {temp} ON COMMIT DROP AS SELECT {cols} FROM {t} WITH NO DATA",
        cols = shape.column_list(None),
        t = shape.name
    ))
    .await?;
    let failed = |e: tokio_postgres::Error| RepairError::Query {
        which: "production",
        what: format!("loading {}", file.path.display()),
        reason: error_text(&e),
    };
    let sink = client
        .copy_in(&format!(
            "COPY {temp} ({}) FROM STDIN",
            shape.column_list(None)
        ))
        .await
        .map_err(failed)?;
    futures::pin_mut!(sink);
    sink.send(std::io::Cursor::new(bytes))
        .await
        .map_err(failed)?;
    sink.as_mut().finish().await.map_err(failed)?;
    Ok(())
}
