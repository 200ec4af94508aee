//! Drawing the model: one small function per screen region, no IO, nothing computed here
//! that the model could have prepared once.

pub mod detail;
pub mod drill;
pub mod help;
pub mod input;
pub mod layout;
pub mod servers;
pub mod status_bar;
pub mod theme;
pub mod timeline;
pub mod title_bar;
pub mod transactions;

use crate::app::{App, Mode};
use ratatui::Frame;

pub fn render(frame: &mut Frame, app: &App) {
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
        transactions::render_pending(frame, pending, areas.status);
    }
    if let Some(d) = &app.drill {
        drill::render(frame, app, d, areas.body);
    }
    match &app.mode {
        Mode::Normal => {}
        Mode::Help => help::render(frame, app, frame.area()),
        Mode::Input(input) => input::render(frame, app, input, areas.body),
    }
}
