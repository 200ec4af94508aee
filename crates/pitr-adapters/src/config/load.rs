//! Finding and reading the configuration file, with errors that point at the line.

use super::model::{Config, RepositoryConfig, RepositoryKind};
use crate::domain::control::Control;
use crate::domain::paths::{check_name, check_plain_path};
use crate::domain::zone::Zone;
use std::path::{Path, PathBuf};

/// Present exactly when systemd is the running init (what `sd_booted()` checks).
const SYSTEMD_RUNNING: &str = "/run/systemd/system";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("no configuration found: pass --config FILE, set PITR_CONSOLE_CONFIG, write {user_file}, or create the local lab with `pitr-console lab up`")]
    NotFound { user_file: String },
}

/// Where the configuration came from, for messages and the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Environment,
    UserFile,
    Lab,
}

/// Picks the configuration file: `--config`, then `$PITR_CONSOLE_CONFIG`, then the user's
/// config dir, then an existing lab's.
pub fn locate(
    flag: Option<&Path>,
    env: Option<&Path>,
    user_file: Option<&Path>,
    lab_file: Option<&Path>,
) -> Result<(PathBuf, Origin), ConfigError> {
    if let Some(p) = flag {
        return Ok((p.to_path_buf(), Origin::Flag));
    }
    if let Some(p) = env {
        return Ok((p.to_path_buf(), Origin::Environment));
    }
    if let Some(p) = user_file.filter(|p| p.exists()) {
        return Ok((p.to_path_buf(), Origin::UserFile));
    }
    if let Some(p) = lab_file.filter(|p| p.exists()) {
        return Ok((p.to_path_buf(), Origin::Lab));
    }
    Err(ConfigError::NotFound {
        user_file: user_file.map_or("pitr-console.toml in your config dir".into(), |p| {
            p.display().to_string()
        }),
    })
}

pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Parses and checks a configuration text; `path` only names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let config: Config = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
        let message = e.message().trim();
        // toml names unknown and missing keys itself; for a bad value, name the key too.
        let message = match key_on_line(text, line) {
            Some(key) if !message.contains(&format!("`{key}`")) => {
                format!("key `{key}`: {message}")
            }
            _ => message.to_string(),
        };
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message,
        }
    })?;
    validate(&config).map_err(|message| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    })?;
    Ok(config)
}

const BARMAN_CLOUD: RepositoryKind = RepositoryKind::BarmanCloud;

/// A repository's ssh keys end up in the console's ssh command and in the restore_command
/// PostgreSQL runs: names plain, files absolute, one way to say each.
fn check_ssh(r: &RepositoryConfig) -> Result<(), String> {
    for (new, old) in [
        ("ssh_host", r.ssh_host.is_some() && r.barman_host.is_some()),
        ("ssh_user", r.ssh_user.is_some() && r.barman_user.is_some()),
    ] {
        if old {
            return Err(format!(
                "key `{new}` and its older name `{}` are both set; keep `{new}`",
                new.replace("ssh_", "barman_")
            ));
        }
    }
    for (key, v) in [("ssh_host", &r.ssh_host), ("ssh_user", &r.ssh_user)] {
        if let Some(v) = v {
            let plain = !v.is_empty()
                && !v.starts_with('-')
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c));
            if !plain {
                return Err(format!(
                    "key `{key}` = {v:?}: give a plain host or user name (letters, digits, . _ - :), e.g. backup1.example.com"
                ));
            }
        }
    }
    for (key, v) in [
        ("ssh_identity", &r.ssh_identity),
        ("ssh_known_hosts", &r.ssh_known_hosts),
    ] {
        if let Some(p) = v.as_ref().filter(|p| !p.is_absolute()) {
            return Err(format!(
                "key `{key}` is `{}`: give an absolute path (the server's user runs ssh from another directory), e.g. /etc/pitr-console/barman_ed25519",
                p.display()
            ));
        }
    }
    if r.ssh_port == Some(0) {
        return Err("key `ssh_port` = 0 is not a port; give the ssh port, e.g. 22".into());
    }
    Ok(())
}

