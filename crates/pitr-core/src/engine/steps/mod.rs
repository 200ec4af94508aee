//! The steps of the PITR run, sharing one `Recovery`: the inputs and the paths derived
//! from the run id.

pub mod apps;
pub mod backup_check;
pub mod combine;
pub mod config;
pub mod data_dir;
pub mod decide;
pub mod dump;
pub mod layout;
pub mod patroni;
pub mod patroni_daemon;
pub mod preflight;
pub mod replay;
pub mod same_server;
pub mod server;
pub mod snapshot;
pub mod spool;
pub mod summary;
pub mod tablespaces;
pub mod tool_restore;
pub mod verify;
pub mod versions;

use super::control_data::ControlData;
use super::inputs::{RecoveryInputs, RestoreMode};
use super::ports::{shell_quote, CommandSpec};
use super::step::{fail, StepCtx, StepError};
use crate::domain::control::{DebianCluster, Service};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long `pg_ctl -w` may wait for a start or a stop.
const PG_CTL_WAIT_SECS: u64 = 600;

pub struct Recovery {
    pub inputs: RecoveryInputs,
    pub run_id: String,
    /// The WAL stager this process runs for the run, if any.
    pub stager: spool::Slot,
}

impl Recovery {
    pub fn new(inputs: RecoveryInputs, run_id: impl Into<String>) -> Recovery {
        Recovery {
            inputs,
            run_id: run_id.into(),
            stager: spool::Slot::default(),
        }
    }

    pub fn run_as(&self) -> Option<&str> {
        self.inputs.server.run_as.as_deref()
    }

    pub fn tool(&self, name: &str) -> String {
        self.inputs.server.bin_dir.join(name).display().to_string()
    }

    pub fn pgdata(&self) -> &Path {
        &self.inputs.server.pgdata
    }

    pub fn side(&self) -> bool {
        matches!(self.inputs.mode, RestoreMode::Side { .. })
    }

    /// Where the backup is restored and the recovered instance runs.
    pub fn data_dir(&self) -> &Path {
        match &self.inputs.mode {
            RestoreMode::InPlace => self.pgdata(),
            RestoreMode::Side { dir, .. } => dir,
        }
    }

    /// `<path>.pitr-<run-id><suffix>` beside `path`.
    pub fn beside(&self, path: &Path, suffix: &str) -> PathBuf {
        let mut s = path.as_os_str().to_os_string();
        s.push(format!(".pitr-{}{suffix}", self.run_id));
        PathBuf::from(s)
    }

    /// Where the original data directory goes.
    pub fn aside_dir(&self) -> PathBuf {
        self.beside(self.pgdata(), "")
    }

    /// Where a restored directory goes on roll back.
    pub fn restored_aside(&self) -> PathBuf {
        self.beside(self.data_dir(), "-restored")
    }

    /// The recovered server's log: beside its data directory, so it outlives a roll back,
    /// unless its service keeps its own.
    pub fn log_file(&self) -> PathBuf {
        self.log_for(self.data_dir(), self.beside(self.data_dir(), ".log"))
    }

    pub fn recovered_port(&self) -> u16 {
        match &self.inputs.mode {
            RestoreMode::InPlace => self.inputs.server.port,
            RestoreMode::Side { port, .. } => *port,
        }
    }

