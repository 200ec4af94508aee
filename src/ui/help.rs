//! The help box: the rows `app::help` generates from the keymap (the screen's own sections
//! first), scrolled, with the search line when `/` was pressed.

use super::layout::centred;
use super::theme;
use crate::app::geometry::help_box;
use crate::app::help::{HelpRow, HelpState, KEYS_WIDTH};
use crate::app::screen;
use crate::app::App;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

pub fn render(frame: &mut Frame, app: &App, help: &HelpState, area: Rect) {
    let under = screen::beneath_help(app);
    let rows = help.rows(&app.keymap, under.stack(), area.width);
    let (width, height) = help_box(area.width, area.height);
    let popup = centred(area, width, height);
    let search = help.search.is_some() || !help.filter.is_empty();
    let room = usize::from(popup.height.saturating_sub(2 + u16::from(search)));
    let scroll = help.scroll.min(rows.len().saturating_sub(room));
    let mut lines: Vec<Line> = Vec::new();
    if search {
        let typing = if help.search.is_some() { "_" } else { "" };
        lines.push(Line::styled(
            format!(" search: {}{typing}", help.filter),
            Style::new().add_modifier(Modifier::UNDERLINED),
        ));
    }
    lines.extend(rows.iter().skip(scroll).take(room).map(|r| match r {
        HelpRow::Heading(t) => Line::styled(
            format!(" {t}"),
            theme::pane_border(true).add_modifier(Modifier::UNDERLINED),
        ),
        HelpRow::Entry { keys, text } => Line::from(vec![
            Span::styled(
                format!(" {keys:<KEYS_WIDTH$}"),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(" {text}")),
        ]),
        HelpRow::Blank => Line::default(),
    }));
    if rows.is_empty() {
        lines.push(Line::from(" no key matches the search"));
    }
    let shown = (scroll + 1).min(rows.len());
    let last = (scroll + room).min(rows.len());
    let bottom = format!(" rows {shown}-{last} of {} ", rows.len());
    let block = Block::bordered()
        .title(" Keys ")
        .title_bottom(bottom)
        .border_style(theme::pane_border(true));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
