//! Keeps secrets out of the journal: passwords in connection strings, URIs and settings.

const SECRET_KEYS: [&str; 6] = [
    "password",
    "passwd",
    "pgpassword",
    "sslpassword",
    "secret",
    "token",
];

/// A key=value connection string split into the string without its password and the
/// password, so the password can reach a child through `PGPASSWORD` instead of its argv.
/// URIs (`postgresql://user:pw@host`) lose the `:pw` the same way.
pub fn take_password(dsn: &str) -> (String, Option<String>) {
    if let Some(pos) = dsn.find("://") {
        let (head, tail) = dsn.split_at(pos + 3);
        let end = tail.find(['/', '?']).unwrap_or(tail.len());
        let authority = &tail[..end];
        if let (Some(at), Some(colon)) = (authority.rfind('@'), authority.find(':')) {
            if colon < at {
                let pw = authority[colon + 1..at].to_string();
                let rest = format!(
                    "{head}{}{}{}",
                    &authority[..colon],
                    &authority[at..],
                    &tail[end..]
                );
                return (rest, Some(pw));
            }
        }
        return (dsn.to_string(), None);
    }
    let mut password = None;
    let words: Vec<&str> = dsn
        .split_whitespace()
        .filter(|w| match w.strip_prefix("password=") {
            Some(v) => {
                password = Some(v.trim_matches('\'').to_string());
                false
            }
            None => true,
        })
        .collect();
    (words.join(" "), password)
}

/// `text` with the values of secret-looking keys and URI passwords replaced by `***`.
pub fn redact(text: &str) -> String {
    redact_uri_passwords(&redact_keys(text))
}

fn redact_keys(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let hit = SECRET_KEYS.iter().find(|k| {
            lower[i..].starts_with(**k)
                && (i == 0 || !is_word(bytes[i - 1]))
                && value_start(bytes, i + k.len()).is_some()
        });
        let Some(key) = hit else {
            let c = text[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
            continue;
        };
        let start = value_start(bytes, i + key.len()).unwrap_or(i + key.len());
        out.push_str(&text[i..start]);
        let end = value_end(bytes, start);
        let quoted = matches!(bytes.get(start), Some(b'\'' | b'"'));
        out.push_str(if quoted { "'***'" } else { "***" });
        i = end;
    }
    out
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Where the value begins after `key`, if `key` is followed by `=` (spaces allowed).
fn value_start(bytes: &[u8], mut i: usize) -> Option<usize> {
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    if bytes.get(i) != Some(&b'=') {
        return None;
    }
    i += 1;
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    Some(i)
}

fn value_end(bytes: &[u8], start: usize) -> usize {
    match bytes.get(start) {
        Some(&q @ (b'\'' | b'"')) => {
            let mut i = start + 1;
            while i < bytes.len() {
                if bytes[i] == b'\\' {
                    i += 2;
                    continue;
                }
                if bytes[i] == q {
                    return i + 1;
                }
                i += 1;
            }
            bytes.len()
        }
        _ => {
            let mut i = start;
            while i < bytes.len()
                && !bytes[i].is_ascii_whitespace()
                && !b"&;'\"".contains(&bytes[i])
            {
                i += 1;
            }
            i
        }
    }
}

/// `scheme://user:secret@host` -> `scheme://user:***@host`.
fn redact_uri_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| c == '/' || c == '?' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..=colon]);
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_taken_out_of_connection_strings() {
        use super::take_password;
        assert_eq!(
            take_password("host=/tmp password=s3cret dbname=x"),
            ("host=/tmp dbname=x".to_string(), Some("s3cret".to_string()))
        );
        assert_eq!(
            take_password("postgresql://app:hunter2@db:5432/x"),
            (
                "postgresql://app@db:5432/x".to_string(),
                Some("hunter2".to_string())
            )
        );
        assert_eq!(take_password("host=/tmp").1, None);
    }

    #[test]
    fn hides_passwords() {
        assert_eq!(
            redact("pg_dump -d 'host=/tmp password=s3cret dbname=x'"),
            "pg_dump -d 'host=/tmp password=*** dbname=x'"
        );
        assert_eq!(redact("PGPASSWORD=abc pg_dump"), "PGPASSWORD=*** pg_dump");
        assert_eq!(redact("password = 'a b' port=1"), "password = '***' port=1");
        assert_eq!(
            redact("postgresql://app:hunter2@db:5432/x"),
            "postgresql://app:***@db:5432/x"
        );
        assert_eq!(
            redact("no secrets, passwords here"),
            "no secrets, passwords here"
        );
        assert_eq!(redact("s3://bucket/wal"), "s3://bucket/wal");
    }
}
