//! The screen stack: which screen is on top decides which keymap contexts a key is looked
//! up in and which model takes it. The stack is read off the model (help over the wizard
//! over the drill over the main screen, each with its own boxes), so it cannot disagree
//! with what is drawn; this is the one place that precedence is written.

use super::keymap::{stacks, Context};
use super::state::{App, Mode};
use super::wizard::WizardScreen;

/// What is on top, for routing a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Main,
    /// The box of runs left unfinished on this host.
    Unfinished,
    /// An unfinished run's action asked for, waiting for a yes.
    UnfinishedConfirm,
    /// `t`: an instant being typed.
    TimeInput,
    /// `W`: pg_switch_wal() asked for, waiting for a yes.
    SwitchPrompt,
    Drill,
    /// A drill sign-off name being typed.
    DrillSign,
    Wizard(WizardScreen),
    Help,
    /// `/` in the help: the search being typed.
    HelpSearch,
}

impl Screen {
    /// The contexts keys are looked up in, top first.
    pub fn stack(self) -> &'static [Context] {
        match self {
            Screen::Main => stacks::MAIN,
            Screen::Unfinished => stacks::UNFINISHED,
            Screen::UnfinishedConfirm | Screen::SwitchPrompt => stacks::CONFIRM,
            Screen::TimeInput | Screen::DrillSign | Screen::HelpSearch => stacks::INPUT,
            Screen::Drill => stacks::DRILL,
            Screen::Help => stacks::HELP,
            Screen::Wizard(w) => match w {
                WizardScreen::Plan => stacks::PLAN,
                WizardScreen::Run => stacks::RUN,
                WizardScreen::Journal => stacks::JOURNAL,
                WizardScreen::Decision => stacks::DECISION,
                WizardScreen::Failure => stacks::FAILURE,
                WizardScreen::TypedAnswer | WizardScreen::Box => stacks::INPUT,
                WizardScreen::QuitPrompt => stacks::QUIT_PROMPT,
            },
        }
    }

    /// Whether keys that are no action are typed into a text box.
    pub fn takes_text(self) -> bool {
        self.stack() == stacks::INPUT
    }
}

/// The screen under the help (or on top when the help is closed).
pub fn beneath_help(app: &App) -> Screen {
    if let Some(w) = &app.wizard {
        return Screen::Wizard(w.screen());
    }
    if let Some(d) = &app.drill {
        return if d.editing.is_some() {
            Screen::DrillSign
        } else {
            Screen::Drill
        };
    }
    of_mode(&app.mode)
}

fn of_mode(mode: &Mode) -> Screen {
    match mode {
        Mode::Input(_) => Screen::TimeInput,
        Mode::ConfirmSwitch { .. } => Screen::SwitchPrompt,
        Mode::Unfinished(u) if u.asking.is_some() => Screen::UnfinishedConfirm,
        Mode::Unfinished(_) => Screen::Unfinished,
        Mode::Help(_, under) => under.as_deref().map_or(Screen::Main, of_mode),
        Mode::Normal => Screen::Main,
    }
}

/// The screen on top.
pub fn top(app: &App) -> Screen {
    match &app.mode {
        Mode::Help(h, _) if h.search.is_some() => Screen::HelpSearch,
        Mode::Help(..) => Screen::Help,
        _ => beneath_help(app),
    }
}
