//! Actions and the keys bound to them. Bindings come from `assets/keymap.toml`, where keys
//! name actions directly (serde), and the help overlay is generated from the same table.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

const DEFAULT_KEYMAP: &str = include_str!("../../assets/keymap.toml");

/// Everything a key can ask for. The order here is the order of the help overlay.
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
    PrevTransaction,
    NextTransaction,
    PrevRestorePoint,
    NextRestorePoint,
    TargetBefore,
    SwapPane,
    OpenPlan,
    StartRun,
    ToggleSide,
    EditSide,
    AddNote,
    JournalView,
    JumpNearest,
    ScrollUp,
    ScrollDown,
    Drill,
    SwitchWal,
}

impl Action {
    pub const ALL: [Action; 38] = [
        Action::Quit,
        Action::Help,
        Action::Close,
        Action::FocusNext,
        Action::FocusPrev,
        Action::SelectUp,
        Action::SelectDown,
        Action::CursorLeft,
        Action::CursorRight,
        Action::StepUp,
        Action::StepDown,
        Action::ZoomIn,
        Action::ZoomOut,
        Action::PrevBackup,
        Action::NextBackup,
        Action::PrevGapEdge,
        Action::NextGapEdge,
        Action::Start,
        Action::End,
        Action::TypeInstant,
        Action::CycleZone,
        Action::PrevTransaction,
        Action::NextTransaction,
        Action::PrevRestorePoint,
        Action::NextRestorePoint,
        Action::TargetBefore,
        Action::SwapPane,
        Action::OpenPlan,
        Action::StartRun,
        Action::ToggleSide,
        Action::EditSide,
        Action::AddNote,
        Action::JournalView,
        Action::JumpNearest,
        Action::ScrollUp,
        Action::ScrollDown,
        Action::Drill,
        Action::SwitchWal,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "quit (the terminal is restored)",
            Action::Help => "show or hide this help",
            Action::Close => {
                "close help, the time input or the wizard (before a run); clear the picked target"
            }
            Action::FocusNext => "focus the next pane",
            Action::FocusPrev => "focus the previous pane",
            Action::SelectUp => "previous server / timeline in the focused pane",
            Action::SelectDown => "next server / timeline in the focused pane",
            Action::CursorLeft => "move the cursor back by the step",
            Action::CursorRight => "move the cursor forward by the step",
            Action::StepUp => "larger step (1s 10s 1m 10m 1h 6h 1d)",
            Action::StepDown => "smaller step",
            Action::ZoomIn => "zoom in (less time per column)",
            Action::ZoomOut => "zoom out (more time per column)",
            Action::PrevBackup => "previous backup's consistency point",
            Action::NextBackup => "next backup's consistency point",
            Action::PrevGapEdge => "previous edge of a WAL gap",
            Action::NextGapEdge => "next edge of a WAL gap",
            Action::Start => "start of the WAL coverage",
            Action::End => "end of the WAL coverage",
            Action::TypeInstant => "type an instant to go to (Enter goes, Esc cancels)",
            Action::CycleZone => "switch the display zone (config, UTC, local)",
            Action::PrevTransaction => "previous commit or abort (cursor to its exact time)",
            Action::NextTransaction => "next commit or abort (cursor to its exact time)",
            Action::PrevRestorePoint => "previous restore point",
            Action::NextRestorePoint => "next restore point",
            Action::TargetBefore => "target: just before the highlighted transaction",
            Action::SwapPane => "transactions instead of cursor detail (small screens)",
            Action::OpenPlan => "recovery plan for the picked target, else the cursor (dry run)",
            Action::StartRun => "wizard: start the plan (then type the server's name)",
            Action::ToggleSide => "wizard: side restore beside production / in place",
            Action::EditSide => "wizard: the side restore's directory and port",
            Action::AddNote => "wizard: add a note to the run's journal",
            Action::JournalView => "wizard: show or hide the run's journal",
            Action::JumpNearest => "wizard: cursor to the nearest recoverable instant",
            Action::ScrollUp => "wizard: scroll the plan or journal up a page",
            Action::ScrollDown => "wizard: scroll the plan or journal down a page",
            Action::Drill => "the restore drill's checklist (Esc closes it)",
            Action::SwitchWal => "pg_switch_wal() on the selected primary (y confirms)",
        }
    }
}

