//! The bottom line: the keys that matter most right now.

use super::theme;
use crate::app::{App, Mode};
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::Frame;

pub fn render(frame: &mut Frame, app: &App, area: Rect) {
    let hint = match (&app.mode, &app.wizard) {
        (Mode::Normal, Some(w)) => super::wizard::hint(w),
        (Mode::Normal, None) => {
            " ←/→ move  +/- step  i/o zoom  [ ] backups  { } gaps  t go to  Enter plan  Tab pane  ? help  q quit"
        }
        (Mode::Help, _) => " ? or Esc closes the help  q quits",
        (Mode::Input(_), _) => " Enter goes to the instant  Esc cancels",
    };
    frame.render_widget(Line::from(hint).style(theme::LABEL), area);
}
