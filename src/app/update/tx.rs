//! The transactions pane's part of `update`: the cursor to the next commit or restore
//! point, and the highlighted row picked as the recovery target.

use crate::app::state::App;
use crate::app::transactions::{relation_label, target_before, PendingTarget, Seek, NO_INDEX};

/// Moves the cursor to the next or previous row matching `wanted`, at its exact time.
pub(super) fn step(app: &mut App, forward: bool, seek: Seek) {
    app.transactions.notice = None;
    let (Some(repo), Some(timeline), Some(data)) = (app.repo_index(), app.timeline, app.data())
    else {
        return;
    };
    if !app.transactions.has_log(repo) {
        app.transactions.notice = Some(NO_INDEX.to_string());
        return;
    }
    match app
        .transactions
        .find(&data.catalog.histories, timeline, forward, seek)
    {
        Some(row) => {
            app.transactions.pin_to(&row);
            app.cursor = row.time;
        }
        None => {
            let what = match seek {
                Seek::Transaction => "transaction",
                Seek::RestorePoint => "restore point",
            };
            let side = if forward { "after" } else { "before" };
            app.transactions.notice = Some(format!(
                "no {what} {side} this one on timeline {timeline} in the WAL read"
            ));
        }
    }
}

/// `b`: the highlighted row becomes the pending recovery target.
pub(super) fn pick_target(app: &mut App) {
    app.transactions.notice = None;
    let Some(row) = app.transactions.current_row() else {
        app.transactions.notice =
            Some("no transaction highlighted: move to one with , and .".to_string());
        return;
    };
    let Some(server) = app.servers.get(app.selected_server) else {
        app.transactions.notice =
            Some("no [[server]] configured: there is nothing to recover".to_string());
        return;
    };
    let names_server = app.names_server();
    let relations: Vec<String> = row
        .relations
        .iter()
        .take(2)
        .map(|n| relation_label(n, app.transactions.name_of(names_server, n)))
        .collect();
    let (target, label) = target_before(row, &relations.join(", "), &app.zone());
    app.pending_target = Some(PendingTarget {
        server: server.name.clone(),
        target,
        label,
    });
}
