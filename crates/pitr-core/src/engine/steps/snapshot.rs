//! The "before" picture: row counts of user tables and pg_control identity.

use super::layout::{Layout, LAYOUT_SQL};
use super::{is_running, read_control, Recovery};
use crate::engine::ports::{PortError, Sql};
use crate::engine::step::{fail, Step, StepCtx, StepFuture};
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct Snapshot(pub Arc<Recovery>);

/// Builds one statement counting the rows of every user table exactly (`select 'name',
/// count(*) from name union all ...`); NULL when there is no user table. Two round trips on
/// purpose: a single statement would need query_to_xml, which servers built without libxml
/// (the PostgreSQL 16 wheel, some minimal builds) refuse with "unsupported XML feature".
pub const ROW_COUNTS_SQL: &str = "select string_agg(format('select %L, count(*) from %I.%I', \
format('%I.%I', n.nspname, c.relname), n.nspname, c.relname), ' union all ' order by n.nspname, c.relname) \
from pg_class c join pg_namespace n on n.oid = c.relnamespace \
where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'";

/// Exact row counts of every user table, by the statement [`ROW_COUNTS_SQL`] builds.
pub async fn row_counts(sql: &dyn Sql, dsn: &str) -> Result<BTreeMap<String, i64>, PortError> {
    let Some(count_all) = sql.scalar(dsn, ROW_COUNTS_SQL).await? else {
        return Ok(BTreeMap::new());
    };
    let rows = sql.rows(dsn, &count_all).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let name = row.first().cloned().flatten()?;
            let n = row.get(1).cloned().flatten()?.parse().ok()?;
            Some((name, n))
        })
        .collect())
}

impl Step for Snapshot {
    fn id(&self) -> &'static str {
        "snapshot"
    }

    fn title(&self) -> String {
        "Snapshot before: row counts, pg_control".into()
    }

    fn describe(&self) -> Vec<String> {
        let r = &self.0;
        vec![
            r.status_cmd(r.pgdata()).display(),
            format!("SQL (if running) {ROW_COUNTS_SQL}, then the statement it returns"),
            format!("SQL (if running) {LAYOUT_SQL}: data directory and configuration as planned"),
            r.controldata_cmd(r.pgdata()).display(),
        ]
    }

    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            let running = is_running(ctx, r, r.pgdata()).await?;
            ctx.set(crate::engine::facts::WAS_RUNNING, &running);
            if running {
                let counts = row_counts(ctx.ports.sql.as_ref(), &r.inputs.server.dsn).await?;
                for (t, n) in &counts {
                    ctx.output(&format!("{t}: {n} rows"));
                }
                ctx.note(format!("{} user tables counted", counts.len()))?;
                ctx.set(crate::engine::facts::ROW_COUNTS, &counts);
                let settings = ctx.ports.sql.rows(&r.inputs.server.dsn, LAYOUT_SQL).await?;
                let planned = r
                    .inputs
                    .server
                    .config_file
                    .as_ref()
                    .map(|p| p.display().to_string());
                match Layout::from_rows(&settings)
                    .check(&r.pgdata().display().to_string(), planned.as_deref())
                {
                    Ok(line) => ctx.note(line)?,
                    Err(why) => return fail(why),
                }
            } else {
                ctx.note("server is not running: no row counts")?;
            }
            let control = read_control(ctx, r, r.pgdata()).await?;
            ctx.note(format!(
                "system identifier {}, checkpoint {}, timeline {}, state {}",
                control.system_identifier, control.checkpoint, control.timeline, control.state
            ))?;
            ctx.set(crate::engine::facts::BEFORE_CONTROL, &control);
            Ok(())
        })
    }
}
