//! The drill's work off the event loop: preparation and conclusion on blocking tasks (they
//! read the repository, run pg_verifybackup and the smoke command, write the report). The
//! side restore between them goes through the engine bridge like any run.

use crate::app::drill::{DrillConclusion, DrillReady, DrillStart};
use crate::app::Msg;
use crate::config::Config;
use crate::engine::journal::JournalState;
use crate::engine::recovery::{build_plan, new_run_id};
use crate::planning::drill_run::{self, DrillRequest};
use crate::planning::run_request;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc::UnboundedSender;

fn side_of(config: &Config, server: &str, run_id: &str) -> Option<(PathBuf, u16)> {
    let s = config.servers.iter().find(|s| s.name == server)?;
    let parent = s.pgdata.parent()?;
    Some(crate::planning::side_dir::default_place(
        &s.pgdata,
        s.port,
        &format!("drill-{run_id}"),
        parent,
    ))
}

pub fn prepare(
    config: &Config,
    start: DrillStart,
    index_dir: Option<&Path>,
    tx: &UnboundedSender<Msg>,
) {
    let config = config.clone();
    let index_dir = index_dir.map(Path::to_path_buf);
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let run_id = new_run_id();
        let result = (|| {
            let (restore_to, port) = side_of(&config, &start.server, &run_id).ok_or_else(|| {
                format!(
                    "server `{}`: no data directory to put the drill's side instance beside",
                    start.server
                )
            })?;
            let journal_dir = run_request::journal_dir(&config)
                .ok_or("no journal_dir configured and no home directory to default to")?;
            let req = DrillRequest {
                server: start.server.clone(),
                target: start.target.clone(),
                restore_to,
                port,
                role: start.role,
                journal_dir,
                index_dir,
                zone: start.zone,
                options: start.options,
            };
            let prep =
                drill_run::prepare(&config, &start.checklist, &req).map_err(|e| e.to_string())?;
            let checksum = build_plan(&prep.inputs, &run_id).checksum().to_string();
            Ok(Box::new(DrillReady {
                prep,
                run_id,
                checksum,
            }))
        })();
        let _ = tx.send(Msg::DrillPrepared(result));
    });
}

pub fn conclude(config: &Config, c: DrillConclusion, tx: &UnboundedSender<Msg>) {
    let smoke = config.drill_smoke.clone();
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let mut record = c.record;
        let result = (|| {
            if let Some(journal) = &c.journal {
                let state = JournalState::read(journal).map_err(|e| e.to_string())?;
                drill_run::verify(&mut record, &state, &c.inputs, smoke.as_deref());
            }
            let report = drill_run::conclude(
                &mut record,
                c.journal.as_deref(),
                c.performed_by,
                c.verified_by,
                &c.zone,
            )?;
            Ok(Box::new((record, report)))
        })();
        let _ = tx.send(Msg::DrillConcluded(result));
    });
}
