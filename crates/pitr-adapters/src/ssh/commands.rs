//! The engine's `CommandRunner` on a remote host.

use super::{SshPool, SshTarget};
use crate::engine::ports::{
    shell_quote, CommandResult, CommandRunner, CommandSpec, LineSink, PortError,
};
use futures::future::BoxFuture;
use openssh::{Session, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};

/// Output kept in a result (the tail); the full stream goes to the line sink.
const KEEP: usize = 16 * 1024;
/// Extra time the local side waits past a command's own timeout (the remote `timeout`
/// kills it first; this catches a host that stopped answering).
const GRACE: Duration = Duration::from_secs(20);

#[derive(Clone)]
pub struct RemoteCommands {
    pub(super) target: SshTarget,
    pub(super) pool: Arc<SshPool>,
}

/// What a remote command did, its streams kept apart.
pub(super) struct Captured {
    pub exit_code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl RemoteCommands {
    pub fn new(target: SshTarget, pool: Arc<SshPool>) -> RemoteCommands {
        RemoteCommands { target, pool }
    }

    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// The remote shell line for `cmd`: timeout, user switch, environment, redirection.
    /// A redirection happens as the user the command runs as, so that user owns the file.
    pub fn remote_line(&self, cmd: &CommandSpec) -> String {
        let quote = |words: &[String]| {
            words
                .iter()
                .map(|w| shell_quote(w))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut inner: Vec<String> = Vec::new();
        // Secrets never enter the command line (the remote host's `ps` shows it to every
        // user there): a shell reads them from standard input and exports them for the
        // command it then becomes. `sudo -n` in front does not reset what it sets.
        if !cmd.secret_env.is_empty() {
            let reads: Vec<String> = cmd
                .secret_env
                .iter()
                .map(|(k, _)| format!("IFS= read -r {k} && export {k}"))
                .collect();
            inner.extend([
                "sh".into(),
                "-c".into(),
                format!("{} && exec \"$@\"", reads.join(" && ")),
                "sh".into(),
            ]);
        }
        if !cmd.env.is_empty() {
            inner.push("env".into());
            inner.extend(cmd.env.iter().map(|(k, v)| format!("{k}={v}")));
        }
        inner.push(cmd.program.clone());
        inner.extend(cmd.args.iter().cloned());
        if let Some(p) = &cmd.stdout_to {
            let line = format!(
                "umask 077; exec {} > {}",
                quote(&inner),
                shell_quote(&p.display().to_string())
            );
            inner = vec!["sh".into(), "-c".into(), line];
        }
        let mut words: Vec<String> = Vec::new();
        if let Some(t) = cmd.timeout {
            words.extend([
                "timeout".into(),
                "-k".into(),
                "10".into(),
                format!("{}s", t.as_secs().max(1)),
            ]);
        }
        let switch = self.switch_words(cmd.run_as.as_deref());
        // The other user may not enter the login user's home, where the session starts.
        let cd = if switch.is_empty() { "" } else { "cd / && " };
        words.extend(switch);
        words.extend(inner);
        format!("{cd}{}", quote(&words))
    }

    /// `sudo -n -u USER --` unless `user` is the login user (or none is asked).
    pub(super) fn switch_words(&self, user: Option<&str>) -> Vec<String> {
        match user {
            Some(u) if Some(u) != self.target.login_user().as_deref() => vec![
                "sudo".into(),
                "-n".into(),
                "-u".into(),
                u.to_string(),
                "--".into(),
            ],
            _ => Vec::new(),
        }
    }

    fn lost(&self, what: &str, detail: &str) -> PortError {
        PortError::new(crate::engine::ports::PortErrorKind::Unreachable, format!(
            "lost connection to {} during `{what}`: {detail}; whether it finished on {} is unknown: check there, then retry the step or resume the run once the host answers",
            self.target.label(),
            self.target.host
        ))
    }

    /// After ssh reported a failure: was it the connection (the master is gone) or the
    /// remote command (exit 255, a signal)?
    async fn connection_lost(&self, session: &Session) -> bool {
        session.check().await.is_err()
    }

    /// Runs `line`, feeding `stdin`, collecting both streams; lines go to `lines` as they come.
    // Over 100 lines on purpose: one remote command's life (spawn, stdin, timeout, exit) shares its handles.
    #[allow(clippy::too_many_lines)]
    pub(super) async fn capture(
        &self,
        line: &str,
        shown: &str,
        stdin: Option<&[u8]>,
        lines: Option<LineSink<'_>>,
        timeout: Option<Duration>,
    ) -> Result<(Captured, String, bool), PortError> {
        let session = self.pool.session(&self.target).await?;
        let mut c = session.raw_command(line);
        c.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c
            .spawn()
            .await
            .map_err(|e| self.lost(shown, &e.to_string()))?;
        if let (Some(data), Some(mut w)) = (stdin, child.stdin().take()) {
            w.write_all(data)
                .await
                .map_err(|e| self.lost(shown, &format!("cannot send input: {e}")))?;
            w.shutdown().await.ok();
        }
        let out = child.stdout().take();
        let err = child.stderr().take();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let out_task = async move {
            let mut buf = Vec::new();
            if let Some(mut o) = out {
                if lines.is_some() {
                    let mut r = BufReader::new(o).lines();
                    while let Ok(Some(l)) = r.next_line().await {
                        buf.extend_from_slice(l.as_bytes());
                        buf.push(b'\n');
                        let _ = tx.send(l);
                    }
                } else {
                    let _ = o.read_to_end(&mut buf).await;
                }
            }
            buf
        };
        let err_task = pump(err, lines.is_some());
        let mut merged = String::new();
        let show = async {
            while let Some(l) = rx.recv().await {
                if let Some(sink) = lines {
                    sink(&l);
                }
                keep_tail(&mut merged, &l);
            }
        };
        let work = async {
            let (stdout, (stderr, err_lines), ()) = tokio::join!(out_task, err_task, show);
            (stdout, stderr, err_lines, child.wait().await)
        };
        let limit = timeout.map(|t| t + GRACE);
        let done = match limit {
            Some(l) => tokio::time::timeout(l, work).await.ok(),
            None => Some(work.await),
        };
        let Some((stdout, stderr, err_lines, status)) = done else {
            return if self.connection_lost(&session).await {
                Err(self.lost(shown, "the host stopped answering"))
            } else {
                Ok((
                    Captured {
                        exit_code: None,
                        stdout: Vec::new(),
                        stderr: String::new(),
                    },
                    merged,
                    true,
                ))
            };
        };
        for l in &err_lines {
            if let Some(sink) = lines {
                sink(l);
            }
            keep_tail(&mut merged, l);
        }
        let exit_code = match status {
            Ok(s) => s.code(),
            Err(openssh::Error::Remote(e)) if e.kind() == std::io::ErrorKind::NotFound => Some(127),
            Err(e) => {
                if self.connection_lost(&session).await {
                    let why = match stderr.lines().last() {
                        Some(l) if !l.trim().is_empty() => format!("{e} ({})", l.trim()),
                        _ => e.to_string(),
                    };
                    return Err(self.lost(shown, &why));
                }
                // The master still answers: the command itself exited 255 or was killed.
                Some(255)
            }
        };
        let timed_out = timeout.is_some() && exit_code == Some(124);
        Ok((
            Captured {
                exit_code,
                stdout,
                stderr,
            },
            merged,
            timed_out,
        ))
    }
}

fn keep_tail(out: &mut String, line: &str) {
    out.push_str(line);
    out.push('\n');
    if out.len() > 2 * KEEP {
        let cut = out.len() - KEEP;
        let cut = (cut..out.len())
            .find(|i| out.is_char_boundary(*i))
            .unwrap_or(cut);
        out.drain(..cut);
    }
}

/// Reads standard error to its end: the whole text, and its lines when they are shown.
async fn pump<R: AsyncRead + Unpin>(r: Option<R>, want_lines: bool) -> (String, Vec<String>) {
    let Some(r) = r else {
        return (String::new(), Vec::new());
    };
    let mut text = String::new();
    let mut list = Vec::new();
    let mut reader = BufReader::new(r).lines();
    while let Ok(Some(l)) = reader.next_line().await {
        text.push_str(&l);
        text.push('\n');
        if want_lines {
            list.push(l);
        }
    }
    (text, list)
}

/// The secrets `remote_line` reads, one a line, in order; None without any. A name that
/// is not a shell variable, or a value holding a newline, cannot be passed this way.
fn secret_input(cmd: &CommandSpec) -> Result<Option<Vec<u8>>, PortError> {
    if cmd.secret_env.is_empty() {
        return Ok(None);
    }
    let mut input = Vec::new();
    for (k, v) in &cmd.secret_env {
        let name_ok = !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !name_ok || v.contains(['\n', '\r', '\0']) {
            return Err(PortError::new(crate::engine::ports::PortErrorKind::Refused, format!(
                "{k} cannot be passed to `{}` over SSH: a secret must be a single line under a shell variable's name; use a .pgpass on that host instead",
                cmd.display()
            )));
        }
        input.extend_from_slice(v.as_bytes());
        input.push(b'\n');
    }
    Ok(Some(input))
}

impl CommandRunner for RemoteCommands {
    fn run<'a>(
        &'a self,
        cmd: &'a CommandSpec,
        lines: LineSink<'a>,
    ) -> BoxFuture<'a, Result<CommandResult, PortError>> {
        Box::pin(async move {
            let started = Instant::now();
            let line = self.remote_line(cmd);
            tracing::debug!(host = %self.target.label(), %line, "remote command");
            let secrets = secret_input(cmd)?;
            let (c, output, timed_out) = self
                .capture(
                    &line,
                    &cmd.display(),
                    secrets.as_deref(),
                    Some(lines),
                    cmd.timeout,
                )
                .await?;
            let output = if output.is_empty() {
                String::from_utf8_lossy(&c.stdout).into_owned()
            } else {
                output
            };
            Ok(CommandResult {
                exit_code: if timed_out { None } else { c.exit_code },
                timed_out,
                output,
                duration: started.elapsed(),
            })
        })
    }

