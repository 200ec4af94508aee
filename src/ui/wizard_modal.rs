//! Boxes over the wizard: the typed confirmation, the side restore's settings, a note, the
//! engine's questions (promote or roll back; retry, mark done, abort) and quitting mid-run.

use super::layout::centred;
use super::plan_view::{notice, restore_mode};
use super::theme;
use crate::app::keymap::{Action, Context, Keymap};
use crate::app::wizard::run::Asked;
use crate::app::wizard::{action_of, Modal, PlanState, Wizard};
use crate::domain::zone::Zone;
use crate::engine::{Decision, Question};
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;
use tui_input::Input;

const WIDTH: u16 = 78;

/// Draws `lines` in a box; `input` is (line index, field) where the cursor stands.
fn boxed(
    frame: &mut Frame,
    body: Rect,
    title: &str,
    border: Style,
    lines: Vec<Line<'static>>,
    input: Option<(u16, &Input, u16)>,
) {
    let width = WIDTH.min(body.width.saturating_sub(2)).max(20);
    let rows = lines_rows(&lines, body);
    place(
        frame,
        centred(body, width, rows + 2),
        title,
        border,
        lines,
        input,
    );
}

/// A question of the run sits at the bottom, over the step's output, so the progress,
/// replay and verification lines it refers to stay readable above it.
fn boxed_low(
    frame: &mut Frame,
    body: Rect,
    title: &str,
    border: Style,
    lines: Vec<Line<'static>>,
    input: Option<(u16, &Input, u16)>,
) {
    let width = WIDTH.min(body.width.saturating_sub(2)).max(20);
    let rows = lines_rows(&lines, body);
    let mut area = centred(body, width, rows + 2);
    area.y = body.bottom().saturating_sub(area.height);
    place(frame, area, title, border, lines, input);
}

fn place(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    border: Style,
    lines: Vec<Line<'static>>,
    input: Option<(u16, &Input, u16)>,
) {
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .title(title.to_string())
                .border_style(border),
        ),
        area,
    );
    if let Some((row, input, indent)) = input {
        let room = area.width.saturating_sub(3 + indent);
        let x = u16::try_from(input.visual_cursor()).unwrap_or(0).min(room);
        frame.set_cursor_position(Position {
            x: area.x + 1 + indent + x,
            y: (area.y + 1 + row).min(area.bottom().saturating_sub(2)),
        });
    }
}

/// Where typed text starts in an input line, after its label.
const INPUT_INDENT: u16 = 11;
const PROMPT_INDENT: u16 = 3;

/// The line a typed answer is shown on: ` > text`.
fn typed_line(input: &Input) -> Line<'static> {
    Line::from(vec![
        Span::styled(" > ", theme::get().label),
        Span::styled(
            format!("{} ", input.value()),
            Style::new().add_modifier(Modifier::UNDERLINED),
        ),
    ])
}

fn field(label: &str, input: &Input, active: bool) -> Line<'static> {
    let style = if active {
        Style::new().add_modifier(Modifier::UNDERLINED)
    } else {
        Style::new()
    };
    Line::from(vec![
        Span::styled(format!(" {label:<10}"), theme::get().label),
        Span::styled(format!("{} ", input.value()), style),
    ])
}

