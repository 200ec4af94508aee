//! The `restore_command` a recovering server uses to fetch archived WAL, per repository kind.

/// Quotes a value for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:=@%,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The command line PostgreSQL would run for `restore_command`: `%f` is the segment's file
/// name, `%p` the path to write it to, `%r` (the oldest file to keep) the segment too, `%%`
/// a percent sign, as in PostgreSQL's own expansion.
pub fn expand(command: &str, file: &str, path: &str) -> String {
    let mut out = String::with_capacity(command.len() + 64);
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('f') | Some('r') => out.push_str(file),
            Some('p') => out.push_str(path),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// For a local archive directory: copies the segment, or decompresses the `.gz`, `.zst` or
/// `.lz4` file of that name. A missing file exits non-zero, which tells the server the
/// archive ends there, as PostgreSQL expects of a restore_command.
pub fn local(archive_dir: &str) -> String {
    let f = format!("{}/%f", shell_quote(archive_dir));
    format!(
        "if [ -f {f} ]; then cp {f} \"%p\"; \
         elif [ -f {f}.gz ]; then gzip -dc {f}.gz > \"%p\"; \
         elif [ -f {f}.zst ]; then zstd -dcq {f}.zst > \"%p\"; \
         elif [ -f {f}.lz4 ]; then lz4 -dcq {f}.lz4 > \"%p\"; \
         else exit 1; fi"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/srv/wal"), "/srv/wal");
        assert_eq!(shell_quote("/srv/my wal"), "'/srv/my wal'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn expansion_is_postgresqls() {
        assert_eq!(
            expand("cp /a/%f \"%p\" # 100%% %r %x", "SEG", "/d/X"),
            "cp /a/SEG \"/d/X\" # 100% SEG %x"
        );
    }

    #[test]
    fn local_restore_command_handles_compression() {
        let c = local("/srv/wal");
        assert!(c.starts_with("if [ -f /srv/wal/%f ]; then cp /srv/wal/%f \"%p\";"));
        assert!(c.contains("zstd -dcq /srv/wal/%f.zst"));
        assert!(c.ends_with("else exit 1; fi"));
    }
}
