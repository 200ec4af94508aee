//! The few styles the screen uses, in one place so that meanings stay consistent.

use ratatui::style::{Color, Modifier, Style};

pub fn pane_border(focused: bool) -> Style {
    if focused {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::DarkGray)
    }
}

pub const GAP: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
pub const RECOVERABLE: Style = Style::new().fg(Color::Green);
pub const UNREACHABLE_WAL: Style = Style::new().fg(Color::DarkGray);
/// WAL a live server wrote that the archive does not hold yet.
pub const LIVE_TAIL: Style = Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD);
pub const BACKUP: Style = Style::new().fg(Color::Yellow);
pub const CURSOR: Style = Style::new().fg(Color::White).bg(Color::Blue);
pub const BAD: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
pub const GOOD: Style = Style::new().fg(Color::Green).add_modifier(Modifier::BOLD);
pub const DIM: Style = Style::new().fg(Color::DarkGray);
pub const LABEL: Style = Style::new().fg(Color::Gray);
pub const TITLE: Style = Style::new().fg(Color::Black).bg(Color::Gray);
