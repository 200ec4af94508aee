//! The detail pane: the cursor's instant in the display zone and UTC, and whether it can be
//! recovered to, from which backup, with which WAL, or why not and what is nearest.

use super::theme;
use crate::app::{App, Focus};
use crate::domain::assess::{show, Verdict};
use crate::domain::times::Stamp;
use crate::domain::zone::Zone;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

pub fn render(frame: &mut Frame, app: &App, area: Rect) {
    let block = Block::bordered()
        .title(" Cursor ")
        .border_style(theme::pane_border(app.focus == Focus::Detail));
    let zone = app.zone();
    let mut lines = vec![Line::from(vec![
        Span::styled("At       ", theme::LABEL),
        Span::raw(format!(
            "{} ({zone})   {} UTC",
            zone.format(app.cursor),
            Zone::UTC.format(app.cursor)
        )),
    ])];
    let current = app.data().and(app.assessment.as_ref());
    match current.map(|a| (a.timeline, &a.verdict)) {
        None => lines.push(Line::styled(
            "no catalog: recoverability is unknown",
            theme::DIM,
        )),
        Some((timeline, Verdict::Recoverable(r))) => {
            let mut verdict = vec![
                Span::styled("RECOVERABLE", theme::GOOD),
                Span::raw(format!(
                    " on timeline {timeline} from backup {}",
                    r.backup_id
                )),
            ];
            if r.estimated {
                verdict.push(Span::styled(
                    "  (times estimated: check near the window's edges)",
                    theme::DIM,
                ));
            }
            lines.push(Line::from(verdict));
            lines.push(Line::from(vec![
                Span::styled("WAL      ", theme::LABEL),
                Span::raw(format!(
                    "{} .. {} ({} segments){}",
                    r.first_segment,
                    r.last_segment,
                    r.segments,
                    r.lsn
                        .map_or(String::new(), |l| format!(", replay stops near {l}"))
                )),
            ]));
            lines.push(Line::from(vec![
                Span::styled("Window   ", theme::LABEL),
                Span::raw(format!(
                    "{} → {}",
                    stamp(&zone, r.window_start),
                    stamp(&zone, r.window_end)
                )),
            ]));
        }
        Some((
            timeline,
            Verdict::NotRecoverable {
                reason,
                nearest_before,
                nearest_after,
            },
        )) => {
            lines.push(Line::from(vec![
                Span::styled("NOT RECOVERABLE", theme::BAD),
                Span::raw(format!(
                    " on timeline {timeline}: {}",
                    reason.explain(&zone)
                )),
            ]));
            lines.push(Line::from(vec![
                Span::styled("Nearest  ", theme::LABEL),
                Span::raw(format!(
                    "before: {}   after: {}",
                    stamp(&zone, *nearest_before),
                    stamp(&zone, *nearest_after)
                )),
            ]));
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}

fn stamp(zone: &Zone, s: Option<Stamp>) -> String {
    s.map_or("none".to_string(), |s| show(zone, s))
}
