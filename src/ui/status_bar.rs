//! The bottom line: the keys that matter most right now.

use super::theme;
use crate::app::{App, Mode};
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::Frame;

pub fn render(frame: &mut Frame, app: &App, area: Rect) {
    let hint = match app.mode {
        Mode::Normal => {
            " ←/→ move  +/- step  i/o zoom  [ ] backups  { } gaps  t go to  z zone  Tab pane  ? help  q quit"
        }
        Mode::Help => " ? or Esc closes the help  q quits",
        Mode::Input(_) => " Enter goes to the instant  Esc cancels",
    };
    frame.render_widget(Line::from(hint).style(theme::LABEL), area);
}
