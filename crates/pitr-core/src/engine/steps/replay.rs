//! Following replay until the server pauses at the target (or, for `latest`, promotes at
//! the end of the archive); a server that stops fails the step with its FATAL lines.

use super::{fatal_lines, log_tail, Recovery};
use crate::domain::lsn::Lsn;
use crate::engine::event::ProgressUnit;
use crate::engine::ports::ReplayStatus;
use crate::engine::step::{fail, Step, StepCtx, StepError, StepFuture};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Replay(pub Arc<Recovery>);

const POLL: Duration = Duration::from_millis(300);
const STATUS_SQL: &str = "select pg_is_in_recovery(), pg_last_wal_replay_lsn(), pg_last_xact_replay_timestamp(), pg_get_wal_replay_pause_state()";

impl Replay {
    /// Where replay ends, when known up front.
    fn goal(&self) -> Option<Lsn> {
        let r = &self.0;
        match &r.inputs.target {
            crate::domain::target::RecoveryTarget::Immediate => Some(r.inputs.backup.stop_lsn),
            t => t.lsn(),
        }
    }

    fn done(&self, s: &ReplayStatus) -> bool {
        if self.0.inputs.target.pauses() {
            !s.in_recovery || s.pause_state.as_deref() == Some("paused")
        } else {
            !s.in_recovery
        }
    }
}

/// A WAL receiver means the server streams from a primary: it runs as a standby (whoever
/// made it one: a standby.signal the console never wrote and a cluster manager
/// reconfiguring the node), and replay would follow that primary, never stop at the target.
async fn refuse_streaming(ctx: &mut StepCtx, r: &Recovery, dsn: &str) -> Result<(), StepError> {
    let streaming = ctx.ports.sql.scalar(dsn, RECEIVER_SQL).await.ok().flatten();
    let Some(sender) = streaming.filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    fail(format!(
        "the restored server on {} streams WAL from {sender} (pg_stat_wal_receiver): it runs as a standby of that primary, not as the recovered server, and would never stop at the target. Nothing is waited on. A cluster manager (Patroni) restarting the member as a replica does this: stop it on this node (patroni_stop) and roll back",
        r.data_dir().display()
    ))
}

/// The primary a WAL receiver streams from, if one runs.
const RECEIVER_SQL: &str =
    "select coalesce(sender_host, 'a primary') || coalesce(':' || sender_port, '') from pg_stat_wal_receiver where pid is not null";

