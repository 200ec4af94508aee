//! The help overlay, generated from the keymap so that it lists exactly what is bound.

use super::layout::centred;
use super::theme;
use crate::app::App;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

const KEYS_WIDTH: usize = 16;

pub fn render(frame: &mut Frame, app: &App, area: Rect) {
    let lines: Vec<Line> = app
        .keymap
        .entries()
        .map(|(action, keys)| {
            let keys = keys
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            Line::from(vec![
                Span::styled(
                    format!(" {keys:<KEYS_WIDTH$}"),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(format!(" {}", action.describe())),
            ])
        })
        .collect();
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let popup = centred(area, 74, height);
    let hidden = (lines.len() + 2).saturating_sub(usize::from(popup.height));
    let bottom = if hidden > 0 {
        format!(" ? or Esc closes · {hidden} more on a taller terminal ")
    } else {
        " ? or Esc closes ".to_string()
    };
    let block = Block::bordered()
        .title(" Keys ")
        .title_bottom(bottom)
        .border_style(theme::pane_border(true));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
