//! Everything a key can ask for, named as the keymap names it (`snake_case`).

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    Help,
    Close,
    FocusNext,
    FocusPrev,
    SelectUp,
    SelectDown,
    CursorLeft,
    CursorRight,
    StepUp,
    StepDown,
    ZoomIn,
    ZoomOut,
    PrevBackup,
    NextBackup,
    PrevGapEdge,
    NextGapEdge,
    Start,
    End,
    TypeInstant,
    CycleZone,
    OpenPlan,
    Drill,
    SwitchWal,
    Reload,
    Unfinished,
    PrevTransaction,
    NextTransaction,
    PrevRestorePoint,
    NextRestorePoint,
    TargetBefore,
    SwapPane,
    StartRun,
    ToggleSide,
    EditSide,
    PickBackup,
    JumpNearest,
    ScrollUp,
    ScrollDown,
    JournalView,
    AddNote,
    ServerLog,
    Promote,
    RollBack,
    Retry,
    MarkDone,
    Abort,
    ToggleItem,
    SignPerformed,
    SignVerified,
    StartDrill,
    Submit,
    Cancel,
    NextField,
    Confirm,
    Search,
    OpenRun,
    Resume,
    Abandon,
}

impl Action {
    /// The name the keymap file uses.
    pub fn name(self) -> String {
        let debug = format!("{self:?}");
        let mut out = String::with_capacity(debug.len() + 4);
        for (i, c) in debug.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }
}
