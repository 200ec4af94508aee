//! Logs go to a file: anything written to the terminal would tear the screen.

use std::path::PathBuf;
use tracing_appender::non_blocking::WorkerGuard;

/// Where the console writes its log: `$PITR_CONSOLE_LOG`, else the user's data dir.
pub fn log_file() -> PathBuf {
    if let Some(p) = std::env::var_os("PITR_CONSOLE_LOG") {
        return PathBuf::from(p);
    }
    directories::ProjectDirs::from("", "", "pitr-console")
        .map_or_else(std::env::temp_dir, |d| d.data_local_dir().to_path_buf())
        .join("console.log")
}

/// Sends `tracing` to the log file unless the caller already set a subscriber. The guard
/// flushes the file when dropped.
pub(super) fn init() -> Option<WorkerGuard> {
    let path = log_file();
    let dir = path.parent()?;
    std::fs::create_dir_all(dir).ok()?;
    let file = tracing_appender::rolling::never(dir, path.file_name()?);
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_env("PITR_CONSOLE_LOG_LEVEL")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}
