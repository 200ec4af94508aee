//! The runner with scripted steps and fake ports: order, confirmation, failure, undo.

use super::event::{Decision, EngineEvent, Phase, Question, RunStatus};
use super::fakes;
use super::journal::JournalState;
use super::plan::Plan;
use super::runner::Runner;
use super::step::{fail, Step, StepCtx, StepFuture};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

struct Scripted {
    id: &'static str,
    log: Arc<Mutex<Vec<String>>>,
    fail_times: AtomicUsize,
    destructive: bool,
    ask: bool,
}

impl Step for Scripted {
    fn id(&self) -> &'static str {
        self.id
    }
    fn title(&self) -> String {
        self.id.into()
    }
    fn describe(&self) -> Vec<String> {
        vec![format!("do {} password=secret", self.id)]
    }
    fn describe_undo(&self) -> Vec<String> {
        vec![format!("undo {}", self.id)]
    }
    fn destructive(&self) -> bool {
        self.destructive
    }
    fn run<'a>(&'a self, ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            self.log.lock().unwrap().push(format!("run {}", self.id));
            if self.fail_times.load(Ordering::SeqCst) > 0 {
                self.fail_times.fetch_sub(1, Ordering::SeqCst);
                return fail("scripted failure");
            }
            if self.ask {
                let d = ctx
                    .ask(
                        Question::PromoteOrRollBack,
                        "?".into(),
                        vec![Decision::Promote, Decision::RollBack],
                    )
                    .await;
                ctx.set(
                    crate::engine::facts::DECISION,
                    &if d == Decision::Promote {
                        crate::engine::facts::Decided::Promote
                    } else {
                        crate::engine::facts::Decided::RollBack
                    },
                );
            }
            Ok(())
        })
    }
    fn undo<'a>(&'a self, _ctx: &'a mut StepCtx) -> StepFuture<'a> {
        Box::pin(async move {
            self.log.lock().unwrap().push(format!("undo {}", self.id));
            Ok(())
        })
    }
}

fn plan(log: &Arc<Mutex<Vec<String>>>, fail_b: usize) -> Plan {
    let mk = |id, fail_times, destructive, ask| -> Box<dyn Step> {
        Box::new(Scripted {
            id,
            log: log.clone(),
            fail_times: AtomicUsize::new(fail_times),
            destructive,
            ask,
        })
    };
    let steps = vec![
        mk("a", 0, false, false),
        mk("b", fail_b, true, false),
        mk("decide", 0, false, true),
    ];
    Plan::new(
        "r1".into(),
        "db1".into(),
        "latest".into(),
        serde_json::Value::Null,
        steps,
    )
}

async fn drive(
    runner: Runner,
    mut h: super::RunHandle,
    answers: &mut Vec<Decision>,
) -> (RunStatus, Vec<EngineEvent>) {
    let task = tokio::spawn(runner.run());
    let mut events = Vec::new();
    while let Some(e) = h.events.recv().await {
        if matches!(e, EngineEvent::NeedsDecision { .. }) {
            let _ = h.decisions.send(answers.remove(0));
        }
        let end = matches!(e, EngineEvent::RunFinished { .. });
        events.push(e);
        if end {
            break;
        }
    }
    (task.await.unwrap(), events)
}

#[tokio::test]
async fn confirms_retries_and_rolls_back_in_reverse() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let opts = fakes::run_options(dir.path(), None);
    let (runner, h) = Runner::start(plan(&log, 1), fakes::ports(), opts).unwrap();
    let journal = h.journal.clone();
    let mut answers = vec![
        Decision::Confirm("wrong".into()),
        Decision::Confirm("db1".into()),
        Decision::Retry,
        Decision::RollBack,
    ];
    let (status, _) = drive(runner, h, &mut answers).await;
    assert_eq!(status, RunStatus::RolledBack);
    assert_eq!(
        *log.lock().unwrap(),
        [
            "run a",
            "run b",
            "run b",
            "run decide",
            "undo decide",
            "undo b",
            "undo a"
        ]
    );
    let state = JournalState::read(&journal).unwrap();
    assert_eq!(state.intents("b", Phase::Run), 2);
    assert!(state.ended.is_some());
    assert!(!std::fs::read_to_string(&journal)
        .unwrap()
        .contains("secret"));
}

#[tokio::test]
async fn wrong_headless_confirmation_is_refused_and_abort_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let bad = fakes::run_options(dir.path(), Some("db2"));
    assert!(Runner::start(plan(&log, 0), fakes::ports(), bad).is_err());

    let opts = || fakes::run_options(dir.path(), Some("db1"));
    let (runner, h) = Runner::start(plan(&log, 1), fakes::ports(), opts()).unwrap();
    let journal = h.journal.clone();
    let (status, _) = drive(runner, h, &mut vec![Decision::Abort]).await;
    assert!(matches!(status, RunStatus::Aborted { .. }));

    let state = JournalState::read(&journal).unwrap();
    let (runner, h) = Runner::resume(plan(&log, 0), state, fakes::ports(), opts()).unwrap();
    let (status, _) = drive(runner, h, &mut vec![Decision::Retry, Decision::Promote]).await;
    assert_eq!(status, RunStatus::Promoted);
    let state = JournalState::read(&journal).unwrap();
    assert_eq!(
        state.intents("a", Phase::Run),
        1,
        "a finished step never runs twice"
    );
}
