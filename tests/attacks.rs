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

/// The journal path a paused run prints in its roll back hint.
fn journal_of(stdout: &str) -> PathBuf {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("roll back: pitr-console resume "))
        .and_then(|l| l.split_whitespace().next())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no journal in\n{stdout}"))
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Lines of `text` re-chained after an edit, as anyone without the key can do.
fn rechain(text: &str) -> String {
    use pitr_console::engine::journal::sha256_hex;
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    for line in text.lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        v["prev"] = serde_json::Value::String(prev.clone());
        let mac = v["mac"].as_str().unwrap().to_string();
        let mut rest = v.as_object().unwrap().clone();
        rest.remove("mac");
        let body = serde_json::to_string(&rest).unwrap();
        let l = format!("{{\"mac\":\"{mac}\",{}", &body[1..]);
        prev = sha256_hex(l.as_bytes());
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// A password in the dsn stays in memory: not in any file the console writes, not in
/// `journal show --json`, not in any process's command line during the run. The journal
/// of that run then resists forgery (edited inputs, a changed configuration, a cut end),
/// and the genuine journal still rolls the run back.
#[test]
fn secrets_stay_in_memory_and_journals_cannot_be_forged() {
    const SECRET: &str = "Hunter2secretPW";
    let (mut guard, rec) = build(57320, false);
    let state = state_dir(guard.parent.path());
    let journals = guard.path("journals");
    let text = std::fs::read_to_string(&rec.config_file).unwrap();
    let dsn_start = text.find("dsn = \"").unwrap() + "dsn = \"".len();
    let mut cfg_text = text.clone();
    cfg_text.insert_str(dsn_start, &format!("password={SECRET} "));
    assert!(cfg_text.contains("\njournal_dir = "), "{cfg_text}");
    let cfg_text: String = cfg_text
        .lines()
        .map(|l| match l.starts_with("journal_dir = ") {
            true => format!("journal_dir = \"{}\"\n", journals.display()),
            false => format!("{l}\n"),
        })
        .collect();
    let cfg = guard.path("secret.toml");
    std::fs::write(&cfg, &cfg_text).unwrap();
    let side = guard.path("side");
    guard.side(&side);

    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args([
            "--role",
            "drill",
            "recover",
            "--server",
            "lab",
            "--name",
            "before_batch",
        ])
        .arg("--restore-to")
        .arg(&side)
        .args(["--port", "57321"])
        .env("PITR_CONSOLE_STATE_DIR", &state)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen_in_argv = Vec::new();
    let mut samples = 0;
    while child.try_wait().unwrap().is_none() {
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) {
                if String::from_utf8_lossy(&cmdline).contains(SECRET) {
                    seen_in_argv.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
                }
            }
        }
        samples += 1;
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    eprintln!("{samples} samples of /proc/*/cmdline during the run");
    assert!(samples > 10);
    assert!(seen_in_argv.is_empty(), "{seen_in_argv:?}");
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
    let journal = journal_of(&stdout);
    let written = [files(&journals), files(&state)].concat();
    assert!(written.len() >= 3, "{written:?}");
    for f in &written {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "{} holds the password",
            f.display()
        );
    }
    let shown = cli(
        &cfg,
        &state,
        &["journal", "show", "--json", journal.to_str().unwrap()],
    );
    assert_eq!(shown.code, 0);
    assert!(!shown.stdout.contains(SECRET));
    assert!(shown.stdout.contains("password=***"), "{}", shown.stdout);

    let genuine = std::fs::read_to_string(&journal).unwrap();
    let resume = |args: &[&str]| {
        let mut a = vec!["resume", journal.to_str().unwrap()];
        a.extend_from_slice(args);
        cli(&cfg, &state, &a)
    };
    // A forged restore_command, re-chained: the record no longer authenticates.
    let pwn = guard.path("FORGED");
    let forged = genuine.replacen(
        "\"restore_command\":\"",
        &format!("\"restore_command\":\"touch {} #", pwn.display()),
        1,
    );
    assert_ne!(forged, genuine);
    std::fs::write(&journal, rechain(&forged)).unwrap();
    let o = resume(&["--action", "promote", "--yes"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("line 1: the record fails authentication"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("cannot be trusted"), "{}", o.stderr);

    // Whole records cut from the end.
    let cut: String = genuine.split_inclusive('\n').take(3).collect();
    std::fs::write(&journal, &cut).unwrap();
    let o = resume(&["--action", "promote", "--yes"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("it was cut:"), "{}", o.stderr);

    // The genuine journal, with a configuration that now says otherwise: the input is named,
    // its value is not.
    std::fs::write(&journal, &genuine).unwrap();
    let moved = guard.path("moved.toml");
    let moved_text = cfg_text.replace(
        &format!("bin_dir = \"{}\"", rec.bin_dir.display()),
        &format!("bin_dir = \"{}\"", rec.bin_dir.join("x").display()),
    );
    assert_ne!(moved_text, cfg_text);
    std::fs::write(&moved, moved_text).unwrap();
    let o = cli(
        &moved,
        &state,
        &[
            "resume",
            journal.to_str().unwrap(),
            "--action",
            "promote",
            "--yes",
        ],
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("`server.bin_dir` differs"),
        "{}",
        o.stderr
    );
    assert!(
        !o.stderr.contains(&*rec.bin_dir.to_string_lossy()),
        "{}",
        o.stderr
    );
    assert!(!pwn.exists());

    // The genuine journal and configuration roll the run back.
    let o = resume(&["--action", "roll-back", "--yes"]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert!(!side.exists());
    stop(&side);
}

/// A trainee's configuration cannot be overridden by `--role operator`, a policy can only
/// be trusted when root owns it, and a configuration that fails to load refuses.
#[test]
fn roles_cannot_be_raised_by_flag_env_or_a_broken_config() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_dir(dir.path());
    let cfg = dir.path().join("trainee.toml");
    std::fs::write(
        &cfg,
        "role = \"trainee\"\n[[repository]]\nname = \"r\"\nkind = \"local\"\nbackups = \"/nonexistent/b\"\nwal_archive = \"/nonexistent/w\"\n\n[[server]]\nname = \"db1\"\npgdata = \"/nonexistent/pgdata\"\ndsn = \"host=/tmp port=5432\"\nrepository = \"r\"\n",
    )
    .unwrap();
    let o = cli(&cfg, &state, &["--role", "operator", "lab", "down"]);
    assert_eq!(o.code, 5, "{}", o.stderr);
    assert!(o.stderr.contains("refused by role trainee"), "{}", o.stderr);

    // A policy anyone may write is not a policy: it is refused, not obeyed.
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "default = \"operator\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&policy, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["lab", "down"])
        .env("PITR_CONSOLE_STATE_DIR", &state)
        .env("PITR_CONSOLE_POLICY", &policy)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));

    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "role = \"trainee\"\n[[server]\n").unwrap();
    let o = cli(&broken, &state, &["--role", "operator", "lab", "down"]);
    assert_ne!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("broken.toml"), "{}", o.stderr);
}
