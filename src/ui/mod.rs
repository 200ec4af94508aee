//! Drawing the model: one small function per screen region, no IO, nothing computed here
//! that the model could have prepared once.

pub mod detail;
pub mod drill;
pub mod help;
pub mod hints;
pub mod input;
pub mod journal_view;
pub mod layout;
pub mod plan_view;
pub mod run_view;
pub mod servers;
pub mod status_bar;
pub mod theme;
pub mod timeline;
pub mod title_bar;
pub mod transactions;
pub mod unfinished;
pub mod wizard;
pub mod wizard_modal;
mod wrap;

use crate::app::{App, Mode};
use ratatui::layout::{Constraint, Layout};
use ratatui::Frame;

pub fn render(frame: &mut Frame, app: &App) {
    if let Some(w) = &app.wizard {
        let [title, body, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(1),
        ])
        .areas(frame.area());
        title_bar::render(frame, app, title);
        wizard::render(frame, app, w, body);
        status_bar::render(frame, app, status);
        if let Mode::Help(h, _) = &app.mode {
            help::render(frame, app, h, frame.area());
        }
        return;
    }
    let timelines = app.current_buckets().map_or(1, |b| b.rows.len());
    let areas = layout::areas(
        frame.area(),
        servers::rows_wanted(app),
        timelines,
        app.transactions.swapped,
    );
    title_bar::render(frame, app, areas.title);
    servers::render(frame, app, areas.servers);
    timeline::render(frame, app, areas.timeline);
    if areas.show_detail {
        detail::render(frame, app, areas.detail);
    }
    if let Some(area) = areas.transactions {
        transactions::render(frame, app, area, !areas.show_detail);
    }
    status_bar::render(frame, app, areas.status);
    if let Some(pending) = &app.pending_target {
        transactions::render_pending(frame, app, pending, areas.status);
    }
    if let Some(d) = &app.drill {
        drill::render(frame, app, d, areas.body);
    }
    match &app.mode {
        Mode::Normal | Mode::ConfirmSwitch { .. } => {}
        Mode::Unfinished(b) => unfinished::render(frame, app, b, areas.body),
        Mode::Help(h, _) => help::render(frame, app, h, frame.area()),
        Mode::Input(input) => input::render(frame, app, input, areas.body),
    }
}
