//! The timeline pane: backups as markers, WAL coverage per timeline, gaps in red,
//! recoverable stretches bright and unreachable WAL dim, a time axis in the display zone,
//! and the cursor. Cells come from the model's pre-computed buckets.

use super::theme;
use crate::app::buckets::{Buckets, Span as Cell};
use crate::app::geometry::TIMELINE_LABEL_WIDTH;
use crate::app::state::RepoState;
use crate::app::view::TimeView;
use crate::app::{App, Focus};
use crate::domain::zone::Zone;
use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

pub const GAP_CHAR: &str = "╳";
pub const RECOVERABLE_CHAR: &str = "█";
pub const WAL_CHAR: &str = "▒";
pub const BACKUP_CHAR: &str = "▼";
pub const CURSOR_CHAR: &str = "▲";
pub const LIVE_TAIL_CHAR: &str = "░";

const S: i64 = 1000;
/// Tick spacings, in milliseconds, for the axis labels.
const TICKS: [i64; 23] = [
    100,
    200,
    500,
    S,
    2 * S,
    5 * S,
    10 * S,
    15 * S,
    30 * S,
    60 * S,
    120 * S,
    300 * S,
    600 * S,
    900 * S,
    1800 * S,
    3600 * S,
    2 * 3600 * S,
    3 * 3600 * S,
    6 * 3600 * S,
    12 * 3600 * S,
    86400 * S,
    2 * 86400 * S,
    7 * 86400 * S,
];
/// Columns between two axis labels, at least.
const LABEL_SPACING: i64 = 14;

