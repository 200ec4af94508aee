//! The three palettes on the console's screens: each readable on its own background (no
//! grey, white, yellow or cyan text on a light one; no black text on a dark one; no colour at
//! all under NO_COLOR), and a snapshot of the light main screen's styles. One test, in a binary
//! of its own: the palette is the process's, so screens are drawn one palette at a time.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod ui_fixture;

use crossterm::event::KeyCode;
use pitr_console::app::App;
use pitr_console::ui;
use pitr_console::ui::theme::{self, ThemeKind};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;
use ui_fixture::*;

fn draw(app: &App, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| ui::render(f, app)).unwrap();
    terminal.backend().buffer().clone()
}

/// The screens an operator sees most: the main screen, help, a refusal, a gap.
fn screens(w: u16, h: u16) -> Vec<(&'static str, Buffer)> {
    let mut out = Vec::new();
    let mut main = app(w, h);
    out.push(("main", draw(&main, w, h)));
    key(&mut main, KeyCode::Char('?'));
    out.push(("help", draw(&main, w, h)));
    let mut refused = app(w, h);
    go_to(&mut refused, "2024-03-01 12:30:30");
    out.push(("not recoverable", draw(&refused, w, h)));
    let mut gap = app(w, h);
    go_to(&mut gap, "2024-03-01 12:25:00");
    key(&mut gap, KeyCode::Char('}'));
    out.push(("gap", draw(&gap, w, h)));
    out
}

/// Cells whose text would be hard to read: (screen, x, y, symbol, fg, bg).
fn unreadable(kind: ThemeKind, screens: &[(&str, Buffer)]) -> Vec<String> {
    let mut bad = Vec::new();
    for (name, buf) in screens {
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                let c = &buf[(x, y)];
                if c.symbol().trim().is_empty() {
                    continue;
                }
                let on_terminal_bg = c.bg == Color::Reset;
                let wrong = match kind {
                    ThemeKind::Light => {
                        on_terminal_bg
                            && matches!(
                                c.fg,
                                Color::Gray
                                    | Color::White
                                    | Color::Yellow
                                    | Color::Cyan
                                    | Color::LightYellow
                                    | Color::LightCyan
                            )
                    }
                    ThemeKind::Dark => on_terminal_bg && c.fg == Color::Black,
                    ThemeKind::Plain => c.fg != Color::Reset || c.bg != Color::Reset,
                };
                if wrong {
                    bad.push(format!(
                        "{name} ({x},{y}) {:?} {:?} on {:?}",
                        c.symbol(),
                        c.fg,
                        c.bg
                    ));
                }
            }
        }
    }
    bad
}

/// Each row as runs of one style: `[fg/bg/modifiers]text`.
fn styles(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut last = None;
        for x in 0..buf.area.width {
            let c = &buf[(x, y)];
            let style = (c.fg, c.bg, c.modifier);
            if last != Some(style) {
                out.push_str(&format!("[{:?}/{:?}/{:?}]", c.fg, c.bg, c.modifier));
                last = Some(style);
            }
            out.push_str(c.symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn each_palette_is_readable_on_its_background() {
    for kind in [ThemeKind::Dark, ThemeKind::Light, ThemeKind::Plain] {
        theme::set(kind);
        for (w, h) in [(80, 24), (160, 48)] {
            let drawn = screens(w, h);
            let bad = unreadable(kind, &drawn);
            assert!(
                bad.is_empty(),
                "{kind:?} at {w}x{h}: {} cells, e.g. {:#?}",
                bad.len(),
                &bad[..bad.len().min(8)]
            );
        }
    }
    theme::set(ThemeKind::Light);
    let main = draw(&app(100, 30), 100, 30);
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("main_screen_light_styles_100x30", styles(&main));
    });
    theme::set(ThemeKind::Plain);
    let main = draw(&app(100, 30), 100, 30);
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("main_screen_plain_styles_100x30", styles(&main));
    });
    theme::set(ThemeKind::Dark);
}