/// One key with its modifiers, as written in the keymap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl KeySpec {
    /// The form bindings are compared in: Shift is part of the character itself (`?`, `{`),
    /// so it is dropped for characters and Backtab.
    pub fn from_event(key: &KeyEvent) -> KeySpec {
        let mut modifiers = key.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        if !matches!(key.code, KeyCode::Char(_) | KeyCode::BackTab) {
            modifiers |= key.modifiers & KeyModifiers::SHIFT;
        }
        KeySpec {
            code: key.code,
            modifiers,
        }
    }

    pub fn parse(text: &str) -> Result<KeySpec, String> {
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = text;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                modifiers |= KeyModifiers::CONTROL;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                modifiers |= KeyModifiers::ALT;
                rest = r;
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(c),
            _ => match rest.to_ascii_lowercase().as_str() {
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "enter" => KeyCode::Enter,
                "esc" => KeyCode::Esc,
                "pageup" => KeyCode::PageUp,
                "pagedown" => KeyCode::PageDown,
                _ => {
                    return Err(format!(
                        "`{text}` is not a key: use one character, or left, right, up, down, home, end, tab, backtab, enter, esc, pageup, pagedown, with optional ctrl-/alt- in front"
                    ))
                }
            },
        };
        Ok(KeySpec { code, modifiers })
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("Ctrl-")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("Alt-")?;
        }
        match self.code {
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Left => f.write_str("Left"),
            KeyCode::Right => f.write_str("Right"),
            KeyCode::Up => f.write_str("Up"),
            KeyCode::Down => f.write_str("Down"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("Shift-Tab"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::PageUp => f.write_str("PageUp"),
            KeyCode::PageDown => f.write_str("PageDown"),
            other => write!(f, "{other}"),
        }
    }
}

/// Keys bound to actions, in help order.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    bindings: Vec<(Action, Vec<KeySpec>)>,
}

impl Keymap {
    /// Parses a keymap in the `assets/keymap.toml` format.
    pub fn parse(text: &str) -> Result<Keymap, String> {
        let raw: BTreeMap<Action, Vec<String>> =
            toml::from_str(text).map_err(|e| format!("keymap: {}", e.message().trim()))?;
        let mut bindings = Vec::with_capacity(raw.len());
        for (action, keys) in raw {
            let keys = keys
                .iter()
                .map(|k| KeySpec::parse(k))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("keymap, action {action:?}: {e}"))?;
            bindings.push((action, keys));
        }
        Ok(Keymap { bindings })
    }

    pub fn action_for(&self, key: &KeyEvent) -> Option<Action> {
        let spec = KeySpec::from_event(key);
        self.bindings
            .iter()
            .find(|(_, keys)| keys.contains(&spec))
            .map(|(a, _)| *a)
    }

    /// Every bound action with its keys, in help order.
    pub fn entries(&self) -> impl Iterator<Item = (Action, &[KeySpec])> {
        self.bindings.iter().map(|(a, k)| (*a, k.as_slice()))
    }
}

impl Default for Keymap {
    // The embedded default is checked by a unit test, so it cannot fail to parse here.
    #[allow(clippy::expect_used)]
    fn default() -> Keymap {
        Keymap::parse(DEFAULT_KEYMAP)
            .expect("assets/keymap.toml is embedded at build time and checked by a unit test")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_keymap_parses_and_binds_every_action() {
        let map = Keymap::parse(DEFAULT_KEYMAP).unwrap();
        for action in Action::ALL {
            assert!(
                map.entries()
                    .any(|(a, keys)| a == action && !keys.is_empty()),
                "{action:?} has no key"
            );
        }
    }

    #[test]
    fn shifted_characters_and_control_keys_match() {
        let map = Keymap::default();
        let shifted = KeyEvent::new(KeyCode::Char('?'), KeyModifiers::SHIFT);
        assert_eq!(map.action_for(&shifted), Some(Action::Help));
        let ctrl_up = KeyEvent::new(KeyCode::Up, KeyModifiers::CONTROL);
        assert_eq!(map.action_for(&ctrl_up), Some(Action::ZoomIn));
        let up = KeyEvent::new(KeyCode::Up, KeyModifiers::NONE);
        assert_eq!(map.action_for(&up), Some(Action::SelectUp));
        assert_eq!(
            KeySpec::parse("ctrl-up").unwrap().to_string(),
            "Ctrl-Up".to_string()
        );
    }

    #[test]
    fn bad_keymaps_say_what_is_wrong() {
        let err = Keymap::parse("quit = [\"hyper-q\"]").unwrap_err();
        assert!(err.contains("hyper-q"), "{err}");
        let err = Keymap::parse("teleport = [\"x\"]").unwrap_err();
        assert!(err.contains("teleport"), "{err}");
    }
}
