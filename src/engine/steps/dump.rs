//! A logical safety copy of the database before anything is moved, with its sha256.
//! Taken after the applications stop and before PostgreSQL stops, while it can answer.

use super::{is_running, Recovery};
use crate::engine::ports::CommandSpec;
use crate::engine::step::{Step, StepCtx, StepFuture};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

pub struct SafetyDump(pub Arc<Recovery>);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DumpFact {
    pub path: PathBuf,
    pub sha256: String,
}

impl SafetyDump {
    fn file(&self) -> PathBuf {
        let r = &self.0;
        r.inputs
            .safety_dump_dir
            .join(format!("{}-{}.dump", r.inputs.server.name, r.run_id))
    }

    fn command(&self) -> CommandSpec {
        let r = &self.0;
        let (dsn, password) = crate::engine::redact::take_password(&r.inputs.server.dsn);
        let cmd = CommandSpec::new(r.tool("pg_dump"))
            .args(["-Fc", "-d", &dsn])
            .run_as(r.run_as())
            .stdout_to(&self.file());
        match password {
            Some(p) => cmd.secret_env("PGPASSWORD", &p),
            None => cmd,
        }
    }
}

impl Step for SafetyDump {
    fn id(&self) -> &'static str {
        "safety_dump"
    }
    fn title(&self) -> String {
        "Safety dump (pg_dump -Fc) with sha256".into()
    }
    fn describe(&self) -> Vec<String> {
        vec![
            self.command().display(),
            format!(
                "sha256 {} > {}.sha256",
                self.file().display(),
                self.file().display()
            ),
        ]
    }
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            let r = &self.0;
            if !is_running(ctx, r, r.pgdata()).await? {
                return ctx.note("server is down: no safety dump taken (its data directory is kept aside instead)");
            }
            let fs = ctx.ports.fs.clone();
            fs.create_dir_all(&r.inputs.safety_dump_dir, 0o700, None)?;
            ctx.exec_ok(&self.command()).await?;
            let file = self.file();
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
            let size = fs.file_size(&file)?;
            ctx.note(format!(
                "{} ({}) sha256 {sha}",
                file.display(),
                bytesize::ByteSize(size)
            ))?;
            ctx.set_fact(
                "safety_dump",
                &DumpFact {
                    path: file,
                    sha256: sha,
                },
            );
            Ok(())
        })
    }
}
