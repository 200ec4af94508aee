//! The help, generated from the keymap: the sections of the screen it was opened over
//! first, then every other context, so that every key of the console can be found here.
//! Scrollable, and searchable with `/` (the filter keeps the rows whose keys or words
//! contain what is typed). Rows are wrapped at word boundaries for the box's width.

use super::geometry::help_box;
use super::keymap::{Action, Context, Keymap};
use tui_input::{Input, InputRequest};

/// The keys column's width.
pub const KEYS_WIDTH: usize = 18;

#[derive(Debug, Clone, Default)]
pub struct HelpState {
    /// Rows scrolled past.
    pub scroll: usize,
    /// The search being typed, after `/`.
    pub search: Option<Input>,
    /// What the rows are filtered by (kept after Enter).
    pub filter: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelpRow {
    Heading(String),
    /// Keys (on a key's first row only) and a stretch of its words.
    Entry {
        keys: String,
        text: String,
    },
    Blank,
}

impl HelpState {
    /// Takes `action`; true when the help closes.
    pub fn act(
        &mut self,
        action: Action,
        keymap: &Keymap,
        under: &[Context],
        size: (u16, u16),
    ) -> bool {
        if let Some(search) = self.search.as_mut() {
            match action {
                Action::Submit => {
                    self.filter = search.value().to_string();
                    self.search = None;
                }
                Action::Cancel => {
                    self.search = None;
                    self.filter.clear();
                }
                Action::Quit => return true,
                _ => {}
            }
            self.scroll = 0;
            return false;
        }
        let (_, rows) = help_box(size.0, size.1);
        let page = usize::from(rows.saturating_sub(2)).max(1);
        let last = self.rows(keymap, under, size.0).len().saturating_sub(page);
        match action {
            Action::Help | Action::Close | Action::Quit => return true,
            Action::SelectUp => self.scroll = self.scroll.saturating_sub(1),
            Action::SelectDown => self.scroll = (self.scroll + 1).min(last),
            Action::ScrollUp => self.scroll = self.scroll.saturating_sub(page),
            Action::ScrollDown => self.scroll = (self.scroll + page).min(last),
            Action::Start => self.scroll = 0,
            Action::End => self.scroll = last,
            Action::Search => self.search = Some(Input::new(self.filter.clone())),
            _ => {}
        }
        false
    }

    /// A character (or edit) typed into the search; the filter follows it.
    pub fn type_request(&mut self, req: InputRequest) {
        if let Some(search) = self.search.as_mut() {
            search.handle(req);
            self.filter = search.value().to_string();
            self.scroll = 0;
        }
    }

    /// The rows the help shows over `under` in a terminal `width` wide, filtered.
    pub fn rows(&self, keymap: &Keymap, under: &[Context], width: u16) -> Vec<HelpRow> {
        rows(keymap, under, &self.filter, help_box(width, 0).0)
    }
}

/// The help's rows for a box `width` wide: `first` contexts' sections, then the others.
pub fn rows(keymap: &Keymap, first: &[Context], filter: &str, width: u16) -> Vec<HelpRow> {
    let text_width = usize::from(width.saturating_sub(2))
        .saturating_sub(KEYS_WIDTH + 2)
        .max(10);
    let wanted = filter.trim().to_lowercase();
    let order = first
        .iter()
        .copied()
        .chain(Context::ALL.into_iter().filter(|c| !first.contains(c)));
    let mut out = Vec::new();
    for context in order {
        let mut section = Vec::new();
        for (action, keys) in keymap.entries(context) {
            if keys.is_empty() {
                continue;
            }
            let keys = keys
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let text = context.describe(action);
            let hay = format!("{keys} {text} {}", context.title()).to_lowercase();
            if !wanted.is_empty() && !hay.contains(&wanted) {
                continue;
            }
            // Keys wider than their column get a row of their own above the words.
            let mut first_keys = keys;
            if first_keys.chars().count() > KEYS_WIDTH {
                section.push(HelpRow::Entry {
                    keys: std::mem::take(&mut first_keys),
                    text: String::new(),
                });
            }
            for (i, stretch) in wrap(text, text_width).into_iter().enumerate() {
                section.push(HelpRow::Entry {
                    keys: if i == 0 {
                        first_keys.clone()
                    } else {
                        String::new()
                    },
                    text: stretch,
                });
            }
        }
        if section.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(HelpRow::Blank);
        }
        out.push(HelpRow::Heading(context.title().to_string()));
        out.extend(section);
    }
    out
}

/// Words in rows of at most `width` characters; a word longer than a row is cut.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rows = Vec::new();
    let mut row = String::new();
    for mut word in text.split_whitespace() {
        loop {
            let used = row.chars().count();
            let need = word.chars().count() + usize::from(used > 0);
            if used + need <= width {
                if used > 0 {
                    row.push(' ');
                }
                row.push_str(word);
                break;
            }
            if used > 0 {
                rows.push(std::mem::take(&mut row));
                continue;
            }
            let cut = word
                .char_indices()
                .nth(width)
                .map_or(word.len(), |(i, _)| i);
            rows.push(word[..cut].to_string());
            word = &word[cut..];
            if word.is_empty() {
                break;
            }
        }
    }
    if !row.is_empty() || rows.is_empty() {
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_wrap_at_word_boundaries() {
        assert_eq!(wrap("one two three", 7), vec!["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), vec![""]);
    }

    #[test]
    fn every_bound_key_of_every_context_is_in_the_help() {
        let map = Keymap::default();
        let rows = rows(&map, &[], "", 78);
        for context in Context::ALL {
            assert!(
                rows.contains(&HelpRow::Heading(context.title().into())),
                "{context:?}"
            );
        }
        let entries = rows
            .iter()
            .filter(|r| matches!(r, HelpRow::Entry { keys, .. } if !keys.is_empty()))
            .count();
        let bound: usize = Context::ALL
            .iter()
            .map(|c| map.entries(*c).filter(|(_, k)| !k.is_empty()).count())
            .sum();
        assert_eq!(entries, bound);
    }

    #[test]
    fn the_search_keeps_matching_rows_under_their_heading() {
        let map = Keymap::default();
        let rows = rows(&map, &[], "roll back", 78);
        assert!(rows.contains(&HelpRow::Heading("Decision: promote or roll back".into())));
        assert!(!rows
            .iter()
            .any(|r| matches!(r, HelpRow::Entry { text, .. } if text.contains("zoom"))));
    }
}
