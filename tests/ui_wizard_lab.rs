//! The wizard end to end on a real lab, driven like the console drives it but without a
//! terminal: keys and messages through `update`, commands through the event loop's own
//! runner (`tui::Commands`, which holds the engine bridge). The incident is picked in the
//! transactions pane, the plan opened with Enter, the server's name typed, the pause
//! answered with promote; the deleted rows are back and the journal holds every step.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use crossterm::event::KeyCode;
use lab_support::{build, psql, Console};
use pitr_console::app::{update, Msg};
use pitr_console::config::Role;
use pitr_console::domain::target::RecoveryTarget;
use pitr_console::engine::journal::{Body, JournalState};
use pitr_console::engine::{Question, RunStatus};
use std::time::{Duration, Instant};

const PORT: u16 = 55950;

#[test]
fn recover_the_lab_to_just_before_its_incident_from_the_wizard() {
    let started = Instant::now();
    let (_guard, record) = build(PORT, false);
    let incident = record.first_incident().unwrap().clone();
    let commit = incident.commit_time.unwrap();
    let before: u64 = psql(&record, record.port, "select count(*) from orders")
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
        let mut c = Console::open(&config, Role::Operator, index_dir.path(), commit).await;

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

        // The recovered server's own log, read where it writes it.
        c.key(KeyCode::Char('L'));
        c.until("the server log", Duration::from_secs(30), |a| {
            let run = a.wizard.as_ref().unwrap().run.as_ref().unwrap();
            assert!(run.log.error.is_none(), "{:?}", run.log.error);
            run.log.lines.iter().any(|l| l.contains("recovery"))
        })
        .await;
        c.key(KeyCode::Char('L'));

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
        psql(&record, record.port, "select count(*) from orders"),
        incident.rows_before.to_string(),
        "the deleted rows are back"
    );
    assert_eq!(
        psql(&record, record.port, "select pg_is_in_recovery()"),
        "f"
    );

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
