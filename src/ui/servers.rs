//! The servers pane: one line per configured server, refreshed in the background.

use super::layout::MAX_SERVER_ROWS;
use super::theme;
use super::wrap::fit;
use crate::app::live_tail::TailState;
use crate::app::{App, Focus};
use crate::domain::health::Level;
use crate::domain::patroni::{Lag, Role as PatroniRole};
use crate::domain::server_status::{PatroniState, ServerFacts, ServerState};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

const HEADER: &str =
    "  server       state check  role         TL  LSN          last archived WAL         failures";

pub fn render(frame: &mut Frame, app: &App, area: Rect) {
    let focused = app.focus == Focus::Servers;
    let block = Block::bordered()
        .title(" Servers ")
        .border_style(theme::pane_border(focused));
    let width = usize::from(area.width.saturating_sub(2));
    let mut lines = vec![fit(Line::styled(HEADER, theme::get().label), width)];
    if app.servers.is_empty() {
        lines.push(Line::styled(
            "  no [[server]] configured: the timeline shows the first repository",
            theme::get().dim,
        ));
    }
    let visible = usize::from(MAX_SERVER_ROWS);
    let first = app.selected_server.saturating_sub(visible - 1);
    for (i, row) in app.servers.iter().enumerate().skip(first).take(visible) {
        let selected = i == app.selected_server;
        let marker = if selected { "▶ " } else { "  " };
        let name_style = if selected && focused {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else if selected {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        let mut spans = vec![
            Span::raw(marker),
            Span::styled(format!("{:<12}", clip(&row.name, 12)), name_style),
            Span::raw(" "),
        ];
        match row.status.as_ref().map(|s| &s.state) {
            None => spans.push(Span::styled("checking…", theme::get().dim)),
            Some(ServerState::Down { error }) => {
                spans.push(Span::styled("down  ", theme::get().bad));
                spans.push(Span::styled(format!(" {error}"), theme::get().dim));
            }
            Some(ServerState::Up(facts)) => spans.extend(up_spans(app, facts)),
        }
        if row.status.is_some() {
            // After the state word: what `check` found (details in the cursor pane).
            spans.insert(4, health_span(row));
        }
        spans.extend(tail_spans(&row.tail));
        lines.push(fit(Line::from(spans), width));
        if let Some(patroni) = row.status.as_ref().and_then(|s| s.patroni.as_ref()) {
            lines.extend(patroni_lines(patroni).into_iter().map(|l| fit(l, width)));
        }
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// Rows the pane would like: one per server, one per Patroni member, one per cluster note.
pub fn rows_wanted(app: &App) -> usize {
    app.servers
        .iter()
        .map(|row| {
            1 + match row.status.as_ref().and_then(|s| s.patroni.as_ref()) {
                Some(PatroniState::Cluster { members, .. }) => members.len(),
                Some(PatroniState::Unreachable { .. }) => 1,
                None => 0,
            }
        })
        .sum()
}

/// The cluster under its server: each member with role, state, timeline and lag.
fn patroni_lines(state: &PatroniState) -> Vec<Line<'static>> {
    match state {
        PatroniState::Unreachable { error } => vec![Line::from(vec![
            Span::raw("    └ "),
            Span::styled("Patroni: ", theme::get().label),
            Span::styled(error.clone(), theme::get().bad),
        ])],
        PatroniState::Cluster { members, paused } => members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let branch = if i + 1 == members.len() { "└" } else { "├" };
                let lag = match m.lag {
                    Lag::None => "-".to_string(),
                    Lag::Bytes(b) => bytesize::ByteSize(b).to_string(),
                    Lag::Unknown => "?".to_string(),
                };
                let tl = m.timeline.map_or("?".to_string(), |t| t.to_string());
                let role_style = match m.role {
                    PatroniRole::Leader | PatroniRole::StandbyLeader => theme::get().good,
                    _ => Style::new(),
                };
                let mut spans = vec![
                    Span::raw(format!("    {branch} ")),
                    Span::raw(format!("{:<10} ", clip(&m.name, 10))),
                    Span::styled(format!("{:<13} ", m.role.as_str()), role_style),
                    Span::raw(format!("{:<10} TL {tl:<3} lag {lag}", clip(&m.state, 10))),
                ];
                if *paused && i == 0 {
                    spans.push(Span::styled("   Patroni paused", theme::get().bad));
                }
                Line::from(spans)
            })
            .collect(),
    }
}

fn up_spans(app: &App, f: &ServerFacts) -> Vec<Span<'static>> {
    let role = if f.in_recovery {
        "in recovery"
    } else {
        "primary"
    };
    let tl = f.timeline.map_or("?".to_string(), |t| t.to_string());
    let lsn = f.lsn.map_or("?".to_string(), |l| l.to_string());
    let archived = f
        .archiver
        .last_archived_wal
        .as_deref()
        .unwrap_or("none yet");
    let mut spans = vec![
        Span::styled("up    ", theme::get().good),
        Span::raw(format!(" {role:<12} {tl:<3} {lsn:<12} {archived:<25} ")),
    ];
    if f.archiver.failed_count > 0 {
        let last = match (&f.archiver.last_failed_wal, f.archiver.last_failed_time) {
            (Some(wal), Some(at)) => format!(" (last {wal} at {})", app.zone().format(at)),
            (Some(wal), None) => format!(" (last {wal})"),
            _ => String::new(),
        };
        spans.push(Span::styled(
            format!("{} failed{last}", f.archiver.failed_count),
            theme::get().bad,
        ));
    } else {
        spans.push(Span::styled("0", theme::get().dim));
    }
    spans
}

/// `ok`, `warn`, `CRIT`, or `…` while the first check runs.
fn health_span(row: &crate::app::state::ServerRow) -> Span<'static> {
    match &row.health {
        None => Span::styled("…     ", theme::get().dim),
        Some((_, h)) => match h.level {
            Level::Ok => Span::styled("ok    ", theme::get().good),
            Level::Warning => Span::styled("warn  ", theme::get().warn),
            Level::Critical => Span::styled("CRIT  ", theme::get().bad),
        },
    }
}

/// What the archive lacks of a primary, and what the last WAL switch came to.
fn tail_spans(t: &TailState) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    if let Some(tail) = t.tail.as_ref().filter(|t| t.is_pending()) {
        let text = match tail.unarchived_bytes() {
            Some(b) => format!("  {} not yet archived", bytesize::ByteSize(b)),
            None => "  archive end unknown".to_string(),
        };
        spans.push(Span::styled(text, theme::get().live_tail));
        if let Some(Err(e)) = &t.read {
            spans.push(Span::styled(
                format!(" (pg_wal not read: {e})"),
                theme::get().dim,
            ));
        }
    }
    if let Some(note) = &t.note {
        spans.push(Span::styled(format!("  {note}"), theme::get().dim));
    }
    spans
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(width - 1).collect();
        s.push('…');
        s
    }
}
