//! `restore-dump JOURNAL`: the second way back (the runbook's "restore from the pre-PITR
//! backup"). A run's safety dump of one database is restored into a NEW database on the
//! server as it runs now; an existing database is never written over, dropped or renamed,
//! so nothing it holds can be lost. The operator compares, then swaps names when satisfied.
//! The file is checked against the sha256 the run recorded, and each command is journaled
//! in the run's journal.

use super::exit::Failure;
use crate::adapters::run_as::Switch;
use crate::adapters::ssh::SshPool;
use crate::config::{Config, Role};
use crate::engine::journal::{Body, Journal, JournalState};
use crate::engine::ports::{shell_quote, CommandSpec};
use crate::engine::recovery::RecoveryInputs;
use crate::engine::steps::dump::{with_dbname, DumpPart};
use crate::planning::run_request;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct RestoreDumpArgs {
    /// The run's journal file.
    pub journal: PathBuf,
    /// The database whose dump to restore (default: the one the server's dsn names).
    #[arg(long, conflicts_with = "globals")]
    pub database: Option<String>,
    /// The roles and tablespaces (`pg_dumpall --globals-only`): checked against their
    /// sha256 and shown where they are, never applied (they would change roles that exist).
    #[arg(long)]
    pub globals: bool,
    /// The new database to restore into (default: `<database>_before_<run id>`); it must
    /// not exist.
    #[arg(long)]
    pub into: Option<String>,
    /// Stands for typing the server's name.
    #[arg(long)]
    pub yes: bool,
}

