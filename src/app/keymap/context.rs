//! Where a key is pressed: one keymap section per context, the actions each may bind, the
//! words the help uses for them, and the stacks of contexts the screens look keys up in.

use super::action::Action;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Context {
    Global,
    Timeline,
    Transactions,
    Unfinished,
    Plan,
    Run,
    Journal,
    Decision,
    Failure,
    Drill,
    Input,
    QuitPrompt,
    Confirm,
    Help,
}

use Action as A;
use Context as C;

/// The stacks keys are looked up in, top first (`app::screen` picks one per screen).
pub mod stacks {
    use super::Context as C;
    pub const MAIN: &[C] = &[C::Timeline, C::Transactions, C::Global];
    pub const UNFINISHED: &[C] = &[C::Unfinished, C::Global];
    pub const PLAN: &[C] = &[C::Plan, C::Global];
    pub const RUN: &[C] = &[C::Run, C::Global];
    pub const JOURNAL: &[C] = &[C::Journal, C::Run, C::Global];
    pub const DECISION: &[C] = &[C::Decision, C::Run, C::Global];
    pub const FAILURE: &[C] = &[C::Failure, C::Run, C::Global];
    pub const DRILL: &[C] = &[C::Drill, C::Global];
    pub const INPUT: &[C] = &[C::Input];
    pub const QUIT_PROMPT: &[C] = &[C::QuitPrompt];
    pub const CONFIRM: &[C] = &[C::Confirm];
    pub const HELP: &[C] = &[C::Help, C::Global];
    pub const ALL: [&[C]; 12] = [
        MAIN,
        UNFINISHED,
        PLAN,
        RUN,
        JOURNAL,
        DECISION,
        FAILURE,
        DRILL,
        INPUT,
        QUIT_PROMPT,
        CONFIRM,
        HELP,
    ];
}

impl Context {
    /// Help order.
    pub const ALL: [Context; 14] = [
        C::Global,
        C::Timeline,
        C::Transactions,
        C::Unfinished,
        C::Plan,
        C::Run,
        C::Journal,
        C::Decision,
        C::Failure,
        C::Drill,
        C::Input,
        C::QuitPrompt,
        C::Confirm,
        C::Help,
    ];

