//! The engine's `Fs` port on a remote host, built on remote commands (mv, cp -a, tar, tee,
//! find, df, sha256sum). Every operation runs as the server's OS user (`run_as`), or as the
//! owner a call asks for, because the data directory and its parent belong to that user.
//!
//! `Fs` is blocking; each call runs its command on a small runtime of its own, on a thread
//! of its own, so it may be called from async code and from blocking threads alike.

use super::commands::{Captured, RemoteCommands};
use crate::engine::ports::{shell_quote, ByteProgress, Fs, LinkFence, PortError};
use std::path::Path;

mod links;

pub struct RemoteFs {
    commands: RemoteCommands,
    user: Option<String>,
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// A decompressor for a tar by its name, as a shell command reading `$1`.
fn reader_for(archive: &Path) -> &'static str {
    let name = archive.to_string_lossy();
    if name.ends_with(".gz") || name.ends_with(".tgz") {
        "gzip -dc -- \"$1\""
    } else if name.ends_with(".zst") {
        "zstd -dcq -- \"$1\""
    } else if name.ends_with(".lz4") {
        "lz4 -dc -- \"$1\""
    } else {
        "cat -- \"$1\""
    }
}

impl RemoteFs {
    pub fn new(commands: RemoteCommands, user: Option<String>) -> RemoteFs {
        RemoteFs { commands, user }
    }

    /// Runs `script` under `sh -c` with `args` as `$1...`, as `as_user` (else the server's
    /// user), and waits for it from any thread.
    fn sh(
        &self,
        script: &str,
        args: &[String],
        as_user: Option<&str>,
        stdin: Option<&[u8]>,
    ) -> Result<Captured, PortError> {
        let mut words = self.commands.switch_words(as_user.or(self.user.as_deref()));
        // `cd /`: the server's user may not enter the login user's home.
        words.extend([
            "sh".into(),
            "-c".into(),
            format!("cd / || exit 1\n{script}"),
            "sh".into(),
        ]);
        words.extend(args.iter().cloned());
        let line = words
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ");
        let shown = format!("{script} {}", args.join(" "));
        let commands = &self.commands;
        std::thread::scope(|s| {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| PortError::io("cannot start a runtime for SSH", e))?;
                rt.block_on(async {
                    commands
                        .capture(&line, &shown, stdin, None, None)
                        .await
                        .map(|(c, _, _)| c)
                })
            })
            .join()
            .unwrap_or_else(|_| Err(PortError::other("the SSH file operation panicked")))
        })
    }

    /// Like `sh`, but a non-zero exit is an error quoting standard error.
    fn sh_ok(
        &self,
        what: &str,
        script: &str,
        args: &[String],
        as_user: Option<&str>,
        stdin: Option<&[u8]>,
    ) -> Result<String, PortError> {
        let c = self.sh(script, args, as_user, stdin)?;
        if c.exit_code == Some(0) {
            return Ok(String::from_utf8_lossy(&c.stdout).into_owned());
        }
        Err(PortError::new(
            crate::engine::ports::PortErrorKind::Remote,
            format!(
                "{what} on {}: {}",
                self.commands.target().host,
                match c.stderr.trim() {
                    "" => format!("exit code {:?}", c.exit_code),
                    e => e.to_string(),
                }
            ),
        ))
    }

    /// The first `len` bytes of a file on the host, as the server's user (pg_wal's files are
    /// its own, mode 0600).
    pub fn read_head(&self, path: &Path, len: u64) -> Result<Vec<u8>, PortError> {
        let c = self.sh(
            "head -c \"$2\" -- \"$1\"",
            &[p(path), len.to_string()],
            None,
            None,
        )?;
        if c.exit_code == Some(0) {
            return Ok(c.stdout);
        }
        Err(PortError::new(
            crate::engine::ports::PortErrorKind::Remote,
            match c.stderr.trim() {
                "" => format!("exit code {:?}", c.exit_code),
                e => e.to_string(),
            },
        ))
    }

    fn number(&self, what: &str, script: &str, args: &[String]) -> Result<u64, PortError> {
        let out = self.sh_ok(what, script, args, None, None)?;
        out.trim().parse::<u64>().map_err(|_| {
            PortError::new(
                crate::engine::ports::PortErrorKind::Remote,
                format!(
                    "{what} on {}: not a number: `{}`",
                    self.commands.target().host,
                    out.trim()
                ),
            )
        })
    }
}

