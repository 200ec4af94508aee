//! The footer's keys, generated from the keymap for the screen on top: what matters most
//! there, dropped least-important first until it fits, never cut mid-word, and always
//! ending with the help key (except where keys are typed).

use crate::app::keymap::{Action, Context, Keymap};
use crate::app::screen::Screen;
use crate::app::wizard::{PlanState, Wizard, WizardScreen};
use crate::app::App;

/// One hint: its keys (from the keymap), its words, and how soon it is dropped (higher
/// first; 0 never).
struct Item {
    keys: String,
    words: &'static str,
    rank: u8,
}

fn keys(map: &Keymap, context: Context, actions: &[Action], sep: &str) -> Option<String> {
    actions
        .iter()
        .map(|a| map.first(context, *a))
        .collect::<Option<Vec<_>>>()
        .map(|k| k.join(sep))
}

struct Items<'a> {
    map: &'a Keymap,
    items: Vec<Item>,
}

impl Items<'_> {
    fn key(
        &mut self,
        context: Context,
        actions: &[Action],
        sep: &str,
        words: &'static str,
        rank: u8,
    ) {
        if let Some(keys) = keys(self.map, context, actions, sep) {
            self.items.push(Item { keys, words, rank });
        }
    }

    /// Lines and pages as one hint: `↑/↓ PgUp/PgDn scroll`.
    fn scroll(&mut self, context: Context, words: &'static str, rank: u8) {
        let lines = keys(
            self.map,
            context,
            &[Action::SelectUp, Action::SelectDown],
            "/",
        );
        let pages = keys(
            self.map,
            context,
            &[Action::ScrollUp, Action::ScrollDown],
            "/",
        );
        if let (Some(l), Some(p)) = (lines, pages) {
            self.items.push(Item {
                keys: format!("{l} {p}"),
                words,
                rank,
            });
        }
    }

    fn words(&mut self, words: &'static str, rank: u8) {
        self.items.push(Item {
            keys: String::new(),
            words,
            rank,
        });
    }

    fn help(&mut self) {
        self.key(Context::Global, &[Action::Help], "/", "help", 0);
    }
}

/// The footer for the screen on top, at most `width` cells wide.
pub fn footer(app: &App, screen: Screen, width: u16) -> String {
    let mut it = Items {
        map: &app.keymap,
        items: Vec::new(),
    };
    use Action as A;
    use Context as C;
    match screen {
        Screen::Main => {
            it.key(
                C::Timeline,
                &[A::CursorLeft, A::CursorRight],
                "/",
                "move",
                1,
            );
            it.key(C::Timeline, &[A::StepUp, A::StepDown], "/", "step", 4);
            it.key(C::Timeline, &[A::ZoomIn, A::ZoomOut], "/", "zoom", 5);
            it.key(
                C::Timeline,
                &[A::PrevBackup, A::NextBackup],
                " ",
                "backups",
                7,
            );
            it.key(
                C::Timeline,
                &[A::PrevGapEdge, A::NextGapEdge],
                " ",
                "gaps",
                8,
            );
            it.key(C::Timeline, &[A::TypeInstant], "/", "go to", 3);
            it.key(C::Timeline, &[A::OpenPlan], "/", "plan", 2);
            it.key(C::Timeline, &[A::FocusNext], "/", "pane", 6);
            it.help();
            it.key(C::Global, &[A::Quit], "/", "quit", 2);
        }
        Screen::Unfinished => {
            it.key(C::Unfinished, &[A::SelectUp, A::SelectDown], "/", "run", 6);
            it.key(C::Unfinished, &[A::OpenRun], "/", "journal", 5);
            it.key(C::Unfinished, &[A::Resume], "/", "resume", 1);
            it.key(C::Unfinished, &[A::Promote], "/", "promote", 1);
            it.key(C::Unfinished, &[A::RollBack], "/", "roll back", 1);
            it.key(C::Unfinished, &[A::Abandon], "/", "abandon", 1);
            it.key(C::Unfinished, &[A::Close], "/", "back", 2);
            it.help();
        }
        Screen::UnfinishedConfirm => {
            it.key(C::Confirm, &[A::Confirm], "/", "does it", 0);
            it.words("any other key cancels", 0);
        }
        Screen::TimeInput => {
            it.key(C::Input, &[A::Submit], "/", "goes to the instant", 0);
            it.key(C::Input, &[A::Cancel], "/", "cancels", 0);
            it.key(C::Input, &[A::Help], "/", "help", 0);
        }
        Screen::SwitchPrompt => {}
        Screen::Drill => {
            it.key(C::Drill, &[A::SelectUp, A::SelectDown], "/", "item", 4);
            it.key(C::Drill, &[A::ToggleItem], "/", "tick", 3);
            it.key(
                C::Drill,
                &[A::SignPerformed, A::SignVerified],
                "/",
                "sign",
                3,
            );
            it.key(C::Drill, &[A::StartDrill], "/", "run the drill", 1);
            it.key(C::Drill, &[A::Close], "/", "close", 2);
            it.help();
            it.key(C::Global, &[A::Quit], "/", "quit", 2);
        }
        Screen::DrillSign => {
            it.key(C::Input, &[A::Submit], "/", "keeps the name", 0);
            it.key(C::Input, &[A::Cancel], "/", "drops it", 0);
            it.key(C::Input, &[A::Help], "/", "help", 0);
        }
        Screen::Help => {
            it.scroll(C::Help, "scroll", 2);
            it.key(C::Help, &[A::Search], "/", "search", 1);
            it.key(C::Help, &[A::Close], "/", "closes", 0);
            it.key(C::Global, &[A::Help], "/", "help off", 0);
            it.key(C::Global, &[A::Quit], "/", "quits", 2);
        }
        Screen::HelpSearch => {
            it.key(C::Input, &[A::Submit], "/", "keeps the filter", 0);
            it.key(C::Input, &[A::Cancel], "/", "clears it", 0);
        }
        Screen::Wizard(s) => {
            if let Some(w) = &app.wizard {
                wizard(&mut it, w, s);
            }
        }
    }
    fit(it.items, width)
}

