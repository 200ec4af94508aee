//! The recovery wizard's screen: the plan (dry run) or a refusal before the run, the run
//! view once started, the journal on `J`, and the boxes that ask the operator something.

use super::{journal_view, plan_view, run_view, wizard_modal};
use crate::app::wizard::Wizard;
use crate::app::App;
use ratatui::layout::Rect;
use ratatui::Frame;

pub fn render(frame: &mut Frame, app: &App, w: &Wizard, body: Rect) {
    if let Some(pane) = &w.journal {
        journal_view::render(frame, w, pane, body);
    } else if let Some(run) = &w.run {
        run_view::render(frame, app, w, run, body);
    } else {
        plan_view::render(frame, app, w, body);
    }
    if let Some(asked) = w.run.as_ref().and_then(|r| r.question.as_ref()) {
        if w.modal.is_none() && w.journal.is_none() {
            wizard_modal::question(frame, w, asked, &app.zone(), body);
        }
    }
    if let Some(modal) = &w.modal {
        wizard_modal::render(frame, w, modal, body);
    }
}

/// The status bar's keys for where the wizard stands.
pub fn hint(w: &Wizard) -> &'static str {
    use crate::app::wizard::PlanState;
    if w.modal.is_some() {
        return " Enter confirms  Esc cancels";
    }
    if w.journal.is_some() {
        if w.run.as_ref().is_some_and(|r| r.question.is_some()) {
            return " the run waits for your answer: J or Esc back to it  ↑/↓ PgUp/PgDn scroll";
        }
        return " ↑/↓ PgUp/PgDn scroll the journal  J or Esc back to the run";
    }
    match &w.run {
        Some(r) if r.question.is_some() => {
            " answer in the box  n note  J journal  q quit (the run can be resumed)"
        }
        Some(r) if r.live() => " n note for the journal  J journal  q quit (the run can be resumed)",
        Some(_) => " J journal  Esc closes the wizard  q quit",
        None => match &w.plan {
            PlanState::Preparing => " preparing the plan...  Esc back",
            PlanState::Refused(r) if !r.nearest.is_empty() => {
                " ↑/↓ choose  g go to that instant and plan again  Esc back"
            }
            PlanState::Refused(_) => " Esc back to the timeline",
            PlanState::Ready(_) => {
                " r start  s side restore on/off  e side dir/port  ↑/↓ PgUp/PgDn scroll  Esc back  ? keys"
            }
        },
    }
}
