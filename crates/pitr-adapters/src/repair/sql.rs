//! One connection's statements, each failure named with the server and what was asked.
//! Everything goes through the extended protocol, which runs one statement per call: an
//! operator's `--where` cannot smuggle a second one in.

use super::RepairError;
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

pub struct Sql<'a> {
    client: &'a Client,
    which: &'static str,
}

impl<'a> Sql<'a> {
    pub fn new(client: &'a Client, which: &'static str) -> Sql<'a> {
        Sql { client, which }
    }

    fn failed(&self, sql: &str) -> impl Fn(tokio_postgres::Error) -> RepairError + '_ {
        let what = format!("`{sql}`");
        move |e| RepairError::Query {
            which: self.which,
            what: what.clone(),
            reason: error_text(&e),
        }
    }

    /// A statement without parameters or result (BEGIN, CREATE TEMP TABLE, ...).
    pub async fn batch(&self, sql: &str) -> Result<(), RepairError> {
        self.client
            .execute(sql, &[])
            .await
            .map(drop)
            .map_err(self.failed(sql))
    }

    /// Rows whose every column is text (the query casts).
    pub async fn text_rows(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Vec<Option<String>>>, RepairError> {
        let rows = self
            .client
            .query(sql, params)
            .await
            .map_err(self.failed(sql))?;
        Ok(rows
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect()
            })
            .collect())
    }

    /// `SELECT count(*) <from_where>`.
    pub async fn count(&self, from_where: &str) -> Result<u64, RepairError> {
        let sql = format!("SELECT count(*)::text {from_where}");
        let rows = self.text_rows(&sql, &[]).await?;
        Ok(rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }

    /// Key tuples as text (NULL shown as `NULL`).
    pub async fn keys(&self, sql: &str) -> Result<Vec<Vec<String>>, RepairError> {
        Ok(self
            .text_rows(sql, &[])
            .await?
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|c| c.unwrap_or_else(|| "NULL".into()))
                    .collect()
            })
            .collect())
    }
}

pub fn where_clause(filter: Option<&str>) -> String {
    filter.map(|f| format!(" WHERE ({f})")).unwrap_or_default()
}

pub fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{}: {}", db.severity(), db.message());
            if let Some(d) = db.detail() {
                s.push_str(&format!(" ({d})"));
            }
            s
        }
        None => e.to_string(),
    }
}