    /// The side instance's socket directory: the server's, else /tmp (the port differs).
    pub fn recovered_socket_dir(&self) -> Option<PathBuf> {
        match &self.inputs.mode {
            RestoreMode::InPlace => self.inputs.server.socket_dir.clone(),
            RestoreMode::Side { .. } => Some(
                self.inputs
                    .server
                    .socket_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("/tmp")),
            ),
        }
    }

    /// The connection string of the recovered instance.
    pub fn recovered_dsn(&self) -> String {
        match &self.inputs.mode {
            RestoreMode::InPlace => self.inputs.server.dsn.clone(),
            RestoreMode::Side { port, .. } => {
                let host = self
                    .recovered_socket_dir()
                    .unwrap_or_default()
                    .display()
                    .to_string();
                with_host_port(&self.inputs.server.dsn, &host, *port)
            }
        }
    }

    pub fn pg_ctl(&self) -> CommandSpec {
        CommandSpec::new(self.tool("pg_ctl"))
            .run_as(self.run_as())
            .env("LC_ALL", "C")
    }

    pub fn status_cmd(&self, dir: &Path) -> CommandSpec {
        self.pg_ctl()
            .args(["status", "-D", &dir.display().to_string()])
    }

    /// Production's data directory is driven by its service; anything else (a side
    /// directory) by pg_ctl.
    fn service_for(&self, dir: &Path) -> &Service {
        if dir == self.pgdata() {
            &self.inputs.server.service
        } else {
            &Service::PgCtl
        }
    }

    /// Where a start of the server in `dir` logs: the service's own log (pg_ctlcluster
    /// chooses it), else `pg_ctl_log`, the file pg_ctl is told with `-l`.
    pub fn log_for(&self, dir: &Path, pg_ctl_log: PathBuf) -> PathBuf {
        match self.service_for(dir) {
            Service::PgCtlCluster { cluster } => cluster.log_file(),
            Service::PgCtl | Service::Systemd { .. } => pg_ctl_log,
        }
    }

    pub fn stop_cmd(&self, dir: &Path, mode: &str) -> CommandSpec {
        let cmd = match self.service_for(dir) {
            Service::PgCtlCluster { cluster } => {
                self.pg_ctlcluster(cluster, "stop").args(["-m", mode])
            }
            // Immediate is a signal to the postmaster; pg_ctl sends it, systemd then sees the
            // unit's main process end.
            Service::Systemd { unit } if mode != "immediate" => {
                CommandSpec::new("systemctl").args(["stop", unit.as_str()])
            }
            _ => self.pg_ctl().args([
                "stop",
                "-D",
                &dir.display().to_string(),
                "-m",
                mode,
                "-w",
                "-t",
                "120",
            ]),
        };
        cmd.timeout(Duration::from_secs(180))
    }

    /// The start of the server in `dir` by its service. A pg_ctl start (production's own,
    /// or any side directory) runs with `-p`, `-k`, production's `config_file` when it lives
    /// outside the data directory (a side copy gets its own `data_directory`), and `extra`;
    /// pg_ctl waits `wait_secs` for the server to accept connections.
    pub fn start_cmd(
        &self,
        dir: &Path,
        port: u16,
        socket: Option<&Path>,
        log: &Path,
        extra: &str,
        wait_secs: u64,
    ) -> CommandSpec {
        let wait = Duration::from_secs(wait_secs + 60);
        match self.service_for(dir) {
            // The cluster's own port, socket, config and log; no extra options, so that
            // pg_ctlcluster still hands the start to systemd where systemd runs.
            Service::PgCtlCluster { cluster } => {
                return self.pg_ctlcluster(cluster, "start").timeout(wait)
            }
            Service::Systemd { unit } => {
                return CommandSpec::new("systemctl")
                    .args(["start", unit.as_str()])
                    .timeout(wait)
            }
            Service::PgCtl => {}
        }
        let mut opts = format!("-p {port}");
        if let Some(s) = socket {
            opts.push_str(&format!(" -k '{}'", s.display()));
        }
        if let Some(conf) = &self.inputs.server.config_file {
            opts.push_str(&format!(
                " -c config_file={}",
                shell_quote(&conf.display().to_string())
            ));
            if dir != self.pgdata() {
                // Production's configuration names production's data directory and pid
                // file; the side instance keeps the rest (includes, hba, ident).
                opts.push_str(&format!(
                    " -c data_directory={} -c external_pid_file=''",
                    shell_quote(&dir.display().to_string())
                ));
            }
        }
        if !extra.is_empty() {
            opts.push(' ');
            opts.push_str(extra);
        }
        self.pg_ctl()
            .args([
                "start",
                "-D",
                &dir.display().to_string(),
                "-w",
                "-t",
                &wait_secs.to_string(),
            ])
            .args(["-l", &log.display().to_string(), "-o", &opts])
            .timeout(wait)
    }

    fn pg_ctlcluster(&self, cluster: &DebianCluster, action: &str) -> CommandSpec {
        CommandSpec::new("pg_ctlcluster")
            .args([cluster.version.as_str(), cluster.name.as_str(), action])
            .run_as(self.run_as())
            .env("LC_ALL", "C")
    }

    /// The recovered instance's start, by the same service as production's (a Debian
    /// cluster in place starts with pg_ctlcluster and logs where the cluster logs). A pg_ctl
    /// start forces its log into the console's file (`-l`, `logging_collector=off`), so that
    /// a FATAL line, a stall's last lines or a refused setting are read where they are
    /// written even when production's configuration sends them to `log_directory`.
    ///
    /// pg_ctl waits no longer than a stall: a server that does not accept connections by
    /// then (replay before a consistent state, waiting on a slow archive) is followed, and
    /// reported, by the replay step rather than waited on in silence.
    pub fn start_recovered_cmd(&self) -> CommandSpec {
        self.start_cmd(
            self.data_dir(),
            self.recovered_port(),
            self.recovered_socket_dir().as_deref(),
            &self.log_file(),
            "-c logging_collector=off",
            self.start_wait_secs(),
        )
    }

    pub fn start_wait_secs(&self) -> u64 {
        self.inputs.replay_stall_secs.clamp(5, PG_CTL_WAIT_SECS)
    }

    /// Where the recovered instance's start logs.
    pub fn recovered_log(&self) -> PathBuf {
        self.log_for(self.data_dir(), self.log_file())
    }

    pub fn controldata_cmd(&self, dir: &Path) -> CommandSpec {
        CommandSpec::new(self.tool("pg_controldata"))
            .arg(dir.display().to_string())
            .run_as(self.run_as())
            .env("LC_ALL", "C")
    }
}

