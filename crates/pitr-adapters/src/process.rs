//! Local processes for the engine's `CommandRunner`: optionally as another OS user, output
//! streamed line by line, killed (with their process group) on timeout.

use super::run_as::Switch;
use crate::engine::ports::{CommandResult, CommandRunner, CommandSpec, LineSink, PortError};
use futures::future::BoxFuture;
use std::os::unix::fs::OpenOptionsExt;
use std::process::Stdio;
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Output kept in a result (the tail); the full stream goes to the line sink.
const KEEP: usize = 16 * 1024;

pub struct LocalCommands;

impl CommandRunner for LocalCommands {
    fn run<'a>(
        &'a self,
        cmd: &'a CommandSpec,
        lines: LineSink<'a>,
    ) -> BoxFuture<'a, Result<CommandResult, PortError>> {
        Box::pin(async move {
            let mut std_cmd = Switch::to(cmd.run_as.as_deref()).command(&cmd.program);
            std_cmd.args(&cmd.args);
            for (k, v) in cmd.env.iter().chain(&cmd.secret_env) {
                std_cmd.env(k, v);
            }
            std_cmd.stdin(Stdio::null()).stderr(Stdio::piped());
            match &cmd.stdout_to {
                Some(p) => {
                    let f = output_file(p)
                        .map_err(|e| PortError::io(format!("cannot create {}", p.display()), e))?;
                    std_cmd.stdout(f);
                }
                None => {
                    std_cmd.stdout(Stdio::piped());
                }
            }
            let mut c = tokio::process::Command::from(std_cmd);
            c.process_group(0).kill_on_drop(true);
            let started = Instant::now();
            let mut child = c
                .spawn()
                .map_err(|e| PortError::io(format!("cannot start `{}`", cmd.display()), e))?;
            let pid = child.id();
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
            let mut readers = Vec::new();
            if let Some(out) = child.stdout.take() {
                readers.push(tokio::spawn(pump(out, tx.clone())));
            }
            if let Some(err) = child.stderr.take() {
                readers.push(tokio::spawn(pump(err, tx.clone())));
            }
            drop(tx);
            let mut output = String::new();
            let collect = async {
                while let Some(l) = rx.recv().await {
                    lines(&l);
                    output.push_str(&l);
                    output.push('\n');
                    if output.len() > 2 * KEEP {
                        let cut = output.len() - KEEP;
                        let cut = (cut..output.len())
                            .find(|i| output.is_char_boundary(*i))
                            .unwrap_or(cut);
                        output.drain(..cut);
                    }
                }
            };
            let wait = async {
                let (status, ()) = tokio::join!(child.wait(), collect);
                status
            };
            let (status, timed_out) = match cmd.timeout {
                Some(t) => match tokio::time::timeout(t, wait).await {
                    Ok(s) => (Some(s), false),
                    Err(_) => (None, true),
                },
                None => (Some(wait.await), false),
            };
            if timed_out {
                if let Some(pid) = pid {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pid as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            for r in readers {
                r.abort();
            }
            let exit_code = match status {
                Some(Ok(s)) => s.code(),
                Some(Err(e)) => {
                    return Err(PortError::io(format!("waiting for `{}`", cmd.display()), e))
                }
                None => None,
            };
            Ok(CommandResult {
                exit_code,
                timed_out,
                output,
                duration: started.elapsed(),
            })
        })
    }
}

async fn pump<R: AsyncRead + Unpin>(r: R, tx: tokio::sync::mpsc::UnboundedSender<String>) {
    let mut reader = BufReader::new(r).lines();
    while let Ok(Some(l)) = reader.next_line().await {
        if tx.send(l).is_err() {
            break;
        }
    }
}

/// The file a command's standard output goes to (`CommandSpec::stdout_to`): created by the
/// console, readable by nobody else.
pub(crate) fn output_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    #[tokio::test]
    async fn streams_lines_and_exit_code() {
        let seen = Mutex::new(Vec::new());
        let sink = |l: &str| seen.lock().unwrap().push(l.to_string());
        let cmd = CommandSpec::shell("echo one; echo two >&2; exit 3");
        let r = LocalCommands.run(&cmd, &sink).await.unwrap();
        assert_eq!(r.exit_code, Some(3));
        assert_eq!(seen.lock().unwrap().len(), 2);
        assert!(r.output.contains("one") && r.output.contains("two"));
    }

    #[tokio::test]
    async fn times_out() {
        let cmd = CommandSpec::shell("sleep 5").timeout(Duration::from_millis(200));
        let r = LocalCommands.run(&cmd, &|_| {}).await.unwrap();
        assert!(r.timed_out && !r.success());
        assert!(r.duration < Duration::from_secs(2));
    }
}
