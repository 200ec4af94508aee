use super::*;

fn press(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

#[test]
fn the_shipped_keymap_binds_every_action_of_every_context_and_passes_its_checks() {
    let mut map = Keymap::empty();
    let origins = map.overlay(DEFAULT_KEYMAP, "assets/keymap.toml").unwrap();
    map.check("assets/keymap.toml", &origins).unwrap();
    for context in Context::ALL {
        for action in context.actions() {
            assert!(
                !map.keys(context, *action).is_empty(),
                "[{}] {} has no key",
                context.name(),
                action.name()
            );
            assert!(
                !context.describe(*action).is_empty(),
                "[{}] {} has no words for the help",
                context.name(),
                action.name()
            );
        }
    }
    assert_eq!(map, Keymap::default());
}

#[test]
fn a_key_is_looked_up_in_the_screens_stack_top_first() {
    let map = Keymap::default();
    let shifted = KeyEvent::new(KeyCode::Char('?'), KeyModifiers::SHIFT);
    assert_eq!(map.action(stacks::MAIN, &shifted), Some(Action::Help));
    let ctrl_up = KeyEvent::new(KeyCode::Up, KeyModifiers::CONTROL);
    assert_eq!(map.action(stacks::MAIN, &ctrl_up), Some(Action::ZoomIn));
    assert_eq!(
        map.action(stacks::MAIN, &press('b')),
        Some(Action::TargetBefore)
    );
    assert_eq!(
        map.action(stacks::DECISION, &press('b')),
        Some(Action::RollBack)
    );
    assert_eq!(
        map.action(stacks::DECISION, &press('n')),
        Some(Action::AddNote)
    );
    assert_eq!(
        map.action(stacks::DECISION, &press('q')),
        Some(Action::Quit)
    );
    assert_eq!(map.action(stacks::INPUT, &press('q')), None, "q is typed");
    let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(
        map.action(stacks::QUIT_PROMPT, &enter),
        Some(Action::Confirm)
    );
    assert_eq!(
        KeySpec::parse("ctrl-up").unwrap().to_string(),
        "Ctrl-Up".to_string()
    );
    assert_eq!(
        map.label(Context::Timeline, Action::CursorLeft).unwrap(),
        "←/h"
    );
}

#[test]
fn a_users_file_overrides_only_what_it_lists() {
    let map = Keymap::with_overrides(
        "[timeline]\nzoom_in = [\"I\"]\n\n[decision]\npromote = [\"P\", \"enter\"]\n",
        "keymap.toml",
    )
    .unwrap();
    assert_eq!(map.action(stacks::MAIN, &press('I')), Some(Action::ZoomIn));
    assert_eq!(map.action(stacks::MAIN, &press('i')), None);
    assert_eq!(map.action(stacks::MAIN, &press('o')), Some(Action::ZoomOut));
    let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(map.action(stacks::DECISION, &enter), Some(Action::Promote));
}

fn error(text: &str) -> KeymapError {
    Keymap::with_overrides(text, "my-keys.toml").unwrap_err()
}

#[test]
fn bad_entries_name_the_line_and_what_would_work() {
    let e = error("[timeline]\n\nzoom_in = [\"hyper-q\"]\n");
    assert_eq!(e.line, Some(3));
    assert!(
        e.message.contains("hyper-q") && e.message.contains("pageup"),
        "{e}"
    );
    assert!(
        e.to_string().starts_with("keymap my-keys.toml, line 3: "),
        "{e}"
    );

    let e = error("[timeline]\nteleport = [\"x\"]\n");
    assert_eq!(e.line, Some(2));
    assert!(
        e.message.contains("teleport") && e.message.contains("zoom_in"),
        "{e}"
    );

    let e = error("quit = [\"q\"]\n");
    assert_eq!(e.line, Some(1));
    assert!(
        e.message.contains("[section]") && e.message.contains("timeline"),
        "{e}"
    );

    let e = error("[plan]\nstart_run = \"r\"\n");
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("list of keys"), "{e}");

    let e = error("[timeline\n");
    assert_eq!(e.line, Some(1), "{e}");
}

#[test]
fn a_key_meaning_two_things_on_one_screen_is_refused() {
    let e = error("[timeline]\nzoom_in = [\"b\"]\n");
    assert_eq!(e.line, Some(2));
    assert!(
        e.message.contains("`b`")
            && e.message.contains("target_before")
            && e.message.contains("zoom_in"),
        "{e}"
    );
}

#[test]
fn help_and_text_boxes_cannot_be_locked_out() {
    let e = error("[global]\nhelp = []\n");
    assert!(
        e.message.contains("needs a key") && e.message.contains("?"),
        "{e}"
    );
    let e = error("[input]\nsubmit = [\"x\"]\n");
    assert!(e.message.contains("could then not be typed"), "{e}");
    assert_eq!(e.line, Some(2));
}

/// Every key goes through the one lookup: outside the keymap no model code names a key
/// (tests may press them).
#[test]
fn no_key_is_matched_outside_the_keymap() {
    let app = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app");
    let mut stack = vec![app.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path != app.join("keymap") {
                    stack.push(path);
                }
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            assert!(
                !code.contains("KeyCode::"),
                "{} matches a KeyCode: bind an action in assets/keymap.toml instead",
                path.display()
            );
        }
    }
}
