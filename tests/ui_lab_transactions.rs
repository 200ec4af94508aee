//! The transactions pane on a real lab: the incident's DELETE is found around its commit
//! time, its relation is named by the live server, and `b` targets just before it.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;
mod ui_fixture;

use crossterm::event::KeyCode;
use lab_support::build;
use pitr_console::adapters::catalog::load_view;
use pitr_console::app::transactions::RowKind;
use pitr_console::app::{update, App, Msg};
use pitr_console::config::Role;
use pitr_console::domain::target::RecoveryTarget;
use pitr_console::domain::zone::Zone;
use pitr_console::wal::XactKind;

const PORT: u16 = 55900;

#[test]
fn the_incident_is_found_named_and_targeted_from_the_pane() {
    let (_guard, record) = build(PORT, false);
    let incident = record.first_incident().unwrap().clone();
    let commit = incident.commit_time.unwrap();
    let config = pitr_console::config::load(&record.config_file).unwrap();
    let index_dir = tempfile::tempdir().unwrap();
    let view = load_view(&config.repositories[0], Some(index_dir.path())).unwrap();
    assert!(
        view.index.is_some(),
        "the lab's archive is local: WAL is read"
    );

    let mut app = App::new(&config, "lab".into(), Role::Operator, Zone::UTC, None);
    app.start(commit);
    update(
        &mut app,
        Msg::Resize {
            width: 160,
            height: 48,
        },
    );
    update(
        &mut app,
        Msg::CatalogLoaded {
            repository: config.repositories[0].name.clone(),
            result: Ok(view),
        },
    );
    app.cursor = commit;
    update(&mut app, Msg::Tick { now: commit });

    let row = app.transactions.current_row().cloned().unwrap();
    assert_eq!(
        u64::from(row.xid),
        incident.xid,
        "{:?}",
        app.transactions.rows
    );
    assert_eq!(row.kind, RowKind::Tx(XactKind::Commit));
    assert_eq!(row.time, commit);
    assert!(
        u64::from(row.records) > incident.deleted,
        "{} records for {} deleted rows",
        row.records,
        incident.deleted
    );
    assert!(row.big, "the DELETE stands out among its neighbours");
    assert_eq!(
        app.transactions.rows.iter().filter(|r| r.big).count(),
        1,
        "{:?}",
        app.transactions.rows
    );
    // The pane moves away and comes back to the incident's exact time.
    ui_fixture::key(&mut app, KeyCode::Char('.'));
    ui_fixture::key(&mut app, KeyCode::Char(','));
    assert_eq!(app.cursor, commit);

    // The live server names the DELETE's relation.
    let nodes = row.relations.clone();
    let names = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(pitr_console::adapters::relation_names::resolve(
            &config.servers[0].dsn,
            &nodes,
        ))
        .unwrap();
    assert!(
        names.iter().any(|(_, n)| n.as_deref() == Some("orders")),
        "{names:?}"
    );
    update(
        &mut app,
        Msg::RelationNames {
            server: config.servers[0].name.clone(),
            result: Ok(names),
        },
    );

    ui_fixture::key(&mut app, KeyCode::Char('b'));
    let picked = app.pending_target.clone().unwrap();
    assert_eq!(
        picked.target,
        RecoveryTarget::Xid {
            xid: incident.xid,
            inclusive: false
        }
    );
    assert_eq!(picked.server, config.servers[0].name);
    assert!(picked.label.contains("orders"), "{}", picked.label);
    eprintln!("picked: {}", picked.label);
}