pub fn render(frame: &mut Frame, app: &App, area: Rect) {
    let name = app.repo().map_or("", |r| r.name.as_str());
    let zone = app.zone();
    let title = match app.data() {
        Some(_) => format!(
            " Timeline · repository {name} · {} → {} ",
            zone.format(app.view.start),
            zone.clock(app.view.end())
        ),
        None => format!(" Timeline · repository {name} "),
    };
    let block = Block::bordered()
        .title(title)
        .border_style(theme::pane_border(app.focus == Focus::Timeline));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let message = match app.repo().map(|r| &r.state) {
        None => Some((
            "no [[repository]] configured: add one to the configuration to see backups and WAL"
                .to_string(),
            theme::get().dim,
        )),
        Some(RepoState::Loading) => Some((
            loading(name, app.repo().and_then(|r| r.fetch)),
            theme::get().dim,
        )),
        Some(RepoState::Failed(e)) => {
            Some((format!("cannot read the catalog: {e}"), theme::get().bad))
        }
        Some(RepoState::Ready(_)) => None,
    };
    if let Some((text, style)) = message {
        frame.render_widget(
            Paragraph::new(Line::styled(text, style)).wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    let (Some(buckets), Some(data)) = (app.current_buckets(), app.data()) else {
        return;
    };
    let cursor = app.view.column_of(app.cursor);
    let buf = frame.buffer_mut();
    let mut y = inner.y;
    let bottom = inner.y + inner.height;
    // Axis, labels and legend take the last three lines; timelines get what is left.
    let timeline_rows = inner.height.saturating_sub(4);
    if y < bottom {
        backups_row(buf, inner, y, buckets, cursor);
        y += 1;
    }
    let live = live_columns(app, data);
    let mut drew_live = false;
    for row in buckets.rows.iter().take(usize::from(timeline_rows)) {
        let selected = app.timeline == Some(row.timeline);
        let label = format!("{}TL {}", if selected { "▶" } else { " " }, row.timeline);
        let style = if selected {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            theme::get().label
        };
        buf.set_stringn(inner.x, y, label, usize::from(TIMELINE_LABEL_WIDTH), style);
        for (i, cell) in row.cells.iter().enumerate().take(usize::from(inner.width)) {
            let in_tail =
                live.is_some_and(|(tl, a, b)| tl == row.timeline && (a..=b).contains(&(i as u16)));
            let (symbol, style) = match cell {
                Cell::Empty if in_tail => {
                    drew_live = true;
                    (LIVE_TAIL_CHAR, theme::get().live_tail)
                }
                Cell::Empty => (" ", Style::new()),
                Cell::Wal => (WAL_CHAR, theme::get().unreachable_wal),
                Cell::Recoverable => (RECOVERABLE_CHAR, theme::get().recoverable),
                Cell::Gap => (GAP_CHAR, theme::get().gap),
            };
            let x = inner.x + TIMELINE_LABEL_WIDTH + i as u16;
            if x >= inner.x + inner.width {
                break;
            }
            let c = &mut buf[(x, y)];
            if cursor == Some(i as u16) {
                let symbol = if *cell == Cell::Empty { "│" } else { symbol };
                c.set_symbol(symbol)
                    .set_style(style.patch(theme::get().cursor));
            } else {
                c.set_symbol(symbol).set_style(style);
            }
        }
        y += 1;
    }
    if bottom.saturating_sub(y) >= 3 {
        y = bottom - 3;
        axis(buf, inner, y, &app.view, zone, cursor);
        let legend = legend(data.estimated, drew_live, inner.width);
        frame.render_widget(legend, Rect::new(inner.x, y + 2, inner.width, 1));
    }
}

fn backups_row(buf: &mut Buffer, inner: Rect, y: u16, b: &Buckets, cursor: Option<u16>) {
    buf.set_stringn(
        inner.x,
        y,
        " bkp",
        usize::from(TIMELINE_LABEL_WIDTH),
        theme::get().label,
    );
    for (i, &n) in b.backups.iter().enumerate() {
        let x = inner.x + TIMELINE_LABEL_WIDTH + i as u16;
        if x >= inner.x + inner.width {
            break;
        }
        if n > 0 {
            buf[(x, y)]
                .set_symbol(BACKUP_CHAR)
                .set_style(theme::get().backup);
        } else if cursor == Some(i as u16) {
            buf[(x, y)].set_symbol("│").set_style(theme::get().cursor);
        }
    }
}

/// A tick line with the cursor, and below it labels at round instants of the display zone.
fn axis(buf: &mut Buffer, inner: Rect, y: u16, view: &TimeView, zone: Zone, cursor: Option<u16>) {
    let left = inner.x + TIMELINE_LABEL_WIDTH;
    let right = inner.x + inner.width;
    for x in left..right {
        buf[(x, y)].set_symbol("─").set_style(theme::get().dim);
    }
    let spacing = TICKS
        .iter()
        .copied()
        .find(|&t| t >= view.per_column() * LABEL_SPACING)
        .unwrap_or(TICKS[TICKS.len() - 1]);
    let format = if spacing < S {
        "%H:%M:%S%.1f"
    } else if spacing < 60 * S {
        "%H:%M:%S"
    } else if spacing < 3600 * S {
        "%H:%M"
    } else if spacing < 86400 * S {
        "%m-%d %H:%M"
    } else {
        "%Y-%m-%d"
    };
    let offset = i64::from(zone.offset_at(view.start).local_minus_utc()) * S;
    let local_start = view.start.timestamp_millis() + offset;
    let mut tick = local_start + (spacing - local_start.rem_euclid(spacing)) % spacing;
    let mut next_free = left;
    while let Some(at) = DateTime::<Utc>::from_timestamp_millis(tick - offset) {
        let Some(col) = view.column_of(at) else { break };
        let x = left + col;
        if x >= right {
            break;
        }
        buf[(x, y)].set_symbol("┬").set_style(theme::get().dim);
        let text = at
            .with_timezone(&zone.offset_at(at))
            .format(format)
            .to_string();
        // A label that would run past the edge is left out rather than shown cut.
        let fits = usize::from(right - x) >= text.chars().count();
        if x >= next_free && fits {
            let written =
                buf.set_stringn(x, y + 1, &text, usize::from(right - x), theme::get().label);
            next_free = written.0 + 1;
        }
        tick += spacing;
    }
    if let Some(c) = cursor {
        buf[(left + c, y)]
            .set_symbol(CURSOR_CHAR)
            .set_style(theme::get().cursor);
    }
    // The labels may show only clocks; the date of the left edge goes in front.
    let date = view
        .start
        .with_timezone(&zone.offset_at(view.start))
        .format("%m-%d")
        .to_string();
    buf.set_stringn(
        inner.x,
        y + 1,
        date,
        usize::from(TIMELINE_LABEL_WIDTH),
        theme::get().dim,
    );
}

/// The columns the selected server's unarchived WAL covers on its timeline: from the
/// archive's last instant to the server's last answer (or its last unarchived commit).
fn live_columns(
    app: &App,
    data: &crate::app::repo::RepoData,
) -> Option<(crate::domain::timeline::TimelineId, u16, u16)> {
    let server = app.tail_server()?;
    let tail = server.tail.tail.as_ref().filter(|t| t.is_pending())?;
    let (_, archived_end) = data.extent?;
    let probed = server.status.as_ref()?.checked_at;
    let last_commit = server
        .tail
        .commits()
        .and_then(|r| r.tx_ends.last())
        .map(|t| t.time());
    let until = last_commit.map_or(probed, |c| c.max(probed));
    if until <= archived_end {
        return None;
    }
    let (a, b) = app.view.columns_of(archived_end, until)?;
    Some((tail.timeline, a, b))
}

fn legend(estimated: bool, live: bool, width: u16) -> Line<'static> {
    let mut spans = vec![
        Span::styled(RECOVERABLE_CHAR, theme::get().recoverable),
        Span::raw(" recoverable  "),
        Span::styled(WAL_CHAR, theme::get().unreachable_wal),
        Span::raw(if width >= 100 {
            " WAL no backup reaches  "
        } else {
            " unreachable  "
        }),
        Span::styled(GAP_CHAR, theme::get().gap),
        Span::raw(" gap  "),
        Span::styled(BACKUP_CHAR, theme::get().backup),
        Span::raw(" backup  "),
        Span::styled(CURSOR_CHAR, theme::get().cursor),
        Span::raw(" cursor"),
    ];
    if live {
        let words = if width >= 100 {
            "not yet archived"
        } else {
            "unarchived"
        };
        spans.push(Span::styled(
            format!("  {LIVE_TAIL_CHAR} {words}"),
            theme::get().live_tail,
        ));
    }
    if estimated {
        spans.push(Span::styled(
            match (width >= 100, live) {
                (true, _) => "  ~ times estimated from file times",
                (false, false) => "  ~ estimated",
                (false, true) => "  ~ est.",
            },
            theme::get().dim,
        ));
    }
    Line::from(spans)
}

/// What loading says; fetching WAL through the repository's tool can take a while, so it
/// counts.
fn loading(name: &str, fetch: Option<crate::adapters::wal_fetch::FetchProgress>) -> String {
    match fetch {
        Some(p) => format!(
            "reading the catalog of `{name}`: fetched {}/{} WAL segments ({} MiB) through its tool…",
            p.done,
            p.total,
            p.bytes >> 20
        ),
        None => format!("reading the catalog of `{name}`…"),
    }
}
