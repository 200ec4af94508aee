//! The "go to instant" box: the text being typed and, below it, why it was refused.

use super::theme;
use crate::app::state::TimeInput;
use crate::app::App;
use ratatui::layout::{Position, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

pub fn render(frame: &mut Frame, app: &App, input: &TimeInput, body: Rect) {
    let width = body.width.saturating_sub(4).max(10);
    let inner_width = width.saturating_sub(2).max(1);
    let error_lines = input.error.as_ref().map_or(0, |e| {
        u16::try_from(e.chars().count().div_ceil(usize::from(inner_width))).unwrap_or(4)
    });
    let height = (4 + error_lines).min(body.height);
    let area = Rect {
        x: body.x + (body.width - width) / 2,
        y: body.y + body.height.saturating_sub(height),
        width,
        height,
    };
    let zone = app.zone();
    let block = Block::bordered()
        .title(format!(" Go to instant (default zone {zone}) "))
        .border_style(theme::pane_border(true));
    let scroll = input
        .input
        .visual_scroll(usize::from(inner_width.saturating_sub(1)));
    let mut lines = vec![Line::from(
        input.input.value().chars().skip(scroll).collect::<String>(),
    )];
    lines.push(Line::styled(
        "YYYY-MM-DD HH:MM:SS[.ffffff] [ZONE|±HH:MM]",
        theme::get().dim,
    ));
    if let Some(e) = &input.error {
        lines.push(Line::styled(e.clone(), theme::get().bad));
    }
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
    let cursor = input.input.visual_cursor().saturating_sub(scroll);
    frame.set_cursor_position(Position {
        x: area.x + 1 + u16::try_from(cursor).unwrap_or(0).min(inner_width - 1),
        y: area.y + 1,
    });
}
