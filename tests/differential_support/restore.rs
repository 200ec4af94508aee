//! The harness's own side restore: a copy of a base backup, recovery settings it writes
//! itself, and what PostgreSQL reached — paused at the target, or the FATAL it ended with.

use super::cluster::{server_dir, Pg};
use super::shape::{copy_dir, restore_command, write_server_file, Repo, STATE_SQL};
use std::path::Path;
use std::time::Duration;

/// What one real recovery ended with.
#[derive(Debug, Clone)]
pub enum Reached {
    Stopped {
        /// `pg_last_wal_replay_lsn()` at the pause (or at the end of WAL for no target).
        replay_lsn: String,
        /// The timeline replay was on when it stopped, from the history file PostgreSQL
        /// writes when it is then promoted.
        timeline: u32,
        /// `count/max(label)` of the restored table.
        state: String,
        /// PostgreSQL's "recovery stopping ..." line, when it logged one.
        stop_line: Option<String>,
    },
    Failed {
        reason: String,
    },
}

/// Restores `backup` of `repo` into `dir`, replays with `target_lines` (recovery_target_*)
/// on `timeline` (None: 'latest'), pauses, reads, promotes, reads the timeline, stops.
pub fn side_restore(
    repo: &Repo,
    backup: &str,
    target_lines: &[String],
    timeline: Option<u32>,
    dir: &Path,
    port: u16,
) -> Reached {
    server_dir(dir);
    let pg = Pg {
        pgdata: dir.join("pgdata"),
        port,
        socket_dir: dir.to_path_buf(),
        log: dir.join("server.log"),
    };
    copy_dir(&repo.backups().join(backup), &pg.pgdata);
    let mut settings = vec![
        format!(
            "restore_command = '{}'",
            restore_command(&repo.wal_archive(), repo.archive)
        ),
        format!(
            "recovery_target_timeline = '{}'",
            timeline.map_or("latest".to_string(), |t| t.to_string())
        ),
        "recovery_target_action = 'pause'".into(),
        "hot_standby = on".into(),
        format!("port = {port}"),
        format!("unix_socket_directories = '{}'", dir.display()),
        "archive_mode = off".into(),
        "logging_collector = off".into(),
    ];
    settings.extend(target_lines.iter().cloned());
    write_server_file(
        &pg.pgdata.join("postgresql.auto.conf"),
        &(settings.join("\n") + "\n"),
    );
    write_server_file(&pg.pgdata.join("recovery.signal"), "");
    let _stop = StopOnDrop(&pg);
    replay(&pg)
}

/// Stops the side server also when reading it panics.
struct StopOnDrop<'a>(&'a Pg);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop("immediate");
    }
}

fn replay(pg: &Pg) -> Reached {
    if !pg.start() {
        return failed(pg);
    }
    let settled = pg.wait(Duration::from_secs(120), || {
        // The pause state is an error once recovery has ended (no target: it promotes).
        match pg.try_psql(
            "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() \
             THEN pg_get_wal_replay_pause_state() END;",
        ) {
            Some(rows) => rows
                .first()
                .is_some_and(|r| r[0] == "f" || r[1] == "paused"),
            None => !pg.running(),
        }
    });
    if !settled {
        return Reached::Failed {
            reason: format!(
                "replay neither paused nor ended in 120 s: {}",
                pg.log_tail()
            ),
        };
    }
    let Some(rows) = pg.try_psql(&format!(
        "SELECT pg_last_wal_replay_lsn(), pg_is_in_recovery();\n{STATE_SQL}"
    )) else {
        return failed(pg);
    };
    let replay_lsn = rows[0][0].clone();
    let state = rows[1][0].clone();
    if rows[0][1] == "t" {
        pg.psql("SELECT pg_promote(true, 60);");
    }
    let timeline = stop_timeline(pg).unwrap_or(0);
    let stop_line = pg
        .log_text()
        .lines()
        .find(|l| l.contains("recovery stopping"))
        .map(|l| l.trim().to_string());
    Reached::Stopped {
        replay_lsn,
        timeline,
        state,
        stop_line,
    }
}

/// The parent timeline of the newest history file the promote wrote: the one replay ended on.
fn stop_timeline(pg: &Pg) -> Option<u32> {
    let wal = pg.pgdata.join("pg_wal");
    let newest = std::fs::read_dir(&wal)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".history"))
        .max()?;
    let text = std::fs::read_to_string(wal.join(newest)).ok()?;
    let last = text
        .lines()
        .rfind(|l| !l.trim().is_empty() && !l.starts_with('#'))?;
    last.split_whitespace().next()?.parse().ok()
}

fn failed(pg: &Pg) -> Reached {
    pg.wait(Duration::from_secs(30), || !pg.running());
    let log = pg.log_text();
    let reason = log
        .lines()
        .find(|l| l.contains("FATAL") || l.contains("PANIC"))
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| pg.log_tail());
    Reached::Failed { reason }
}
