//! The wizard end to end on a real lab, driven like the console drives it but without a
//! terminal: keys and messages through `update`, commands through the event loop's own
//! runner (`tui::Commands`, which holds the engine bridge). The incident is picked in the
//! transactions pane, the plan opened with Enter, the server's name typed, the pause
//! answered with promote; the deleted rows are back and the journal holds every step.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pitr_console::app::{update, App, Msg};
use pitr_console::config::Role;
use pitr_console::domain::target::RecoveryTarget;
use pitr_console::domain::zone::Zone;
use pitr_console::engine::journal::{Body, JournalState};
use pitr_console::engine::{Question, RunStatus};
use pitr_console::lab::{self, LabOptions, LabRecord};
use pitr_console::tui::Commands;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;

const PORT: u16 = 55950;

/// Removes the lab (stopping its server) even when an assertion fails.
struct LabGuard {
    dir: PathBuf,
    _parent: tempfile::TempDir,
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        if self.dir.exists() {
            if let Err(e) = lab::down(&self.dir) {
                eprintln!("could not tear down the lab in {}: {e}", self.dir.display());
            }
        }
    }
}

fn lab_dir() -> LabGuard {
    let parent = tempfile::Builder::new()
        .prefix("pitr-wizard-")
        .tempdir_in("/tmp")
        .unwrap();
    if nix::unistd::Uid::effective().is_root() {
        let pg = nix::unistd::User::from_name("postgres").unwrap().unwrap();
        nix::unistd::chown(parent.path(), Some(pg.uid), Some(pg.gid)).unwrap();
    }
    LabGuard {
        dir: parent.path().join("lab"),
        _parent: parent,
    }
}

