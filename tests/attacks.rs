//! The console tried as an attacker would, against real labs: hostile restore point names,
//! shell metacharacters in paths, symlinks planted in backups, forged journals, passwords
//! looked for everywhere, roles claimed by flag. Each attack must be refused with a clear
//! error, or made harmless, and leave nothing behind outside the console's own directories.
//! Ports 57300-57399.

mod lab_support;

use lab_support::{build, psql, stop};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn cli(config: &Path, state: &Path, args: &[&str]) -> Out {
    let out = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("PITR_CONSOLE_STATE_DIR", state)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let o = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!(
        "$ pitr-console {:?} -> exit {}\n{}\n{}",
        args, o.code, o.stdout, o.stderr
    );
    o
}

/// A private state directory for the console under test.
fn state_dir(parent: &Path) -> PathBuf {
    let d = parent.join("state");
    std::fs::create_dir(&d).unwrap();
    d
}

/// A setting as the server itself reads it from a data directory's files.
fn postgres_c(bin_dir: &Path, pgdata: &Path, setting: &str) -> String {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin_dir.join("postgres"))
        .arg("-D")
        .arg(pgdata)
        .args(["-C", setting])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "postgres -C {setting}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim_end_matches('\n')
        .to_string()
}

/// Switches to a new segment and waits until the archiver has the one just closed.
fn archive_now(rec: &pitr_console::lab::LabRecord, port: u16) {
    let segment = psql(rec, port, "select pg_walfile_name(pg_switch_wal())");
    for _ in 0..100 {
        if rec.wal_archive.join(&segment).exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{segment} never reached the archive");
}

/// A restore point's name is chosen by any role allowed to call pg_create_restore_point.
/// One that closes the quoted value and starts a new line must stay one value: the
/// recovered server reads back the exact name, and no setting of the attacker's.
#[test]
fn a_restore_point_name_cannot_inject_a_setting() {
    let (mut guard, rec) = build(57300, false);
    let state = state_dir(guard.parent.path());
    let hostile = "x\\'\ncluster_name = INJECTED #";
    let sql = format!("select pg_create_restore_point($n${hostile}$n$)");
    psql(&rec, 57300, &sql);
    archive_now(&rec, 57300);
    let side = guard.path("side");
    guard.side(&side);
    let o = cli(
        &rec.config_file,
        &state,
        &[
            "--role",
            "drill",
            "recover",
            "--server",
            "lab",
            "--name",
            hostile,
            "--restore-to",
            side.to_str().unwrap(),
            "--port",
            "57301",
        ],
    );
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("paused at"), "{}", o.stdout);
    // Shown escaped: the name never spans two lines of the operator's screen.
    assert!(
        o.stdout.contains(r"x\\\'\ncluster_name = INJECTED #"),
        "{}",
        o.stdout
    );
    assert_ne!(postgres_c(&rec.bin_dir, &side, "cluster_name"), "INJECTED");
    assert_eq!(
        postgres_c(&rec.bin_dir, &side, "recovery_target_name"),
        hostile
    );
    stop(&side);
}

/// pg_ctl runs its server through `/bin/sh` with the data directory in double quotes, so a
/// path that closes the quotes would run a command as the server's user.
#[test]
fn shell_metacharacters_in_paths_are_refused_before_anything_runs() {
    let (guard, rec) = build(57310, false);
    let state = state_dir(guard.parent.path());
    let cwd = guard.path("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let run = |config: &Path, args: &[&str]| {
        let out = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .args(args)
            .env("PITR_CONSOLE_STATE_DIR", &state)
            .current_dir(&cwd)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let hostile = "/x/dq\"x$(id>PWN)";
    let (code, stderr) = run(
        &rec.config_file,
        &[
            "recover",
            "--server",
            "lab",
            "--latest",
            "--restore-to",
            hostile,
            "--port",
            "57311",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--restore-to is `/x/dq\"x$(id>PWN)`") && stderr.contains("not allowed"),
        "{stderr}"
    );
    // The same path in the configuration is refused when the file is read, naming the key.
    let text = std::fs::read_to_string(&rec.config_file).unwrap();
    let pgdata = format!("pgdata = \"{}\"", rec.pgdata.display());
    assert!(text.contains(&pgdata), "{text}");
    let bad = guard.path("bad.toml");
    std::fs::write(
        &bad,
        text.replace(&pgdata, "pgdata = \"/x/dq\\\"x$(id>PWN)\""),
    )
    .unwrap();
    let (code, stderr) = run(&bad, &["plan", "--server", "lab", "--latest"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("[[server]] `lab`: key `pgdata`") && stderr.contains("not allowed"),
        "{stderr}"
    );
    for dir in [
        cwd.as_path(),
        Path::new("/"),
        &rec.pgdata,
        guard.parent.path(),
    ] {
        assert!(!dir.join("PWN").exists(), "PWN in {}", dir.display());
    }
    assert!(!Path::new("/x").exists());
}
