//! The styles the screen uses, by meaning, in one place: a dark and a light palette of the
//! 16 ANSI colours (each readable on its background: no white or grey text on a light one,
//! no black on a dark one) and a plain one for NO_COLOR (bold, reverse and underline only).
//! The palette is chosen once at start, for the whole process, as the terminal is.

use ratatui::style::{Color, Modifier, Style};
use std::sync::atomic::{AtomicU8, Ordering};

/// Which palette: `--theme dark|light`, or plain under NO_COLOR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemeKind {
    Dark,
    Light,
    Plain,
}

impl ThemeKind {
    /// `--theme` wins; NO_COLOR (set and not empty, as no-color.org says) means plain
    /// unless a theme is asked for by name; else dark.
    pub fn choose(asked: Option<ThemeKind>, no_color: Option<&str>) -> ThemeKind {
        match (asked, no_color) {
            (Some(k), _) => k,
            (None, Some(v)) if !v.is_empty() => ThemeKind::Plain,
            (None, _) => ThemeKind::Dark,
        }
    }
}

impl std::str::FromStr for ThemeKind {
    type Err = String;
    fn from_str(s: &str) -> Result<ThemeKind, String> {
        match s {
            "dark" => Ok(ThemeKind::Dark),
            "light" => Ok(ThemeKind::Light),
            "plain" | "none" => Ok(ThemeKind::Plain),
            other => Err(format!(
                "`{other}` is not a theme: dark (light text on a dark terminal), light (dark text on a light one) or plain (no colour)"
            )),
        }
    }
}

/// Every style the screens draw with, by what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub kind: ThemeKind,
    pub gap: Style,
    pub recoverable: Style,
    pub unreachable_wal: Style,
    /// WAL a live server wrote that the archive does not hold yet.
    pub live_tail: Style,
    pub backup: Style,
    pub cursor: Style,
    pub bad: Style,
    pub good: Style,
    /// Worth a look: warnings, notices, a step in progress.
    pub warn: Style,
    /// Neutral emphasis: a running step, a journal step line.
    pub info: Style,
    pub dim: Style,
    pub label: Style,
    /// A key cap, the title bar's sections.
    pub title: Style,
    /// The product's name in the title bar.
    pub brand: Style,
    pub border_focused: Style,
    pub border: Style,
}

const fn fg(c: Color) -> Style {
    Style::new().fg(c)
}

const BOLD: Modifier = Modifier::BOLD;

pub const DARK: Theme = Theme {
    kind: ThemeKind::Dark,
    gap: fg(Color::Red).add_modifier(BOLD),
    recoverable: fg(Color::Green),
    unreachable_wal: fg(Color::DarkGray),
    live_tail: fg(Color::Magenta).add_modifier(BOLD),
    backup: fg(Color::Yellow),
    cursor: fg(Color::White).bg(Color::Blue),
    bad: fg(Color::Red).add_modifier(BOLD),
    good: fg(Color::Green).add_modifier(BOLD),
    warn: fg(Color::Yellow),
    info: fg(Color::Cyan),
    dim: fg(Color::DarkGray),
    label: fg(Color::Gray),
    title: fg(Color::Black).bg(Color::Gray),
    brand: fg(Color::Black).bg(Color::Cyan).add_modifier(BOLD),
    border_focused: fg(Color::Cyan).add_modifier(BOLD),
    border: fg(Color::DarkGray),
};

/// Yellow, cyan, grey and white text vanish on a light background: blue, magenta, the
/// terminal's own foreground and bold stand in for them.
pub const LIGHT: Theme = Theme {
    kind: ThemeKind::Light,
    gap: fg(Color::Red).add_modifier(BOLD),
    recoverable: fg(Color::Green),
    unreachable_wal: fg(Color::DarkGray),
    live_tail: fg(Color::Magenta).add_modifier(BOLD),
    backup: fg(Color::Blue),
    cursor: fg(Color::White).bg(Color::Blue),
    bad: fg(Color::Red).add_modifier(BOLD),
    good: fg(Color::Green).add_modifier(BOLD),
    warn: fg(Color::Magenta),
    info: fg(Color::Blue),
    dim: fg(Color::DarkGray),
    label: Style::new().add_modifier(BOLD),
    title: fg(Color::White).bg(Color::DarkGray),
    brand: fg(Color::White).bg(Color::Blue).add_modifier(BOLD),
    border_focused: fg(Color::Blue).add_modifier(BOLD),
    border: fg(Color::DarkGray),
};

/// NO_COLOR: meaning by weight and reverse video alone.
pub const PLAIN: Theme = Theme {
    kind: ThemeKind::Plain,
    gap: Style::new().add_modifier(BOLD.union(Modifier::UNDERLINED)),
    recoverable: Style::new(),
    unreachable_wal: Style::new().add_modifier(Modifier::DIM),
    live_tail: Style::new().add_modifier(BOLD.union(Modifier::ITALIC)),
    backup: Style::new().add_modifier(BOLD),
    cursor: Style::new().add_modifier(Modifier::REVERSED),
    bad: Style::new().add_modifier(BOLD),
    good: Style::new().add_modifier(BOLD),
    warn: Style::new().add_modifier(BOLD),
    info: Style::new(),
    dim: Style::new().add_modifier(Modifier::DIM),
    label: Style::new(),
    title: Style::new().add_modifier(Modifier::REVERSED),
    brand: Style::new().add_modifier(BOLD.union(Modifier::REVERSED)),
    border_focused: Style::new().add_modifier(BOLD),
    border: Style::new(),
};

static CURRENT: AtomicU8 = AtomicU8::new(0);

/// Chooses the palette for the rest of the process.
pub fn set(kind: ThemeKind) {
    CURRENT.store(kind as u8, Ordering::Relaxed);
}

/// The palette in use.
pub fn get() -> &'static Theme {
    match CURRENT.load(Ordering::Relaxed) {
        1 => &LIGHT,
        2 => &PLAIN,
        _ => &DARK,
    }
}

pub fn pane_border(focused: bool) -> Style {
    if focused {
        get().border_focused
    } else {
        get().border
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_means_plain_unless_a_theme_is_named() {
        assert_eq!(ThemeKind::choose(None, None), ThemeKind::Dark);
        assert_eq!(ThemeKind::choose(None, Some("1")), ThemeKind::Plain);
        assert_eq!(ThemeKind::choose(None, Some("")), ThemeKind::Dark);
        assert_eq!(
            ThemeKind::choose(Some(ThemeKind::Light), Some("1")),
            ThemeKind::Light
        );
        assert!("sepia".parse::<ThemeKind>().unwrap_err().contains("light"));
    }

    #[test]
    fn the_plain_palette_holds_no_colour() {
        let t = PLAIN;
        for s in [
            t.gap,
            t.recoverable,
            t.unreachable_wal,
            t.live_tail,
            t.backup,
            t.cursor,
            t.bad,
            t.good,
            t.warn,
            t.info,
            t.dim,
            t.label,
            t.title,
            t.brand,
            t.border_focused,
            t.border,
        ] {
            assert_eq!((s.fg, s.bg), (None, None), "{s:?}");
        }
    }
}
