//! The drill checklist screen: phases with their times, items with status and detail, the
//! RTO and RPO, the sign-off names. It covers the panes while open.

use super::theme;
use super::wrap::wrap;
use crate::app::drill::{DrillRun, DrillScreen, SignField};
use crate::app::keymap::{Action, Context};
use crate::app::App;
use crate::engine::drill::{human_ms, ItemStatus, PhaseId, Verdict};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

fn status_style(s: ItemStatus) -> Style {
    match s {
        ItemStatus::Passed => theme::get().recoverable,
        ItemStatus::Failed => theme::get().bad,
        ItemStatus::Running => theme::get().warn,
        ItemStatus::Noted => theme::get().info,
        ItemStatus::Open | ItemStatus::Pending | ItemStatus::Skipped => Style::new(),
    }
}

// Over 100 lines on purpose: the drill screen's regions top to bottom.
#[allow(clippy::too_many_lines)]
pub fn render(frame: &mut Frame, app: &App, d: &DrillScreen, area: Rect) {
    let key = |a: Action| app.keymap.first(Context::Drill, a).unwrap_or_default();
    let zone = app.zone_choice().zone;
    let r = &d.record;
    let width = usize::from(area.width.saturating_sub(2));
    let mut lines: Vec<Line<'static>> = Vec::new();
    let put = |lines: &mut Vec<Line<'static>>, line: Line<'static>, indent: usize| {
        lines.extend(wrap(line, width, indent));
    };
    let rto = r.rto_ms.map_or("not measured yet".into(), human_ms);
    let rpo = match (&r.rpo, &r.rpo_unmeasured) {
        (Some(x), _) => human_ms((x.seconds * 1000.0).round() as u64),
        (None, Some(why)) => format!("not measured: {why}"),
        (None, None) => "not measured yet".into(),
    };
    put(
        &mut lines,
        Line::from(vec![Span::raw(format!(
            " Server {} · target {}",
            d.server, d.target
        ))]),
        3,
    );
    let (state, state_style) = match &d.run {
        DrillRun::Idle if d.read_only => (String::new(), Style::new()),
        DrillRun::Idle => (
            format!(
                "{} runs the drill: side restore beside production, promoted there",
                key(Action::StartDrill)
            ),
            Style::new(),
        ),
        DrillRun::Preparing => (
            "preparing: locating and verifying the backup…".into(),
            theme::get().warn,
        ),
        DrillRun::Running { .. } => ("running the side restore…".into(), theme::get().warn),
        DrillRun::Concluding => (
            "verifying, signing off, writing the report…".into(),
            theme::get().warn,
        ),
        DrillRun::Done { report } => {
            let verdict = r.verdict();
            let report = report
                .as_ref()
                .map_or("nothing was restored, no report".to_string(), |p| {
                    format!("Report: {}", p.display())
                });
            match &verdict {
                Verdict::Passed => (
                    format!("The drill PASSED. {report}"),
                    theme::get().recoverable,
                ),
                Verdict::Failed { why, .. } => (
                    format!(
                        "The drill {}: {why}. {report}",
                        verdict.headline().replacen("failed", "FAILED", 1)
                    ),
                    theme::get().bad,
                ),
            }
        }
        DrillRun::Failed(e) => (format!("stopped: {e}"), theme::get().bad),
    };
    if !state.is_empty() {
        put(
            &mut lines,
            Line::styled(format!(" {state}"), state_style),
            3,
        );
    }
    put(
        &mut lines,
        Line::from(vec![
            Span::styled(" RTO ", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(rto),
            Span::styled("   RPO ", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(rpo),
        ]),
        5,
    );
    let mut selected_line = 0;
    let mut flat = 0;
    for p in &r.phases {
        let time = match (p.duration_ms, p.started, p.finished) {
            (Some(ms), Some(s), Some(f)) => {
                format!("{} ({} – {})", human_ms(ms), zone.clock(s), zone.clock(f))
            }
            (Some(ms), _, _) => human_ms(ms),
            _ if p.id == PhaseId::SignOff => String::new(),
            _ => "not timed yet".into(),
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(" {}", p.title),
                Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            ),
            Span::raw(format!("  {time}")),
        ]));
        for i in &p.items {
            let selected = flat == d.selected;
            if selected {
                selected_line = lines.len();
            }
            let detail = if i.detail.is_empty() {
                String::new()
            } else {
                format!(" · {}", i.detail)
            };
            let mut line = Line::from(vec![
                Span::raw(if selected { " ▶ " } else { "   " }),
                Span::styled(format!("{} ", i.status.mark()), status_style(i.status)),
                Span::raw(i.text.clone()),
                Span::styled(detail, theme::get().dim),
            ]);
            if selected {
                line = line.style(Style::new().add_modifier(Modifier::REVERSED));
            }
            put(&mut lines, line, 7);
            flat += 1;
        }
    }
    let field = |label: &str, input: &tui_input::Input, which: SignField| {
        let editing = d.editing == Some(which);
        let value = if input.value().is_empty() && !editing {
            "—".to_string()
        } else {
            input.value().to_string()
        };
        let style = if editing {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        vec![
            Span::styled(label.to_string(), Style::new().add_modifier(Modifier::BOLD)),
            Span::styled(format!("{value}{}", if editing { "▏" } else { "" }), style),
        ]
    };
    let mut sign = vec![Span::raw(" ")];
    sign.extend(field(
        "p Performed by: ",
        &d.performed_by,
        SignField::PerformedBy,
    ));
    sign.push(Span::raw("   "));
    sign.extend(field(
        "v Verified by: ",
        &d.verified_by,
        SignField::VerifiedBy,
    ));
    put(&mut lines, Line::from(sign), 3);
    // While a name is typed, the field it goes into is what must be in view.
    let focus_line = if d.editing.is_some() {
        lines.len() - 1
    } else {
        selected_line
    };
    if d.read_only {
        lines.push(Line::styled(
            " trainee: read-only. The checklist can be read; the drill cannot be run.",
            theme::get().warn,
        ));
    }
    for p in r.problems.iter() {
        put(
            &mut lines,
            Line::styled(format!(" ! {p}"), theme::get().bad),
            3,
        );
    }
    let inner_height = usize::from(area.height.saturating_sub(2));
    let offset = (focus_line + 1).saturating_sub(inner_height);
    let block = Block::bordered()
        .title(format!(" Restore drill: {} ", r.checklist_title))
        .title_bottom(format!(
            " {}/{} select · {} tick · {}/{} sign-off names · {} run · {} close ",
            key(Action::SelectUp),
            key(Action::SelectDown),
            key(Action::ToggleItem),
            key(Action::SignPerformed),
            key(Action::SignVerified),
            key(Action::StartDrill),
            key(Action::Close)
        ))
        .border_style(theme::pane_border(true));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((u16::try_from(offset).unwrap_or(u16::MAX), 0)),
        area,
    );
}