impl Step for Replay {
    fn id(&self) -> &'static str {
        "replay"
    }
    fn title(&self) -> String {
        "Replay WAL to the target".into()
    }
    fn describe(&self) -> Vec<String> {
        let until = if self.0.inputs.target.pauses() {
            "until pg_get_wal_replay_pause_state() = 'paused'"
        } else {
            "until pg_is_in_recovery() is false (latest: the server promotes at the archive's end)"
        };
        vec![
            format!("poll every {} ms: {STATUS_SQL}", POLL.as_millis()),
            until.to_string(),
            format!(
                "no progress for {} s: stop and report it with the log's last lines (retry waits on)",
                self.0.inputs.replay_stall_secs
            ),
            format!(
                "on a stopped server: quote FATAL lines of {}",
                self.0.recovered_log().display()
            ),
        ]
    }
    // Over 100 lines on purpose: one polling loop whose arms (progress, stall, pause, failure) share its clock and counters.
    #[allow(clippy::too_many_lines)]
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            // A resumed run (another process) stages again what is left to stage.
            super::spool::start(r, ctx)?;
            let dsn = r.recovered_dsn();
            let start = r.inputs.backup.start_lsn;
            let total = self.goal().map(|g| g.bytes_since(start));
            let progress = ctx.progress(ProgressUnit::WalBytes, total);
            let deadline =
                Instant::now() + Duration::from_secs(r.inputs.replay_timeout_secs.max(1));
            let stall = Duration::from_secs(r.inputs.replay_stall_secs.max(1));
            let mut last_line: Option<Instant> = None;
            let mut last_lsn: Option<Lsn> = None;
            let mut moved = Instant::now();
            let mut last_error: Option<String>;
            let mut error_line: Option<Instant> = None;
            loop {
                let standby = r.data_dir().join("standby.signal");
                if ctx.ports.fs.exists(&standby) {
                    return fail(format!(
                        "{} exists: the restored server runs as a standby (following a primary through primary_conninfo or the archive), not as the recovered server; a backup taken with `pg_basebackup -R`, or a cluster manager (Patroni) restarting the member as a replica, puts it there. Nothing is waited on. Roll back to put everything back; to recover from this backup, take the file out of the backup (or pause the cluster manager) and run again",
                        standby.display()
                    ));
                }
                match ctx.ports.sql.replay_status(&dsn).await {
                    Ok(s) => {
                        last_error = None;
                        if s.in_recovery {
                            refuse_streaming(ctx, r, &dsn).await?;
                        }
                        let lsn = s.replay_lsn.unwrap_or(start);
                        if last_lsn != Some(lsn) {
                            last_lsn = Some(lsn);
                            moved = Instant::now();
                        }
                        progress.report(lsn.bytes_since(start), false);
                        if last_line.is_none_or(|l| l.elapsed() >= Duration::from_secs(2))
                            || self.done(&s)
                        {
                            last_line = Some(Instant::now());
                            let t = s
                                .last_replay_time
                                .map(|t| t.to_rfc3339())
                                .unwrap_or_else(|| "none yet".into());
                            ctx.output(&format!(
                                "replayed to {lsn}, last commit {t}, {}",
                                s.pause_state.as_deref().unwrap_or("recovery finished")
                            ));
                        }
                        if self.done(&s) {
                            progress.report(lsn.bytes_since(start), true);
                            ctx.set(crate::engine::facts::REPLAY_LSN, &lsn);
                            ctx.set(crate::engine::facts::LAST_REPLAY_TIME, &s.last_replay_time);
                            let how = if s.in_recovery {
                                "paused at the target"
                            } else {
                                "recovery finished, server promoted"
                            };
                            ctx.note(format!("{how}: replayed to {lsn}"))?;
                            return super::spool::finish(r, ctx).await;
                        }
                    }
                    Err(e) => {
                        let alive = ctx
                            .ports
                            .commands
                            .run(&r.status_cmd(r.data_dir()), &|_| {})
                            .await
                            .map(|res| res.success())
                            .unwrap_or(false);
                        if !alive {
                            return fail(format!(
                                "the recovering server stopped (last error: {e}). Server log {}:\n{}",
                                r.recovered_log().display(),
                                fatal_lines(ctx, &r.recovered_log())
                            ));
                        }
                        // It runs but does not answer: say so, every few seconds.
                        if error_line.is_none_or(|l| l.elapsed() >= Duration::from_secs(5)) {
                            error_line = Some(Instant::now());
                            ctx.output(&format!(
                                "the recovering server runs but does not answer: {e}"
                            ));
                        }
                        last_error = Some(e.to_string());
                    }
                }
                if moved.elapsed() >= stall {
                    let at = last_lsn
                        .map(|l| l.to_string())
                        .unwrap_or_else(|| "nowhere yet".into());
                    let why = last_error
                        .map(|e| format!("; the server does not answer: {e}"))
                        .unwrap_or_default();
                    return fail(format!(
                        "replay has not moved from {at} for {} s (replay_stall_secs){why}. The server still runs. Last lines of {}:\n{}\nRetry to wait longer, roll back to put everything back, or abort to leave it as it is (resume later)",
                        stall.as_secs(),
                        r.recovered_log().display(),
                        log_tail(ctx, &r.recovered_log(), 8)
                    ));
                }
                if Instant::now() > deadline {
                    return fail(format!(
                        "replay did not reach the target within {} s; the server still runs, see {}",
                        r.inputs.replay_timeout_secs,
                        r.recovered_log().display()
                    ));
                }
                tokio::time::sleep(POLL).await;
            }
        })
    }
}
