//! The console tried as an attacker would, against real labs: hostile restore point names,
//! shell metacharacters in paths, symlinks planted in backups, forged journals, passwords
//! looked for everywhere, roles claimed by flag. Each attack must be refused with a clear
//! error, or made harmless, and leave nothing behind outside the console's own directories.
//! Ports 57300-57399.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use lab_support::{build, cli, psql, stop, written_by_design, LabGuard, Listing};
use pitr_console::lab::LabRecord;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");

/// Everything outside what the console, the lab's server and the test itself (its `own`
/// files) write: taken before an attack, compared after it.
fn listing(guard: &LabGuard, rec: &LabRecord, own: &[&Path]) -> Listing {
    let mut owned = written_by_design(rec);
    owned.extend(own.iter().map(|p| p.to_path_buf()));
    Listing::take(guard.parent.path(), &owned)
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
    let before = listing(&guard, &rec, &[&state, &side]);
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
    listing(&guard, &rec, &[&state, &side]).assert_unchanged_since(&before, "a hostile name");
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
    let bad = guard.path("bad.toml");
    let before = listing(&guard, &rec, &[&state, &bad]);
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
    let bin_dir = format!("bin_dir = \"{}\"", rec.bin_dir.display());
    assert!(text.contains(&bin_dir), "{text}");
    std::fs::write(
        &bad,
        text.replace(&bin_dir, "bin_dir = \"/usr/lib/`id>PWN`\""),
    )
    .unwrap();
    let (code, stderr) = run(&bad, &["plan", "--server", "lab", "--latest"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("[[server]] `lab`: key `bin_dir`") && stderr.contains("not allowed"),
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
    listing(&guard, &rec, &[&state, &bad]).assert_unchanged_since(&before, "hostile paths");
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
    let moved = guard.path("moved.toml");
    let own = [state.as_path(), &journals, &side, &moved];
    let before = listing(&guard, &rec, &own);

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
    let report = cli(&cfg, &state, &["report", journal.to_str().unwrap()]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    assert!(!report.stdout.contains(SECRET));
    // Journals, reports, state, and the restored side instance (its settings and log).
    let written = [files(&journals), files(&state), files(&side)].concat();
    assert!(written.len() >= 3, "{written:?}");
    assert!(
        written.iter().any(|f| f.ends_with("postgresql.auto.conf"))
            && written
                .iter()
                .any(|f| f.to_string_lossy().ends_with("-report.md")),
        "{written:?}"
    );
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
    listing(&guard, &rec, &own).assert_unchanged_since(&before, "a forged journal");
    stop(&side);
}

/// A trainee's configuration cannot be overridden by `--role operator`, a policy can only
/// be trusted when root owns it, and a configuration that fails to load refuses.
#[test]
fn roles_cannot_be_raised_by_flag_env_or_a_broken_config() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_dir(dir.path());
    let cfg = dir.path().join("trainee.toml");
    let own: Vec<PathBuf> = [&state, &cfg]
        .into_iter()
        .cloned()
        .chain(["policy.toml", "broken.toml"].map(|n| dir.path().join(n)))
        .collect();
    let before = Listing::take(dir.path(), &own);
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
    Listing::take(dir.path(), &own).assert_unchanged_since(&before, "roles claimed");
}

/// The lab's configuration with `edit` applied, written beside the lab.
fn config_edited(
    guard: &lab_support::LabGuard,
    rec: &pitr_console::lab::LabRecord,
    name: &str,
    edit: impl Fn(&str) -> String,
) -> PathBuf {
    let text = std::fs::read_to_string(&rec.config_file).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit changed nothing");
    let path = guard.path(name);
    std::fs::write(&path, edited).unwrap();
    path
}

/// The configuration with its `journal_dir` line pointing at `dir`.
fn with_journal_dir(text: &str, dir: &Path) -> String {
    text.lines()
        .map(|l| match l.starts_with("journal_dir = ") {
            true => format!("journal_dir = \"{}\"\n", dir.display()),
            false => format!("{l}\n"),
        })
        .collect()
}

fn drill_args<'a>(side: &'a str, port: &'a str) -> Vec<&'a str> {
    vec![
        "--role",
        "drill",
        "recover",
        "--server",
        "lab",
        "--name",
        "before_batch",
        "--restore-to",
        side,
        "--port",
        port,
    ]
}

/// A trainee given an operator's journal: the refused resume is journaled in the console's
/// own log, never in that journal (paused or ended), and the report of it is written to
/// the trainee's own directory, never beside it. In the console, a trainee's refused start
/// is journaled as the CLI's is.
#[test]
fn a_trainee_never_writes_into_or_beside_an_operators_journal() {
    let (mut guard, rec) = build(57330, false);
    let state = state_dir(guard.parent.path());
    let journals = guard.path("journals");
    let cfg = config_edited(&guard, &rec, "operator.toml", |t| {
        with_journal_dir(t, &journals)
    });
    let side = guard.path("side");
    guard.side(&side);
    let own = [state.as_path(), &journals, &side];
    let listed = listing(&guard, &rec, &own);
    let side_text = side.display().to_string();
    let o = cli(&cfg, &state, &drill_args(&side_text, "57331"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let journal = journal_of(&o.stdout);
    let snapshot = || {
        let mut s: Vec<(PathBuf, Vec<u8>)> = files(&journals)
            .into_iter()
            .map(|p| {
                let b = std::fs::read(&p).unwrap();
                (p, b)
            })
            .collect();
        s.sort();
        s
    };
    let refusals = state.join("refusals");
    let trainee = |args: &[&str]| {
        let mut a = vec!["--role", "trainee"];
        a.extend_from_slice(args);
        cli(&cfg, &state, &a)
    };
    let j = journal.to_str().unwrap();
    for ended in [false, true] {
        let before = snapshot();
        let logged = files(&refusals).len();
        let o = trainee(&["resume", j, "--action", "promote", "--yes"]);
        assert_eq!(o.code, 5, "{}", o.stderr);
        assert!(o.stderr.contains("refused by role trainee"), "{}", o.stderr);
        assert!(
            o.stderr
                .contains(&format!("journaled in {}", refusals.display())),
            "{}",
            o.stderr
        );
        let o = trainee(&["report", j]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(
            o.stderr.contains(&format!(
                "Report written to {}",
                state.join("reports").display()
            )),
            "{}",
            o.stderr
        );
        assert_eq!(
            snapshot(),
            before,
            "the operator's journal directory changed"
        );
        let now = files(&refusals);
        assert!(now.len() > logged, "{now:?}");
        let newest = now
            .iter()
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
            .unwrap();
        let refusal = pitr_console::engine::journal::JournalState::read(newest).unwrap();
        assert!(
            matches!(&refusal.ended, Some(pitr_console::engine::RunStatus::Refused { reason })
                if reason.contains("refused by role trainee") && reason.contains(j)),
            "{:?}",
            refusal.ended
        );
        if !ended {
            let o = cli(
                &cfg,
                &state,
                &[
                    "--role",
                    "drill",
                    "resume",
                    j,
                    "--action",
                    "roll-back",
                    "--yes",
                ],
            );
            assert_eq!(o.code, 0, "{}", o.stderr);
        }
    }

    // The console: the trainee's refused start is journaled in the console's own log of
    // refusals (never the configured journal directory), and the notice says where.
    let config = pitr_console::config::load(&cfg).unwrap();
    let inc = rec.first_incident().unwrap().clone();
    let commit = inc.commit_time.unwrap();
    let index_dir = tempfile::tempdir().unwrap();
    let before: Vec<PathBuf> = files(&journals);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let notice = rt.block_on(async {
        use crossterm::event::KeyCode;
        let mut c = lab_support::Console::open(
            &config,
            pitr_console::config::Role::Trainee,
            index_dir.path(),
            commit,
        )
        .await;
        c.app.cursor = commit;
        pitr_console::app::update(&mut c.app, pitr_console::app::Msg::Tick { now: commit });
        c.key(KeyCode::Char('b'));
        c.key(KeyCode::Enter);
        c.until("the plan", std::time::Duration::from_secs(30), |a| {
            a.wizard.as_ref().is_some_and(|w| w.ready().is_some())
        })
        .await;
        c.key(KeyCode::Char('r'));
        c.until(
            "the refusal journaled",
            std::time::Duration::from_secs(30),
            |a| {
                a.wizard
                    .as_ref()
                    .and_then(|w| w.notice.as_deref())
                    .is_some_and(|n| {
                        n.contains("journaled in") || n.contains("could not be journaled")
                    })
            },
        )
        .await;
        c.app.wizard.as_ref().unwrap().notice.clone().unwrap()
    });
    assert!(notice.contains("refused by role trainee"), "{notice}");
    assert_eq!(
        files(&journals),
        before,
        "a refused start writes nothing in the configured journal directory"
    );
    // The console in this process keeps its state where lab_support put it.
    let own_refusals =
        PathBuf::from(std::env::var_os("PITR_CONSOLE_STATE_DIR").unwrap()).join("refusals");
    let new: Vec<PathBuf> = files(&own_refusals)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert!(notice.contains(&*new[0].to_string_lossy()), "{notice}");
    let refusal = pitr_console::engine::journal::JournalState::read(&new[0]).unwrap();
    assert!(matches!(
        refusal.ended,
        Some(pitr_console::engine::RunStatus::Refused { .. })
    ));
    assert!(refusal.started.is_empty());
    listing(&guard, &rec, &own).assert_unchanged_since(&listed, "a trainee's attempts");
}

/// Names and paths that would put the console's files elsewhere: a server named
/// `../../escaped/x`, an empty name, `--restore-to` inside (or around) production's data
/// directory or the archive. Each is refused before anything is written.
#[test]
fn names_and_paths_that_would_escape_are_refused() {
    let (guard, rec) = build(57340, false);
    let state = state_dir(guard.parent.path());
    let journals = rec.dir.join("journal");
    // The test's own configurations, kept apart from what the console may write.
    let configs = guard.path("configs");
    std::fs::create_dir(&configs).unwrap();
    let own = [state.as_path(), journals.as_path(), configs.as_path()];
    let before = listing(&guard, &rec, &own);
    let named = |n: &str| {
        let file = format!("configs/name-{}.toml", n.len());
        let cfg = config_edited(&guard, &rec, &file, |t| {
            t.replace("name = \"lab\"", &format!("name = \"{n}\""))
        });
        cli(
            &cfg,
            &state,
            &[
                "--role",
                "drill",
                "recover",
                "--server",
                n,
                "--name",
                "before_batch",
                "--restore-to",
                &guard.path("side").display().to_string(),
                "--port",
                "57341",
            ],
        )
    };
    let o = named("../../escaped/x");
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains(
            "a [[server]] `name` is `../../escaped/x`: a name may hold only letters, digits"
        ),
        "{}",
        o.stderr
    );
    let o = named("");
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("a [[server]] `name` is ``"),
        "{}",
        o.stderr
    );

    for (dir, what) in [
        (rec.pgdata.join("side"), "overlaps server lab's pgdata"),
        (
            rec.pgdata.parent().unwrap().to_path_buf(),
            "overlaps server lab's pgdata",
        ),
        (rec.wal_archive.join("side"), "overlaps"),
        (rec.backups_dir.join("side"), "overlaps"),
    ] {
        let d = dir.display().to_string();
        let o = cli(&rec.config_file, &state, &drill_args(&d, "57342"));
        assert_eq!(o.code, 2, "{d}: {}", o.stderr);
        assert!(
            o.stderr.contains("--restore-to")
                && o.stderr.contains(what)
                && o.stderr.contains("choose a directory outside"),
            "{d}: {}",
            o.stderr
        );
    }
    assert!(!guard.parent.path().join("escaped").exists());
    assert!(!Path::new("/tmp/escaped").exists() && !Path::new("/escaped").exists());
    assert!(!rec.pgdata.join("side").exists());
    listing(&guard, &rec, &own).assert_unchanged_since(&before, "escaping names and paths");
}

/// The directories the console keeps its state and journals in are checked before use (a
/// link, or one others may write, is refused with the fix), and a link planted at the lock
/// file is refused, not followed.
#[test]
fn directories_others_may_write_and_a_link_at_the_lock_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let (mut guard, rec) = build(57350, false);
    let side = guard.path("side");
    guard.side(&side);
    let side_text = side.display().to_string();
    let chmod = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };

    let open_state = state_dir(guard.parent.path());
    let (linked, journals) = (guard.path("state-link"), guard.path("journals"));
    let (cfg_path, victim) = (guard.path("open-journals.toml"), guard.path("victim"));
    let own = [
        open_state.as_path(),
        &linked,
        &journals,
        &cfg_path,
        &victim,
        &side,
    ];
    let before = listing(&guard, &rec, &own);
    chmod(&open_state, 0o777);
    let o = cli(
        &rec.config_file,
        &open_state,
        &drill_args(&side_text, "57351"),
    );
    assert_ne!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!(
            "state directory {} has mode 777",
            open_state.display()
        )) && o.stderr.contains("chmod go-w"),
        "{}",
        o.stderr
    );
    assert!(!side.exists());
    chmod(&open_state, 0o700);
    std::os::unix::fs::symlink(&open_state, &linked).unwrap();
    let o = cli(&rec.config_file, &linked, &drill_args(&side_text, "57351"));
    assert_ne!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("is a symbolic link"), "{}", o.stderr);
    assert!(!side.exists());

    let state = open_state.clone();
    std::fs::create_dir(&journals).unwrap();
    chmod(&journals, 0o775);
    let cfg = config_edited(&guard, &rec, "open-journals.toml", |t| {
        with_journal_dir(t, &journals)
    });
    let o = cli(&cfg, &state, &drill_args(&side_text, "57351"));
    assert_ne!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("group or others may write to it")
            && o.stderr
                .contains(&format!("chmod go-w {}", journals.display())),
        "{}",
        o.stderr
    );
    assert!(!side.exists());
    assert!(files(&journals).is_empty());

    // A run takes its lock; the lock file left behind is then replaced by a link.
    chmod(&journals, 0o700);
    let o = cli(&cfg, &state, &drill_args(&side_text, "57351"));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let j = journal_of(&o.stdout);
    let o = cli(
        &cfg,
        &state,
        &[
            "--role",
            "drill",
            "resume",
            j.to_str().unwrap(),
            "--action",
            "roll-back",
            "--yes",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lock = files(&state)
        .into_iter()
        .find(|p| p.extension().is_some_and(|x| x == "lock"))
        .expect("a lock file in the state directory");
    std::fs::write(&victim, "keep").unwrap();
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    let o = cli(&cfg, &state, &drill_args(&side_text, "57351"));
    assert_ne!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .contains(&format!("lock file {} is a symbolic link", lock.display())),
        "{}",
        o.stderr
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert!(!side.exists());
    listing(&guard, &rec, &own).assert_unchanged_since(&before, "open and linked directories");
}

/// The journal a started run names ("... started: N steps. Journal: PATH").
fn started_journal(stdout: &str) -> PathBuf {
    stdout
        .lines()
        .find_map(|l| {
            l.split_once(" steps. Journal: ")
                .map(|(_, j)| PathBuf::from(j.trim()))
        })
        .unwrap_or_else(|| panic!("no started run in\n{stdout}"))
}

/// Files in a backup replaced by links (postgresql.auto.conf and recovery.signal to files
/// root owns, a tablespace the backup never had to a directory elsewhere): each restore is
/// refused by the console's check of every link (also when the manifest is gone and the
/// operator restores unverified), and the files the links point to are untouched.
#[test]
fn links_planted_in_a_backup_are_refused_and_nothing_is_written_through_them() {
    let (mut guard, rec) = build(57360, false);
    let state = state_dir(guard.parent.path());
    let plain: Vec<PathBuf> = rec
        .backups
        .iter()
        .filter(|b| b.format == pitr_console::domain::backup::BackupFormat::Plain)
        .map(|b| b.path.clone())
        .collect();
    assert!(!plain.is_empty());
    // Only the plain backups stay in the repository.
    let aside = guard.path("aside");
    std::fs::create_dir(&aside).unwrap();
    for b in rec.backups.iter().filter(|b| !plain.contains(&b.path)) {
        std::fs::rename(&b.path, aside.join(&b.id)).unwrap();
    }
    let victims = guard.path("victims");
    std::fs::create_dir(&victims).unwrap();
    let auto = victims.join("auto");
    let signal = victims.join("signal");
    let tablespace = victims.join("tablespace");
    std::fs::write(&auto, "keep auto").unwrap();
    std::fs::write(&signal, "keep signal").unwrap();
    std::fs::create_dir(&tablespace).unwrap();
    let kept = |b: &Path, name: &str| {
        aside.join(format!(
            "{}-{}",
            b.file_name().unwrap().to_string_lossy(),
            name.replace('/', "_")
        ))
    };
    let plant = |name: &str, target: Option<&Path>| {
        for b in &plain {
            let p = b.join(name);
            if p.exists() {
                std::fs::rename(&p, kept(b, name)).unwrap();
            }
            if let Some(t) = target {
                std::os::unix::fs::symlink(t, &p).unwrap();
            }
        }
    };
    let unplant = |name: &str| {
        for b in &plain {
            let p = b.join(name);
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
                std::fs::remove_file(&p).unwrap();
            }
            std::fs::rename(kept(b, name), &p).ok();
        }
    };
    let untouched = || {
        assert_eq!(std::fs::read_to_string(&auto).unwrap(), "keep auto");
        assert_eq!(std::fs::read_to_string(&signal).unwrap(), "keep signal");
        assert_eq!(std::fs::read_dir(&tablespace).unwrap().count(), 0);
    };
    for n in 1..=3 {
        let side = guard.path(&format!("side{n}"));
        guard.side(&side);
    }
    // The links' targets (victims) are listed: nothing may be written through them.
    let own = [
        state.as_path(),
        &aside,
        &rec.backups_dir,
        &guard.path("side"),
    ];
    let before = listing(&guard, &rec, &own);
    let attempt = |n: u16, extra: &[&str]| {
        let side = guard.path(&format!("side{n}"));
        let side_text = side.display().to_string();
        let mut args = drill_args(&side_text, "57361");
        args.extend_from_slice(extra);
        let o = cli(&rec.config_file, &state, &args);
        assert_ne!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
        untouched();
        // A run refused at its restore step keeps the server until abandoned.
        if o.stdout.contains("steps. Journal: ") {
            let j = started_journal(&o.stdout);
            cli(&rec.config_file, &state, &["abandon", j.to_str().unwrap()]);
        }
        format!("{}\n{}", o.stdout, o.stderr)
    };

    plant("postgresql.auto.conf", Some(&auto));
    plant("recovery.signal", Some(&signal));
    let all = attempt(1, &[]);
    // pg_verifybackup leaves postgresql.auto.conf and recovery.signal out by design: the
    // console's own check of every link is what refuses them.
    assert!(
        all.contains("is a symbolic link to")
            && all.contains("a backup may hold links only at pg_tblspc/<oid> and pg_wal"),
        "{all}"
    );
    // Without its manifest, restored unverified as asked: the links are still refused.
    plant("backup_manifest", None);
    let all = attempt(2, &["--allow-unverified-backup"]);
    assert!(
        all.contains("is a symbolic link to")
            && all.contains("a backup may hold links only at pg_tblspc/<oid> and pg_wal"),
        "{all}"
    );
    unplant("backup_manifest");
    unplant("postgresql.auto.conf");
    unplant("recovery.signal");

    // A tablespace link: refused in preflight, tablespaces are not restored (the link
    // rules, which would refuse one the manifest knows nothing of, are the second wall).
    plant("pg_tblspc/16999", Some(&tablespace));
    let all = attempt(3, &[]);
    assert!(
        all.contains("backup backup1-plain's pg_tblspc/16999")
            && all.contains("does not restore tablespaces yet"),
        "{all}"
    );
    listing(&guard, &rec, &own).assert_unchanged_since(&before, "links in a backup");
}

