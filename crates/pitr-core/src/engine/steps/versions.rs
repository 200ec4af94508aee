//! One PostgreSQL major version throughout a run: the backup (its PG_VERSION, and every
//! member of an incremental chain), the archive's WAL (its page magic), the server being
//! replaced and the binaries in bin_dir. PostgreSQL itself would refuse a mismatch only
//! later, with the data directory already moved aside; here it is refused before anything.

use super::Recovery;
use crate::domain::pg_version::{
    bin_dir_candidates, major_of_pg_version_file, major_of_version_output,
};
use crate::engine::ports::CommandSpec;
use crate::engine::step::{fail, StepCtx, StepError};
use std::path::Path;

pub fn describe(r: &Recovery) -> String {
    format!(
        "check {} --version, the backup's PG_VERSION, the WAL's page magic{} name one major version",
        r.tool("postgres"),
        if r.side() { "" } else { " and the server's PG_VERSION" }
    )
}

pub async fn check(ctx: &mut StepCtx, r: &Recovery) -> Result<(), StepError> {
    let out = ctx
        .exec_ok(&CommandSpec::new(r.tool("postgres")).arg("--version"))
        .await?;
    let bin_dir = &r.inputs.server.bin_dir;
    let Some(binaries) = major_of_version_output(&out.output) else {
        return fail(format!(
            "{} --version printed `{}`, not a PostgreSQL version",
            r.tool("postgres"),
            out.output.trim()
        ));
    };
    let mut facts: Vec<(String, u32)> = Vec::new();
    for b in super::combine::members(r) {
        let from_file = || {
            let text = ctx
                .ports
                .fs
                .read_to_string(&Path::new(&b.location).join("PG_VERSION"))
                .ok()?;
            major_of_pg_version_file(&text)
        };
        if let Some(v) = b.pg_major.or_else(from_file) {
            facts.push((format!("backup {} (its PG_VERSION)", b.id), v));
        }
    }
    if let Some(v) = r.inputs.wal_version {
        facts.push(("the archive's WAL (page magic)".into(), u32::from(v)));
    }
    if !r.side() {
        let file = r.pgdata().join("PG_VERSION");
        if let Some(v) = ctx
            .ports
            .fs
            .read_to_string(&file)
            .ok()
            .and_then(|t| major_of_pg_version_file(&t))
        {
            facts.push((
                format!("the server's data directory ({})", file.display()),
                v,
            ));
        }
    }
    let wanted = facts.first().map_or(binaries, |(_, v)| *v);
    let disagree = facts.iter().any(|(_, v)| *v != wanted) || binaries != wanted;
    if !disagree {
        return ctx.note(format!(
            "PostgreSQL {binaries} throughout: binaries in {}{}",
            bin_dir.display(),
            facts
                .iter()
                .map(|(w, _)| format!(", {w}"))
                .collect::<String>()
        ));
    }
    let found: Vec<String> = bin_dir_candidates(wanted)
        .into_iter()
        .filter(|d| ctx.ports.fs.exists(&d.join("postgres")))
        .map(|d| d.display().to_string())
        .collect();
    let would_do = if found.is_empty() {
        format!(
            "install PostgreSQL {wanted}'s server binaries (e.g. /usr/lib/postgresql/{wanted}/bin) and set the server's bin_dir to them"
        )
    } else {
        format!(
            "set the server's bin_dir to PostgreSQL {wanted}'s binaries: {}",
            found.join(" or ")
        )
    };
    let list: Vec<String> = facts
        .iter()
        .map(|(w, v)| format!("{w} is {v}"))
        .chain(std::iter::once(format!(
            "the binaries in {} are {binaries} (postgres --version)",
            bin_dir.display()
        )))
        .collect();
    fail(format!(
        "PostgreSQL versions disagree: {}. Nothing was changed; {would_do}",
        list.join(", ")
    ))
}
