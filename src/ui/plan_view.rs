//! The dry run: what the run would recover and how, then every step with its exact
//! commands, then what a roll back would undo. A refusal says why and offers the nearest
//! recoverable instants.

use super::theme;
use crate::app::wizard::{role_refusal, PlanReady, PlanState, Wizard};
use crate::app::App;
use crate::domain::target::RecoveryTarget;
use crate::engine::recovery::RestoreMode;
use crate::engine::step::Branch;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

/// A notice worth reading before a key is pressed.
pub fn notice() -> Style {
    theme::get().warn.add_modifier(Modifier::BOLD)
}

fn field(name: &str, value: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!(" {name:<9}"), theme::get().label),
        Span::raw(value),
    ])
}

/// "in place: PGDATA (...)" or "beside production: DIR on port N (...)".
pub fn restore_mode(p: &PlanReady) -> String {
    match &p.inputs.mode {
        RestoreMode::InPlace => format!(
            "in place: {} (the current one is kept aside as {}.pitr-{})",
            p.inputs.server.pgdata.display(),
            p.inputs.server.pgdata.display(),
            p.run_id
        ),
        RestoreMode::Side { dir, port } => format!(
            "beside production: {} on port {port} (server {} untouched)",
            dir.display(),
            p.inputs.server.name
        ),
    }
}

pub fn render(frame: &mut Frame, app: &App, w: &Wizard, body: Rect) {
    match &w.plan {
        PlanState::Preparing => {
            let text = format!(
                " Reading the repository of server {} afresh and preparing the plan for {} ...",
                w.request.server, w.label
            );
            let block = Block::bordered()
                .title(" Recovery plan ")
                .border_style(theme::pane_border(true));
            frame.render_widget(
                Paragraph::new(text).wrap(Wrap { trim: false }).block(block),
                body,
            );
        }
        PlanState::Refused(r) => refusal(frame, app, w, r, body),
        PlanState::Ready(p) => plan(frame, app, w, p, body),
    }
}

fn refusal(
    frame: &mut Frame,
    app: &App,
    w: &Wizard,
    r: &crate::planning::run_request::Refused,
    body: Rect,
) {
    let mut lines = vec![
        field("Server", w.request.server.clone()),
        field("Target", w.label.clone()),
        Line::default(),
        Line::styled(format!(" {}", r.refusal), theme::get().bad),
    ];
    if !r.nearest.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(" Nearest recoverable instants:"));
        for (i, at) in r.nearest.iter().enumerate() {
            let (mark, style) = if i == w.nearest {
                ("▶", theme::get().cursor)
            } else {
                (" ", Style::new())
            };
            lines.push(Line::from(vec![
                Span::raw(format!("  {mark} ")),
                Span::styled(app.zone().format(*at), style),
            ]));
        }
        lines.push(Line::styled(
            " g moves the cursor there and plans again",
            theme::get().dim,
        ));
    }
    if let Some(n) = &w.notice {
        lines.push(Line::default());
        lines.push(Line::styled(format!(" {n}"), notice()));
    }
    let block = Block::bordered()
        .title(" Recovery plan: refused ")
        .border_style(theme::get().bad);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        body,
    );
}

