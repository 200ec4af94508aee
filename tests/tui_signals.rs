//! The terminal after the console is closed from outside: the operator's SSH session drops
//! (SIGHUP) or someone runs `kill` (SIGTERM). The console, running in a real terminal (a
//! tmux pane), leaves its screen and gives the terminal back in its normal mode: the shell
//! after it reads lines with echo again. Skipped only when tmux is not installed
//! (`scripts/install-test-deps` installs it).
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn closed_by(signal: &str, dir: &Path) {
    let config = dir.join("pitr-console.toml");
    std::fs::create_dir_all(dir.join("backups")).unwrap();
    std::fs::create_dir_all(dir.join("wal")).unwrap();
    std::fs::write(
        &config,
        format!(
            "[[repository]]\nname = \"archive\"\nkind = \"local\"\nbackups = \"{}\"\nwal_archive = \"{}\"\n",
            dir.join("backups").display(),
            dir.join("wal").display()
        ),
    )
    .unwrap();
    let (pid_file, after) = (dir.join("pid"), dir.join("after"));
    let session = format!("pitr-signal-{signal}-{}", std::process::id());
    // The pane runs the console, then records the terminal's mode as the shell finds it.
    let script = format!(
        "echo $$ > {pid}; PITR_CONSOLE_STATE_DIR={state} exec {BIN} --config {config}",
        pid = pid_file.display(),
        state = dir.join("state").display(),
        config = config.display(),
    );
    let wrapper = format!(
        "sh -c '{script}'; stty -a > {after}; sleep 30",
        after = after.display()
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "80",
        "-y",
        "24",
        &wrapper,
    ]);
    wait_for(
        "the console's first screen",
        Duration::from_secs(20),
        || tmux(&["capture-pane", "-t", &session, "-p"]).contains("pitr-console"),
    );
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let killed = Command::new("kill")
        .args([&format!("-{signal}"), pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_for(
        "the shell after the console",
        Duration::from_secs(10),
        || std::fs::read_to_string(&after).is_ok_and(|s| s.contains("speed")),
    );
    let mode = std::fs::read_to_string(&after).unwrap();
    let words: Vec<&str> = mode.split_whitespace().collect();
    tmux(&["kill-session", "-t", &session]);
    for flag in ["icanon", "echo", "isig"] {
        assert!(
            words.contains(&flag),
            "after {signal} the terminal is not back in its normal mode ({flag} off): {mode}"
        );
    }
}

#[test]
fn sighup_and_sigterm_give_the_terminal_back() {
    if Command::new("tmux").arg("-V").output().is_err() {
        println!("SKIPPED: tmux not installed; run scripts/install-test-deps");
        return;
    }
    for signal in ["HUP", "TERM"] {
        let dir = tempfile::tempdir().unwrap();
        closed_by(signal, dir.path());
    }
}
