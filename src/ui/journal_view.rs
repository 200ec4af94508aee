//! The run's journal, read back from its file and shown as it grows.

use super::theme;
use crate::app::wizard::journal_lines::Level;
use crate::app::wizard::{JournalPane, Wizard};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

fn style(level: Level) -> Style {
    match level {
        Level::Header => Style::new().add_modifier(Modifier::BOLD),
        Level::Step => theme::get().info,
        Level::Detail => theme::get().label,
        Level::Good => theme::get().good,
        Level::Bad => theme::get().bad,
        Level::Operator => theme::get().warn,
    }
}

pub fn render(frame: &mut Frame, w: &Wizard, pane: &JournalPane, body: Rect) {
    let path = w
        .run
        .as_ref()
        .and_then(|r| r.journal.as_ref())
        .map(|p| p.display().to_string());
    let mut lines: Vec<Line> = match (&path, &pane.error) {
        (None, _) => vec![Line::styled(
            " No journal yet: a run's journal begins when the run starts (r).",
            theme::get().dim,
        )],
        (Some(_), Some(e)) => vec![Line::styled(format!(" {e}"), theme::get().bad)],
        (Some(_), None) if pane.lines.is_empty() => {
            vec![Line::styled(" reading the journal ...", theme::get().dim)]
        }
        (Some(_), None) => pane
            .lines
            .iter()
            .map(|l| Line::styled(l.text.clone(), style(l.level)))
            .collect(),
    };
    let rows = usize::from(body.height.saturating_sub(2));
    let back = usize::from(pane.back).min(lines.len().saturating_sub(rows));
    let end = lines.len() - back;
    let start = end.saturating_sub(rows);
    lines.truncate(end);
    lines.drain(..start);
    let where_ = if back == 0 {
        "following".to_string()
    } else {
        format!("{back} lines up")
    };
    let block = Block::bordered()
        .title(format!(
            " Journal {} ",
            path.as_deref().unwrap_or("(none yet)")
        ))
        .title_bottom(Line::from(format!(" {where_} ")).right_aligned())
        .border_style(theme::pane_border(true));
    frame.render_widget(Paragraph::new(lines).block(block), body);
}
