//! More of issue 10's stories, with the binary on real labs: a backup whose label or manifest
//! was changed, a dsn that reaches another server than the configured data directory's, the
//! lock of a console killed mid-run, a file system that fills during the restore, and the
//! fsyncs that make the moves and the journal survive a crash. Each test has its own state
//! directory. Ports 58600-58649.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use lab_support::{build, fingerprint, moved_aside, psql, LabGuard};
use pitr_console::engine::journal::{Body, JournalState};
use pitr_console::engine::RunStatus;
use pitr_console::lab::{self, LabOptions, LabRecord};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// The binary with `config`, its state in `state`, more environment from `env`.
fn cli_in(state: &Path, config: &Path, args: &[&str], env: &[(&str, String)]) -> Out {
    let started = Instant::now();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("PITR_CONSOLE_STATE_DIR", state)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let o = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!(
        "$ pitr-console {} -> exit {} in {:.1} s\n{}\n{}",
        args.join(" "),
        o.code,
        started.elapsed().as_secs_f64(),
        o.stdout,
        o.stderr
    );
    o
}

fn cli(guard: &LabGuard, config: &Path, args: &[&str]) -> Out {
    cli_in(&guard.path("state"), config, args, &[])
}

fn orders(record: &LabRecord) -> String {
    psql(record, record.port, "select count(*) from orders")
}

/// A journal path in a directory of its own.
fn journal_in(parent: &Path, dir: &str) -> PathBuf {
    let d = parent.join(dir);
    std::fs::create_dir_all(&d).unwrap();
    d.join("run.jsonl")
}

