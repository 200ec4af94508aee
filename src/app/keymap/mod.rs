//! Keys per context, as data: `assets/keymap.toml` has one section per context (timeline,
//! plan, run, decision, ...) binding actions to keys; a user's keymap file overrides any of
//! them. Every key the console reacts to is looked up here, through `Keymap::action` with
//! the screen's stack of contexts, and the help and footers are generated from the same
//! table, so they always say what is bound.

mod action;
mod context;
mod key;

pub use action::Action;
pub use context::{stacks, Context};
pub use key::KeySpec;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use toml::Spanned;

const DEFAULT_KEYMAP: &str = include_str!("../../../assets/keymap.toml");

/// A keymap file that cannot be used: where, what is wrong and what would work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeymapError {
    /// The file, as the operator named it.
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for KeymapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "keymap {}, line {line}: {}", self.file, self.message),
            None => write!(f, "keymap {}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for KeymapError {}

/// Keys bound to actions, per context, in help order.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    sections: BTreeMap<Context, Vec<(Action, Vec<KeySpec>)>>,
}

type RawSections = BTreeMap<String, BTreeMap<String, Spanned<Vec<Spanned<String>>>>>;

/// Where each binding came from, for naming the line of a conflict.
type Origins = BTreeMap<(Context, Action), usize>;

impl Keymap {
    /// The shipped keymap with `text` (a user's keymap file, named `file`) laid over it: an
    /// action listed there gets exactly the keys listed (`[]` unbinds it).
    pub fn with_overrides(text: &str, file: &str) -> Result<Keymap, KeymapError> {
        let mut map = Keymap::default();
        let origins = map.overlay(text, file)?;
        map.check(file, &origins)?;
        Ok(map)
    }

    fn empty() -> Keymap {
        Keymap {
            sections: Context::ALL
                .iter()
                .map(|c| (*c, c.actions().iter().map(|a| (*a, Vec::new())).collect()))
                .collect(),
        }
    }

