//! The PITR run against real PostgreSQL 15: targets, failure, roll back, lock, side
//! restore, crash and resume.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod support;

use pitr_console::adapters::fs::local_ports;
use pitr_console::domain::target::RecoveryTarget;
use pitr_console::engine::journal::JournalState;
use pitr_console::engine::recovery::{self, RecoveryInputs, RestoreMode};
use pitr_console::engine::{Decision, EngineEvent, Phase, Question, RunHandle, RunStatus, Runner};
use support::{Lab, BIN};

/// Runs to the end, answering questions with `answer`; returns the status and the events.
async fn drive(
    (runner, mut handle): (Runner, RunHandle),
    mut answer: impl FnMut(&Question) -> Decision,
) -> (RunStatus, Vec<EngineEvent>) {
    let task = tokio::spawn(runner.run());
    let mut events = Vec::new();
    while let Some(e) = handle.events.recv().await {
        if let EngineEvent::NeedsDecision { question, .. } = &e {
            handle.decisions.send(answer(question)).unwrap();
        }
        let end = matches!(e, EngineEvent::RunFinished { .. });
        events.push(e);
        if end {
            break;
        }
    }
    (task.await.unwrap(), events)
}

fn start(inputs: &RecoveryInputs) -> (Runner, RunHandle) {
    recovery::start(recovery::plan(inputs), local_ports(), Some("db1".into())).unwrap()
}

fn count(lab: &Lab, port: u16) -> i64 {
    lab.psql(port, "select count(*) from t").parse().unwrap()
}

fn control(pgdata: &std::path::Path) -> (String, String) {
    let out = support::as_pg(&format!(
        "LC_ALL=C {BIN}/pg_controldata {}",
        pgdata.display()
    ));
    let field = |n: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(n))
            .unwrap()
            .trim_start_matches(':')
            .trim()
            .to_string()
    };
    (
        field("Database system identifier"),
        field("Latest checkpoint location"),
    )
}