    fn host(&self) -> Option<String> {
        Some(self.target.host.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(user: Option<&str>) -> RemoteCommands {
        let mut t = SshTarget::new("db1");
        t.user = user.map(str::to_string);
        RemoteCommands::new(t, SshPool::new())
    }

    #[test]
    fn remote_lines() {
        let r = runner(Some("admin"));
        let c = CommandSpec::new("/usr/lib/postgresql/15/bin/pg_ctl")
            .args(["stop", "-D", "/var/lib/pg data"])
            .run_as(Some("postgres"))
            .env("LC_ALL", "C")
            .timeout(Duration::from_secs(180));
        assert_eq!(
            r.remote_line(&c),
            "cd / && timeout -k 10 180s sudo -n -u postgres -- env LC_ALL=C /usr/lib/postgresql/15/bin/pg_ctl stop -D '/var/lib/pg data'"
        );
        let same = runner(Some("postgres"));
        let d = CommandSpec::new("pg_dump")
            .run_as(Some("postgres"))
            .stdout_to(std::path::Path::new("/tmp/d x"));
        assert_eq!(
            same.remote_line(&d),
            r#"sh -c 'umask 077; exec pg_dump > '\''/tmp/d x'\'''"#
        );
        assert_eq!(
            r.remote_line(&d),
            r#"cd / && sudo -n -u postgres -- sh -c 'umask 077; exec pg_dump > '\''/tmp/d x'\'''"#
        );
        let s = CommandSpec::shell("systemctl stop api");
        assert_eq!(r.remote_line(&s), "sh -c 'systemctl stop api'");
    }

    #[test]
    fn a_secret_travels_on_standard_input_never_in_the_line() {
        let r = runner(Some("admin"));
        let c = CommandSpec::new("pg_dump")
            .args(["-d", "host=db1"])
            .run_as(Some("postgres"))
            .env("LC_ALL", "C")
            .secret_env("PGPASSWORD", "Hunter2 x");
        let line = r.remote_line(&c);
        assert!(!line.contains("Hunter2"), "{line}");
        assert_eq!(
            line,
            r#"cd / && sudo -n -u postgres -- sh -c 'IFS= read -r PGPASSWORD && export PGPASSWORD && exec "$@"' sh env LC_ALL=C pg_dump -d host=db1"#
        );
        assert_eq!(secret_input(&c).unwrap().unwrap(), b"Hunter2 x\n");
        let bad = CommandSpec::new("pg_dump").secret_env("PGPASSWORD", "a\nb");
        assert!(secret_input(&bad).unwrap_err().message.contains(".pgpass"));
    }
}