fn recover_args(journal: &Path) -> Vec<String> {
    [
        "recover",
        "--server",
        "lab",
        "--name",
        "before_batch",
        "--yes",
        "--journal",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([journal.display().to_string()])
    .collect()
}

fn words(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A backup changed after it was taken, three ways: its backup_label edited, its
/// backup_manifest edited, and another backup's manifest put in its place (plain and tar).
/// Each is refused in preflight, the damage named, before anything of production is touched.
#[test]
fn a_changed_backup_label_or_manifest_is_refused_before_anything_moves() {
    let (guard, rec) = build(58601, false);
    let cfg = rec.config_file.clone();
    let rows = orders(&rec);
    let plain = rec.backups[0].path.clone();
    let tar = rec.backups[1].path.clone();
    assert!(plain.join("backup_label").exists(), "{plain:?} is plain");
    assert!(tar.join("base.tar.gz").exists(), "{tar:?} is a tar");
    let before = fingerprint(&rec.pgdata);
    let refused = |name: &str, said: &[&str]| {
        let o = cli(
            &guard,
            &cfg,
            &["recover", "--server", "lab", "--name", name, "--yes"],
        );
        assert_ne!(o.code, 0, "{}", o.all());
        for s in said {
            assert!(o.all().contains(s), "`{s}` in:\n{}", o.all());
        }
        assert_eq!(fingerprint(&rec.pgdata), before, "production was touched");
        assert!(moved_aside(&rec).is_empty(), "{:?}", moved_aside(&rec));
        assert_eq!(orders(&rec), rows);
    };
    let keep = |p: &Path| (p.to_path_buf(), std::fs::read(p).unwrap());
    let put_back = |(p, b): &(PathBuf, Vec<u8>)| std::fs::write(p, b).unwrap();

    // backup_label says replay starts from another checkpoint.
    let label = keep(&plain.join("backup_label"));
    let text = String::from_utf8(label.1.clone()).unwrap();
    let text_label = text.clone();
    let shifted = |text: &str, key: &str, by: i64| {
        let line = text.lines().find(|l| l.starts_with(key)).unwrap();
        let lsn = line[key.len()..].split_whitespace().next().unwrap();
        let (hi, lo) = lsn.split_once('/').unwrap();
        let lo = u64::from_str_radix(lo, 16).unwrap() as i64 + by;
        text.replacen(lsn, &format!("{hi}/{lo:X}"), 1)
    };
    let edited = shifted(&text, "CHECKPOINT LOCATION: ", 0x10);
    assert_ne!(edited, text);
    std::fs::write(&label.0, edited).unwrap();
    refused(
        "before_batch",
        &["is damaged", "backup_label", "Nothing was changed"],
    );
    put_back(&label);

    // One checksum in backup_manifest edited: the manifest's own checksum no longer holds.
    let manifest = keep(&plain.join("backup_manifest"));
    let text = String::from_utf8(manifest.1.clone()).unwrap();
    let at = text.find("\"Checksum\": \"").unwrap() + "\"Checksum\": \"".len();
    let mut edited = text.clone().into_bytes();
    edited[at] = if edited[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&manifest.0, edited).unwrap();
    refused(
        "before_batch",
        &["is damaged", "manifest", "Nothing was changed"],
    );

    // A genuine manifest, of the other backup: label and manifest start apart, so the
    // catalog leaves the backup out as damaged, and the plan says so by name.
    std::fs::copy(tar.join("backup_manifest"), &manifest.0).unwrap();
    refused(
        "before_batch",
        &[
            "backup1-plain",
            "is damaged and was left out",
            "backup_manifest's WAL range starts at",
        ],
    );
    put_back(&manifest);

    // backup_label's start moved: the same contradiction, the other way round.
    let edited = shifted(&text_label, "START WAL LOCATION: ", 0x10);
    assert_ne!(edited, text_label);
    std::fs::write(&label.0, edited).unwrap();
    refused(
        "before_batch",
        &[
            "backup1-plain",
            "is damaged and was left out",
            "its backup_label starts at",
        ],
    );
    put_back(&label);

    // The tar backup with the plain one's manifest: left out, and the plan takes the older
    // backup whose WAL reaches the target, saying why.
    let tar_manifest = keep(&tar.join("backup_manifest"));
    std::fs::copy(&manifest.0, &tar_manifest.0).unwrap();
    let o = cli(
        &guard,
        &cfg,
        &["plan", "--server", "lab", "--name", "before_cleanup"],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(
        o.all().contains("WARNING: backup backup2-tar")
            && o.all().contains("is damaged and was left out"),
        "{}",
        o.all()
    );
    assert!(o.all().contains("backup backup1-plain"), "{}", o.all());

    // One checksum edited in the tar backup's manifest: verified in a scratch copy,
    // refused, and the scratch copy removed.
    let text = String::from_utf8(tar_manifest.1.clone()).unwrap();
    let at = text.find("\"Checksum\": \"").unwrap() + "\"Checksum\": \"".len();
    let mut edited = text.into_bytes();
    edited[at] = if edited[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&tar_manifest.0, edited).unwrap();
    refused(
        "before_cleanup",
        &["is damaged", "backup2-tar", "Nothing was changed"],
    );
    put_back(&tar_manifest);
    let scratch: Vec<String> = std::fs::read_dir(&rec.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("-verify"))
        .collect();
    assert!(scratch.is_empty(), "{scratch:?}");

    // Put back as it was, the backup restores: the refusals were the changes, nothing else.
    let o = cli(
        &guard,
        &cfg,
        &["plan", "--server", "lab", "--name", "before_batch"],
    );
    assert_eq!(o.code, 0, "{}", o.all());
}

/// A second server on this host, initdb'd for the test (no data).
struct OtherServer {
    dir: PathBuf,
    bin_dir: PathBuf,
}

impl OtherServer {
    fn start(rec: &LabRecord, dir: PathBuf, port: u16) -> OtherServer {
        let run = |args: &[&str]| {
            let out = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .args(args)
                .current_dir("/tmp")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let bin = |t: &str| rec.bin_dir.join(t).display().to_string();
        let d = dir.display().to_string();
        run(&[
            &bin("initdb"),
            "-D",
            &d,
            "-A",
            "trust",
            "-U",
            &rec.superuser,
        ]);
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=''",
            rec.socket_dir.display()
        );
        let log = format!("{d}.log");
        run(&[
            &bin("pg_ctl"),
            "start",
            "-w",
            "-D",
            &d,
            "-l",
            &log,
            "-o",
            &opts,
        ]);
        OtherServer {
            dir,
            bin_dir: rec.bin_dir.clone(),
        }
    }
}

impl Drop for OtherServer {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin_dir.join("pg_ctl"))
            .args(["stop", "-m", "immediate", "-w", "-D"])
            .arg(&self.dir)
            .current_dir("/tmp")
            .output();
    }
}

/// The configuration's dsn and port both name another server than the one running on its
/// pgdata (a copy-paste from another server's block): the run would dump that other server
/// as "before" and stop and move this one. Refused in preflight, both servers named.
#[test]
fn a_dsn_that_reaches_another_server_than_pgdata_is_refused_naming_both() {
    let (guard, rec) = build(58611, false);
    let other = OtherServer::start(&rec, guard.path("other"), 58612);
    // Its database has the same name: nothing but the data directory tells them apart.
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(rec.bin_dir.join("createdb"))
        .args([
            "-h",
            &rec.socket_dir.display().to_string(),
            "-p",
            "58612",
            &rec.database,
        ])
        .current_dir("/tmp")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&rec.config_file).unwrap();
    assert!(
        text.contains("port=58611") && text.contains("port = 58611"),
        "{text}"
    );
    let cfg = guard.path("mixed.toml");
    std::fs::write(&cfg, text.replace("58611", "58612")).unwrap();
    let rows = orders(&rec);
    let before = fingerprint(&rec.pgdata);
    let j = journal_in(guard.parent.path(), "journals");
    let o = cli(&guard, &cfg, &words(&recover_args(&j)));
    assert_ne!(o.code, 0, "{}", o.all());
    let all = o.all();
    assert!(all.contains("dsn reaches another server"), "{all}");
    assert!(
        all.contains(&format!(
            "answers on port 58612 with data directory {}",
            other.dir.display()
        )),
        "the dsn's server is named: {all}"
    );
    assert!(
        all.contains(&format!(
            "the server on {} runs on port 58611",
            rec.pgdata.display()
        )),
        "the pgdata's server is named: {all}"
    );
    assert!(all.contains("Nothing was changed"), "{all}");
    assert_eq!(fingerprint(&rec.pgdata), before, "production was touched");
    assert!(moved_aside(&rec).is_empty());
    assert_eq!(orders(&rec), rows);
    let state = JournalState::read(&j).unwrap();
    assert!(
        matches!(&state.ended, Some(RunStatus::Refused { reason }) if reason.contains("another server")),
        "{:?}",
        state.ended
    );
    // The same configuration with its own server's port runs the preflight through.
    let o = cli(
        &guard,
        &rec.config_file,
        &["plan", "--server", "lab", "--name", "before_batch"],
    );
    assert_eq!(o.code, 0, "{}", o.all());
}

