//! What the Barman, pgBackRest and WAL-G catalog sources share: running the tool (here as
//! its OS user, or on its host over ssh) and reading a segment size they do not print.

use super::run_as::Switch;
use crate::domain::lsn::Lsn;
use crate::domain::segment::{SegmentSize, WalSegment, MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE};
use crate::engine::ports::{shell_quote, CommandSpec};
use std::path::PathBuf;
use std::process::Stdio;

/// Where a backup tool runs and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolHost {
    /// None: this host. Some: reached with `ssh -o BatchMode=yes user@host`.
    pub host: Option<String>,
    pub user: String,
    /// The repository's own ssh settings, for the console's ssh and the one replay runs.
    pub ssh: SshOptions,
}

/// A repository's `ssh_port`, `ssh_identity`, `ssh_known_hosts`: given to ssh as options,
/// so neither the console's user nor the server's needs a hand-written ~/.ssh/config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshOptions {
    pub port: Option<u16>,
    pub identity: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
}

impl SshOptions {
    /// Every ssh the console runs or writes: no prompt, host keys checked strictly, and
    /// the repository's port, key and known_hosts file. Each word plain, to be quoted by
    /// whoever puts it into a shell line.
    pub fn words(&self) -> Vec<String> {
        let mut w: Vec<String> = [
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=15",
            "-o",
            "StrictHostKeyChecking=yes",
        ]
        .map(String::from)
        .to_vec();
        if let Some(p) = self.port {
            w.extend(["-p".to_string(), p.to_string()]);
        }
        if let Some(i) = &self.identity {
            w.extend([
                "-i".to_string(),
                i.display().to_string(),
                "-o".into(),
                "IdentitiesOnly=yes".into(),
            ]);
        }
        if let Some(k) = &self.known_hosts {
            w.extend([
                "-o".to_string(),
                format!("UserKnownHostsFile={}", k.display()),
            ]);
        }
        w
    }

    /// `ssh OPTIONS` as one shell word list, each word through the engine's quoting.
    pub fn shell_line(&self) -> String {
        let mut line = vec!["ssh".to_string()];
        line.extend(self.words().iter().map(|w| shell_quote(w)));
        line.join(" ")
    }
}

impl ToolHost {
    /// `program args...` as this host and user run it: through runuser/sudo locally, through
    /// ssh (the remote shell gets one quoted command line) otherwise.
    pub fn command(&self, program: &str, args: &[String]) -> CommandSpec {
        match &self.host {
            None => CommandSpec::new(program)
                .args(args.iter().cloned())
                .run_as(Some(&self.user))
                .env("LC_ALL", "C"),
            Some(host) => {
                let mut line = vec!["LC_ALL=C".to_string(), shell_quote(program)];
                line.extend(args.iter().map(|a| shell_quote(a)));
                CommandSpec::new("ssh").args(self.ssh.words()).args([
                    format!("{}@{host}", self.user),
                    "--".into(),
                    line.join(" "),
                ])
            }
        }
    }
}