fn errors(events: &[EngineEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::StepFailed { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_before_the_delete_and_promote() {
    let lab = Lab::new("before-delete", 55601);
    let at = lab.facts.before_delete_time;
    let inputs = lab.inputs(
        RecoveryTarget::Time {
            at,
            inclusive: false,
        },
        RestoreMode::InPlace,
    );
    let (status, events) = drive(start(&inputs), |_| Decision::Promote).await;
    assert_eq!(status, RunStatus::Promoted, "{}", errors(&events));
    assert_eq!(count(&lab, lab.port), 1500);
    assert_eq!(
        lab.psql(lab.port, "select count(*) from t where id <= 300"),
        "300"
    );
    assert_eq!(lab.psql(lab.port, "select pg_is_in_recovery()"), "f");
    let aside = std::fs::read_dir(&lab.dir)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("primary.pitr-"));
    assert!(aside, "original data directory kept aside");
    let dumps = std::fs::read_dir(lab.dir.join("dumps")).unwrap().count();
    assert_eq!(
        dumps, 4,
        "the database's dump and the globals, each with its sha256"
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, EngineEvent::Progress { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_target_kind_reaches_its_count_on_a_side_instance() {
    let mut lab = Lab::new("targets", 55602);
    let f = lab.facts.clone();
    let cases = [
        (
            RecoveryTarget::Time {
                at: f.delete_commit_time,
                inclusive: true,
            },
            1200,
        ),
        (
            RecoveryTarget::Time {
                at: f.delete_commit_time,
                inclusive: false,
            },
            1500,
        ),
        (
            RecoveryTarget::Xid {
                xid: f.delete_xid,
                inclusive: true,
            },
            1200,
        ),
        (
            RecoveryTarget::Xid {
                xid: f.delete_xid,
                inclusive: false,
            },
            1500,
        ),
        (
            RecoveryTarget::Lsn {
                lsn: f.lsn_before_delete,
                inclusive: true,
            },
            1500,
        ),
        (
            RecoveryTarget::Name {
                name: "before_delete".into(),
            },
            1500,
        ),
        (RecoveryTarget::Immediate, 1000),
        (RecoveryTarget::Latest, 1300),
    ];
    let before = control(&lab.pgdata());
    for (n, (target, want)) in cases.into_iter().enumerate() {
        let port = 55610 + n as u16;
        let dir = lab.dir.join(format!("side{n}"));
        lab.guard(dir.clone());
        let mut inputs = lab.inputs(
            target.clone(),
            RestoreMode::Side {
                dir: dir.clone(),
                port,
            },
        );
        if matches!(target, RecoveryTarget::Time { .. }) {
            inputs.time_column = None;
        }
        let mut seen = None;
        let (status, events) = drive(start(&inputs), |q| {
            if *q == Question::PromoteOrRollBack {
                seen = Some(count(&lab, port));
            }
            Decision::RollBack
        })
        .await;
        assert_eq!(
            status,
            RunStatus::RolledBack,
            "{target}: {}",
            errors(&events)
        );
        assert_eq!(seen, Some(want), "{target}");
        assert!(!dir.exists(), "side dir moved aside on roll back");
    }
    // Production untouched: same pg_control, same port, all rows.
    assert_eq!(control(&lab.pgdata()).0, before.0);
    assert_eq!(count(&lab, lab.port), 1300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_past_the_archive_fails_with_the_fatal_quoted() {
    let lab = Lab::new("past-end", 55603);
    let at = chrono::Utc::now() + chrono::Duration::hours(1);
    let inputs = lab.inputs(
        RecoveryTarget::Time {
            at,
            inclusive: true,
        },
        RestoreMode::InPlace,
    );
    let before = control(&lab.pgdata());
    let (status, events) = drive(start(&inputs), |_| Decision::Abort).await;
    assert!(matches!(status, RunStatus::Aborted { .. }), "{status:?}");
    let err = errors(&events);
    assert!(
        err.contains("recovery ended before configured recovery target was reached"),
        "{err}"
    );
    let aside = std::fs::read_dir(&lab.dir)
        .unwrap()
        .flatten()
        .find(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            // Beside it: the server log and the run's WAL spool (an aborted run keeps it).
            n.starts_with("primary.pitr-") && !n.ends_with(".log") && !n.ends_with("-wal")
        })
        .expect("original moved aside");
    assert_eq!(control(&aside.path()).0, before.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roll_back_gives_back_the_original_and_a_second_run_is_refused() {
    let lab = Lab::new("rollback", 55604);
    let contents = lab.psql(
        lab.port,
        "select md5(string_agg(id || v, ',' order by id)) from t",
    );
    let inputs = lab.inputs(
        RecoveryTarget::Name {
            name: "before_delete".into(),
        },
        RestoreMode::InPlace,
    );
    let mut refused = None;
    let (status, events) = drive(start(&inputs), |q| {
        if *q == Question::PromoteOrRollBack {
            let second =
                recovery::start(recovery::plan(&inputs), local_ports(), Some("db1".into()));
            refused = second.err().map(|e| e.to_string());
        }
        Decision::RollBack
    })
    .await;
    assert_eq!(status, RunStatus::RolledBack, "{}", errors(&events));
    let refused = refused.expect("second run refused");
    assert!(
        refused.contains("busy") && refused.contains(&std::process::id().to_string()),
        "{refused}"
    );
    assert_eq!(count(&lab, lab.port), 1300);
    assert_eq!(
        lab.psql(
            lab.port,
            "select md5(string_agg(id || v, ',' order by id)) from t"
        ),
        contents
    );
    let journal = events
        .iter()
        .find_map(|e| match e {
            EngineEvent::RunStarted { journal, .. } => Some(journal.clone()),
            _ => None,
        })
        .unwrap();
    let state = JournalState::read(&journal).unwrap();
    assert!(state
        .records
        .iter()
        .any(|r| format!("{:?}", r.body).contains("equal the snapshot")));
    assert!(refused.contains(&state.run_id), "{refused}");
}

/// Child half of the crash test: runs a recovery from inputs in a file, never answering
/// the promote question, until the parent kills it.
#[test]
#[ignore]
fn crash_child() {
    let Some(path) = std::env::var_os("PITR_CRASH_INPUTS") else {
        return;
    };
    let inputs: RecoveryInputs = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (runner, mut handle) = start(&inputs);
        tokio::spawn(runner.run());
        while handle.events.recv().await.is_some() {}
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_then_resume_finishes_without_repeating_steps() {
    let mut lab = Lab::new("crash", 55605);
    let inputs = lab.inputs(
        RecoveryTarget::Xid {
            xid: lab.facts.delete_xid,
            inclusive: false,
        },
        RestoreMode::InPlace,
    );
    let file = lab.dir.join("inputs.json");
    std::fs::write(&file, serde_json::to_vec(&inputs).unwrap()).unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "crash_child", "--nocapture"])
        .env("PITR_CRASH_INPUTS", &file)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let jdir = inputs.journal_dir.clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let journal = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "child never reached the decision"
        );
        let found = std::fs::read_dir(&jdir).ok().and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        });
        if let Some(j) = found {
            if std::fs::read_to_string(&j)
                .unwrap()
                .contains("\"step\":\"decide\"")
            {
                break j;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    lab.guard(lab.pgdata());

    let resumed = recovery::resume(
        &journal,
        inputs.clone(),
        local_ports(),
        Some("db1".into()),
        pitr_console::config::Role::Operator,
        None,
    )
    .unwrap();
    let mut dirty = None;
    let (status, events) = drive(resumed, |q| match q {
        Question::DirtyStep { id, .. } => {
            dirty = Some(id.clone());
            Decision::Retry
        }
        _ => Decision::Promote,
    })
    .await;
    assert_eq!(status, RunStatus::Promoted, "{}", errors(&events));
    assert_eq!(dirty.as_deref(), Some("decide"));
    assert_eq!(count(&lab, lab.port), 1500);
    let state = JournalState::read(&journal).unwrap();
    for step in [
        "preflight",
        "snapshot",
        "safety_dump",
        "stop_server",
        "move_aside",
        "restore",
        "write_config",
        "start",
        "replay",
        "verify",
    ] {
        assert_eq!(state.intents(step, Phase::Run), 1, "{step} ran once");
    }
    assert_eq!(state.intents("decide", Phase::Run), 2);
}