// Over 100 lines on purpose: the restore-dump story top to bottom: refusals, confirmation, pg_restore, journal.
#[allow(clippy::too_many_lines)]
pub fn run(role: Role, config: Option<&Config>, args: RestoreDumpArgs) -> Result<(), Failure> {
    if role == Role::Trainee {
        return Err(Failure::refused(
            "refused by role trainee: restoring a dump creates a database on a real server",
        ));
    }
    let state = JournalState::read(&args.journal).map_err(Failure::bad_input)?;
    state.require_intact().map_err(Failure::bad_input)?;
    let inputs: RecoveryInputs = serde_json::from_value(state.inputs.clone()).map_err(|e| {
        Failure::bad_input(format!(
            "{} is not the journal of a recovery run ({e})",
            args.journal.display()
        ))
    })?;
    let parts: Vec<DumpPart> = crate::engine::facts::SAFETY_DUMPS
        .read(&state.facts)
        .unwrap_or_default();
    if args.globals {
        return globals(&state, config, &parts);
    }
    let database = match &args.database {
        Some(d) => d.clone(),
        None => dsn_database(&inputs.server.dsn).ok_or_else(|| {
            Failure::bad_input("the server's dsn names no dbname: pass --database NAME")
        })?,
    };
    let Some(part) = parts
        .iter()
        .find(|p| p.database.as_deref() == Some(database.as_str()))
    else {
        let have: Vec<&str> = parts.iter().filter_map(|p| p.database.as_deref()).collect();
        return Err(Failure::bad_input(if have.is_empty() {
            format!(
                "run {} took no safety dump (the server was down, a side run, or it stopped before the dump)",
                state.run_id
            )
        } else {
            format!(
                "run {} has no dump of database {database}; it has: {}",
                state.run_id,
                have.join(", ")
            )
        }));
    };
    let into = match &args.into {
        Some(n) => n.clone(),
        None => format!("{}_before_{}", plain(&database), plain(&state.run_id)),
    };
    if into.is_empty()
        || !into
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Failure::bad_input(format!(
            "--into {into:?}: a new database's name here is letters, digits, _ and - only"
        )));
    }
    if !args.yes {
        return Err(Failure::bad_input(format!(
            "restore-dump creates database {into} on server {} and restores {} into it: pass --yes to confirm",
            state.server,
            part.path.display()
        )));
    }
    let ports = run_request::ports(config, &state.server, &SshPool::new());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::step_failed(format!("cannot start the runtime: {e}")))?;
    let mut journal = Journal::reopen(&state).map_err(Failure::step_failed)?;
    let mut note = |text: String| {
        journal
            .write(Body::Note { index: None, text })
            .map_err(Failure::step_failed)
    };
    let sum = ports
        .fs
        .sha256(&part.path)
        .map_err(|e| Failure::step_failed(format!("the safety dump cannot be read: {e}")))?;
    if sum != part.sha256 {
        note(format!(
            "restore-dump refused: {} has sha256 {sum}, the run recorded {}",
            part.path.display(),
            part.sha256
        ))?;
        return Err(Failure::refused(format!(
            "{} has changed since the run wrote it (sha256 {sum}, recorded {}): not restored",
            part.path.display(),
            part.sha256
        )));
    }
    let admin = with_dbname(&inputs.server.dsn, "postgres");
    let exists = rt
        .block_on(ports.sql.rows(
            &admin,
            &format!(
                "select 1 from pg_database where datname = '{}'",
                into.replace('\'', "''")
            ),
        ))
        .map_err(|e| Failure::step_failed(format!("cannot ask server {}: {e}", state.server)))?;
    if !exists.is_empty() {
        return Err(Failure::refused(format!(
            "database {into} exists on server {}: restore-dump never writes over a database (what it holds would be lost); choose a new name with --into",
            state.server
        )));
    }
    let tool = |name: &str| inputs.server.bin_dir.join(name).display().to_string();
    let run_as = inputs.server.run_as.as_deref();
    let createdb = CommandSpec::new(tool("psql"))
        .args(["-X", "-v", "ON_ERROR_STOP=1", "-d", &admin, "-c"])
        .arg(format!("create database \"{into}\""))
        .run_as(run_as);
    // The dump file is the console's own (mode 0600): read by the console and handed to
    // pg_restore, run as the server's user, on its standard input.
    let mut words = Switch::to(run_as).prefix();
    words.extend([
        tool("pg_restore"),
        "--exit-on-error".into(),
        "--no-owner".into(),
        "-d".into(),
        with_dbname(&inputs.server.dsn, &into),
    ]);
    let restore = CommandSpec::shell(format!(
        "cat -- {} | {}",
        shell_quote(&part.path.display().to_string()),
        words
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    for cmd in [createdb, restore] {
        note(format!("restore-dump: {}", cmd.display()))?;
        let res = rt
            .block_on(ports.commands.run(&cmd, &|_| {}))
            .map_err(Failure::step_failed)?;
        if !res.success() {
            note(format!(
                "restore-dump failed: {}",
                crate::engine::step::tail(&res.output, 8)
            ))?;
            return Err(Failure::step_failed(format!(
                "`{}` failed:\n{}\nNo existing database was touched; database {into} may hold part of the dump: look, then drop it yourself",
                cmd.display(),
                crate::engine::step::tail(&res.output, 8)
            )));
        }
    }
    note(format!(
        "restore-dump: database {database}'s safety dump (sha256 {sum}) restored into new database {into}"
    ))?;
    println!(
        "Restored the safety dump of {database} (taken by run {}, sha256 checked) into the new database {into} on server {}. No existing database was touched. Compare it with {database}; to put it in its place: ALTER DATABASE {database} RENAME TO ..., then ALTER DATABASE {into} RENAME TO {database}. Roles and tablespaces are in the globals file beside the dump. Journal: {}",
        state.run_id,
        state.server,
        args.journal.display()
    );
    Ok(())
}

/// The globals file checked and named, not applied: `CREATE ROLE` of a role that exists
/// fails and `ALTER ROLE ... PASSWORD` would set passwords back to the run's, so replaying
/// them is the operator's choice, line by line, never the console's.
fn globals(
    state: &JournalState,
    config: Option<&Config>,
    parts: &[DumpPart],
) -> Result<(), Failure> {
    let Some(part) = parts.iter().find(|p| p.database.is_none()) else {
        return Err(Failure::bad_input(format!(
            "run {} took no dump of the globals (the server was down, a side run, or it stopped before the dump)",
            state.run_id
        )));
    };
    let ports = run_request::ports(config, &state.server, &SshPool::new());
    let sum = ports
        .fs
        .sha256(&part.path)
        .map_err(|e| Failure::step_failed(format!("the globals file cannot be read: {e}")))?;
    let checked = if sum == part.sha256 {
        "its sha256 matches the run's record".to_string()
    } else {
        format!(
            "WARNING: it has CHANGED since the run wrote it (sha256 {sum}, recorded {})",
            part.sha256
        )
    };
    Err(Failure::refused(format!(
        "restore-dump does not apply the globals of run {}: they are in {} on server {}'s host ({checked}). Replaying them would fail on roles that exist and set changed passwords back; read the file and run the statements you need with psql as a superuser. Databases: restore-dump {} --database NAME",
        state.run_id,
        part.path.display(),
        state.server,
        state.path.display()
    )))
}

fn dsn_database(dsn: &str) -> Option<String> {
    dsn.split_whitespace()
        .find_map(|w| w.strip_prefix("dbname="))
        .map(|d| d.trim_matches('\'').to_string())
}

/// Lowercase letters, digits and `_`, the rest as `_`: for a default name built from
/// untrusted parts, one that SQL needs no quotes for.
fn plain(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}
