//! Names and paths the operator configures or types, checked before anything uses them.
//!
//! A name becomes part of file names (locks, journals, dumps): it is one plain word. A path
//! that pg_ctl or a restore_command hands to `/bin/sh` (pg_ctl quotes `-D` and `-l` with
//! double quotes, `-o` is pasted as it is, restore_command is a shell line) may hold only
//! characters no shell treats specially, so no quoting is ever needed.

use std::path::{Component, Path};

/// Why a configured or typed name or path is refused; `what` names the setting or flag, and
/// `shown` is the value with control characters made visible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsafe {
    #[error("{what} is `{shown}`: a name may hold only letters, digits, `_`, `.` and `-` (and is not `.` or `..`), e.g. `db1`")]
    Name { what: String, shown: String },
    #[error("{what} is `{shown}`: give an absolute path, e.g. /srv/pg/restore")]
    Relative { what: String, shown: String },
    #[error("{what} is `{shown}`: give the path without `..`")]
    ParentDir { what: String, shown: String },
    #[error("{what} is `{shown}`: it reaches /bin/sh (through pg_ctl or restore_command), so it may hold only letters, digits, spaces and / . _ - + , : = @; `{bad}` is not allowed")]
    ShellChar {
        what: String,
        shown: String,
        bad: String,
    },
}

/// `[A-Za-z0-9_.-]+`, not `.` nor `..`: safe as a file name on its own.
pub fn check_name(what: &str, name: &str) -> Result<(), Unsafe> {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && name != "."
        && name != "..";
    if plain {
        Ok(())
    } else {
        Err(Unsafe::Name {
            what: what.to_string(),
            shown: visible(name),
        })
    }
}

/// An absolute path without `..`, with nothing a shell would interpret.
pub fn check_plain_path(what: &str, path: &Path) -> Result<(), Unsafe> {
    let text = path.to_string_lossy();
    let (what, shown) = (what.to_string(), visible(&text));
    if !path.is_absolute() {
        return Err(Unsafe::Relative { what, shown });
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(Unsafe::ParentDir { what, shown });
    }
    if let Some(bad) = text.chars().find(|c| !plain_char(*c)) {
        return Err(Unsafe::ShellChar {
            what,
            shown,
            bad: visible(&bad.to_string()),
        });
    }
    Ok(())
}

/// Control characters and backslashes escaped, the rest as typed.
fn visible(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || c == '\\' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn plain_char(c: char) -> bool {
    c.is_alphanumeric() || "/._-+,:=@ ".contains(c)
}

/// Whether one path is the other or lies inside it (compared component by component).
pub fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// A name from a server (a database, a table) as one plain file name part: letters,
/// digits, `-`, `_` kept, every other byte as %XX, so a hostile name (`../x`, newlines)
/// stays one file in the directory it is written to.
pub fn file_part(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("server name", "db-1.prod_a").is_ok());
        for bad in ["", ".", "..", "../../escaped/x", "a b", "a/b", "é"] {
            let e = check_name("server name", bad).unwrap_err().to_string();
            assert!(e.starts_with("server name is `"), "{e}");
        }
    }

    #[test]
    fn plain_paths() {
        assert!(check_plain_path("--restore-to", Path::new("/srv/pg 15/side-1")).is_ok());
        let e = check_plain_path("--restore-to", Path::new("/x/dq\"x$(id>PWN)"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`\"` is not allowed"), "{e}");
        for bad in [
            "/a'b", "/a`b", "/a\\b", "/a\nb", "/a;b", "/a|b", "/a&b", "/a%f", "/a$b",
        ] {
            assert!(check_plain_path("p", Path::new(bad)).is_err(), "{bad}");
        }
        let e = check_plain_path("key `pgdata`", Path::new("data"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("absolute"), "{e}");
        assert!(check_plain_path("p", Path::new("/srv/../etc")).is_err());
    }

    #[test]
    fn overlapping_paths() {
        assert!(overlaps(
            Path::new("/srv/pg/data/x"),
            Path::new("/srv/pg/data")
        ));
        assert!(overlaps(Path::new("/srv"), Path::new("/srv/pg/data")));
        assert!(!overlaps(
            Path::new("/srv/pg/data2"),
            Path::new("/srv/pg/data")
        ));
    }
}
