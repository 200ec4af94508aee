//! The bottom line: the keys that matter most on the screen on top (generated from the
//! keymap), or the question the console waits on, or the unfinished run found on open.

use super::hints;
use super::theme;
use super::wrap::fit;
use crate::app::keymap::{Action, Context};
use crate::app::screen::{self, Screen};
use crate::app::App;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::Frame;

pub fn render(frame: &mut Frame, app: &App, area: Rect) {
    let top = screen::top(app);
    if let (Screen::SwitchPrompt, crate::app::Mode::ConfirmSwitch { server }) = (top, &app.mode) {
        let yes = app
            .keymap
            .label(Context::Confirm, Action::Confirm)
            .unwrap_or_default();
        let ask = format!(
            " pg_switch_wal() on `{server}`: the archive gets the WAL not yet archived. {yes} switches, any other key cancels"
        );
        frame.render_widget(
            fit(Line::raw(ask), usize::from(area.width)).style(theme::get().live_tail),
            area,
        );
        return;
    }
    if let (Screen::Main, Some(run), Some(now)) = (top, app.unfinished.first(), app.now) {
        let help = hints::help_hint(app);
        let (head, journal) = run.banner(now);
        let keys = app
            .keymap
            .first(Context::Timeline, Action::Unfinished)
            .map(|k| format!("{k} to resume or end it"));
        let mut line = head;
        for part in keys.into_iter().chain([journal]) {
            let longer = format!("{line} · {part}");
            if longer.chars().count() + help.chars().count() <= usize::from(area.width) {
                line = longer;
            }
        }
        let line = format!("{line}{help}");
        frame.render_widget(Line::from(line).style(theme::get().bad), area);
        return;
    }
    frame.render_widget(
        Line::from(hints::footer(app, top, area.width)).style(theme::get().label),
        area,
    );
}