    /// The section's name in the keymap file.
    pub fn name(self) -> &'static str {
        match self {
            C::Global => "global",
            C::Timeline => "timeline",
            C::Transactions => "transactions",
            C::Unfinished => "unfinished",
            C::Plan => "plan",
            C::Run => "run",
            C::Journal => "journal",
            C::Decision => "decision",
            C::Failure => "failure",
            C::Drill => "drill",
            C::Input => "input",
            C::QuitPrompt => "quit_prompt",
            C::Confirm => "confirm",
            C::Help => "help",
        }
    }

    /// The help's heading for the section.
    pub fn title(self) -> &'static str {
        match self {
            C::Global => "Everywhere (except while typing)",
            C::Timeline => "Timeline and servers",
            C::Transactions => "Transactions pane",
            C::Unfinished => "Unfinished run (u on the timeline)",
            C::Plan => "Recovery plan (dry run)",
            C::Run => "Recovery run",
            C::Journal => "Run journal (J)",
            C::Decision => "Decision: promote or roll back",
            C::Failure => "A failed or interrupted step",
            C::Drill => "Drill checklist (D)",
            C::Input => "Typing (instant, names, notes, answers)",
            C::QuitPrompt => "Quit during a run?",
            C::Confirm => "Confirmations (WAL switch, unfinished runs)",
            C::Help => "This help",
        }
    }

    /// What may be bound here, in help order.
    pub fn actions(self) -> &'static [Action] {
        match self {
            C::Global => &[A::Quit, A::Help],
            C::Timeline => &[
                A::CursorLeft,
                A::CursorRight,
                A::StepUp,
                A::StepDown,
                A::ZoomIn,
                A::ZoomOut,
                A::PrevBackup,
                A::NextBackup,
                A::PrevGapEdge,
                A::NextGapEdge,
                A::Start,
                A::End,
                A::TypeInstant,
                A::CycleZone,
                A::FocusNext,
                A::FocusPrev,
                A::SelectUp,
                A::SelectDown,
                A::OpenPlan,
                A::Close,
                A::Drill,
                A::SwitchWal,
                A::Reload,
                A::Unfinished,
            ],
            C::Transactions => &[
                A::PrevTransaction,
                A::NextTransaction,
                A::PrevRestorePoint,
                A::NextRestorePoint,
                A::TargetBefore,
                A::SwapPane,
            ],
            C::Unfinished => &[
                A::SelectUp,
                A::SelectDown,
                A::OpenRun,
                A::Resume,
                A::Promote,
                A::RollBack,
                A::Abandon,
                A::Close,
            ],
            C::Plan => &[
                A::StartRun,
                A::ToggleSide,
                A::EditSide,
                A::PickBackup,
                A::SelectUp,
                A::SelectDown,
                A::ScrollUp,
                A::ScrollDown,
                A::JumpNearest,
                A::AddNote,
                A::Close,
            ],
            C::Run => &[A::AddNote, A::JournalView, A::ServerLog, A::Close],
            C::Journal => &[
                A::SelectUp,
                A::SelectDown,
                A::ScrollUp,
                A::ScrollDown,
                A::JournalView,
                A::Close,
            ],
            C::Decision => &[A::Promote, A::RollBack, A::Abort],
            C::Failure => &[A::Retry, A::MarkDone, A::RollBack, A::Abort],
            C::Drill => &[
                A::SelectUp,
                A::SelectDown,
                A::ToggleItem,
                A::SignPerformed,
                A::SignVerified,
                A::StartDrill,
                A::Close,
            ],
            C::Input => &[A::Submit, A::Cancel, A::NextField, A::Help, A::Quit],
            C::QuitPrompt | C::Confirm => &[A::Confirm, A::Cancel],
            C::Help => &[
                A::SelectUp,
                A::SelectDown,
                A::ScrollUp,
                A::ScrollDown,
                A::Start,
                A::End,
                A::Search,
                A::Close,
            ],
        }
    }

    /// What `action` does here, for the help.
    // A table, one arm per context's action: splitting it would only scatter it.
    #[allow(clippy::too_many_lines)]
    pub fn describe(self, action: Action) -> &'static str {
        match (self, action) {
            (C::Global, A::Quit) => "quit (the terminal is restored; a run asks first)",
            (C::Global, A::Help) => "show or hide this help",
            (C::Timeline, A::Close) => "clear the target picked in the transactions pane",
            (C::Timeline, A::FocusNext) => "focus the next pane",
            (C::Timeline, A::FocusPrev) => "focus the previous pane",
            (C::Timeline, A::SelectUp) => "previous server / timeline in the focused pane",
            (C::Timeline, A::SelectDown) => "next server / timeline in the focused pane",
            (C::Timeline, A::CursorLeft) => "move the cursor back by the step",
            (C::Timeline, A::CursorRight) => "move the cursor forward by the step",
            (C::Timeline, A::StepUp) => "larger step (1s 10s 1m 10m 1h 6h 1d)",
            (C::Timeline, A::StepDown) => "smaller step",
            (C::Timeline, A::ZoomIn) => "zoom in (less time per column)",
            (C::Timeline, A::ZoomOut) => "zoom out (more time per column)",
            (C::Timeline, A::PrevBackup) => "previous backup's consistency point",
            (C::Timeline, A::NextBackup) => "next backup's consistency point",
            (C::Timeline, A::PrevGapEdge) => "previous edge of a WAL gap",
            (C::Timeline, A::NextGapEdge) => "next edge of a WAL gap",
            (C::Timeline, A::Start) => "start of the WAL coverage",
            (C::Timeline, A::End) => "end of the WAL coverage",
            (C::Timeline, A::TypeInstant) => "type an instant to go to",
            (C::Timeline, A::CycleZone) => "switch the display zone (configured, UTC, local)",
            (C::Timeline, A::OpenPlan) => {
                "recovery plan for the picked target, else the cursor (dry run)"
            }
            (C::Timeline, A::Drill) => "the restore drill's checklist",
            (C::Timeline, A::SwitchWal) => "pg_switch_wal() on the selected primary (asks first)",
            (C::Timeline, A::Reload) => "read every repository and server again",
            (C::Timeline, A::Unfinished) => "the runs left unfinished on this host",
            (C::Transactions, A::PrevTransaction) => {
                "previous commit or abort (cursor to its exact time)"
            }
            (C::Transactions, A::NextTransaction) => {
                "next commit or abort (cursor to its exact time)"
            }
            (C::Transactions, A::PrevRestorePoint) => "previous restore point",
            (C::Transactions, A::NextRestorePoint) => "next restore point",
            (C::Transactions, A::TargetBefore) => "target: just before the highlighted transaction",
            (C::Transactions, A::SwapPane) => {
                "transactions instead of cursor detail (small screens)"
            }
            (C::Unfinished, A::SelectUp) => "previous unfinished run",
            (C::Unfinished, A::SelectDown) => "next unfinished run",
            (C::Unfinished, A::OpenRun) => "show the run's journal",
            (C::Unfinished, A::Resume) => "resume the run where it stopped (asks first)",
            (C::Unfinished, A::Promote) => "resume and promote at its target (asks first)",
            (C::Unfinished, A::RollBack) => "roll the run back, original put back (asks first)",
            (C::Unfinished, A::Abandon) => {
                "mark the run abandoned in its journal; nothing is deleted (asks first)"
            }
            (C::Unfinished, A::Close) => "back to the timeline",
            (C::Plan, A::StartRun) => "start the plan (then type the server's name)",
            (C::Plan, A::ToggleSide) => "side restore beside production / in place",
            (C::Plan, A::EditSide) => "the side restore's directory and port",
            (C::Plan, A::PickBackup) => {
                "pick the backup by hand: the next one in the catalog, planned again"
            }
            (C::Plan, A::SelectUp) => "scroll up; after a refusal, the previous nearest instant",
            (C::Plan, A::SelectDown) => "scroll down; after a refusal, the next nearest instant",
            (C::Plan, A::ScrollUp) => "scroll the plan up a page",
            (C::Plan, A::ScrollDown) => "scroll the plan down a page",
            (C::Plan, A::JumpNearest) => "after a refusal: go to the chosen instant, plan again",
            (C::Plan, A::AddNote) => "a note for the journal (once the run started)",
            (C::Plan, A::Close) => "back to the timeline",
            (C::Run, A::AddNote) => "add a note to the run's journal",
            (C::Run, A::JournalView) => "show or hide the run's journal",
            (C::Run, A::ServerLog) => {
                "the recovered server's log (followed) instead of the step's output"
            }
            (C::Run, A::Close) => "close a notice; the wizard once the run is over",
            (C::Journal, A::SelectUp) => "scroll the journal up a line",
            (C::Journal, A::SelectDown) => "scroll the journal down a line",
            (C::Journal, A::ScrollUp) => "scroll the journal up a page",
            (C::Journal, A::ScrollDown) => "scroll the journal down a page",
            (C::Journal, A::JournalView) | (C::Journal, A::Close) => "back to the run",
            (C::Decision, A::Promote) => "promote: end recovery here, keep this state",
            (C::Decision, A::RollBack) | (C::Failure, A::RollBack) => {
                "roll back: undo the steps in reverse, put the original back"
            }
            (C::Decision, A::Abort) | (C::Failure, A::Abort) => {
                "abort: stop here, state left safe; resume later"
            }
            (C::Failure, A::Retry) => "retry the step",
            (C::Failure, A::MarkDone) => "mark it done (you completed it by hand)",
            (C::Drill, A::SelectUp) => "previous item",
            (C::Drill, A::SelectDown) => "next item",
            (C::Drill, A::ToggleItem) => "tick or untick an item kept by hand",
            (C::Drill, A::SignPerformed) => "type who performed the drill",
            (C::Drill, A::SignVerified) => "type who verified it",
            (C::Drill, A::StartDrill) => "run the drill (side restore, promoted there)",
            (C::Drill, A::Close) => "close the checklist (not while the drill runs)",
            (C::Input, A::Submit) => "accept what is typed",
            (C::Input, A::Cancel) => "cancel (a typed answer to the run: abort, state safe)",
            (C::Input, A::NextField) => "the next field (side restore: directory, port)",
            (C::Input, A::Help) => "help (what was typed is kept)",
            (C::Input, A::Quit) => "quit (a run asks first)",
            (C::QuitPrompt, A::Confirm) => "quit; the run stops where it is, safe and journaled",
            (C::QuitPrompt, A::Cancel) => "stay",
            (C::Confirm, A::Confirm) => "do it",
            (C::Confirm, A::Cancel) => "do not (any other key too)",
            (C::Help, A::SelectUp) => "scroll up a line",
            (C::Help, A::SelectDown) => "scroll down a line",
            (C::Help, A::ScrollUp) => "scroll up a page",
            (C::Help, A::ScrollDown) => "scroll down a page",
            (C::Help, A::Start) => "to the top",
            (C::Help, A::End) => "to the bottom",
            (C::Help, A::Search) => "search the keys (Enter keeps the filter, Esc clears it)",
            (C::Help, A::Close) => "close the help",
            _ => "",
        }
    }
}