impl Fs for RemoteFs {
    fn exists(&self, path: &Path) -> bool {
        self.sh(r#"[ -e "$1" ] || [ -L "$1" ]"#, &[p(path)], None, None)
            .map(|c| c.exit_code == Some(0))
            .unwrap_or(false)
    }

    fn is_absent_or_empty(&self, path: &Path) -> Result<bool, PortError> {
        let out = self.sh_ok(
            &format!("cannot look at {}", path.display()),
            r#"if [ ! -e "$1" ]; then echo yes; elif [ -d "$1" ] && [ -z "$(ls -A -- "$1")" ]; then echo yes; else echo no; fi"#,
            &[p(path)],
            None,
            None,
        )?;
        Ok(out.trim() == "yes")
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<(), PortError> {
        // Same file system only (never a copy), never over an existing path; both parent
        // directories flushed after (coreutils sync fsyncs the paths it is given).
        self.sh_ok(
            &format!("cannot move {} to {}", from.display(), to.display()),
            r#"[ -e "$2" ] && { echo "$2 already exists" >&2; exit 1; }
[ "$(stat -c %d -- "$1")" = "$(stat -c %d -- "$(dirname -- "$2")")" ] || { echo "$1 and $2 are on different file systems" >&2; exit 1; }
mv -T -- "$1" "$2" && sync -- "$(dirname -- "$1")" "$(dirname -- "$2")""#,
            &[p(from), p(to)],
            None,
            None,
        )
        .map(drop)
    }

    // The remote host's `cp -a` / `tar` make the copy; the links are checked before
    // (the backup's) and after (the copy's), see `links`.
    fn copy_tree(
        &self,
        from: &Path,
        to: &Path,
        owner: Option<&str>,
        fence: &LinkFence,
        progress: ByteProgress<'_>,
    ) -> Result<u64, PortError> {
        let rules = self.link_rules(from, fence)?;
        self.fence_links(from, to, from, &rules, None)?;
        let out = self.sh_ok(
            &format!("cannot copy {} to {}", from.display(), to.display()),
            r#"[ -e "$2" ] && { echo "$2 already exists" >&2; exit 1; }
cp -a --no-preserve=ownership -- "$1" "$2" && find "$2" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}'"#,
            &[p(from), p(to)],
            owner,
            None,
        )?;
        self.fence_links(to, to, from, &rules, Some(owner))?;
        let bytes = out.trim().parse::<u64>().unwrap_or(0);
        progress(bytes);
        Ok(bytes)
    }

    fn extract_tar(
        &self,
        archive: &Path,
        to: &Path,
        owner: Option<&str>,
        fence: &LinkFence,
        progress: ByteProgress<'_>,
    ) -> Result<u64, PortError> {
        let mut rules = self.link_rules(archive.parent().unwrap_or(Path::new("/")), fence)?;
        // A link at the destination (a `pg_wal` link from base.tar before pg_wal.tar) would
        // take every entry wherever it points. GNU tar itself holds back a link to an
        // absolute path or through `..` until its other entries are out, so none of the
        // archive's own entries is written through one of its links.
        let script = format!(
            r#"[ -L "$2" ] && {{ echo "$2 is a symbolic link: $1 is extracted only into a real directory, never through a link; check who wrote this backup, or choose another" >&2; exit 1; }}
mkdir -p -m 700 -- "$2" && {{ {} | tar -xf - -C "$2" --no-same-owner --keep-old-files; }} && stat -c %s -- "$1""#,
            reader_for(archive)
        );
        let out = self.sh_ok(
            &format!("cannot extract {} into {}", archive.display(), to.display()),
            &script,
            &[p(archive), p(to)],
            owner,
            None,
        )?;
        self.use_extracted_map(&mut rules, to)?;
        self.fence_links(to, to, archive, &rules, Some(owner))?;
        let bytes = out.trim().parse::<u64>().unwrap_or(0);
        progress(bytes);
        Ok(bytes)
    }

    fn tree_size(&self, path: &Path) -> Result<u64, PortError> {
        self.number(
            &format!("cannot size {}", path.display()),
            r#"find "$1" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}'"#,
            &[p(path)],
        )
    }

    fn free_space(&self, path: &Path) -> Result<u64, PortError> {
        self.number(
            &format!("cannot read the free space of {}", path.display()),
            r#"df -B1 --output=avail -- "$1" | tail -n 1"#,
            &[p(path)],
        )
    }

    fn read_to_string(&self, path: &Path) -> Result<String, PortError> {
        self.sh_ok(
            &format!("cannot read {}", path.display()),
            r#"cat -- "$1""#,
            &[p(path)],
            None,
            None,
        )
    }

    fn write_file(
        &self,
        path: &Path,
        contents: &[u8],
        append: bool,
        mode: u32,
        owner: Option<&str>,
    ) -> Result<(), PortError> {
        let redirect = if append { ">>" } else { ">" };
        let script =
            format!(r#"umask 077; cat {redirect} "$1" && chmod {mode:o} -- "$1" && sync -- "$1""#);
        self.sh_ok(
            &format!("cannot write {}", path.display()),
            &script,
            &[p(path)],
            owner,
            Some(contents),
        )
        .map(drop)
    }

    fn create_dir_all(&self, path: &Path, mode: u32, owner: Option<&str>) -> Result<(), PortError> {
        self.sh_ok(
            &format!("cannot create {}", path.display()),
            &format!(r#"[ -d "$1" ] || mkdir -p -m {mode:o} -- "$1""#),
            &[p(path)],
            owner,
            None,
        )
        .map(drop)
    }

    fn sha256(&self, path: &Path) -> Result<String, PortError> {
        let out = self.sh_ok(
            &format!("cannot checksum {}", path.display()),
            r#"sha256sum -- "$1""#,
            &[p(path)],
            None,
            None,
        )?;
        Ok(out
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string())
    }

    fn list_dir(&self, path: &Path) -> Result<Vec<String>, PortError> {
        let out = self.sh_ok(
            &format!("cannot list {}", path.display()),
            r#"find "$1" -mindepth 1 -maxdepth 1 -printf '%f\0'"#,
            &[p(path)],
            None,
            None,
        )?;
        let mut names: Vec<String> = out
            .split('\0')
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        names.sort();
        Ok(names)
    }

    fn file_size(&self, path: &Path) -> Result<u64, PortError> {
        self.number(
            &format!("cannot size {}", path.display()),
            r#"stat -c %s -- "$1""#,
            &[p(path)],
        )
    }

    fn host(&self) -> Option<String> {
        Some(self.commands.target().host.clone())
    }
}
