//! The lab server's settings and its archive command. Values are quoted by the engine's own
//! functions (`quote_setting` for postgresql.conf, `shell_quote` for the script), so the lab
//! writes its configuration the one way the console writes a recovery's.

use super::paths::LabPaths;
use crate::domain::setting::{quote_setting, UnsafeSetting};
use crate::engine::ports::shell_quote;

/// Copies one WAL file into the archive the way a careful archive_command must: never
/// overwrite a different file (a second cluster archiving into the same place would corrupt
/// the first's history), and never let a half-written file appear under a segment's name.
pub fn archive_script(archive_dir: &str) -> String {
    let archive_dir = shell_quote(archive_dir);
    format!(
        r#"#!/bin/sh
# archive_command of the pitr-console lab: archive-wal.sh %p %f
set -eu
src="$1"
name="$2"
dir={archive_dir}
dest="$dir/$name"
if [ -e "$dest" ]; then
    # A retry after a crash may offer the same file again: that is success.
    if cmp -s "$src" "$dest"; then
        exit 0
    fi
    echo "archive-wal.sh: $dest exists with different content; refusing to overwrite it" >&2
    exit 1
fi
tmp="$dir/.$name.tmp.$$"
trap 'rm -f "$tmp"' EXIT
cp "$src" "$tmp"
# coreutils sync FILE fsyncs that file; older ones ignore the argument and sync everything.
sync "$tmp" 2>/dev/null || true
mv "$tmp" "$dest"
sync "$dir" 2>/dev/null || true
"#
    )
}

/// Lines appended to postgresql.conf after initdb; `summarize` turns on the WAL summaries an
/// incremental backup is taken from (17+), before the full backup it builds on.
pub fn server_settings(
    paths: &LabPaths,
    port: u16,
    summarize: bool,
) -> Result<String, UnsafeSetting> {
    let script = shell_quote(&paths.archive_script().to_string_lossy());
    let summaries = if summarize {
        "summarize_wal = on\n"
    } else {
        ""
    };
    let lines = format!(
        "\n# pitr-console lab\n\
         port = {port}\n\
         listen_addresses = ''\n\
         unix_socket_directories = {socket}\n\
         wal_level = replica\n\
         archive_mode = on\n\
         archive_command = {archive}\n\
         max_wal_senders = 4\n\
         track_commit_timestamp = on\n\
         shared_buffers = 32MB\n\
         max_connections = 30\n\
         logging_collector = on\n\
         log_directory = {logdir}\n\
         log_filename = 'postgresql.log'\n\
         log_rotation_age = 0\n\
         log_rotation_size = 0\n\
         log_line_prefix = '%m [%p] '\n\
         log_checkpoints = on\n\
         timezone = 'UTC'\n\
         log_timezone = 'UTC'\n",
        socket = quote_setting(
            "the lab's socket directory",
            &paths.socket_dir().to_string_lossy()
        )?,
        archive = quote_setting("archive_command", &format!("{script} \"%p\" \"%f\""))?,
        logdir = quote_setting(
            "the lab's log directory",
            &paths.log_dir().to_string_lossy()
        )?,
    );
    Ok(lines + summaries)
}

/// Characters that would need quoting in postgresql.conf or the archive script; the lab
/// refuses directories holding them rather than risk a broken archive_command.
pub fn unsafe_path_char(path: &str) -> Option<char> {
    path.chars()
        .find(|c| matches!(c, '\'' | '"' | '\\' | '$' | '`' | '%' | ' ') || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_that_need_quoting() {
        assert_eq!(unsafe_path_char("/var/lib/pitr-console/lab"), None);
        assert_eq!(unsafe_path_char("/tmp/my lab"), Some(' '));
        assert_eq!(unsafe_path_char("/tmp/it's"), Some('\''));
    }

    #[test]
    fn settings_are_quoted_as_the_console_quotes_a_recoverys() {
        let paths = LabPaths::new(std::path::Path::new(r"/tmp/it's\lab"));
        let s = server_settings(&paths, 5432, false).unwrap();
        assert!(
            s.contains(r"unix_socket_directories = '/tmp/it''s\\lab/run'"),
            "{s}"
        );
        assert!(
            s.contains(r#"archive_command = '''/tmp/it''\\''''s\\lab/archive-wal.sh'' "%p" "%f"'"#),
            "{s}"
        );
    }

    #[test]
    fn archive_script_refuses_overwrite_and_renames() {
        let s = archive_script("/x/wal-archive");
        assert!(s.contains("dir=/x/wal-archive\n"), "{s}");
        assert!(s.contains("refusing to overwrite"));
        assert!(s.contains("mv \"$tmp\" \"$dest\""));
    }
}
