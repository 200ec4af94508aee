//! A logical safety copy of the whole server before anything is moved: every database that
//! accepts connections (`pg_dump -Fc` each) and the roles and tablespaces
//! (`pg_dumpall --globals-only`), each file with its sha256. Taken after the applications
//! stop and before PostgreSQL stops, while it can answer.

use super::{is_running, Recovery};
use crate::engine::ports::{CommandSpec, BLOCKERS_SQL};
use crate::engine::step::{Step, StepCtx, StepError, StepFuture};
use std::path::PathBuf;
use std::sync::Arc;

pub struct SafetyDump(pub Arc<Recovery>);

pub use crate::engine::facts::{DumpFact, DumpPart};

/// Every database a dump can reach (templates and `datallowconn = false` cannot be).
pub const DATABASES_SQL: &str =
    "select datname from pg_database where datallowconn and not datistemplate order by 1";

/// `dbname=...` of a key=value connection string set to `db`, quoted as libpq reads it.
pub fn with_dbname(dsn: &str, db: &str) -> String {
    let quoted = format!("'{}'", db.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut words: Vec<String> = dsn
        .split_whitespace()
        .filter(|w| !w.starts_with("dbname="))
        .map(str::to_string)
        .collect();
    words.push(format!("dbname={quoted}"));
    words.join(" ")
}

impl SafetyDump {
    fn file(&self, part: &str) -> PathBuf {
        let r = &self.0;
        r.inputs
            .safety_dump_dir
            .join(format!("{}-{}-{part}", r.inputs.server.name, r.run_id))
    }

    fn db_command(&self, db: &str) -> CommandSpec {
        let r = &self.0;
        let (dsn, password) = crate::engine::redact::take_password(&r.inputs.server.dsn);
        let cmd = CommandSpec::new(r.tool("pg_dump"))
            .args([
                "-Fc",
                "--lock-wait-timeout=10s",
                "-d",
                &with_dbname(&dsn, db),
            ])
            .run_as(r.run_as())
            .stdout_to(&self.file(&format!("{}.dump", crate::domain::paths::file_part(db))));
        match password {
            Some(p) => cmd.secret_env("PGPASSWORD", &p),
            None => cmd,
        }
    }

    fn globals_command(&self) -> CommandSpec {
        let r = &self.0;
        let (dsn, password) = crate::engine::redact::take_password(&r.inputs.server.dsn);
        let cmd = CommandSpec::new(r.tool("pg_dumpall"))
            .args(["--globals-only", "-d", &dsn])
            .run_as(r.run_as())
            .stdout_to(&self.file("globals.sql"));
        match password {
            Some(p) => cmd.secret_env("PGPASSWORD", &p),
            None => cmd,
        }
    }

    async fn take(
        &self,
        ctx: &mut StepCtx,
        cmd: CommandSpec,
        database: Option<String>,
        file: PathBuf,
    ) -> Result<DumpPart, StepError> {
        let fs = ctx.ports.fs.clone();
        if let Err(StepError::Failed(e)) = ctx.exec_ok(&cmd).await {
            let mut text = e;
            if text.contains("could not obtain lock") {
                let dsn = &self.0.inputs.server.dsn;
                if let Ok(rows) = ctx.ports.sql.rows(dsn, BLOCKERS_SQL).await {
                    for row in rows {
                        let c = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
                        text.push_str(&format!(
                            "\n  blocked by pid {} (user {}, application `{}`, {}, transaction open {}) holding {} on {}: {}\n  end it if it is safe to: select pg_terminate_backend({})",
                            c(0), c(1), c(2), c(3), c(4), c(5), c(6), c(7), c(0)
                        ));
                    }
                }
            }
            return Err(StepError::Failed(text));
        }
        let sha = fs.sha256(&file)?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut sum = file.clone().into_os_string();
        sum.push(".sha256");
        fs.write_file(
            &PathBuf::from(sum),
            format!("{sha}  {name}\n").as_bytes(),
            false,
            0o600,
            None,
        )?;
        let bytes = fs.file_size(&file)?;
        ctx.note(format!(
            "{} ({}) sha256 {sha}",
            file.display(),
            bytesize::ByteSize(bytes)
        ))?;
        Ok(DumpPart {
            database,
            path: file,
            sha256: sha,
            bytes,
        })
    }
}

impl Step for SafetyDump {
    fn id(&self) -> &'static str {
        "safety_dump"
    }
    fn title(&self) -> String {
        "Safety dump of the whole server (each database, the globals) with sha256".into()
    }
    fn describe(&self) -> Vec<String> {
        vec![
            format!("SQL {DATABASES_SQL}"),
            format!("for each database DB: {}", self.db_command("DB").display()),
            self.globals_command().display(),
            format!(
                "sha256 of each file > FILE.sha256, in {}",
                self.0.inputs.safety_dump_dir.display()
            ),
        ]
    }
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            if !is_running(ctx, r, r.pgdata()).await? {
                return ctx.note("server is down: no safety dump taken (its data directory is kept aside instead)");
            }
            ctx.ports
                .fs
                .create_dir_all(&r.inputs.safety_dump_dir, 0o700, None)?;
            let rows = ctx
                .ports
                .sql
                .rows(&r.inputs.server.dsn, DATABASES_SQL)
                .await?;
            let databases: Vec<String> = rows
                .into_iter()
                .filter_map(|row| row.into_iter().next().flatten())
                .collect();
            let mut parts = Vec::new();
            for db in &databases {
                let file = self.file(&format!("{}.dump", crate::domain::paths::file_part(db)));
                parts.push(
                    self.take(ctx, self.db_command(db), Some(db.clone()), file)
                        .await?,
                );
            }
            let globals = self.file("globals.sql");
            parts.push(
                self.take(ctx, self.globals_command(), None, globals)
                    .await?,
            );
            let total: u64 = parts.iter().map(|p| p.bytes).sum();
            ctx.note(format!(
                "safety dump: {} databases ({}) and the globals, {} in all",
                databases.len(),
                databases.join(", "),
                bytesize::ByteSize(total)
            ))?;
            // The dsn's own database first: what the summary has always named.
            let own = parts
                .iter()
                .find(|p| {
                    p.database.as_deref().is_some_and(|d| {
                        r.inputs
                            .server
                            .dsn
                            .split_whitespace()
                            .any(|w| w == format!("dbname={d}"))
                    })
                })
                .or(parts.first())
                .cloned();
            if let Some(p) = own {
                ctx.set(
                    crate::engine::facts::SAFETY_DUMP,
                    &DumpFact {
                        path: p.path,
                        sha256: p.sha256,
                    },
                );
            }
            ctx.set(crate::engine::facts::SAFETY_DUMPS, &parts);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_database_names_stay_one_file_and_one_dbname() {
        assert_eq!(crate::domain::paths::file_part("../x y"), "%2E%2E%2Fx%20y");
        assert_eq!(
            with_dbname("host=/tmp port=5432 dbname=shop user=pg", "it's"),
            "host=/tmp port=5432 user=pg dbname='it\\'s'"
        );
    }
}
