//! A table as the catalog describes it: its columns, its key and its triggers. Every name
//! comes back from PostgreSQL already quoted (`quote_ident`, `regclass`), so what the
//! operator typed is never spliced into SQL.

use super::sql::Sql;
use super::{RepairError, RepairMode};
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// `quote_ident(name)`.
    pub quoted: String,
    /// `format_type`, e.g. `numeric(10,2)`.
    pub type_name: String,
    /// GENERATED ALWAYS AS (...) STORED: computed by the server, never written.
    pub generated: bool,
    /// GENERATED ALWAYS AS IDENTITY: written only with OVERRIDING SYSTEM VALUE.
    pub identity_always: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableShape {
    /// Schema-qualified and quoted, e.g. `public.orders`.
    pub name: String,
    pub columns: Vec<Column>,
    /// The key columns, quoted, in key order.
    pub key: Vec<String>,
    /// Enabled user triggers, which fire on the repair's writes as on any other.
    pub triggers: Vec<String>,
}

impl TableShape {
    // Over 100 lines on purpose: the catalog queries that describe a table, in the order the comparison needs them.
    #[allow(clippy::too_many_lines)]
    pub async fn read(
        client: &Client,
        which: &'static str,
        table: &str,
        key: Option<&[String]>,
    ) -> Result<TableShape, RepairError> {
        let q = Sql::new(client, which);
        let found = q
            .text_rows(
                "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relkind::text
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.oid = to_regclass($1::text)",
                &[&table],
            )
            .await;
        let no_table = |hint: String| RepairError::NoTable {
            table: table.to_string(),
            which,
            hint,
        };
        let found = match found {
            Ok(rows) => rows,
            // A name PostgreSQL cannot even parse: say so, the way it does.
            Err(RepairError::Query { reason, .. }) => return Err(no_table(format!(" ({reason})"))),
            Err(e) => return Err(e),
        };
        let Some([Some(name), Some(kind)]) = found.first().map(|r| [r[0].clone(), r[1].clone()])
        else {
            return Err(no_table(
                " (name it as psql would, e.g. orders or \"My Table\" or sales.orders)".into(),
            ));
        };
        if kind != "r" && kind != "p" {
            return Err(no_table(format!(
                " as a table: {name} is a relation of kind `{kind}`; repair writes into tables only"
            )));
        }
        let columns = q
            .text_rows(
                "SELECT a.attname::text, quote_ident(a.attname), format_type(a.atttypid, a.atttypmod),
                        (a.attgenerated <> '')::text, (a.attidentity = 'a')::text
                 FROM pg_attribute a
                 WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped
                 ORDER BY a.attnum",
                &[&name],
            )
            .await?
            .into_iter()
            .map(|r| Column {
                name: r[0].clone().unwrap_or_default(),
                quoted: r[1].clone().unwrap_or_default(),
                type_name: r[2].clone().unwrap_or_default(),
                generated: r[3].as_deref() == Some("true"),
                identity_always: r[4].as_deref() == Some("true"),
            })
            .collect::<Vec<_>>();
        let triggers = q
            .text_rows(
                "SELECT tgname::text FROM pg_trigger
                 WHERE tgrelid = $1::text::regclass AND NOT tgisinternal AND tgenabled <> 'D'
                 ORDER BY tgname",
                &[&name],
            )
            .await?
            .into_iter()
            .filter_map(|r| r[0].clone())
            .collect();
        let key = match key {
            Some(cols) => cols
                .iter()
                .map(|k| {
                    columns
                        .iter()
                        .find(|c| &c.name == k)
                        .map(|c| c.quoted.clone())
                        .ok_or_else(|| {
                            RepairError::Key(format!(
                                "--key: {name} has no column `{k}` (columns: {})",
                                columns
                                    .iter()
                                    .map(|c| c.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => q
                .text_rows(
                    "SELECT quote_ident(a.attname)
                     FROM pg_index i
                     CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, n)
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                     WHERE i.indrelid = $1::text::regclass AND i.indisprimary
                     ORDER BY k.n",
                    &[&name],
                )
                .await?
                .into_iter()
                .filter_map(|r| r[0].clone())
                .collect(),
        };
        Ok(TableShape {
            name,
            columns,
            key,
            triggers,
        })
    }

    /// Refuses unless `side` (named `other`, e.g. "the side instance") has the same columns
    /// with the same types, naming each difference.
    pub fn same_columns_as(&self, side: &TableShape, other: &str) -> Result<(), RepairError> {
        let mut diffs = Vec::new();
        for c in &self.columns {
            match side.columns.iter().find(|s| s.name == c.name) {
                None => diffs.push(format!(
                    "column {} ({}) exists in production only, not in {other}",
                    c.quoted, c.type_name
                )),
                Some(s) if s.type_name != c.type_name => diffs.push(format!(
                    "column {} is {} in production, {} in {other}",
                    c.quoted, c.type_name, s.type_name
                )),
                Some(s) if s.generated != c.generated => {
                    diffs.push(format!("column {} is generated on one side only", c.quoted))
                }
                Some(_) => {}
            }
        }
        for s in &side.columns {
            if !self.columns.iter().any(|c| c.name == s.name) {
                diffs.push(format!(
                    "column {} ({}) exists in {other} only",
                    s.quoted, s.type_name
                ));
            }
        }
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(RepairError::SchemaDiffers(diffs))
        }
    }

    /// Refuses a key that does not identify the selected rows: none at all, NULLs in it,
    /// or the same key twice (on the side, and for an overwrite also in production).
    pub async fn check_key_in(
        &self,
        p: &Sql<'_>,
        side_rows: &str,
        mode: RepairMode,
    ) -> Result<(), RepairError> {
        if self.key.is_empty() {
            return Err(RepairError::Key(format!(
                "{} has no primary key: give --key COLUMNS (comma-separated) that identify a row",
                self.name
            )));
        }
        let key_list = self.key.join(", ");
        let any_null = self
            .key
            .iter()
            .map(|k| format!("{k} IS NULL"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let nulls = p
            .count(&format!("FROM {side_rows} WHERE {any_null}"))
            .await?;
        if nulls > 0 {
            return Err(RepairError::Key(format!(
                "the key ({key_list}) is NULL in {nulls} selected rows of the side instance: choose key columns that are never NULL"
            )));
        }
        let mut tables = vec![(side_rows.to_string(), "the side instance's selection")];
        if mode == RepairMode::Overwrite {
            tables.push((self.name.clone(), "production"));
        }
        for (table, what) in tables {
            let dup = p
                .count(&format!(
                    "FROM (SELECT 1 FROM {table} GROUP BY {key_list} HAVING count(*) > 1) d"
                ))
                .await?;
            if dup > 0 {
                return Err(RepairError::Key(format!(
                    "the key ({key_list}) is not unique in {what}: {dup} keys appear more than once; give --key columns that identify one row"
                )));
            }
        }
        Ok(())
    }

    /// Every column, or those written by INSERT (generated ones left to the server).
    pub fn column_list(&self, alias: Option<&str>) -> String {
        self.list(alias, |_| true)
    }

    pub fn insert_list(&self, alias: Option<&str>) -> String {
        self.list(alias, |c| !c.generated)
    }

    fn list(&self, alias: Option<&str>, keep: impl Fn(&Column) -> bool) -> String {
        self.columns
            .iter()
            .filter(|c| keep(c))
            .map(|c| match alias {
                Some(a) => format!("{a}.{}", c.quoted),
                None => c.quoted.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `OVERRIDING SYSTEM VALUE` where an identity column would refuse the side's values.
    pub fn overriding(&self) -> &'static str {
        if self
            .columns
            .iter()
            .any(|c| c.identity_always && !c.generated)
        {
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        }
    }

    pub fn key_match(&self, a: &str, b: &str) -> String {
        self.key
            .iter()
            .map(|k| format!("{a}.{k} = {b}.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// The whole row compared as text: every type has a text form, not every type an `=`.
    pub fn rows_differ(&self, a: &str, b: &str) -> String {
        format!("{} IS DISTINCT FROM {}", self.row_text(a), self.row_text(b))
    }

    pub fn rows_same(&self, a: &str, b: &str) -> String {
        format!(
            "{} IS NOT DISTINCT FROM {}",
            self.row_text(a),
            self.row_text(b)
        )
    }

    fn row_text(&self, alias: &str) -> String {
        format!(
            "ROW({})",
            self.columns
                .iter()
                .map(|c| format!("{alias}.{}::text", c.quoted))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    pub fn key_text(&self, alias: &str) -> String {
        self.key
            .iter()
            .map(|k| format!("{alias}.{k}::text"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn key_order(&self, alias: &str) -> String {
        self.key
            .iter()
            .map(|k| format!("{alias}.{k}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Columns an UPDATE may set: not the key, not generated, not identity-always.
    pub fn update_set(&self, from: &str) -> String {
        self.columns
            .iter()
            .filter(|c| !c.generated && !c.identity_always && !self.key.contains(&c.quoted))
            .map(|c| format!("{q} = {from}.{q}", q = c.quoted))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