/// Each kind's required keys present, and no key that belongs to another kind.
// Over 100 lines on purpose: one rule per repository field, each with its own message, in the file's order.
#[allow(clippy::too_many_lines)]
fn check_repository(r: &RepositoryConfig) -> Result<(), String> {
    let kind = r.kind.name();
    let keys: [(&str, bool, RepositoryKind); 23] = [
        ("ssh_host", r.ssh_host.is_some(), RepositoryKind::Barman),
        ("ssh_user", r.ssh_user.is_some(), RepositoryKind::Barman),
        ("ssh_port", r.ssh_port.is_some(), RepositoryKind::Barman),
        (
            "ssh_identity",
            r.ssh_identity.is_some(),
            RepositoryKind::Barman,
        ),
        (
            "ssh_known_hosts",
            r.ssh_known_hosts.is_some(),
            RepositoryKind::Barman,
        ),
        ("backups", r.backups.is_some(), RepositoryKind::Local),
        (
            "wal_archive",
            r.wal_archive.is_some(),
            RepositoryKind::Local,
        ),
        (
            "barman_server",
            r.barman_server.is_some(),
            RepositoryKind::Barman,
        ),
        (
            "barman_host",
            r.barman_host.is_some(),
            RepositoryKind::Barman,
        ),
        (
            "barman_user",
            r.barman_user.is_some(),
            RepositoryKind::Barman,
        ),
        (
            "barman_config",
            r.barman_config.is_some(),
            RepositoryKind::Barman,
        ),
        (
            "barman_remote_ssh_command",
            r.barman_remote_ssh_command.is_some(),
            RepositoryKind::Barman,
        ),
        ("stanza", r.stanza.is_some(), RepositoryKind::Pgbackrest),
        (
            "pgbackrest_config",
            r.pgbackrest_config.is_some(),
            RepositoryKind::Pgbackrest,
        ),
        (
            "pgbackrest_user",
            r.pgbackrest_user.is_some(),
            RepositoryKind::Pgbackrest,
        ),
        ("walg_config", r.walg_config.is_some(), RepositoryKind::Walg),
        ("walg_user", r.walg_user.is_some(), RepositoryKind::Walg),
        ("destination", r.destination.is_some(), BARMAN_CLOUD),
        ("cloud_server", r.cloud_server.is_some(), BARMAN_CLOUD),
        ("endpoint_url", r.endpoint_url.is_some(), BARMAN_CLOUD),
        ("cloud_tools", r.cloud_tools.is_some(), BARMAN_CLOUD),
        ("aws_profile", r.aws_profile.is_some(), BARMAN_CLOUD),
        (
            "aws_credentials_file",
            r.aws_credentials_file.is_some(),
            BARMAN_CLOUD,
        ),
    ];
    if let Some((key, _, owner)) = keys.iter().find(|(_, set, owner)| *set && *owner != r.kind) {
        return Err(format!(
            "key `{key}` belongs to kind = \"{}\", but this repository is kind = \"{kind}\"",
            owner.name()
        ));
    }
    let needs: &[(&str, bool)] = match r.kind {
        RepositoryKind::Local => &[
            ("backups", r.backups.is_some()),
            ("wal_archive", r.wal_archive.is_some()),
        ],
        RepositoryKind::Barman => &[("barman_server", r.barman_server.is_some())],
        RepositoryKind::Pgbackrest => &[("stanza", r.stanza.is_some())],
        RepositoryKind::Walg => &[],
        BARMAN_CLOUD => &[
            ("destination", r.destination.is_some()),
            ("cloud_server", r.cloud_server.is_some()),
        ],
    };
    if let Some((key, _)) = needs.iter().find(|(_, set)| !set) {
        let all: Vec<&str> = needs.iter().map(|(k, _)| *k).collect();
        return Err(format!(
            "kind = \"{kind}\" needs `{key}` (required keys: {})",
            all.join(", ")
        ));
    }
    check_ssh(r)?;
    if let Some(mib) = r.wal_cache_mib {
        if !matches!(r.kind, RepositoryKind::Walg | BARMAN_CLOUD) {
            return Err(format!(
                "key `wal_cache_mib` belongs to kind = \"barman-cloud\" or \"walg\", but this repository is kind = \"{kind}\""
            ));
        }
        if mib == 0 {
            return Err(
                "key `wal_cache_mib` = 0 leaves no room for fetched WAL; give MiB, e.g. 4096"
                    .into(),
            );
        }
    }
    if let Some(m) = r.restore_method {
        if m.kind() != r.kind {
            let allowed = match r.kind {
                RepositoryKind::Barman => {
                    "\"barman-recover\", \"get-wal\" or \"barman-wal-restore\""
                }
                RepositoryKind::Pgbackrest => "\"pgbackrest\" or \"archive-get\"",
                RepositoryKind::Local | RepositoryKind::Walg | BARMAN_CLOUD => {
                    "nothing (leave it out)"
                }
            };
            return Err(format!(
                "key `restore_method` = {:?} does not fit kind = \"{kind}\"; it accepts {allowed}",
                serde_json::to_value(m)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or("?")
            ));
        }
    }
    Ok(())
}

