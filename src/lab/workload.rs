//! What happens inside the lab's database: the schema, a steady trickle of orders,
//! restore points, WAL switches and the incidents.

use super::cluster::Cluster;
use super::error::LabError;
use super::record::{Incident, RestorePoint};
use crate::domain::lsn::Lsn;
use chrono::{DateTime, Utc};
use std::fmt::Write as _;
use std::time::Duration;

pub const DATABASE: &str = "lab";

/// The build's incident: a "cleanup" that deletes the orders of 40% of the customers.
pub const FIRST_INCIDENT: &str = "DELETE FROM orders WHERE customer < 400";
/// Later `lab incident` runs delete a third of whatever is left.
pub const LATER_INCIDENT: &str = "DELETE FROM orders WHERE id % 3 = 0";

/// Rows per transaction at scale 1, and the pause between transactions: small commits
/// spread over time, so a recovery target between any two of them means something.
const ROWS_PER_BATCH: u32 = 40;
const PAUSE: &str = "0.1";

/// A server timestamp as RFC 3339 UTC, whatever the session's zone.
fn ts(expr: &str) -> String {
    format!("to_char(({expr}) at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
}

pub fn create_schema(c: &Cluster) -> Result<(), LabError> {
    c.psql("postgres", &format!("CREATE DATABASE {DATABASE};"))?;
    c.psql(
        DATABASE,
        "CREATE TABLE orders (
            id bigserial PRIMARY KEY,
            customer int NOT NULL,
            amount numeric NOT NULL,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE INDEX orders_created_at ON orders (created_at);",
    )
    .map(drop)
}

/// `batches` small transactions of `ROWS_PER_BATCH * scale` orders, 0.1 s apart.
pub fn trickle(c: &Cluster, batches: u32, scale: u32) -> Result<(), LabError> {
    let rows = ROWS_PER_BATCH * scale.max(1);
    let mut script = String::new();
    for _ in 0..batches {
        let _ = writeln!(
            script,
            "INSERT INTO orders (customer, amount) \
             SELECT (random() * 999)::int, round((random() * 500)::numeric, 2) \
             FROM generate_series(1, {rows});\nSELECT pg_sleep({PAUSE});"
        );
    }
    c.psql(DATABASE, &script).map(drop)
}

pub fn restore_point(c: &Cluster, name: &str) -> Result<RestorePoint, LabError> {
    let row = c.row(
        DATABASE,
        &format!(
            "SELECT pg_create_restore_point('{name}'), {};",
            ts("clock_timestamp()")
        ),
        2,
    )?;
    Ok(RestorePoint {
        name: name.to_string(),
        lsn: lsn(&row[0])?,
        time: time(&row[1])?,
    })
}

/// Closes the current segment and waits until the archiver has it (or reports why not).
pub fn switch_and_wait_archived(c: &Cluster) -> Result<String, LabError> {
    let row = c.row(DATABASE, "SELECT pg_walfile_name(pg_switch_wal());", 1)?;
    let segment = row[0].clone();
    wait_archived(c, &segment)?;
    Ok(segment)
}

pub fn wait_archived(c: &Cluster, segment: &str) -> Result<(), LabError> {
    let mut failure = String::new();
    let result = c.wait_for(
        &format!("the archiver to archive {segment}"),
        Duration::from_secs(60),
        || {
            let row = c.row(
                DATABASE,
                "SELECT coalesce(last_archived_wal, ''), coalesce(last_failed_wal, ''), failed_count FROM pg_stat_archiver;",
                3,
            )?;
            if row[2] != "0" {
                failure = format!(" (archiver failures: {}, last failed {})", row[2], row[1]);
            }
            // Segment names of one timeline sort like their positions.
            Ok(row[0].len() == 24 && row[0].as_str() >= segment)
        },
    );
    result.map_err(|e| match e {
        LabError::Timeout { what, secs, log } => LabError::Timeout {
            what: format!("{what}{failure}"),
            secs,
            log,
        },
        other => other,
    })
}

/// Runs `statement` in its own transaction and records what the server saw around it.
pub fn incident(c: &Cluster, statement: &str) -> Result<Incident, LabError> {
    let script = format!(
        "SELECT {now}, pg_current_wal_lsn(), (SELECT count(*) FROM orders);
BEGIN;
WITH gone AS ({statement} RETURNING 1) SELECT count(*) AS deleted, txid_current() AS xid FROM gone \\gset
COMMIT;
SELECT {now}, pg_current_wal_lsn(), (SELECT count(*) FROM orders), :deleted, :xid,
       coalesce({commit}, '');",
        now = ts("clock_timestamp()"),
        commit = ts("pg_xact_commit_timestamp((:xid % 4294967296)::text::xid)"),
    );
    let rows = c.psql(DATABASE, &script)?;
    let [before, after] = rows.as_slice() else {
        return Err(LabError::Output {
            what: "the incident script".into(),
            output: format!("{rows:?}"),
            expected: "two rows: before and after the DELETE",
        });
    };
    if before.len() != 3 || after.len() != 6 {
        return Err(LabError::Output {
            what: "the incident script".into(),
            output: format!("{rows:?}"),
            expected: "3 columns before, 6 after",
        });
    }
    Ok(Incident {
        statement: statement.to_string(),
        time_before: time(&before[0])?,
        lsn_before: lsn(&before[1])?,
        rows_before: number(&before[2])?,
        time_after: time(&after[0])?,
        lsn_after: lsn(&after[1])?,
        rows_after: number(&after[2])?,
        deleted: number(&after[3])?,
        xid: number(&after[4])?,
        commit_time: if after[5].is_empty() {
            None
        } else {
            Some(time(&after[5])?)
        },
    })
}

pub fn lsn(s: &str) -> Result<Lsn, LabError> {
    s.parse().map_err(|_| LabError::Output {
        what: "the server".into(),
        output: s.to_string(),
        expected: "an LSN like 0/16B3748",
    })
}

pub fn time(s: &str) -> Result<DateTime<Utc>, LabError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| LabError::Output {
            what: "the server".into(),
            output: s.to_string(),
            expected: "an RFC 3339 timestamp",
        })
}

pub fn number(s: &str) -> Result<u64, LabError> {
    s.parse().map_err(|_| LabError::Output {
        what: "the server".into(),
        output: s.to_string(),
        expected: "a whole number",
    })
}
