//! The transactions pane: commits, aborts and restore points around the cursor, the one the
//! cursor sits just after highlighted, big ones marked; and the picked target on the
//! status line.

use super::theme;
use super::wrap::fit;
use crate::app::state::RepoState;
use crate::app::transactions::{
    kind_label, relation_label, PendingTarget, RowKind, TxRow, NO_INDEX,
};
use crate::app::{App, Focus};
use crate::domain::zone::Zone;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

/// Marks the row the cursor sits just after.
pub const CURRENT_MARK: &str = "▶";
/// Marks a transaction that wrote far more than those around it (visible without colour).
pub const BIG_MARK: &str = "!";
pub const RESTORE_POINT_MARK: &str = "◆";
/// Before the relations of a transaction only the live server's pg_wal holds yet.
pub const UNARCHIVED: &str = "not yet archived";

const CURRENT: Style = Style::new().add_modifier(Modifier::REVERSED);

pub fn render(frame: &mut Frame, app: &App, area: Rect, focused: bool) {
    let zone = app.zone();
    let day = app
        .transactions
        .current_row()
        .map_or(app.cursor, |r| r.time);
    let timeline = app.timeline.map_or("?".to_string(), |t| t.to_string());
    let block = Block::bordered()
        .title(format!(
            " Transactions · TL {timeline} · {} {zone} ",
            day.with_timezone(&zone.offset_at(day)).format("%Y-%m-%d")
        ))
        .title_bottom(" , . transactions  < > restore points  b target before ")
        .border_style(theme::pane_border(focused && app.focus == Focus::Detail));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let message = match (app.repo_index(), app.repo().map(|r| &r.state)) {
        (_, Some(RepoState::Loading)) => Some("reading the catalog…".to_string()),
        (_, Some(RepoState::Failed(_))) | (None, _) => Some("no catalog".to_string()),
        _ if app.transactions.rows.is_empty() => Some(match app.repo_index() {
            Some(r) if app.transactions.has_log(r) => format!(
                "no commits, aborts or restore points on timeline {timeline} in the WAL read"
            ),
            _ => NO_INDEX.to_string(),
        }),
        _ => None,
    };
    if let Some(text) = message {
        frame.render_widget(
            Paragraph::new(Line::styled(text, theme::get().dim)).wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    let notice = app.transactions.notice.as_ref();
    let room = usize::from(inner.height)
        .saturating_sub(1)
        .saturating_sub(usize::from(notice.is_some()));
    let rows = &app.transactions.rows;
    let first = app
        .transactions
        .current
        .map_or(0, |c| c.saturating_sub(room.saturating_sub(1) / 2))
        .min(rows.len().saturating_sub(room));
    let server = app.names_server();
    let header = format!(
        "   {:<15} {:>8}  {:<7} {:>8} {:>9}  relations",
        "time", "xid", "kind", "records", "bytes"
    );
    let mut lines = vec![Line::styled(header, theme::get().label)];
    for (i, row) in rows.iter().enumerate().skip(first).take(room) {
        let current = app.transactions.current == Some(i);
        lines.push(fit(
            row_line(app, row, current, &zone, server),
            usize::from(inner.width),
        ));
    }
    if let Some(n) = notice {
        lines.push(Line::styled(n.clone(), theme::get().bad));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn row_line(
    app: &App,
    row: &TxRow,
    current: bool,
    zone: &Zone,
    server: Option<&str>,
) -> Line<'static> {
    let time = row
        .time
        .with_timezone(&zone.offset_at(row.time))
        .format("%H:%M:%S%.6f")
        .to_string();
    let mark = format!(
        "{}{}",
        if current { CURRENT_MARK } else { " " },
        if row.big { BIG_MARK } else { " " }
    );
    let base = match (row.big, row.unarchived) {
        (true, _) => theme::get().warn.add_modifier(Modifier::BOLD),
        (false, true) => theme::get().live_tail,
        (false, false) => Style::new(),
    };
    let style = if current { base.patch(CURRENT) } else { base };
    let text = match &row.kind {
        RowKind::RestorePoint { name } => {
            format!(
                "{mark} {time} {:>8}  {RESTORE_POINT_MARK} restore point '{}'",
                "",
                crate::domain::setting::shown(name)
            )
        }
        RowKind::Tx(_) => {
            let names: Vec<String> = row
                .relations
                .iter()
                .map(|n| relation_label(n, app.transactions.name_of(server, n)))
                .collect();
            let count = format!(
                "{}{}",
                row.relations.len(),
                if row.more_relations { "+" } else { "" }
            );
            let mut relations = if names.is_empty() {
                "-".to_string()
            } else {
                format!("{count}: {}", names.join(", "))
            };
            if row.unarchived {
                relations = format!("{UNARCHIVED} · {relations}");
            }
            format!(
                "{mark} {time} {:>8}  {:<7} {:>8} {:>9}  {relations}",
                row.xid,
                short_kind(&row.kind),
                row.records,
                bytesize::ByteSize(row.bytes).to_string(),
            )
        }
    };
    Line::from(Span::styled(text, style))
}

/// Kinds in at most seven columns.
fn short_kind(kind: &RowKind) -> &'static str {
    match kind_label(kind) {
        "commit prepared" => "c.prep",
        "abort prepared" => "a.prep",
        other => other,
    }
}

/// The picked target in place of the key hints, until Esc clears it.
pub fn render_pending(
    frame: &mut Frame,
    app: &crate::app::App,
    pending: &PendingTarget,
    area: Rect,
) {
    let clear = app
        .keymap
        .label(
            crate::app::keymap::Context::Timeline,
            crate::app::keymap::Action::Close,
        )
        .unwrap_or_default();
    let head = format!(" target ({clear} clears): ");
    let help = super::hints::help_hint(app);
    let room = usize::from(area.width).saturating_sub(head.chars().count() + help.chars().count());
    let what = fit(
        Line::raw(format!("{} on {}", pending.label, pending.server)),
        room,
    );
    let mut spans = vec![Span::styled(
        head,
        theme::get().warn.add_modifier(Modifier::BOLD),
    )];
    spans.extend(what.spans);
    spans.push(Span::raw(help));
    let line = Line::from(spans);
    frame.render_widget(Clear, area);
    frame.render_widget(line.style(theme::get().label), area);
}