/// A `cp` first on PATH that holds every copy of an archived WAL segment until `release`
/// exists: replay waits as on a hung archive mount.
fn holding_cp(parent: &Path, rec: &LabRecord) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let bin = parent.join("slow-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let release = parent.join("release-archive");
    let segment = format!("{}/{}", rec.wal_archive.display(), "?".repeat(24));
    let script = format!(
        "#!/bin/sh\nfor a; do case \"$a\" in {segment}) while [ ! -e {} ]; do sleep 0.2; done;; esac; done\nexec /bin/cp \"$@\"\n",
        release.display()
    );
    let cp = bin.join("cp");
    std::fs::write(&cp, script).unwrap();
    std::fs::set_permissions(&cp, std::fs::Permissions::from_mode(0o755)).unwrap();
    for d in [parent, bin.as_path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (bin, release)
}

/// Whether the journal shows the step `id` done.
fn done(journal: &Path, id: &str) -> bool {
    JournalState::read(journal).is_ok_and(|s| {
        s.records
            .iter()
            .any(|r| matches!(&r.body, Body::Outcome { step, ok: true, .. } if step == id))
    })
}

/// A console driving a run holds the server: another process is refused and told which
/// pid holds it. Killed with -9 (no chance to let go), its lock is taken over by the next
/// resume, which says so, and the run rolls back with production as it was.
#[test]
fn a_live_consoles_lock_refuses_and_a_killed_ones_is_taken_over_with_a_word() {
    let (guard, rec) = build(58621, false);
    let rows = orders(&rec);
    let text = std::fs::read_to_string(&rec.config_file).unwrap();
    let cfg = guard.path("slow.toml");
    std::fs::write(&cfg, format!("replay_stall_secs = 600\n{text}")).unwrap();
    let (bin, release) = holding_cp(guard.parent.path(), &rec);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let j = journal_in(guard.parent.path(), "journals");
    let state = guard.path("state");
    let mut first = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(recover_args(&j))
        .env("PITR_CONSOLE_STATE_DIR", &state)
        .env("PATH", &path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = first.id();
    let deadline = Instant::now() + Duration::from_secs(240);
    // Restored, it waits on the recovered server, which waits on the archive.
    while !done(&j, "restore") {
        assert!(first.try_wait().unwrap().is_none(), "the run ended early");
        assert!(
            Instant::now() < deadline,
            "the run never got past the restore"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_secs(2));

    // While it drives the run, a resume of the same journal and a new run are refused.
    let o = cli_in(
        &state,
        &cfg,
        &[
            "resume",
            j.to_str().unwrap(),
            "--action",
            "roll-back",
            "--yes",
        ],
        &[],
    );
    assert_ne!(o.code, 0);
    assert!(
        o.all().contains("is busy") && o.all().contains(&format!("(pid {pid})")),
        "the live holder is named: {}",
        o.all()
    );
    let j2 = journal_in(guard.parent.path(), "journals-2");
    let o = cli_in(&state, &cfg, &words(&recover_args(&j2)), &[]);
    assert_ne!(o.code, 0);
    assert!(o.all().contains("is busy"), "{}", o.all());
    assert!(!j2.exists(), "no journal for a refused run");

    // Killed: the kernel drops its flock, its holder line stays in the lock file.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    first.wait().unwrap();
    std::fs::write(&release, "").unwrap();
    let o = cli_in(
        &state,
        &cfg,
        &[
            "resume",
            j.to_str().unwrap(),
            "--action",
            "roll-back",
            "--yes",
        ],
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    assert!(
        o.stdout
            .contains(&format!("the server's lock was last held by pid {pid}"))
            && o.stdout.contains("which has ended; taken over"),
        "{}",
        o.stdout
    );
    assert_eq!(orders(&rec), rows);
    let s = JournalState::read(&j).unwrap();
    assert_eq!(s.ended, Some(RunStatus::RolledBack));
    let noted = s.records.iter().any(|r| {
        matches!(&r.body, Body::Note { text, .. } if text.contains(&format!("pid {pid}")) && text.contains("taken over"))
    });
    assert!(noted, "the takeover is journaled");
    // Let go cleanly this time: the next run is no takeover.
    let o = cli_in(
        &state,
        &cfg,
        &["plan", "--server", "lab", "--name", "before_batch"],
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    let lock = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "lock"))
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        "",
        "a holder that let go leaves no holder line"
    );
}

/// A tmpfs mounted for the test (the lab lives on it), unmounted after the lab is down.
struct SmallDisk {
    mount: PathBuf,
    lab: PathBuf,
}

impl SmallDisk {
    fn new(name: &str, mib: u64) -> SmallDisk {
        let mount = PathBuf::from(format!("/tmp/saferun3-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&mount).unwrap();
        let pg = nix::unistd::User::from_name("postgres").unwrap().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!(
                "size={mib}m,mode=0755,uid={},gid={}",
                pg.uid, pg.gid
            ))
            .arg("tmpfs")
            .arg(&mount)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a tmpfs for the test (needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk {
            lab: mount.join("lab"),
            mount,
        }
    }

    fn free(&self) -> u64 {
        let s = nix::sys::statvfs::statvfs(&self.mount).unwrap();
        s.blocks_available() * s.fragment_size()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        for d in std::fs::read_dir(&self.mount)
            .into_iter()
            .flatten()
            .flatten()
        {
            lab_support::stop(&d.path());
        }
        if self.lab.exists() {
            let _ = lab::down(&self.lab);
        }
        let _ = Command::new("umount").arg(&self.mount).output();
        let _ = std::fs::remove_dir(&self.mount);
    }
}

/// The data directory's file system is short of room. With less than the backup, preflight
/// refuses before anything is stopped. With just what preflight counts, the restore fills
/// it (the copy's whole pages, then the WAL the recovered server fetches, where PostgreSQL
/// only says it could not find a checkpoint record): the run stops with "No space left on
/// device", the place and the space it needs; once room is made, roll back puts the
/// original back untouched and it starts.
#[test]
fn a_file_system_that_fills_during_the_restore_stops_the_run_and_keeps_the_original() {
    lab_support::private_state_dir();
    let disk = SmallDisk::new("enospc", 600);
    let rec = lab::up(&LabOptions {
        dir: Some(disk.lab.clone()),
        port: Some(58631),
        scale: 1,
        ..Default::default()
    })
    .unwrap();
    let rows = orders(&rec);
    let work = tempfile::Builder::new()
        .prefix("saferun3-enospc-work-")
        .tempdir_in("/tmp")
        .unwrap();
    let state = work.path().join("state");
    let j = journal_in(work.path(), "journals");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    let backup = &rec.backups[0].path;
    let need = dir_size(backup);
    let ballast = disk.mount.join("someone-elses-file");
    // Less room than the backup: refused in preflight, nothing stopped or moved.
    let before = fingerprint(&rec.pgdata);
    let fill = disk.free().saturating_sub(need / 2);
    std::fs::write(&ballast, vec![0u8; fill as usize]).unwrap();
    let early = journal_in(work.path(), "journals-early");
    let o = cli_in(&state, &rec.config_file, &words(&recover_args(&early)), &[]);
    assert_ne!(o.code, 0, "{}", o.all());
    assert!(
        o.all()
            .contains(&format!("not enough space on {}", disk.lab.display()))
            && o.all().contains("needed for the restore"),
        "{}",
        o.all()
    );
    assert_eq!(fingerprint(&rec.pgdata), before, "production was touched");
    assert!(moved_aside(&rec).is_empty());
    std::fs::remove_file(&ballast).unwrap();

    // Room for the backup (+5%, as preflight counts it), no more: the copy, each file
    // taking whole pages, and the WAL the recovered server fetches need more than that.
    let leave = need + need / 20 + 256 * 1024;
    let fill = disk.free().saturating_sub(leave);
    std::fs::write(&ballast, vec![0u8; fill as usize]).unwrap();
    eprintln!(
        "backup {} bytes, {} free after the ballast",
        need,
        disk.free()
    );

    let o = cli_in(&state, &rec.config_file, &words(&recover_args(&j)), &[]);
    assert_ne!(o.code, 0, "{}", o.all());
    let all = o.all();
    assert!(all.contains("No space left on device"), "{all}");
    assert!(
        all.contains(&disk.lab.display().to_string()),
        "the place is named: {all}"
    );
    assert!(
        all.contains("The restore needs about") && all.contains("free there now"),
        "the space needed is named: {all}"
    );
    assert!(all.contains("the original data is kept aside in"), "{all}");

    // The operator makes room, then rolls back.
    std::fs::remove_file(&ballast).unwrap();
    let o = cli_in(
        &state,
        &rec.config_file,
        &[
            "resume",
            j.to_str().unwrap(),
            "--action",
            "roll-back",
            "--yes",
        ],
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    assert_eq!(orders(&rec), rows, "the original runs, as it was");
    assert_eq!(
        JournalState::read(&j).unwrap().ended,
        Some(RunStatus::RolledBack)
    );
    let kept: Vec<String> = moved_aside(&rec);
    assert!(
        kept.iter()
            .any(|n| n.contains("-restored") || n.contains("-partial")),
        "the partial restore is kept aside, not deleted: {kept:?}"
    );

    // The second way back is offered for databases; the globals are shown, not applied.
    let o = cli_in(
        &state,
        &rec.config_file,
        &["restore-dump", j.to_str().unwrap(), "--globals", "--yes"],
        &[],
    );
    assert_eq!(o.code, 5, "{}", o.all());
    assert!(
        o.stderr.contains("does not apply the globals")
            && o.stderr.contains("its sha256 matches the run's record")
            && o.stderr.contains("-globals.sql"),
        "{}",
        o.stderr
    );

    // The disk fills during the copy itself: preflight finds room, then something else on
    // the host takes half of it (an application's stop command here, run after preflight
    // and before the copy). The copy fails naming the device full, and roll back brings
    // the original back.
    let filler = disk.mount.join("filled-during-the-run");
    let mut text = std::fs::read_to_string(&rec.config_file).unwrap();
    text.push_str(&format!(
        "\n[[app]]\nname = \"filler\"\nstop = \"head -c {} /dev/zero > {}\"\nstart = \"true\"\n",
        need / 2,
        filler.display()
    ));
    std::fs::write(&rec.config_file, text).unwrap();
    let fill = disk.free().saturating_sub(leave);
    std::fs::write(&ballast, vec![0u8; fill as usize]).unwrap();
    let j3 = journal_in(work.path(), "journals-copy");
    let o = cli_in(&state, &rec.config_file, &words(&recover_args(&j3)), &[]);
    assert_ne!(o.code, 0, "{}", o.all());
    let all = o.all();
    assert!(filler.exists(), "the filler ran: {all}");
    assert!(
        all.contains("No space left on device") && all.contains("The restore needs about"),
        "{all}"
    );
    assert!(
        all.contains("FAILED: copying") && all.contains("(ENOSPC)"),
        "the copy is what failed: {all}"
    );
    assert!(all.contains("the original data is kept aside in"), "{all}");
    std::fs::remove_file(&ballast).unwrap();
    std::fs::remove_file(&filler).unwrap();
    let o = cli_in(
        &state,
        &rec.config_file,
        &[
            "resume",
            j3.to_str().unwrap(),
            "--action",
            "roll-back",
            "--yes",
        ],
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.all());
    assert_eq!(orders(&rec), rows, "the original runs, as it was");
}

/// The apparent size of the files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let m = std::fs::symlink_metadata(e.path()).unwrap();
        n += if m.is_dir() {
            dir_size(&e.path())
        } else {
            m.len()
        };
    }
    n
}

/// The moves and the journal reach the disk, seen in the system calls the console makes
/// (strace): after moving production's data directory aside, its parent is fsynced before
/// anything else happens there; the journal's directory is fsynced after the journal is
/// created, and each record is fsynced as it is written.
#[test]
fn the_move_aside_and_the_journal_are_fsynced() {
    let (guard, rec) = build(58641, false);
    let j = journal_in(guard.parent.path(), "journals");
    let trace = guard.path("strace.out");
    let out = Command::new("strace")
        // The console's threads, not the programs it starts (a server it leaves running
        // would keep strace waiting).
        .args(["-f", "-qq", "-y", "--detach-on=execve"])
        .args([
            "-e",
            "trace=rename,renameat,renameat2,fsync,fdatasync,openat",
            "-o",
        ])
        .arg(&trace)
        .arg(BIN)
        .arg("--config")
        .arg(&rec.config_file)
        .args(recover_args(&j))
        .env("PITR_CONSOLE_STATE_DIR", guard.path("state"))
        .stdin(Stdio::null())
        .output()
        .expect("strace (scripts/install-test-deps installs it)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&trace).unwrap();
    // `<pid> <call>(...)`: the lines of each thread in order.
    let lines: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.trim_start().split_once(' '))
        .map(|(pid, call)| (pid, call.trim_start()))
        .collect();
    let fsynced_after = |at: usize, pid: &str, dir: &Path| {
        let d = format!("<{}>", dir.display());
        lines[at + 1..]
            .iter()
            .filter(|(p, _)| *p == pid)
            .take(8)
            .any(|(_, call)| call.starts_with("fsync(") && call.contains(&d))
    };
    let pgdata = format!("\"{}\"", rec.pgdata.display());
    let aside = format!("\"{}.pitr-", rec.pgdata.display());
    let moved = lines
        .iter()
        .position(|(_, c)| c.starts_with("rename") && c.contains(&pgdata) && c.contains(&aside))
        .unwrap_or_else(|| panic!("no rename of {pgdata} aside in\n{text}"));
    assert!(
        fsynced_after(moved, lines[moved].0, &rec.dir),
        "{} not fsynced after the move: {:?}",
        rec.dir.display(),
        &lines[moved..(moved + 8).min(lines.len())]
    );
    let real = std::fs::canonicalize(&j).unwrap();
    let journal = format!("\"{}\"", real.display());
    let created = lines
        .iter()
        .position(|(_, c)| {
            c.starts_with("openat(") && c.contains(&journal) && c.contains("O_CREAT")
        })
        .unwrap_or_else(|| panic!("no creation of {journal} in the trace"));
    assert!(
        fsynced_after(created, lines[created].0, real.parent().unwrap()),
        "the journal's directory not fsynced after its creation: {:?}",
        &lines[created..(created + 8).min(lines.len())]
    );
    let records = lines
        .iter()
        .filter(|(_, c)| {
            c.starts_with("fdatasync(") && c.contains(&format!("<{}>", real.display()))
        })
        .count();
    let written = JournalState::read(&j).unwrap().records.len();
    assert!(
        records >= written,
        "{records} fdatasyncs of the journal for {written} records"
    );
}
