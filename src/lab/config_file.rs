//! The lab's `pitr-console.toml`, with the keys of DESIGN.md's Configuration section.

use super::error::LabError;
use super::record::{write_atomically, LabRecord};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Serialize)]
struct ConfigFile {
    timezone: String,
    journal_dir: PathBuf,
    repository: Vec<Repository>,
    server: Vec<Server>,
    check: Vec<Check>,
}

#[derive(Serialize)]
struct Repository {
    name: String,
    kind: String,
    backups: PathBuf,
    wal_archive: PathBuf,
}

#[derive(Serialize)]
struct Server {
    name: String,
    host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_as: Option<String>,
    pgdata: PathBuf,
    bin_dir: PathBuf,
    port: u16,
    dsn: String,
    repository: String,
    control: String,
}

#[derive(Serialize)]
struct Check {
    name: String,
    sql: String,
}

pub const REPOSITORY_NAME: &str = "lab-archive";
pub const SERVER_NAME: &str = "lab";

pub fn write(
    record: &LabRecord,
    journal_dir: PathBuf,
    run_as: Option<String>,
) -> Result<(), LabError> {
    let config = ConfigFile {
        timezone: machine_timezone(),
        journal_dir,
        repository: vec![Repository {
            name: REPOSITORY_NAME.into(),
            kind: "local".into(),
            backups: record.backups_dir.clone(),
            wal_archive: record.wal_archive.clone(),
        }],
        server: vec![Server {
            name: SERVER_NAME.into(),
            host: "localhost".into(),
            run_as,
            pgdata: record.pgdata.clone(),
            bin_dir: record.bin_dir.clone(),
            port: record.port,
            dsn: format!(
                "host={} port={} user={} dbname={}",
                record.socket_dir.display(),
                record.port,
                record.superuser,
                record.database
            ),
            repository: REPOSITORY_NAME.into(),
            control: "pg_ctl".into(),
        }],
        check: vec![Check {
            name: "orders present".into(),
            sql: "select count(*) > 0 from orders".into(),
        }],
    };
    let body = toml::to_string(&config).map_err(|e| LabError::Record {
        path: record.config_file.clone(),
        problem: format!("could not write the configuration: {e}"),
    })?;
    let text = format!(
        "# Written by `pitr-console lab up` for the sandbox in {}.\n\
         # `pitr-console lab down` removes it together with the lab.\n\n{body}",
        record.dir.display()
    );
    write_atomically(&record.config_file, &text)
}

/// The machine's IANA zone ($TZ, /etc/timezone, the /etc/localtime link), else UTC.
pub fn machine_timezone() -> String {
    let from_link = std::fs::read_link("/etc/localtime").ok().and_then(|p| {
        let s = p.to_string_lossy().into_owned();
        s.split_once("zoneinfo/").map(|(_, zone)| zone.to_string())
    });
    std::env::var("TZ")
        .ok()
        .map(|z| z.trim_start_matches(':').to_string())
        .into_iter()
        .chain(
            std::fs::read_to_string("/etc/timezone")
                .ok()
                .map(|s| s.trim().to_string()),
        )
        .chain(from_link)
        .find(|z| z.parse::<chrono_tz::Tz>().is_ok())
        .unwrap_or_else(|| "UTC".to_string())
}