fn wizard(it: &mut Items, w: &Wizard, screen: WizardScreen) {
    use Action as A;
    use Context as C;
    match screen {
        WizardScreen::Box | WizardScreen::TypedAnswer => {
            it.key(C::Input, &[A::Submit], "/", "confirms", 0);
            it.key(C::Input, &[A::Cancel], "/", "cancels", 0);
            it.key(C::Input, &[A::Help], "/", "help", 0);
            return;
        }
        WizardScreen::QuitPrompt => {
            it.key(C::QuitPrompt, &[A::Confirm], "/", "quits", 0);
            it.key(C::QuitPrompt, &[A::Cancel], "/", "stays", 0);
            return;
        }
        WizardScreen::Journal => {
            if w.run.as_ref().is_some_and(|r| r.question.is_some()) {
                it.words("the run waits for your answer:", 1);
                it.key(
                    C::Journal,
                    &[A::JournalView, A::Close],
                    " or ",
                    "back to it",
                    0,
                );
                it.scroll(C::Journal, "scroll", 3);
            } else {
                it.scroll(C::Journal, "scroll the journal", 3);
                it.key(
                    C::Journal,
                    &[A::JournalView, A::Close],
                    " or ",
                    "back to the run",
                    0,
                );
            }
        }
        WizardScreen::Decision | WizardScreen::Failure => {
            it.words("answer in the box", 1);
            it.key(C::Run, &[A::AddNote], "/", "note", 2);
            it.key(C::Run, &[A::JournalView], "/", "journal", 3);
            it.key(C::Run, &[A::ServerLog], "/", "server log", 4);
            it.key(
                C::Global,
                &[A::Quit],
                "/",
                "quit (the run can be resumed)",
                2,
            );
        }
        WizardScreen::Run if w.live() => {
            it.key(C::Run, &[A::AddNote], "/", "note for the journal", 2);
            it.key(C::Run, &[A::JournalView], "/", "journal", 3);
            it.key(C::Run, &[A::ServerLog], "/", "server log", 4);
            it.key(
                C::Global,
                &[A::Quit],
                "/",
                "quit (the run can be resumed)",
                1,
            );
        }
        WizardScreen::Run => {
            it.key(C::Run, &[A::JournalView], "/", "journal", 2);
            it.key(C::Run, &[A::Close], "/", "closes the wizard", 1);
            it.key(C::Global, &[A::Quit], "/", "quit", 1);
        }
        WizardScreen::Plan => match &w.plan {
            PlanState::Preparing => {
                it.words("preparing the plan...", 1);
                it.key(C::Plan, &[A::Close], "/", "back", 0);
            }
            PlanState::Refused(r) if !r.nearest.is_empty() => {
                it.key(C::Plan, &[A::SelectUp, A::SelectDown], "/", "choose", 1);
                it.key(
                    C::Plan,
                    &[A::JumpNearest],
                    "/",
                    "go to that instant and plan again",
                    1,
                );
                it.key(C::Plan, &[A::Close], "/", "back", 0);
            }
            PlanState::Refused(_) => it.key(C::Plan, &[A::Close], "/", "back to the timeline", 0),
            PlanState::Ready(_) => {
                it.key(C::Plan, &[A::StartRun], "/", "start", 1);
                it.key(C::Plan, &[A::ToggleSide], "/", "side restore on/off", 2);
                it.key(C::Plan, &[A::EditSide], "/", "side dir/port", 3);
                it.key(C::Plan, &[A::PickBackup], "/", "backup", 6);
                it.scroll(C::Plan, "scroll", 4);
                it.key(C::Plan, &[A::Close], "/", "back", 1);
            }
        },
    }
    it.help();
}

/// The items that fit in `width`, in their order, each `keys words`, two spaces apart.
fn fit(mut items: Vec<Item>, width: u16) -> String {
    let text = |items: &[Item]| {
        let parts: Vec<String> = items
            .iter()
            .map(|i| match (i.keys.is_empty(), i.words.is_empty()) {
                (true, _) => i.words.to_string(),
                (false, true) => i.keys.clone(),
                (false, false) => format!("{} {}", i.keys, i.words),
            })
            .collect();
        format!(" {}", parts.join("  "))
    };
    loop {
        let line = text(&items);
        if line.chars().count() <= usize::from(width) {
            return line;
        }
        let Some(drop) = items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.rank > 0)
            .max_by_key(|(n, i)| (i.rank, *n))
            .map(|(n, _)| n)
        else {
            return line;
        };
        items.remove(drop);
    }
}

/// `  ? help`, from the keymap, for lines that end with it.
pub fn help_hint(app: &App) -> String {
    keys(&app.keymap, Context::Global, &[Action::Help], "/")
        .map_or_else(String::new, |k| format!("  {k} help"))
}
