//! The run: each step with its status and duration, the copy and replay gauges, the
//! verification checklist and notes, and the current step's output tail. Drawn only from
//! the run's state, so any redraw (a resize) shows the same run.

use super::plan_view::notice;
use super::theme;
use super::wrap::{fit_text, wrapped_tail};
use crate::app::wizard::run::{Gauge, RunState, StepState};
use crate::app::wizard::Wizard;
use crate::app::App;
use crate::engine::RunStatus;
use bytesize::ByteSize;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, LineGauge, Paragraph, Wrap};
use ratatui::Frame;

fn running() -> Style {
    theme::get().info.add_modifier(Modifier::BOLD)
}

pub fn render(frame: &mut Frame, app: &App, w: &Wizard, run: &RunState, body: Rect) {
    let out_rows = (body.height / 4).clamp(4, 14);
    let [top, bottom] =
        Layout::vertical([Constraint::Min(6), Constraint::Length(out_rows)]).areas(body);
    let steps_width = (body.width / 2).clamp(40, 72).min(body.width);
    let [left, right] =
        Layout::horizontal([Constraint::Length(steps_width), Constraint::Min(10)]).areas(top);
    steps(frame, app, w, run, left);
    side_panel(frame, w, run, right);
    output(frame, run, bottom);
}

fn symbol(s: &StepState) -> (&'static str, Style) {
    match s {
        StepState::Pending => ("·", theme::get().dim),
        StepState::Running => ("▶", running()),
        StepState::Done => ("✓", theme::get().good),
        StepState::Skipped => ("-", theme::get().dim),
        StepState::MarkedDone => ("✓", notice()),
        StepState::Failed(_) => ("✗", theme::get().bad),
        StepState::Undoing => ("↶", running()),
        StepState::Undone => ("↶", theme::get().good),
    }
}

fn seconds(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

fn steps(frame: &mut Frame, app: &App, w: &Wizard, run: &RunState, area: Rect) {
    let width = usize::from(area.width.saturating_sub(2));
    let mut lines: Vec<Line> = run
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (mark, style) = symbol(&s.state);
            let time = match (&s.duration_ms, &s.since, &w.now) {
                (Some(ms), _, _) => seconds(*ms),
                (None, Some(since), Some(now)) => {
                    format!("{}s", (*now - *since).num_seconds().max(0))
                }
                _ => String::new(),
            };
            let head = format!(" {mark} {:>2}. ", i + 1);
            let room = width.saturating_sub(head.chars().count() + time.len() + 1);
            let title = fit_text(&s.title, room);
            let pad = room.saturating_sub(title.chars().count());
            let title_style = match s.state {
                StepState::Running | StepState::Undoing => running(),
                StepState::Pending | StepState::Skipped => theme::get().dim,
                _ => Style::new(),
            };
            Line::from(vec![
                Span::styled(head, style),
                Span::styled(title, title_style),
                Span::raw(" ".repeat(pad + 1)),
                Span::styled(time, theme::get().label),
            ])
        })
        .collect();
    let visible = usize::from(area.height.saturating_sub(2));
    let skip = run
        .current
        .map_or(0, |c| (c + 2).saturating_sub(visible))
        .min(lines.len().saturating_sub(visible));
    lines.drain(..skip);
    let outcome = match (&run.finished, &run.not_started) {
        (_, Some(_)) => Line::styled(" not started ", theme::get().bad),
        (Some(s), _) => finished_line(s),
        (None, None) => Line::styled(" running ", running()),
    };
    let title = format!("Run {} · {} → {}", run.run_id, w.request.server, w.label);
    let block = Block::bordered()
        .title(format!(" {} ", fit_text(&title, width.saturating_sub(2))))
        .title_bottom(outcome.right_aligned())
        .border_style(theme::pane_border(app.wizard.is_some()));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn finished_line(s: &RunStatus) -> Line<'static> {
    match s {
        RunStatus::Promoted => Line::styled(" promoted ", theme::get().good),
        RunStatus::Completed => Line::styled(" completed ", theme::get().good),
        RunStatus::RolledBack => Line::styled(" rolled back: as before ", theme::get().good),
        RunStatus::Aborted { step } => Line::styled(
            format!(
                " stopped at {}: resumable ",
                step.as_deref().unwrap_or("roll back")
            ),
            theme::get().bad,
        ),
        RunStatus::Refused { .. } => Line::styled(" refused ", theme::get().bad),
    }
}

/// "WAL replay 96.0 MiB of 256.0 MiB" above the gauge, "38% · 32.0 MiB/s · ETA 5s" in it.
fn gauge_labels(what: &str, g: &Gauge) -> (String, String) {
    let of = g
        .total
        .map(|t| format!(" of {}", ByteSize(t)))
        .unwrap_or_default();
    let pct = g
        .ratio()
        .map(|r| format!("{:.0}% · ", r * 100.0))
        .unwrap_or_default();
    let eta = g
        .eta_secs
        .map(|s| format!(" · ETA {s:.0}s"))
        .unwrap_or_default();
    (
        format!("{what} {}{of}", ByteSize(g.done)),
        format!("{pct}{}/s{eta} ", ByteSize(g.rate.max(0.0) as u64)),
    )
}