/// `dsn` (key=value form) with host and port replaced.
pub fn with_host_port(dsn: &str, host: &str, port: u16) -> String {
    let mut words: Vec<String> = dsn
        .split_whitespace()
        .filter(|w| {
            !w.starts_with("host=") && !w.starts_with("port=") && !w.starts_with("hostaddr=")
        })
        .map(str::to_string)
        .collect();
    words.insert(0, format!("port={port}"));
    words.insert(0, format!("host={host}"));
    words.join(" ")
}

pub async fn is_running(ctx: &mut StepCtx, r: &Recovery, dir: &Path) -> Result<bool, StepError> {
    Ok(ctx.exec(&r.status_cmd(dir)).await?.success())
}

pub async fn read_control(
    ctx: &mut StepCtx,
    r: &Recovery,
    dir: &Path,
) -> Result<ControlData, StepError> {
    let out = ctx.exec_ok(&r.controldata_cmd(dir)).await?;
    ControlData::parse(&out.output)
        .map_err(|e| StepError::Failed(format!("{}: {e}", dir.display())))
}

/// FATAL and PANIC lines of a server log, the last ones, quoted for an error message.
pub fn fatal_lines(ctx: &StepCtx, log: &Path) -> String {
    let text = ctx.ports.fs.read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("FATAL:") || l.contains("PANIC:"))
        .collect();
    if lines.is_empty() {
        // Some refusals come before logging starts and carry no level (`postgres: could
        // not access the server configuration file ...`): the log's end says it then.
        return format!(
            "no FATAL line in {}; its last lines:\n{}",
            log.display(),
            log_tail(ctx, log, 5)
        );
    }
    lines[lines.len().saturating_sub(5)..]
        .iter()
        .map(|l| format!("  \"{}\"", l.trim()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The last lines of a server log, quoted for an error message.
pub fn log_tail(ctx: &StepCtx, log: &Path, n: usize) -> String {
    match ctx.ports.fs.read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            lines[lines.len().saturating_sub(n)..]
                .iter()
                .map(|l| format!("  \"{}\"", l.trim()))
                .collect::<Vec<_>>()
                .join("\n")
        }
        Err(e) => format!("  (cannot read it: {})", e.message),
    }
}

/// Stops the server in `dir`: fast, then immediate if fast does not finish.
pub async fn stop_server(ctx: &mut StepCtx, r: &Recovery, dir: &Path) -> Result<(), StepError> {
    if !is_running(ctx, r, dir).await? {
        ctx.note(format!("no server running in {}", dir.display()))?;
        return Ok(());
    }
    if ctx.exec(&r.stop_cmd(dir, "fast")).await?.success() {
        return Ok(());
    }
    ctx.note("fast shutdown did not finish; trying immediate")?;
    ctx.exec_ok(&r.stop_cmd(dir, "immediate")).await?;
    if is_running(ctx, r, dir).await? {
        return fail(format!(
            "the server in {} is still running after an immediate stop",
            dir.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::with_host_port;

    #[test]
    fn side_dsn_points_at_the_side_instance() {
        assert_eq!(
            with_host_port(
                "host=/var/run/postgresql port=5432 user=postgres dbname=app",
                "/tmp",
                5433
            ),
            "host=/tmp port=5433 user=postgres dbname=app"
        );
    }
}
