//! Where each region goes. The timeline pane spans the full width, so its columns are
//! `app::geometry::timeline_columns(width)`.

use ratatui::layout::{Constraint, Layout, Rect};

pub struct Areas {
    pub title: Rect,
    pub servers: Rect,
    pub timeline: Rect,
    pub detail: Rect,
    pub status: Rect,
    /// Everything between the title and the status bar, for overlays.
    pub body: Rect,
}

/// Servers shown without scrolling; more are scrolled to the selection.
pub const MAX_SERVER_ROWS: u16 = 4;
const DETAIL_HEIGHT: u16 = 7;

pub fn areas(area: Rect, servers: usize) -> Areas {
    let server_rows = u16::try_from(servers)
        .unwrap_or(u16::MAX)
        .clamp(1, MAX_SERVER_ROWS);
    let [title, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    let [servers, timeline, detail] = Layout::vertical([
        Constraint::Length(server_rows + 3),
        Constraint::Min(6),
        Constraint::Length(DETAIL_HEIGHT),
    ])
    .areas(body);
    Areas {
        title,
        servers,
        timeline,
        detail,
        status,
        body,
    }
}

/// A rectangle of at most `width` x `height` centred in `area`.
pub fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
