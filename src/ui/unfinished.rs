//! The box of runs left unfinished on this host (`u`): each run with its server, state and
//! age, the selected one's journal once opened, and the question before any change.

use super::layout::centred;
use super::theme;
use crate::app::keymap::{Action, Context};
use crate::app::unfinished_box::UnfinishedBox;
use crate::app::App;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

pub fn render(frame: &mut Frame, app: &App, b: &UnfinishedBox, body: Rect) {
    let mut lines: Vec<Line> = Vec::new();
    for (i, run) in app.unfinished.iter().enumerate() {
        let line = app
            .now
            .map_or_else(|| run.state.clone(), |now| run.summary(now));
        let style = if i == b.selected {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        lines.push(Line::styled(format!(" {line}"), style));
    }
    if let Some(run) = app.unfinished.get(b.selected) {
        lines.push(Line::styled(
            format!(" journal {}", run.journal.display()),
            theme::get().dim,
        ));
    }
    if let Some(asked) = b.asking {
        let yes = app
            .keymap
            .label(Context::Confirm, Action::Confirm)
            .unwrap_or_default();
        lines.push(Line::default());
        lines.push(Line::styled(
            format!(" {}? {yes} does it, any other key cancels", asked.words()),
            theme::get().bad,
        ));
    }
    if let Some(n) = &b.notice {
        lines.push(Line::default());
        lines.push(Line::styled(format!(" {n}"), theme::get().label));
    }
    if let Some(journal) = &b.lines {
        lines.push(Line::default());
        let room = usize::from(body.height.saturating_sub(4)).saturating_sub(lines.len());
        let skip = journal.len().saturating_sub(room);
        lines.extend(
            journal
                .iter()
                .skip(skip)
                .map(|l| Line::from(format!(" {}", l.text))),
        );
    }
    let height = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(body.height);
    let area = centred(body, body.width.saturating_sub(4).min(110), height);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .title(" Unfinished runs on this host ")
                .border_style(theme::pane_border(true)),
        ),
        area,
    );
}