fn psql(record: &LabRecord, sql: &str) -> String {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--", "psql", "-X", "-A", "-t", "-q", "-h"])
        .arg(&record.socket_dir)
        .args([
            "-p",
            &record.port.to_string(),
            "-d",
            &record.database,
            "-c",
            sql,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The console's loop without a terminal: feeds messages to `update` and runs the
/// commands it returns, until `done` holds.
struct Console {
    app: App,
    rx: UnboundedReceiver<Msg>,
    commands: Commands,
}

impl Console {
    fn key(&mut self, code: KeyCode) {
        let cmds = update(
            &mut self.app,
            Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)),
        );
        self.commands.spawn(cmds);
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    async fn until(&mut self, what: &str, limit: Duration, done: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + limit;
        while !done(&self.app) {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = tokio::time::timeout(left, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .expect("the command runner holds a sender");
            let cmds = update(&mut self.app, msg);
            self.commands.spawn(cmds);
        }
    }
}

#[test]
fn recover_the_lab_to_just_before_its_incident_from_the_wizard() {
    let started = Instant::now();
    let guard = lab_dir();
    let record = lab::up(&LabOptions {
        dir: Some(guard.dir.clone()),
        port: Some(PORT),
        scale: 1,
        with_gap: false,
    })
    .unwrap();
    eprintln!("lab built in {:.1} s", started.elapsed().as_secs_f64());
    let incident = record.first_incident().unwrap().clone();
    let commit = incident.commit_time.unwrap();
    let before: u64 = psql(&record, "select count(*) from orders")
        .parse()
        .unwrap();
    assert!(before < incident.rows_before, "the incident deleted rows");
    let config = pitr_console::config::load(&record.config_file).unwrap();
    let index_dir = tempfile::tempdir().unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (status, journal) = rt.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut c = Console {
            app: App::new(&config, "lab".into(), Role::Operator, Zone::UTC, None),
            rx,
            commands: Commands::new(config.clone(), Some(index_dir.path().to_path_buf()), tx),
        };
        update(
            &mut c.app,
            Msg::Resize {
                width: 160,
                height: 48,
            },
        );
        let first = c.app.start(commit);
        c.commands.spawn(first);
        c.until("the catalog", Duration::from_secs(30), |a| {
            a.data().is_some()
        })
        .await;

        // The incident in the transactions pane, and `b`: just before it.
        c.app.cursor = commit;
        update(&mut c.app, Msg::Tick { now: commit });
        let row = c.app.transactions.current_row().cloned().unwrap();
        assert_eq!(u64::from(row.xid), incident.xid);
        c.key(KeyCode::Char('b'));
        assert_eq!(
            c.app.pending_target.as_ref().unwrap().target,
            RecoveryTarget::Xid {
                xid: incident.xid,
                inclusive: false
            }
        );

        // Enter: the dry run, prepared off the loop.
        c.key(KeyCode::Enter);
        c.until("the plan", Duration::from_secs(30), |a| {
            a.wizard
                .as_ref()
                .is_some_and(|w| !matches!(w.plan, pitr_console::app::wizard::PlanState::Preparing))
        })
        .await;
        let w = c.app.wizard.as_ref().unwrap();
        let plan = w.ready().unwrap_or_else(|| panic!("refused: {:?}", w.plan));
        assert!(plan.view.steps.iter().any(|s| s.id == "move_aside"));

        // A wrong name starts nothing; the right one starts the run.
        c.key(KeyCode::Char('r'));
        c.type_text("lab2");
        c.key(KeyCode::Enter);
        assert!(c.app.wizard.as_ref().unwrap().run.is_none());
        for _ in 0..4 {
            c.key(KeyCode::Backspace);
        }
        c.type_text("lab");
        c.key(KeyCode::Enter);
        assert!(c.app.wizard.as_ref().unwrap().run.is_some());

        // A resize mid-run changes nothing for the run.
        update(
            &mut c.app,
            Msg::Resize {
                width: 80,
                height: 24,
            },
        );

        c.until("the decision", Duration::from_secs(60), |a| {
            let run = a.wizard.as_ref().unwrap().run.as_ref().unwrap();
            assert!(run.live(), "the run ended early: {run:?}");
            run.question
                .as_ref()
                .is_some_and(|q| q.question == Question::PromoteOrRollBack)
        })
        .await;
        let run = c.app.wizard.as_ref().unwrap().run.as_ref().unwrap();
        assert!(
            run.checklist.iter().all(|i| i.ok || !i.required),
            "{:?}",
            run.checklist
        );
        assert!(run
            .checklist
            .iter()
            .any(|i| i.item == "orders present" && i.ok));
        assert!(run.replay.is_some() && run.copy.is_some());

        // A note for the journal, then promote.
        c.key(KeyCode::Char('n'));
        c.type_text("rows checked before promoting");
        c.key(KeyCode::Enter);
        c.key(KeyCode::Char('p'));
        c.until("the end of the run", Duration::from_secs(60), |a| {
            a.wizard
                .as_ref()
                .unwrap()
                .run
                .as_ref()
                .unwrap()
                .finished
                .is_some()
        })
        .await;
        let run = c.app.wizard.as_ref().unwrap().run.as_ref().unwrap();
        (run.finished.clone().unwrap(), run.journal.clone().unwrap())
    });
    drop(rt);

    assert_eq!(status, RunStatus::Promoted);
    assert_eq!(
        psql(&record, "select count(*) from orders"),
        incident.rows_before.to_string(),
        "the deleted rows are back"
    );
    assert_eq!(psql(&record, "select pg_is_in_recovery()"), "f");

    let state = JournalState::read(&journal).unwrap();
    assert_eq!(state.ended, Some(RunStatus::Promoted));
    let Body::Run { steps, .. } = &state.records[0].body else {
        panic!("no run header")
    };
    assert_eq!(
        state.finished.len(),
        steps.len(),
        "every step journaled as finished"
    );
    assert!(state.records.iter().any(|r| matches!(
        &r.body,
        Body::Note { text, .. } if text == "operator note: rows checked before promoting"
    )));
    assert!(state
        .records
        .iter()
        .any(|r| matches!(&r.body, Body::Decision { .. })));
    eprintln!("whole test {:.1} s", started.elapsed().as_secs_f64());
}
