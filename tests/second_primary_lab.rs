//! Two servers archive into one repository and the other one runs as a primary: promoting
//! the recovered one in place would make a second primary writing the same archive. The
//! command line refuses it and so does the console's plan (it asks the running fleet the
//! same questions), and both still offer the restore beside production.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use crossterm::event::KeyCode;
use lab_support::{build, cli, fingerprint, Console};
use pitr_console::app::wizard::PlanState;
use pitr_console::config::Role;
use std::time::Duration;

const PORT: u16 = 55970;

#[test]
fn a_second_primary_on_the_same_repository_is_refused_in_the_console_and_the_cli() {
    let (guard, record) = build(PORT, false);
    let incident = record.first_incident().unwrap().clone();
    // A twin of the lab's server: another name, the same repository, a primary (it is the
    // lab's own server, reached by its DSN).
    let text = std::fs::read_to_string(&record.config_file).unwrap();
    let server = text
        .split("[[server]]")
        .nth(1)
        .unwrap()
        .split("[[check]]")
        .next()
        .unwrap()
        .replace("name = \"lab\"", "name = \"lab-twin\"")
        .replace(
            &format!("pgdata = \"{}\"", record.pgdata.display()),
            &format!("pgdata = \"{}\"", guard.path("twin-pgdata").display()),
        );
    let config_file = guard.path("twins.toml");
    std::fs::write(&config_file, format!("{text}\n[[server]]{server}")).unwrap();
    let state = guard.path("state");
    let xid = incident.xid.to_string();
    let before = fingerprint(&record.pgdata);

    let plan = cli(
        &config_file,
        &state,
        &["plan", "--server", "lab", "--xid", &xid, "--exclusive"],
    );
    assert!(
        plan.stdout
            .contains("is refused: lab would become a second primary archiving into repository `lab-archive`: lab-twin archives there"),
        "{}",
        plan.stdout
    );
    let recover = cli(
        &config_file,
        &state,
        &[
            "recover",
            "--server",
            "lab",
            "--xid",
            &xid,
            "--exclusive",
            "--yes",
        ],
    );
    recover.expect(2);
    assert!(
        recover.stderr.contains("second primary"),
        "{}",
        recover.stderr
    );
    assert_eq!(fingerprint(&record.pgdata), before, "production untouched");

    let config = pitr_console::config::load(&config_file).unwrap();
    let index_dir = guard.path("index");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let commit = incident.commit_time.unwrap();
        let mut c = Console::open(&config, Role::Operator, &index_dir, commit).await;
        c.app.cursor = commit;
        c.key(KeyCode::Enter);
        let prepared = |a: &pitr_console::app::App| {
            a.wizard
                .as_ref()
                .is_some_and(|w| !matches!(w.plan, PlanState::Preparing))
        };
        c.until("the plan", Duration::from_secs(30), prepared).await;
        let w = c.app.wizard.as_ref().unwrap();
        let PlanState::Refused(r) = &w.plan else {
            panic!("the console offered a run the command line refuses");
        };
        assert!(
            r.refusal
                .to_string()
                .contains("lab would become a second primary"),
            "{}",
            r.refusal
        );
        // Beside production, nothing is promoted in place: the plan is offered.
        c.key(KeyCode::Char('s'));
        c.until("the side plan", Duration::from_secs(30), prepared)
            .await;
        let w = c.app.wizard.as_ref().unwrap();
        assert!(w.ready().is_some(), "{:?}", w.plan);
    });
    assert_eq!(fingerprint(&record.pgdata), before, "production untouched");
}
