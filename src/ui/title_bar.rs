//! The top line: what this console is, in which role (and what the role may do), from which
//! configuration.

use super::theme;
use crate::app::view::{per_column_label, short_duration};
use crate::app::wizard::role_scope;
use crate::app::App;
use crate::config::Role;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::Frame;

pub fn render(frame: &mut Frame, app: &App, area: Rect) {
    let role = match app.role {
        Role::Operator => "operator",
        Role::Drill => "drill",
        Role::Trainee => "trainee",
    };
    let zone = app.zone_choice();
    let line = Line::from(vec![
        Span::styled(
            " pitr-console ",
            Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(" "),
        Span::styled(role, Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!(
            ", {} │ {} │ {} ({}) │ step {} │ {}/col",
            role_scope(app.role),
            app.origin,
            zone.zone,
            zone.label,
            short_duration(app.step_seconds()),
            per_column_label(app.view.per_column()),
        )),
    ])
    .style(theme::TITLE);
    frame.render_widget(line, area);
}