/// Runs a catalog command to its end and returns its standard output (empty when the spec
/// sends it to a file, created mode 0600 by the console: a WAL segment from `barman get-wal`).
/// `tool` names the program in messages, `hint` says how to install it when it is missing.
pub fn output(spec: &CommandSpec, tool: &str, hint: &str) -> Result<String, String> {
    let mut cmd = Switch::to(spec.run_as.as_deref()).command(&spec.program);
    cmd.args(&spec.args).stdin(Stdio::null());
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    if let Some(p) = &spec.stdout_to {
        let f = crate::process::output_file(p)
            .map_err(|e| format!("cannot create {}: {e}", p.display()))?;
        cmd.stdout(f);
    }
    let out = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "`{}` cannot start: {} not found ({hint})",
                spec.display(),
                spec.program
            )
        } else {
            format!("`{}` cannot start: {e}", spec.display())
        }
    })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // runuser/sudo/sh report a missing program as 127.
        let missing = out.status.code() == Some(127) || stderr.contains("command not found");
        let why = if missing {
            format!("{tool} is not installed where it runs ({hint})")
        } else {
            let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let shown = if tail.is_empty() {
                stdout.lines().rev().take(6).collect::<Vec<_>>().join(" | ")
            } else {
                tail.join(" | ")
            };
            format!("exit status {}: {shown}", out.status)
        };
        return Err(format!("`{}` failed: {why}", spec.display()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The segment size that maps every (LSN, name of the segment holding it) pair consistently,
/// preferring `stated` when a tool prints it. Tools print a backup's start LSN and its first
/// segment's name, which is enough: only one power of two puts the LSN in that segment
/// unless the LSN lies in the very first segment of a log id.
pub fn segment_size(
    stated: Option<u64>,
    pairs: &[(Lsn, String)],
    warnings: &mut Vec<String>,
) -> SegmentSize {
    if let Some(size) = stated.and_then(SegmentSize::new) {
        return size;
    }
    let mut size = MIN_SEGMENT_SIZE;
    let mut fitting = Vec::new();
    while size <= MAX_SEGMENT_SIZE {
        if let Some(s) = SegmentSize::new(size) {
            let fits = pairs.iter().all(|(lsn, name)| {
                WalSegment::parse_file_name(name, s)
                    .is_some_and(|seg| seg == WalSegment::containing(seg.timeline, *lsn, s))
            });
            if fits {
                fitting.push(s);
            }
        }
        size <<= 1;
    }
    match fitting.as_slice() {
        [one] => *one,
        _ if !pairs.is_empty() && fitting.contains(&SegmentSize::DEFAULT) => SegmentSize::DEFAULT,
        _ => {
            warnings.push(
                "the repository does not tell the WAL segment size and its backups do not \
                 pin it down; assuming 16 MiB (segment names may be misread)"
                    .into(),
            );
            SegmentSize::DEFAULT
        }
    }
}

/// The timeline in the first 8 hex digits of a segment name.
pub fn timeline_of(name: &str) -> Option<crate::domain::timeline::TimelineId> {
    let hex = name.get(0..8)?;
    u32::from_str_radix(hex, 16)
        .ok()
        .filter(|t| *t > 0)
        .map(crate::domain::timeline::TimelineId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_size_from_start_lsn_and_name() {
        let mut w = Vec::new();
        let pairs = [(
            "0/2000028".parse().unwrap(),
            "000000010000000000000002".to_string(),
        )];
        assert_eq!(segment_size(None, &pairs, &mut w), SegmentSize::DEFAULT);
        let pairs = [(
            "0/9000028".parse().unwrap(),
            "000000010000000000000009".to_string(),
        )];
        assert_eq!(segment_size(None, &pairs, &mut w).bytes(), 16 << 20);
        let pairs = [(
            "0/9000028".parse().unwrap(),
            "000000010000000000000002".to_string(),
        )];
        assert_eq!(segment_size(None, &pairs, &mut w).bytes(), 64 << 20);
        assert!(w.is_empty());
        assert_eq!(segment_size(Some(1 << 20), &pairs, &mut w).bytes(), 1 << 20);
        assert_eq!(segment_size(None, &[], &mut w), SegmentSize::DEFAULT);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn remote_commands_go_through_ssh_as_one_line() {
        let h = ToolHost {
            host: Some("backup1".into()),
            user: "barman".into(),
            ssh: SshOptions {
                port: Some(2222),
                identity: Some("/etc/pitr/id_ed25519".into()),
                known_hosts: Some("/etc/pitr/known hosts".into()),
            },
        };
        let c = h.command(
            "barman",
            &["-f".into(), "json".into(), "show server".into()],
        );
        assert_eq!(c.program, "ssh");
        let at = c.args.iter().position(|a| a == "barman@backup1").unwrap();
        assert_eq!(c.args[at + 2], "LC_ALL=C barman -f json 'show server'");
        let opts = c.args[..at].join(" ");
        assert!(opts.contains("-o StrictHostKeyChecking=yes -p 2222 -i /etc/pitr/id_ed25519"));
        assert!(
            opts.ends_with("UserKnownHostsFile=/etc/pitr/known hosts"),
            "{opts}"
        );
        assert!(h
            .ssh
            .shell_line()
            .ends_with("-o 'UserKnownHostsFile=/etc/pitr/known hosts'"));
        let local = ToolHost {
            host: None,
            user: "barman".into(),
            ssh: SshOptions::default(),
        };
        let c = local.command("barman", &["list-backups".into()]);
        assert_eq!(c.run_as.as_deref(), Some("barman"));
    }
}
