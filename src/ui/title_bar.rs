//! The top line: what this console is, in which role (and what the role may do), from which
//! configuration.

use super::theme;
use crate::app::view::{per_column_label, short_duration};
use crate::app::wizard::role_scope;
use crate::app::App;
use crate::config::Role;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::Frame;

pub fn render(frame: &mut Frame, app: &App, area: Rect) {
    let role = match app.role {
        Role::Operator => "operator",
        Role::Drill => "drill",
        Role::Trainee => "trainee",
    };
    let zone = app.zone_choice();
    // Parts after the role, least important dropped first until the line fits: never a
    // part cut mid-word.
    let mut parts: Vec<(String, u8)> = vec![
        (role_scope(app.role).to_string(), 0),
        (app.origin.clone(), 4),
        (format!("{} ({})", zone.zone, zone.label), 1),
        (format!("step {}", short_duration(app.step_seconds())), 2),
        (
            format!("{}/col", per_column_label(app.view.per_column())),
            3,
        ),
    ];
    let head = " pitr-console  ".chars().count() + role.chars().count();
    let text = |parts: &[(String, u8)]| {
        let rest: Vec<&str> = parts.iter().map(|(p, _)| p.as_str()).collect();
        format!(", {}", rest.join(" │ "))
    };
    while head + text(&parts).chars().count() > usize::from(area.width) {
        let Some(drop) = parts
            .iter()
            .enumerate()
            .filter(|(_, (_, rank))| *rank > 0)
            .max_by_key(|(_, (_, rank))| *rank)
            .map(|(i, _)| i)
        else {
            break;
        };
        parts.remove(drop);
    }
    let line = Line::from(vec![
        Span::styled(" pitr-console ", theme::get().brand),
        Span::raw(" "),
        Span::styled(role, Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(text(&parts)),
    ])
    .style(theme::get().title);
    frame.render_widget(line, area);
}
