//! The one way a value reaches postgresql.auto.conf, and the one way a name that came from
//! the WAL reaches the operator's eyes.
//!
//! PostgreSQL's configuration lexer (guc-file.l) reads a quoted value as `'...'` where `''`
//! is a quote, a backslash starts an escape (`\n`, `\r`, `\t`, `\b`, `\f`, octal `\ooo`,
//! anything else stands for itself) and a raw newline is not allowed at all. A value is
//! therefore written with every quote doubled, every backslash and control character escaped,
//! so whatever bytes it holds it stays one value on one line. NUL cannot be expressed (the
//! server's strings are C strings) and is refused.

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} holds a NUL character, which a PostgreSQL setting cannot hold: {shown}")]
pub struct UnsafeSetting {
    pub what: String,
    pub shown: String,
}

/// `value` as a single-quoted configuration value that the server reads back byte for byte.
/// `what` names the value in the refusal (e.g. "restore point name").
pub fn quote_setting(what: &str, value: &str) -> Result<String, UnsafeSetting> {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\0' => {
                return Err(UnsafeSetting {
                    what: what.to_string(),
                    shown: shown(value),
                })
            }
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    Ok(out)
}

/// A name from the WAL or a backup as it is shown: quotes, backslashes and control
/// characters escaped, so a name cannot fake a line or a terminal sequence.
pub fn shown(name: &str) -> String {
    name.escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_only_quoted() {
        assert_eq!(quote_setting("x", "/srv/wal").unwrap(), "'/srv/wal'");
        assert_eq!(quote_setting("x", "it's").unwrap(), "'it''s'");
    }

    #[test]
    fn the_lexers_special_characters_are_escaped() {
        let hostile = "x\\'\ncluster_name = INJECTED #";
        let q = quote_setting("restore point name", hostile).unwrap();
        assert_eq!(q, r"'x\\''\ncluster_name = INJECTED #'");
        assert!(!q.contains('\n'));
        assert_eq!(
            quote_setting("x", "a\rb\tc\u{1b}[2J").unwrap(),
            r"'a\rb\tc\033[2J'"
        );
    }

    #[test]
    fn nul_is_refused_and_named() {
        let e = quote_setting("restore point name", "a\0b").unwrap_err();
        assert_eq!(
            e.to_string(),
            r"restore point name holds a NUL character, which a PostgreSQL setting cannot hold: a\0b"
        );
    }

    #[test]
    fn names_are_shown_escaped() {
        assert_eq!(shown("x\\'\ny"), r"x\\\'\ny");
    }
}