/// The restore copy's and the replay's gauges.
fn progress(frame: &mut Frame, run: &RunState, gauges: Rect) {
    let block = Block::bordered()
        .title(" Progress ")
        .border_style(theme::pane_border(false));
    let inner = block.inner(gauges);
    frame.render_widget(block, gauges);
    let rows = Layout::vertical([Constraint::Length(1); 4]).split(inner);
    let gauge = |g: Option<&Gauge>, what: &str, colour: Color| {
        let (ratio, above, inside) = match g {
            Some(g) => {
                let (above, inside) = gauge_labels(what, g);
                (g.ratio().unwrap_or(0.0), above, inside)
            }
            None => (0.0, format!("{what}: not yet"), String::new()),
        };
        (
            LineGauge::default()
                .filled_style(Style::new().fg(colour))
                .unfilled_style(theme::get().dim)
                .label(inside)
                .ratio(ratio),
            above,
        )
    };
    let (copy, copy_label) = gauge(
        run.copy.as_ref(),
        "restore copy",
        theme::get().warn.fg.unwrap_or(Color::Reset),
    );
    let (replay, replay_label) = gauge(
        run.replay.as_ref(),
        "WAL replay",
        theme::get().good.fg.unwrap_or(Color::Reset),
    );
    frame.render_widget(Line::styled(copy_label, theme::get().label), rows[0]);
    frame.render_widget(copy, rows[1]);
    frame.render_widget(Line::styled(replay_label, theme::get().label), rows[2]);
    frame.render_widget(replay, rows[3]);
}

fn side_panel(frame: &mut Frame, w: &Wizard, run: &RunState, area: Rect) {
    let [gauges, rest] = Layout::vertical([Constraint::Length(6), Constraint::Min(3)]).areas(area);
    progress(frame, run, gauges);
    let mut lines: Vec<Line> = Vec::new();
    if let Some(status) = &run.replay_status {
        lines.push(Line::styled(status.clone(), theme::get().label));
        if run.promoted() {
            lines.push(Line::styled(
                "then promoted: out of recovery, on a new timeline, taking writes",
                theme::get().good,
            ));
        }
    }
    if let Some(e) = &run.not_started {
        lines.push(Line::styled(e.clone(), theme::get().bad));
    }
    if !run.checklist.is_empty() {
        lines.push(Line::styled(
            "Verification",
            Style::new().add_modifier(Modifier::BOLD),
        ));
        for c in &run.checklist {
            let (mark, style) = match (c.ok, c.required) {
                (true, true) => ("✓", theme::get().good),
                (false, true) => ("✗", theme::get().bad),
                (_, false) => ("i", notice()),
            };
            lines.push(Line::from(vec![
                Span::styled(format!("{mark} "), style),
                Span::raw(c.item.clone()),
                Span::styled(format!(": {}", c.detail), theme::get().dim),
            ]));
        }
    }
    if !run.notes.is_empty() {
        lines.push(Line::styled(
            "Operator notes (journaled)",
            Style::new().add_modifier(Modifier::BOLD),
        ));
        for n in &run.notes {
            lines.push(Line::from(format!("• {n}")));
        }
    }
    if let Some(n) = &w.notice {
        lines.push(Line::styled(n.clone(), notice()));
    }
    if let (Some(j), false) = (&run.journal, run.live()) {
        lines.push(Line::styled(
            format!("Journal: {}", j.display()),
            theme::get().dim,
        ));
        if matches!(run.finished, Some(RunStatus::Aborted { .. })) {
            lines.push(Line::styled(
                format!(
                    "Stopped, state left safe. Continue with: pitr-console resume {}",
                    j.display()
                ),
                notice(),
            ));
        }
    }
    let block = Block::bordered()
        .title(" Replay, checks, notes ")
        .border_style(theme::pane_border(false));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        rest,
    );
}

/// The recovered server's log on `L`: its last lines, FATAL, PANIC and ERROR in red,
/// WARNING in yellow.
fn server_log(frame: &mut Frame, run: &RunState, area: Rect) {
    let rows = usize::from(area.height.saturating_sub(2));
    let mut lines: Vec<Line> = run
        .log
        .lines
        .iter()
        .skip(run.log.lines.len().saturating_sub(rows))
        .map(|l| {
            let style = if ["FATAL:", "PANIC:", "ERROR:"].iter().any(|k| l.contains(k)) {
                theme::get().bad
            } else if l.contains("WARNING:") {
                theme::get().warn
            } else {
                Style::new()
            };
            Line::styled(l.clone(), style)
        })
        .collect();
    if let Some(e) = &run.log.error {
        lines.push(Line::styled(format!("not read: {e}"), theme::get().bad));
    } else if run.log.lines.is_empty() {
        lines.push(Line::styled("nothing logged yet", theme::get().dim));
    }
    let width = usize::from(area.width.saturating_sub(2));
    let lines = wrapped_tail(lines, width, rows);
    let title = format!("Server log (followed): {}", run.log_path.1.display());
    let block = Block::bordered()
        .title(format!(" {} ", fit_text(&title, width.saturating_sub(2))))
        .border_style(theme::pane_border(false));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn output(frame: &mut Frame, run: &RunState, area: Rect) {
    if run.log.shown {
        return server_log(frame, run, area);
    }
    let rows = usize::from(area.height.saturating_sub(2));
    let step = run.current.or_else(|| run.output.back().map(|(i, _)| *i));
    let width = usize::from(area.width.saturating_sub(2));
    let title = match step.and_then(|i| run.steps.get(i).map(|s| (i, s))) {
        Some((i, s)) => format!("Output of step {}: {}", i + 1, s.title),
        None => "Output".to_string(),
    };
    let mut lines: Vec<Line<'static>> = run
        .output_tail(rows)
        .into_iter()
        .map(|l| Line::from(l.to_string()))
        .collect();
    if let Some(StepState::Failed(e)) = step.and_then(|i| run.steps.get(i)).map(|s| &s.state) {
        lines.push(Line::styled(format!("FAILED: {e}"), theme::get().bad));
    }
    let lines = wrapped_tail(lines, width, rows);
    let block = Block::bordered()
        .title(format!(" {} ", fit_text(&title, width.saturating_sub(2))))
        .border_style(theme::pane_border(false));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