// Over 100 lines on purpose: one arm per modal kind.
#[allow(clippy::too_many_lines)]
pub fn render(frame: &mut Frame, keymap: &Keymap, w: &Wizard, modal: &Modal, body: Rect) {
    let key = |c: Context, a: Action| keymap.label(c, a).unwrap_or_default();
    match modal {
        Modal::Confirm { input, error } => {
            let what = w
                .ready()
                .map(restore_mode)
                .unwrap_or_else(|| "the plan shown".into());
            let mut lines = vec![
                Line::from(format!(
                    " Start the recovery of server {} to {}.",
                    w.request.server, w.label
                )),
                Line::from(format!(" Restore {what}.")),
                Line::default(),
            ];
            let loss = w.ready().and_then(|p| p.wal_loss.clone());
            match &loss {
                Some(l) => {
                    lines.push(Line::styled(format!(" {l}"), theme::get().bad));
                    lines.push(Line::styled(
                        format!(
                            " Type `{} lose-wal` to accept that and start:",
                            w.request.server
                        ),
                        Style::new().add_modifier(Modifier::BOLD),
                    ));
                }
                None => lines.push(Line::styled(
                    format!(" Type the server's name ({}) to start:", w.request.server),
                    Style::new().add_modifier(Modifier::BOLD),
                )),
            }
            let row = lines_rows(&lines, body);
            lines.push(typed_line(input));
            if let Some(e) = error {
                lines.push(Line::styled(format!(" {e}"), theme::get().bad));
            }
            lines.push(Line::styled(
                format!(
                    " {} starts · {} goes back to the plan",
                    key(Context::Input, Action::Submit),
                    key(Context::Input, Action::Cancel)
                ),
                theme::get().dim,
            ));
            boxed(
                frame,
                body,
                " Start the run ",
                theme::get().bad,
                lines,
                Some((row, input, PROMPT_INDENT)),
            );
        }
        Modal::Side {
            dir,
            port,
            on_port,
            error,
        } => {
            let mut lines = vec![
                Line::from(" Restore beside production: a new instance, production untouched."),
                field("directory", dir, !on_port),
                field("port", port, *on_port),
            ];
            if let Some(e) = error {
                lines.push(Line::styled(format!(" {e}"), theme::get().bad));
            }
            lines.push(Line::styled(
                format!(
                    " {} switches · {} plans the side restore · {} cancels",
                    keymap
                        .first(Context::Input, Action::NextField)
                        .unwrap_or_default(),
                    key(Context::Input, Action::Submit),
                    key(Context::Input, Action::Cancel)
                ),
                theme::get().dim,
            ));
            let (row, input) = if *on_port { (2, port) } else { (1, dir) };
            boxed(
                frame,
                body,
                " Side restore ",
                theme::pane_border(true),
                lines,
                Some((row, input, INPUT_INDENT)),
            );
        }
        Modal::Note { input } => {
            let lines = vec![
                Line::from(" A note for the run's journal (who saw what, why you decide):"),
                typed_line(input),
                Line::styled(
                    format!(
                        " {} journals it · {} cancels",
                        key(Context::Input, Action::Submit),
                        key(Context::Input, Action::Cancel)
                    ),
                    theme::get().dim,
                ),
            ];
            boxed(
                frame,
                body,
                " Note ",
                theme::pane_border(true),
                lines,
                Some((1, input, PROMPT_INDENT)),
            );
        }
        Modal::Quit => {
            let journal = w
                .run
                .as_ref()
                .and_then(|r| r.journal.as_ref())
                .map_or("JOURNAL".to_string(), |p| p.display().to_string());
            let lines = vec![
                Line::styled(
                    " A recovery run is in progress.",
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Line::from(" Quitting stops it where it is; the state is left safe and journaled."),
                Line::from(" Continue it later with:"),
                Line::styled(format!("   pitr-console resume {journal}"), notice()),
                Line::default(),
                Line::from(format!(
                    " {} quits · {} stays",
                    key(Context::QuitPrompt, Action::Confirm),
                    key(Context::QuitPrompt, Action::Cancel)
                )),
            ];
            boxed(
                frame,
                body,
                " Quit during a run? ",
                theme::get().bad,
                lines,
                None,
            );
        }
    }
}

/// Rows `lines` take in a box over `body` once wrapped at word boundaries, for the box's
/// height and for placing the cursor after them.
fn lines_rows(lines: &[Line], body: Rect) -> u16 {
    let inner = usize::from(WIDTH.min(body.width.saturating_sub(2)).max(20) - 2);
    let rows: usize = lines
        .iter()
        .map(|l| {
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            word_wrapped_rows(&text, inner)
        })
        .sum();
    u16::try_from(rows).unwrap_or(u16::MAX)
}

/// Greedy word wrap, as the paragraph does it: a word that does not fit starts a new row,
/// a word longer than a row is cut.
fn word_wrapped_rows(text: &str, width: usize) -> usize {
    let mut rows = 1;
    let mut used = 0;
    for word in text.split(' ') {
        let len = word.chars().count();
        let need = if used == 0 { len } else { used + 1 + len };
        if need <= width {
            used = need;
        } else if len <= width {
            rows += 1;
            used = len;
        } else {
            rows += (used > 0) as usize + (len - 1) / width;
            used = len % width;
        }
    }
    rows
}

fn describe(d: &Decision) -> &'static str {
    match d {
        Decision::Promote => "promote: end recovery here, keep this state (new timeline)",
        Decision::RollBack => "roll back: undo the steps in reverse, put the original back",
        Decision::Retry => "retry the step",
        Decision::MarkDone => "mark it done (you completed it by hand)",
        Decision::Abort => "abort: stop here, state left safe; resume later",
        Decision::Confirm(_) => "",
    }
}

