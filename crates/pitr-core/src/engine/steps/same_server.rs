//! The dsn must reach the server that runs on the configured data directory (part of
//! preflight). If it reaches another one, the snapshot and the safety dump are that other
//! server's while this one is stopped and moved aside: the "before" would be a stranger's.
//!
//! A postmaster is known by its port and its start time: `postmaster.pid` holds both (lines 4
//! and 3), and the server the dsn reaches tells its own (`port`, `pg_postmaster_start_time()`).
//! Paths alone would not do: the same data directory path exists on a replica's host, and a
//! data directory may be reached through a link.

use super::{is_running, Recovery};
use crate::engine::ports::CommandSpec;
use crate::engine::step::{fail, StepCtx, StepError};

/// The server the dsn reaches, as it describes itself.
const WHO_SQL: &str = "select current_setting('data_directory'), current_setting('port'), floor(extract(epoch from pg_postmaster_start_time()))::bigint";

/// `postmaster.pid` and the server's own words may differ by the moment between the two
/// clock readings at its start.
const START_SLACK_SECS: i64 = 2;

/// Fails when the dsn answers for a server other than the one running on pgdata.
pub async fn check(ctx: &mut StepCtx, r: &Recovery) -> Result<(), StepError> {
    let dsn = &r.inputs.server.dsn;
    // A dsn that does not answer is the snapshot's to report; nothing to compare here.
    let Ok(rows) = ctx.ports.sql.rows(dsn, WHO_SQL).await else {
        return Ok(());
    };
    let Some(row) = rows.into_iter().next() else {
        return Ok(());
    };
    let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    let (their_dir, their_port, their_start) = (cell(0), cell(1), cell(2));
    let pgdata = r.pgdata().display().to_string();
    let name = &r.inputs.server.name;
    let fix = format!(
        "make `dsn` and `port` those of the server on {pgdata}, or `pgdata` that of the server the dsn reaches. Nothing was changed"
    );
    if !is_running(ctx, r, r.pgdata()).await? {
        return fail(format!(
            "server {name}'s dsn reaches a server on port {their_port} whose data directory is {their_dir}, but no server runs on {pgdata}: the run would dump that other server as \"before\" and restore over {pgdata}; {fix}"
        ));
    }
    let pid_file = r.pgdata().join("postmaster.pid");
    // Lines 3 and 4 only: the start time and the port.
    let read = CommandSpec::new("sed")
        .args(["-n", "3,4p", "--", &pid_file.display().to_string()])
        .run_as(r.run_as());
    let res = ctx.exec(&read).await?;
    let lines: Vec<&str> = res.output.lines().collect();
    let (our_start, our_port) = match (lines.first(), lines.get(1)) {
        (Some(s), Some(p)) if res.success() => (s.trim().to_string(), p.trim().to_string()),
        _ => {
            return ctx.note(format!(
            "{} could not be read: whether the dsn reaches the server on {pgdata} was not checked",
            pid_file.display()
        ))
        }
    };
    let close = match (our_start.parse::<i64>(), their_start.parse::<i64>()) {
        (Ok(a), Ok(b)) => (a - b).abs() <= START_SLACK_SECS,
        _ => false,
    };
    if our_port == their_port && close {
        return ctx.note(format!(
            "the dsn reaches the server running on {pgdata} (port {our_port}, postmaster.pid and the server agree)"
        ));
    }
    fail(format!(
        "server {name}'s dsn reaches another server: it answers on port {their_port} with data directory {their_dir} (started at epoch {their_start}), while the server on {pgdata} runs on port {our_port} (started at epoch {our_start}, {}). The run would snapshot and dump the dsn's server and stop and move {pgdata}; {fix}",
        pid_file.display()
    ))
}
