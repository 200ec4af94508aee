//! Where each region goes. The timeline pane spans the full width, so its columns are
//! `app::geometry::timeline_columns(width)`.

use ratatui::layout::{Constraint, Layout, Rect};

pub struct Areas {
    pub title: Rect,
    pub servers: Rect,
    pub timeline: Rect,
    pub detail: Rect,
    /// Where the transactions pane goes: under the detail when there is room for both,
    /// else in its place when the operator swapped them.
    pub transactions: Option<Rect>,
    /// False when the transactions pane took the detail's place.
    pub show_detail: bool,
    pub status: Rect,
    /// Everything between the title and the status bar, for overlays.
    pub body: Rect,
}

/// Servers shown without scrolling; more are scrolled to the selection.
pub const MAX_SERVER_ROWS: u16 = 6;
/// The detail pane's smallest height; it gets whatever the timeline does not need.
const DETAIL_MIN: u16 = 8;
/// Lines of the timeline pane besides one per timeline: borders, backups, axis, labels,
/// legend.
const TIMELINE_FRAME: u16 = 6;

/// The transactions pane's height when there is room: a header, five rows on each side of
/// the cursor's, a notice, borders.
const TRANSACTIONS_HEIGHT: u16 = 15;
const TRANSACTIONS_MIN: u16 = 7;

/// `timelines`: rows the timeline pane would like to show. `swapped`: on a screen too
/// small for both, the transactions pane replaces the detail.
pub fn areas(area: Rect, servers: usize, timelines: usize, swapped: bool) -> Areas {
    let server_rows = u16::try_from(servers)
        .unwrap_or(u16::MAX)
        .clamp(1, MAX_SERVER_ROWS);
    let timeline_rows = u16::try_from(timelines).unwrap_or(u16::MAX).max(1);
    let [title, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    // The timeline's rows come first: on a short terminal the servers pane gives up rows
    // (it scrolls to the selection) before a timeline bar disappears.
    let spare = body
        .height
        .saturating_sub(timeline_rows.saturating_add(TIMELINE_FRAME) + DETAIL_MIN + 3);
    let server_rows = server_rows.min(spare.max(1));
    let [servers, timeline, detail] = Layout::vertical([
        Constraint::Length(server_rows + 3),
        Constraint::Max(timeline_rows.saturating_add(TIMELINE_FRAME)),
        Constraint::Min(DETAIL_MIN),
    ])
    .areas(body);
    let (detail, transactions, show_detail) = if detail.height >= DETAIL_MIN + TRANSACTIONS_MIN {
        let [d, t] = Layout::vertical([
            Constraint::Min(DETAIL_MIN),
            Constraint::Length(TRANSACTIONS_HEIGHT.min(detail.height - DETAIL_MIN)),
        ])
        .areas(detail);
        (d, Some(t), true)
    } else if swapped {
        (detail, Some(detail), false)
    } else {
        (detail, None, true)
    };
    Areas {
        title,
        servers,
        timeline,
        detail,
        transactions,
        show_detail,
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
