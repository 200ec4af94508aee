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
            wizard_modal::question(frame, &app.keymap, w, asked, &app.zone(), body);
        }
    }
    if let Some(modal) = &w.modal {
        wizard_modal::render(frame, &app.keymap, w, modal, body);
    }
}
