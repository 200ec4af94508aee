//! The bottom line: the keys that matter most right now.

use super::theme;
use crate::app::{App, Mode};
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::Frame;

pub fn render(frame: &mut Frame, app: &App, area: Rect) {
    if let Mode::ConfirmSwitch { server } = &app.mode {
        let ask = format!(
            " pg_switch_wal() on `{server}`: the archive gets the WAL not yet archived. y switches, any other key cancels"
        );
        frame.render_widget(Line::from(ask).style(theme::LIVE_TAIL), area);
        return;
    }
    if let (Mode::Normal, None, Some(run), Some(now)) =
        (&app.mode, &app.wizard, app.unfinished.first(), app.now)
    {
        frame.render_widget(Line::from(run.line(now)).style(theme::BAD), area);
        return;
    }
    let hint = match (&app.mode, &app.wizard) {
        (Mode::Normal, Some(w)) => super::wizard::hint(w),
        (Mode::Normal, None) => {
            " ←/→ move  +/- step  i/o zoom  [ ] backups  { } gaps  t go to  Enter plan  Tab pane  ? help  q quit"
        }
        (Mode::Help, _) => " ? or Esc closes the help  q quits",
        (Mode::Input(_), _) => " Enter goes to the instant  Esc cancels",
        (Mode::ConfirmSwitch { .. }, _) => "",
    };
    frame.render_widget(Line::from(hint).style(theme::LABEL), area);
}