/// The story of `ps` on a production host: a recovery in place of a server that wants a
/// password (scram, no trust left) takes its safety dump with pg_dump and pg_dumpall, and
/// no command line on the machine holds the password while the run goes; no file the
/// console writes holds it either. The run's `[[app]]` commands come from the
/// configuration on resume and on roll back after promotion: a changed one is refused by
/// name, never run from the journal.
#[test]
fn a_password_never_shows_in_ps_and_app_commands_come_from_the_configuration() {
    const SECRET: &str = "Hunter2inPlacePW";
    let (guard, rec) = build(57370, false);
    let state = state_dir(guard.parent.path());
    psql(
        &rec,
        57370,
        &format!("alter role {} password '{SECRET}'", rec.superuser),
    );
    let hba = rec.pgdata.join("pg_hba.conf");
    let text = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(&hba, text.replace("trust", "scram-sha-256")).unwrap();
    let reload = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(rec.bin_dir.join("pg_ctl"))
        .arg("reload")
        .arg("-D")
        .arg(&rec.pgdata)
        .output()
        .unwrap();
    assert!(reload.status.success());
    let journals = guard.path("journals");
    let started = guard.path("app-started");
    let app = |start: &Path| {
        format!(
            "\n[[app]]\nname = \"api\"\nstop = \"true\"\nstart = \"touch {}\"\n",
            start.display()
        )
    };
    let cfg = config_edited(&guard, &rec, "secret-in-place.toml", |t| {
        let t = t.replacen("dsn = \"", &format!("dsn = \"password={SECRET} "), 1);
        with_journal_dir(&t, &journals) + &app(&started)
    });
    // `app-started` is the configured start command's doing; `app-forged` must never be.
    let changed_cfg = guard.path("secret-changed.toml");
    let own = [state.as_path(), &journals, &started, &changed_cfg];
    let before = listing(&guard, &rec, &own);

    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args([
            "recover",
            "--server",
            "lab",
            "--name",
            "before_batch",
            "--yes",
        ])
        .env("PITR_CONSOLE_STATE_DIR", &state)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut seen, mut samples) = (Vec::new(), 0);
    while child.try_wait().unwrap().is_none() {
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
                let c = String::from_utf8_lossy(&c).replace('\0', " ");
                if c.contains(SECRET) {
                    seen.push(c);
                }
            }
        }
        samples += 1;
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("{stdout}\n{stderr}\n{samples} samples of /proc/*/cmdline");
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(samples > 10 && seen.is_empty(), "{seen:?}");
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
    // The dumps were taken: the password reached pg_dump and pg_dumpall another way.
    let dumps = files(&journals.join("dumps"));
    assert!(
        dumps.iter().any(|d| d.to_string_lossy().ends_with(".dump"))
            && dumps
                .iter()
                .any(|d| d.to_string_lossy().ends_with("globals.sql")),
        "{dumps:?}"
    );
    let written = [
        files(&journals),
        files(&state),
        vec![rec.pgdata.join("postgresql.auto.conf")],
    ]
    .concat();
    for f in &written {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "{} holds the password",
            f.display()
        );
    }

    // The run resumed under a configuration whose app start command differs: refused,
    // the input named, the command not run.
    let journal = journal_of(&stdout);
    let elsewhere = guard.path("app-forged");
    let changed = config_edited(&guard, &rec, "secret-changed.toml", |t| {
        let t = t.replacen("dsn = \"", &format!("dsn = \"password={SECRET} "), 1);
        with_journal_dir(&t, &journals) + &app(&elsewhere)
    });
    let j = journal.to_str().unwrap();
    let o = cli(
        &changed,
        &state,
        &["resume", j, "--action", "promote", "--yes"],
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("`apps[0].start` differs"), "{}", o.stderr);
    assert!(
        !o.stderr.contains(&*started.to_string_lossy()),
        "{}",
        o.stderr
    );
    assert!(!elsewhere.exists() && !started.exists());
    let o = cli(&cfg, &state, &["resume", j, "--action", "promote", "--yes"]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert!(started.exists() && !elsewhere.exists());

    // Rolling the promoted run back rebuilds its commands from the configuration too.
    let o = cli(&changed, &state, &["rollback", j, "--yes"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("`apps[0].start` differs"), "{}", o.stderr);
    assert!(!elsewhere.exists());
    let o = cli(&cfg, &state, &["rollback", j, "--yes"]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("Rolled back after promotion"),
        "{}",
        o.stdout
    );
    assert!(!elsewhere.exists());
    listing(&guard, &rec, &own).assert_unchanged_since(&before, "a password and app commands");
}
