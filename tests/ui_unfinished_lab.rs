//! An unfinished run finished from the console: a recovery on the lab is left at its
//! decision (the console quit mid-run), the next console shows it, and `u`, `p`, `y`
//! promote it through the engine's resume, as `pitr-console resume` does.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use crossterm::event::KeyCode;
use lab_support::{build, private_state_dir, psql, Console};
use pitr_console::app::{update, Mode, Msg};
use pitr_console::config::Role;
use pitr_console::engine::journal::JournalState;
use pitr_console::engine::{Question, RunStatus};
use std::time::Duration;

const PORT: u16 = 58500;

#[test]
fn a_run_left_at_its_decision_is_promoted_from_the_unfinished_box() {
    private_state_dir();
    let (_guard, record) = build(PORT, false);
    let incident = record.first_incident().unwrap().clone();
    let commit = incident.commit_time.unwrap();
    let config = pitr_console::config::load(&record.config_file).unwrap();
    let index_dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let journal = rt.block_on(async {
        let mut c = Console::open(&config, Role::Operator, index_dir.path(), commit).await;
        c.app.cursor = commit;
        update(&mut c.app, Msg::Tick { now: commit });
        c.key(KeyCode::Char('b'));
        c.key(KeyCode::Enter);
        c.until("the plan", Duration::from_secs(60), |a| {
            a.wizard.as_ref().is_some_and(|w| w.ready().is_some())
        })
        .await;
        c.key(KeyCode::Char('r'));
        c.type_text("lab");
        c.key(KeyCode::Enter);
        c.until("the decision", Duration::from_secs(90), |a| {
            let run = a.wizard.as_ref().unwrap().run.as_ref().unwrap();
            assert!(run.live(), "the run ended early: {run:?}");
            run.question
                .as_ref()
                .is_some_and(|q| q.question == Question::PromoteOrRollBack)
        })
        .await;
        // q, then Enter at the prompt: the console quits, the run stays at its decision.
        c.key(KeyCode::Char('q'));
        c.key(KeyCode::Enter);
        assert!(c.app.quitting);
        let journal = c
            .app
            .wizard
            .as_ref()
            .unwrap()
            .run
            .as_ref()
            .unwrap()
            .journal
            .clone()
            .unwrap();
        drop(c);
        journal
    });
    // The process is gone: its tasks die with it, the run stays at its decision.
    drop(rt);
    assert_eq!(JournalState::read(&journal).unwrap().ended, None);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let said = rt.block_on(async {
        let mut c = Console::open(&config, Role::Operator, index_dir.path(), commit).await;
        c.until("the unfinished run", Duration::from_secs(10), |a| {
            !a.unfinished.is_empty()
        })
        .await;
        assert_eq!(c.app.unfinished[0].journal, journal);
        c.key(KeyCode::Char('u'));
        c.key(KeyCode::Char('p'));
        c.key(KeyCode::Char('y'));
        c.until(
            "the promotion",
            Duration::from_secs(120),
            |a| matches!(&a.mode, Mode::Unfinished(b) if !b.busy),
        )
        .await;
        let Mode::Unfinished(b) = &c.app.mode else {
            panic!("the box closed")
        };
        b.notice.clone().unwrap()
    });
    assert!(said.starts_with("promoted"), "{said}");
    assert_eq!(
        JournalState::read(&journal).unwrap().ended,
        Some(RunStatus::Promoted)
    );
    assert_eq!(
        psql(&record, record.port, "select count(*) from orders"),
        incident.rows_before.to_string(),
        "the deleted rows are back"
    );
}