fn check_absolute(what: &str, p: &Path) -> Result<(), String> {
    if p.is_absolute() {
        Ok(())
    } else {
        Err(format!(
            "{what} is `{}`: give an absolute path",
            p.display()
        ))
    }
}

/// The key assigned on a 1-based line (`port = "x"` gives `port`).
fn key_on_line(text: &str, line: usize) -> Option<&str> {
    let (key, _) = text.lines().nth(line.checked_sub(1)?)?.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with(['[', '#'])).then_some(key)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// Checks that reach across sections, which serde cannot express.
// Over 100 lines on purpose: one rule per setting, each with its own message, in the file's order.
#[allow(clippy::too_many_lines)]
fn validate(c: &Config) -> Result<(), String> {
    if let Some(tz) = &c.timezone {
        tz.parse::<Zone>()
            .map_err(|e| format!("key `timezone`: {e}"))?;
    }
    if let Some(p) = &c.drill_checklist {
        if !p.is_absolute() {
            return Err(format!(
                "key `drill_checklist` is `{}`: give an absolute path, e.g. /etc/pitr-console/drill.toml",
                p.display()
            ));
        }
    }
    if c.drill_smoke
        .as_deref()
        .is_some_and(|s| s.trim().is_empty())
    {
        return Err(
            "key `drill_smoke` is empty: give a command, or leave the key out to skip the smoke test"
                .into(),
        );
    }
    for (key, dir) in [("journal_dir", &c.journal_dir), ("state_dir", &c.state_dir)] {
        if let Some(d) = dir {
            check_plain_path(&format!("key `{key}`"), d).map_err(|e| e.to_string())?;
        }
    }
    let mut names = std::collections::HashSet::new();
    for r in &c.repositories {
        check_name("a [[repository]] `name`", &r.name).map_err(|e| e.to_string())?;
        let at = |key: &str| format!("[[repository]] `{}`: key `{key}`", r.name);
        for (key, dir) in [("backups", &r.backups), ("wal_archive", &r.wal_archive)] {
            if let Some(d) = dir {
                check_plain_path(&at(key), d).map_err(|e| e.to_string())?;
            }
        }
        for (key, file) in [
            ("barman_config", &r.barman_config),
            ("pgbackrest_config", &r.pgbackrest_config),
            ("walg_config", &r.walg_config),
        ] {
            if let Some(f) = file {
                check_absolute(&at(key), f)?;
            }
        }
        if !names.insert(&r.name) {
            return Err(format!(
                "two [[repository]] sections are named `{}`",
                r.name
            ));
        }
        check_repository(r).map_err(|m| format!("[[repository]] `{}`: {m}", r.name))?;
    }
    let mut server_names = std::collections::HashSet::new();
    for s in &c.servers {
        check_name("a [[server]] `name`", &s.name).map_err(|e| e.to_string())?;
        let at = |key: &str| format!("[[server]] `{}`: key `{key}`", s.name);
        check_plain_path(&at("pgdata"), &s.pgdata).map_err(|e| e.to_string())?;
        if let Some(b) = &s.bin_dir {
            check_plain_path(&at("bin_dir"), b).map_err(|e| e.to_string())?;
        }
        for (key, file) in [
            ("ssh_identity", &s.ssh_identity),
            ("ssh_known_hosts", &s.ssh_known_hosts),
        ] {
            if let Some(f) = file {
                check_absolute(&at(key), f)?;
            }
        }
        if !server_names.insert(&s.name) {
            return Err(format!("two [[server]] sections are named `{}`", s.name));
        }
        if !c.repositories.iter().any(|r| r.name == s.repository) {
            let known: Vec<&str> = c.repositories.iter().map(|r| r.name.as_str()).collect();
            return Err(format!(
                "[[server]] `{}`: key `repository` names `{}`, but the repositories are: {}",
                s.name,
                s.repository,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
        if let Control::Systemd { unit } = &s.control {
            if s.is_local() && !Path::new(SYSTEMD_RUNNING).is_dir() {
                return Err(format!(
                    "[[server]] `{}`: control = \"systemd:{unit}\" but systemd does not run on this host ({SYSTEMD_RUNNING} is absent); use control = \"pg_ctlcluster:VERSION/NAME\" for a Debian cluster, or \"pg_ctl\"",
                    s.name
                ));
            }
        }
        // The console starts, stops and waits on `port` but talks to the dsn's: when they
        // differ, replay is waited on where no server answers and a roll back restarts
        // production on a port it never ran on.
        if let Ok(dsn) = s.dsn.parse::<tokio_postgres::Config>() {
            if let Some(p) = dsn.get_ports().iter().find(|p| **p != s.port) {
                return Err(format!(
                    "[[server]] `{}`: key `dsn` connects to port {p} but key `port` is {}; make them the same port (the one the server runs on)",
                    s.name, s.port
                ));
            }
        }
        if s.control == Control::Patroni && s.patroni_url.is_none() {
            return Err(format!(
                "[[server]] `{}`: control = \"patroni\" needs `patroni_url`",
                s.name
            ));
        }
        if s.patroni_stop.is_some() != s.patroni_start.is_some() {
            return Err(format!(
                "[[server]] `{}`: set both `patroni_stop` and `patroni_start` (what stops Patroni on this node must also start it again), or neither",
                s.name
            ));
        }
        if s.patroni_stop.is_some() && s.control != Control::Patroni {
            return Err(format!(
                "[[server]] `{}`: `patroni_stop`/`patroni_start` need control = \"patroni\"",
                s.name
            ));
        }
        if let Some(dir) = &s.config_dir {
            if !dir.is_absolute() {
                return Err(format!(
                    "[[server]] `{}`: key `config_dir` is `{}`: give an absolute path, e.g. /etc/postgresql/15/main",
                    s.name,
                    dir.display()
                ));
            }
        }
    }
    for a in &c.apps {
        if let Some(unknown) = a.servers.iter().find(|n| !server_names.contains(n)) {
            let known: Vec<&str> = c.servers.iter().map(|s| s.name.as_str()).collect();
            return Err(format!(
                "[[app]] `{}`: key `servers` names `{unknown}`, but the servers are: {}",
                a.name,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drill_keys() {
        let p = Path::new("t.toml");
        let c = parse(
            p,
            "drill_checklist = \"/etc/pitr-console/drill.toml\"\ndrill_smoke = \"true\"\n",
        )
        .unwrap();
        assert_eq!(
            c.drill_checklist,
            Some(PathBuf::from("/etc/pitr-console/drill.toml"))
        );
        let e = parse(p, "drill_checklist = \"drill.toml\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("absolute path"), "{e}");
        let e = parse(p, "drill_smoke = \" \"\n").unwrap_err().to_string();
        assert!(e.contains("drill_smoke"), "{e}");
    }

    const GOOD: &str = r#"
timezone = "Europe/Berlin"
[[repository]]
name = "archive"
kind = "local"
backups = "/srv/b"
wal_archive = "/srv/w"
[[server]]
name = "db1"
pgdata = "/var/lib/postgresql/15/main"
dsn = "host=/tmp port=5432"
repository = "archive"
"#;

    #[test]
    fn reads_a_good_file_with_defaults() {
        let c = parse(Path::new("x.toml"), GOOD).unwrap();
        assert_eq!(c.servers[0].port, 5432);
        assert_eq!(c.servers[0].control, Control::PgCtl);
        assert!(c.servers[0].is_local());
    }

    #[test]
    fn a_broken_line_is_named_with_file_line_and_key() {
        let bad = GOOD.replace("kind = \"local\"", "kind = \"nfs\"");
        let err = parse(Path::new("site.toml"), &bad).unwrap_err().to_string();
        assert!(err.starts_with("site.toml:5:"), "{err}");
        assert!(err.contains("local") && err.contains("barman"), "{err}");

        let typo = GOOD.replace("pgdata", "pg_data");
        let err = parse(Path::new("site.toml"), &typo)
            .unwrap_err()
            .to_string();
        assert!(err.contains("pg_data"), "{err}");

        let bad_value = GOOD.replace(
            "repository = \"archive\"",
            "repository = \"archive\"\nport = \"x\"",
        );
        let err = parse(Path::new("site.toml"), &bad_value)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("site.toml:13:") && err.contains("key `port`"),
            "{err}"
        );

        let syntax = GOOD.replace("name = \"db1\"", "name = db1");
        let err = parse(Path::new("site.toml"), &syntax)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("site.toml:9:"), "{err}");
    }

    #[test]
    fn an_application_belongs_to_the_servers_it_names() {
        let two = format!(
            "{GOOD}[[server]]\nname = \"db2\"\npgdata = \"/srv/db2\"\ndsn = \"host=/tmp port=5433\"\nport = 5433\nrepository = \"archive\"\n"
        );
        let text = format!(
            "{two}[[app]]\nname = \"billing\"\nstop = \"true\"\nstart = \"true\"\nservers = [\"db2\"]\n[[app]]\nname = \"proxy\"\nstop = \"true\"\nstart = \"true\"\n"
        );
        let c = parse(Path::new("a.toml"), &text).unwrap();
        let for_db1: Vec<&str> = c
            .apps
            .iter()
            .filter(|a| a.serves("db1"))
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(for_db1, ["proxy"], "db1's recovery leaves billing running");
        assert!(c.apps.iter().all(|a| a.serves("db2")));

        let typo = text.replace("servers = [\"db2\"]", "servers = [\"db3\"]");
        let err = parse(Path::new("a.toml"), &typo).unwrap_err().to_string();
        assert!(
            err.contains("[[app]] `billing`") && err.contains("`db3`") && err.contains("db1, db2"),
            "{err}"
        );
    }

    #[test]
    fn cross_section_mistakes() {
        let bad = GOOD.replace("repository = \"archive\"", "repository = \"nas\"");
        let err = parse(Path::new("a.toml"), &bad).unwrap_err().to_string();
        assert!(err.contains("`nas`") && err.contains("archive"), "{err}");
        let bad = GOOD.replace("Europe/Berlin", "Europe/Atlantis");
        let err = parse(Path::new("a.toml"), &bad).unwrap_err().to_string();
        assert!(err.contains("timezone"), "{err}");
        let bad = GOOD.replace("port=5432", "port=5433");
        let err = parse(Path::new("a.toml"), &bad).unwrap_err().to_string();
        assert!(
            err.contains("port 5433") && err.contains("key `port` is 5432"),
            "{err}"
        );
    }

    #[test]
    fn debian_clusters_and_systemd_units() {
        let with = |control: &str| {
            GOOD.replace(
                "repository = \"archive\"",
                &format!("repository = \"archive\"\ncontrol = \"{control}\""),
            )
        };
        let c = parse(Path::new("a.toml"), &with("pg_ctlcluster:15/main")).unwrap();
        assert_eq!(
            c.servers[0].config_dir(),
            Some(PathBuf::from("/etc/postgresql/15/main"))
        );
        let err = parse(Path::new("a.toml"), &with("pg_ctlcluster:15 main"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("a.toml:") && err.contains("pg_ctlcluster:15/main"),
            "{err}"
        );
        let systemd = parse(Path::new("a.toml"), &with("systemd:postgresql@15-main"));
        if Path::new(SYSTEMD_RUNNING).is_dir() {
            assert!(systemd.is_ok());
        } else {
            let err = systemd.unwrap_err().to_string();
            assert!(
                err.contains("systemd does not run on this host") && err.contains("pg_ctlcluster"),
                "{err}"
            );
        }
        let remote = with("systemd:postgresql@15-main")
            .replace("name = \"db1\"", "name = \"db1\"\nhost = \"db1.example\"");
        assert!(parse(Path::new("a.toml"), &remote).is_ok());
        let relative = with("pg_ctl").replace(
            "pgdata =",
            "config_dir = \"etc/postgresql/15/main\"\npgdata =",
        );
        let err = parse(Path::new("a.toml"), &relative)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config_dir") && err.contains("absolute"),
            "{err}"
        );
    }

    #[test]
    fn tool_repositories_need_their_keys_and_only_theirs() {
        let barman = GOOD.replace(
            "kind = \"local\"\nbackups = \"/srv/b\"\nwal_archive = \"/srv/w\"",
            "kind = \"barman\"\nbarman_server = \"pg\"\nbarman_host = \"backup1\"\nrestore_method = \"get-wal\"",
        );
        let c = parse(Path::new("a.toml"), &barman).unwrap();
        assert_eq!(c.repositories[0].kind, RepositoryKind::Barman);
        assert_eq!(
            c.repositories[0].restore_method,
            Some(crate::config::RestoreMethod::GetWal)
        );

        let err = parse(
            Path::new("a.toml"),
            &barman.replace("barman_server = \"pg\"\n", ""),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("needs `barman_server`"), "{err}");

        let err = parse(
            Path::new("a.toml"),
            &barman.replace("get-wal", "archive-get"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("restore_method") && err.contains("barman-recover"),
            "{err}"
        );

        let mixed = barman.replace("barman_host = \"backup1\"", "stanza = \"main\"");
        let err = parse(Path::new("a.toml"), &mixed).unwrap_err().to_string();
        assert!(
            err.contains("`stanza` belongs to kind = \"pgbackrest\""),
            "{err}"
        );

        let pgbr = GOOD.replace(
            "kind = \"local\"\nbackups = \"/srv/b\"\nwal_archive = \"/srv/w\"",
            "kind = \"pgbackrest\"\nstanza = \"main\"\npgbackrest_config = \"/etc/pgbackrest/pgbackrest.conf\"",
        );
        assert!(parse(Path::new("a.toml"), &pgbr).is_ok());
        let walg = GOOD.replace(
            "kind = \"local\"\nbackups = \"/srv/b\"\nwal_archive = \"/srv/w\"",
            "kind = \"walg\"\nwalg_config = \"/etc/wal-g.json\"",
        );
        assert!(parse(Path::new("a.toml"), &walg).is_ok());

        let cloud = GOOD.replace(
            "kind = \"local\"\nbackups = \"/srv/b\"\nwal_archive = \"/srv/w\"",
            "kind = \"barman-cloud\"\ndestination = \"s3://pgarch/arch\"\ncloud_server = \"db\"\nwal_cache_mib = 512",
        );
        let c = parse(Path::new("a.toml"), &cloud).unwrap();
        assert_eq!(c.repositories[0].kind, RepositoryKind::BarmanCloud);
        let err = parse(
            Path::new("a.toml"),
            &cloud.replace("cloud_server = \"db\"\n", ""),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("kind = \"barman-cloud\" needs `cloud_server`"),
            "{err}"
        );
        let err = parse(
            Path::new("a.toml"),
            &barman.replace("barman_host", "endpoint_url"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`endpoint_url` belongs to kind = \"barman-cloud\""),
            "{err}"
        );
        let err = parse(
            Path::new("a.toml"),
            &barman.replace("barman_host = \"backup1\"", "wal_cache_mib = 5"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`wal_cache_mib` belongs to"), "{err}");
        let err = parse(Path::new("a.toml"), &cloud.replace("= 512", "= 0"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("leaves no room"), "{err}");
    }

    #[test]
    fn search_order() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user.toml");
        let lab = dir.path().join("lab.toml");
        std::fs::write(&lab, "").unwrap();
        assert_eq!(
            locate(None, None, Some(&user), Some(&lab)).unwrap().1,
            Origin::Lab
        );
        std::fs::write(&user, "").unwrap();
        assert_eq!(
            locate(None, None, Some(&user), Some(&lab)).unwrap().1,
            Origin::UserFile
        );
        assert_eq!(
            locate(None, Some(&lab), Some(&user), None).unwrap().1,
            Origin::Environment
        );
        assert!(matches!(
            locate(None, None, None, None),
            Err(ConfigError::NotFound { .. })
        ));
    }
}