fn plan(frame: &mut Frame, app: &App, w: &Wizard, p: &PlanReady, body: Rect) {
    let b = &p.inputs.backup;
    // What stops the operator comes first, so a short terminal still shows it.
    let mut head = Vec::new();
    let refusal = role_refusal(app.role, &p.inputs.mode, &p.inputs.server.name);
    if let Some(r) = &refusal {
        head.push(Line::styled(format!(" {r}"), theme::get().bad));
    }
    if let Some(n) = w.notice.as_ref().filter(|n| Some(*n) != refusal.as_ref()) {
        head.push(Line::styled(format!(" {n}"), notice()));
    }
    let target = match &p.inputs.target {
        RecoveryTarget::Time { .. } => w.label.clone(),
        other => format!("{}  ({other})", w.label),
    };
    head.extend([
        field("Target", target),
        field("Restore", restore_mode(p)),
        field(
            "Backup",
            format!(
                "{} ({:?}), consistent from {} at {}",
                b.id,
                b.format,
                app.zone().format(b.stop_time),
                b.stop_lsn
            ),
        ),
    ]);
    if let Some((first, last)) = &p.wal {
        head.push(field("WAL", format!("{first} .. {last}")));
    }
    head.push(field(
        "Run",
        format!(
            "{} · plan checksum {}",
            p.run_id,
            p.view.checksum.get(..16).unwrap_or(&p.view.checksum)
        ),
    ));
    for n in &p.notes {
        head.push(Line::styled(format!(" {n}"), theme::get().dim));
    }
    if let Some(cost) = &p.cost {
        for (i, n) in cost
            .lines(&p.inputs.mode, &app.zone())
            .into_iter()
            .enumerate()
        {
            // The price is read before the steps; the recommendation stands out.
            let style = if i > 0 { notice() } else { Style::new() };
            head.push(Line::styled(format!(" {n}"), style));
        }
    }
    let inner = body.width.saturating_sub(2).max(1);
    let head_rows: u16 = head
        .iter()
        .map(|l| u16::try_from(l.width().div_ceil(usize::from(inner)).max(1)).unwrap_or(1))
        .sum();
    let [top, steps] = Layout::vertical([
        Constraint::Length((head_rows + 2).min(body.height / 2)),
        Constraint::Min(3),
    ])
    .areas(body);
    let title = format!(
        " Recovery plan for server {} (dry run: nothing changed yet) ",
        p.inputs.server.name
    );
    frame.render_widget(
        Paragraph::new(head).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .title(title)
                .border_style(theme::pane_border(true)),
        ),
        top,
    );
    let lines = step_lines(p, usize::from(steps.width.saturating_sub(2)));
    let visible = steps.height.saturating_sub(2);
    let max_scroll = u16::try_from(lines.len())
        .unwrap_or(u16::MAX)
        .saturating_sub(visible);
    let scroll = w.scroll.min(max_scroll);
    let more = if max_scroll > scroll {
        format!(" ↓ {} more lines ", max_scroll - scroll)
    } else {
        String::new()
    };
    let block = Block::bordered()
        .title(format!(
            " {} steps, with their exact commands ",
            p.view.steps.len()
        ))
        .title_bottom(Line::from(more).right_aligned())
        .border_style(theme::pane_border(false));
    frame.render_widget(
        Paragraph::new(lines).block(block).scroll((scroll, 0)),
        steps,
    );
}

/// `text` cut into lines of `width` characters, the first indented by `indent` spaces and
/// the rest by four more, so that every command is shown whole. Lines break after a space
/// (kept at the line's end, so the pieces join back into the command); only a word longer
/// than a line (a long path) is cut inside.
fn wrapped(text: &str, indent: usize, width: usize, style: Style) -> Vec<Line<'static>> {
    let first = width.saturating_sub(indent).max(8);
    let rest = width.saturating_sub(indent + 4).max(8);
    pieces(text, first, rest)
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let pad = if i == 0 { indent } else { indent + 4 };
            Line::styled(format!("{}{piece}", " ".repeat(pad)), style)
        })
        .collect()
}

fn pieces(text: &str, first: usize, rest: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    super::wrap::breaks(&chars, |c| *c == ' ', first, rest)
        .into_iter()
        .map(|r| chars[r].iter().collect())
        .collect()
}

fn step_lines(p: &PlanReady, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for v in &p.view.steps {
        let mut spans = vec![Span::styled(
            format!("{:>2}. {}", v.index + 1, v.title),
            Style::new().add_modifier(Modifier::BOLD),
        )];
        match v.branch {
            Branch::Main => {}
            Branch::AfterPromote => spans.push(Span::styled(" (after promote)", theme::get().dim)),
            Branch::Final => spans.push(Span::styled(" (always, last)", theme::get().dim)),
        }
        if v.destructive {
            spans.push(Span::styled(" [changes production]", theme::get().bad));
        }
        lines.push(Line::from(spans));
        for c in &v.commands {
            lines.extend(wrapped(c, 6, width, Style::new()));
        }
    }
    lines.push(Line::styled(
        "Roll back (if chosen) undoes, in reverse order:",
        Style::new().add_modifier(Modifier::BOLD),
    ));
    for v in p.view.steps.iter().rev().filter(|v| !v.undo.is_empty()) {
        lines.push(Line::from(format!("    {}:", v.title)));
        for c in &v.undo {
            lines.extend(wrapped(c, 6, width, theme::get().dim));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::pieces;

    #[test]
    fn commands_break_after_a_space_and_join_back_whole() {
        let cmd = "(as postgres) test -w /var/lib/postgresql/15 -a -x /var/lib/postgresql/15";
        let p = pieces(cmd, 30, 26);
        assert_eq!(p.concat(), cmd);
        assert!(p.iter().all(|l| l.chars().count() <= 30), "{p:?}");
        for l in &p[..p.len() - 1] {
            assert!(l.ends_with(' '), "cut inside a word: {p:?}");
        }
        let long = "/a/very/long/path/without/any/space/in/it/at/all";
        let p = pieces(long, 20, 16);
        assert_eq!(p.concat(), long);
        assert_eq!(p[0].chars().count(), 20);
    }
}