    fn overlay(&mut self, text: &str, file: &str) -> Result<Origins, KeymapError> {
        let err = |span: Option<std::ops::Range<usize>>, message: String| KeymapError {
            file: file.to_string(),
            line: span.map(|s| line_of(text, s.start)),
            message,
        };
        let shape: BTreeMap<String, Spanned<toml::Value>> =
            toml::from_str(text).map_err(|e| err(e.span(), e.message().trim().to_string()))?;
        for (name, value) in &shape {
            let section = Context::ALL.iter().find(|c| c.name() == name);
            if section.is_none() || !value.get_ref().is_table() {
                return Err(err(
                    Some(value.span()),
                    format!(
                        "`{name}` is not a section: write `[section]` lines, then `action = [\"key\", ...]` under them; sections are {}",
                        Context::ALL.map(|c| c.name()).join(", ")
                    ),
                ));
            }
        }
        let raw: RawSections = toml::from_str(text).map_err(|e| {
            err(
                e.span(),
                format!(
                    "{} (each action takes a list of keys, e.g. quit = [\"q\", \"ctrl-c\"])",
                    e.message().trim()
                ),
            )
        })?;
        let mut origins = Origins::new();
        for (section, bindings) in raw {
            let Some(context) = Context::ALL.into_iter().find(|c| c.name() == section) else {
                continue;
            };
            for (name, keys) in bindings {
                let line = line_of(text, keys.span().start);
                let Some(action) = context.actions().iter().find(|a| a.name() == name) else {
                    return Err(err(
                        Some(keys.span()),
                        format!(
                            "[{section}] has no action `{name}`; its actions are {}",
                            context
                                .actions()
                                .iter()
                                .map(|a| a.name())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                };
                let specs = keys
                    .get_ref()
                    .iter()
                    .map(|k| {
                        KeySpec::parse(k.get_ref())
                            .map_err(|m| err(Some(k.span()), format!("[{section}] {name}: {m}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                self.bind(context, *action, specs);
                origins.insert((context, *action), line);
            }
        }
        Ok(origins)
    }

    fn bind(&mut self, context: Context, action: Action, keys: Vec<KeySpec>) {
        if let Some(slot) = self
            .sections
            .get_mut(&context)
            .and_then(|s| s.iter_mut().find(|(a, _)| *a == action))
        {
            slot.1 = keys;
        }
    }

    /// A keymap the console can be driven with: help can always be reached, text boxes can
    /// be left and still take every character, and no key means two things on one screen.
    fn check(&self, file: &str, origins: &Origins) -> Result<(), KeymapError> {
        let fail = |at: &[(Context, Action)], message: String| KeymapError {
            file: file.to_string(),
            line: at.iter().find_map(|k| origins.get(k).copied()),
            message,
        };
        for (context, action) in [
            (Context::Global, Action::Help),
            (Context::Input, Action::Submit),
            (Context::Input, Action::Cancel),
        ] {
            if self.keys(context, action).is_empty() {
                return Err(fail(
                    &[(context, action)],
                    format!(
                        "[{}] {} needs a key, or it could not be reached; the shipped one is {}",
                        context.name(),
                        action.name(),
                        shipped(context, action)
                    ),
                ));
            }
        }
        for (action, keys) in self.entries(Context::Input) {
            if let Some(k) = keys.iter().find(|k| plain_char(k)) {
                return Err(fail(
                    &[(Context::Input, action)],
                    format!(
                        "[input] {}: `{k}` could then not be typed; use a named key (enter, esc, tab, ...) or ctrl-/alt- with a character",
                        action.name()
                    ),
                ));
            }
        }
        for stack in stacks::ALL {
            let mut seen: HashMap<KeySpec, (Context, Action)> = HashMap::new();
            for context in stack {
                for (action, keys) in self.entries(*context) {
                    for k in keys {
                        match seen.get(k) {
                            Some((c, a)) if *a != action => {
                                return Err(fail(
                                    &[(*context, action), (*c, *a)],
                                    format!(
                                        "`{k}` would mean both {} ([{}]) and {} ([{}]) on one screen; give one of them another key",
                                        a.name(),
                                        c.name(),
                                        action.name(),
                                        context.name()
                                    ),
                                ));
                            }
                            Some(_) => {}
                            None => {
                                seen.insert(*k, (*context, action));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The one lookup: the action `key` asks for on a screen whose contexts are `stack`,
    /// top first.
    pub fn action(&self, stack: &[Context], key: &KeyEvent) -> Option<Action> {
        let spec = KeySpec::from_event(key);
        stack.iter().find_map(|c| {
            self.entries(*c)
                .find(|(_, keys)| keys.contains(&spec))
                .map(|(a, _)| a)
        })
    }

    /// The keys bound to `action` in `context`.
    pub fn keys(&self, context: Context, action: Action) -> &[KeySpec] {
        self.sections
            .get(&context)
            .and_then(|s| s.iter().find(|(a, _)| *a == action))
            .map_or(&[], |(_, k)| k.as_slice())
    }

    /// `action`'s keys in `context`, for the footer and boxes: "y/Enter"; None when unbound.
    pub fn label(&self, context: Context, action: Action) -> Option<String> {
        let keys = self.keys(context, action);
        (!keys.is_empty()).then(|| {
            keys.iter()
                .map(KeySpec::short)
                .collect::<Vec<_>>()
                .join("/")
        })
    }

    /// The first key of `action` in `context`, in the footer's form.
    pub fn first(&self, context: Context, action: Action) -> Option<String> {
        self.keys(context, action).first().map(KeySpec::short)
    }

    /// Every action of `context` with its keys, in help order.
    pub fn entries(&self, context: Context) -> impl Iterator<Item = (Action, &[KeySpec])> {
        self.sections
            .get(&context)
            .into_iter()
            .flatten()
            .map(|(a, k)| (*a, k.as_slice()))
    }
}

impl Default for Keymap {
    fn default() -> Keymap {
        let mut map = Keymap::empty();
        // The shipped keymap is embedded at build time; a unit test parses and checks it.
        if map.overlay(DEFAULT_KEYMAP, "assets/keymap.toml").is_err() {
            return Keymap::empty();
        }
        map
    }
}

fn shipped(context: Context, action: Action) -> String {
    let keys = Keymap::default()
        .keys(context, action)
        .iter()
        .map(|k| format!("\"{k}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!("[{keys}]")
}

fn plain_char(k: &KeySpec) -> bool {
    matches!(k.code, KeyCode::Char(_))
        && !k
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |t| t.matches('\n').count()) + 1
}

#[cfg(test)]
mod tests;