/// The engine waits on this question.
pub fn question(
    frame: &mut Frame,
    keymap: &Keymap,
    w: &Wizard,
    asked: &Asked,
    zone: &Zone,
    body: Rect,
) {
    let title = match &asked.question {
        Question::PromoteOrRollBack => " Decision: promote or roll back ",
        Question::FailedStep { .. } => " A step failed ",
        Question::DirtyStep { .. } => " A step was interrupted ",
        Question::ConfirmDestructive { .. } => " Confirm: this changes production ",
        Question::ConfirmLeader { .. } => " Confirm: the node is the Patroni leader ",
    };
    let mut lines: Vec<Line<'static>> = asked
        .prompt
        .lines()
        .map(|l| Line::from(format!(" {l}")))
        .collect();
    if matches!(asked.question, Question::PromoteOrRollBack) {
        if let Some(run) = &w.run {
            let failed = run.checklist.iter().filter(|c| c.required && !c.ok).count();
            let ok = run.checklist.iter().filter(|c| c.required && c.ok).count();
            lines.push(Line::styled(
                format!(" Verification: {ok} passed, {failed} failed (details on the right)."),
                if failed == 0 {
                    theme::get().good
                } else {
                    theme::get().bad
                },
            ));
        }
        // What promoting throws away, as the plan said it.
        if let PlanState::Ready(p) = &w.plan {
            if let Some(cost) = &p.cost {
                for l in cost.lines(&p.inputs.mode, zone) {
                    lines.push(Line::from(format!(" {l}")));
                }
            }
        }
    }
    lines.push(Line::default());
    let mut input = None;
    if asked.typed() {
        let row = lines_rows(&lines, body);
        lines.push(typed_line(&asked.input));
        lines.push(Line::styled(
            format!(
                " {} sends · {} aborts the run (state left safe)",
                keymap
                    .label(Context::Input, Action::Submit)
                    .unwrap_or_default(),
                keymap
                    .label(Context::Input, Action::Cancel)
                    .unwrap_or_default()
            ),
            theme::get().dim,
        ));
        input = Some((row, &asked.input, PROMPT_INDENT));
    } else {
        let context = match asked.question {
            Question::PromoteOrRollBack => Context::Decision,
            _ => Context::Failure,
        };
        for o in &asked.options {
            let Some(k) = action_of(o).and_then(|a| keymap.label(context, a)) else {
                continue;
            };
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {k}  "),
                    theme::get().title.add_modifier(Modifier::BOLD),
                ),
                Span::raw(format!(" {}", describe(o))),
            ]));
        }
        lines.push(Line::styled(
            format!(
                " {} adds a note to the journal first · {} shows the journal",
                keymap
                    .label(Context::Run, Action::AddNote)
                    .unwrap_or_default(),
                keymap
                    .label(Context::Run, Action::JournalView)
                    .unwrap_or_default()
            ),
            theme::get().dim,
        ));
    }
    boxed_low(frame, body, title, notice(), lines, input);
}
