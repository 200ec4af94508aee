//! More of issue 11's attacks, against a real lab: tablespace links in backups that say
//! little of their tablespaces (no manifest; a tablespace_map only inside base.tar). Each is
//! refused before anything is written through the link, and a full listing before and after
//! shows nothing written outside the console's and the server's directories.
//! Ports 58660-58679.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;

use lab_support::{build, cli, written_by_design, Listing};
use std::path::{Path, PathBuf};
use std::process::Command;

fn sh(cmd: &str) {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        out.status.success(),
        "`{cmd}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tablespace_links_of_a_backup_without_manifest_are_held_to_productions_and_to_its_tar_map() {
    let (mut guard, rec) = build(58661, false);
    let state = guard.path("state");
    std::fs::create_dir(&state).unwrap();
    let (plain, tar) = (rec.backups[0].path.clone(), rec.backups[1].path.clone());
    assert!(tar.join("base.tar.gz").exists(), "{tar:?}");
    let victims = guard.path("victims");
    let ts = victims.join("tablespace");
    let mapped = victims.join("mapped");
    std::fs::create_dir_all(&ts).unwrap();
    std::fs::create_dir_all(&mapped).unwrap();
    let aside = guard.path("aside");
    std::fs::create_dir(&aside).unwrap();
    for b in [&plain, &tar] {
        let name = b.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::rename(
            b.join("backup_manifest"),
            aside.join(format!("{name}-manifest")),
        )
        .unwrap();
    }
    // A plain backup without its manifest, holding a tablespace link production never had.
    std::os::unix::fs::symlink(&ts, plain.join("pg_tblspc/16999")).unwrap();
    // The tar backup's base.tar.gz repacked (as anyone who can write the repository can)
    // with a tablespace_map inside and a link to somewhere else than the map says.
    let unpacked = guard.path("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    sh(&format!(
        "tar -xzf {tar}/base.tar.gz -C {u} && printf '16385 %s\\n' {m} > {u}/tablespace_map && ln -s {t} {u}/pg_tblspc/16385 && cd {u} && tar -czf {tar}/base.tar.gz *",
        tar = tar.display(),
        u = unpacked.display(),
        m = mapped.display(),
        t = ts.display(),
    ));
    std::fs::remove_dir_all(&unpacked).unwrap();
    let sides: Vec<PathBuf> = (1..=2).map(|n| guard.path(&format!("side{n}"))).collect();
    for s in &sides {
        guard.side(s);
    }
    let mut owned = written_by_design(&rec);
    owned.extend([state.clone(), guard.path("side"), rec.backups_dir.clone()]);
    let before = Listing::take(guard.parent.path(), &owned);

    let attempt = |side: &Path, name: &str| {
        let side = side.display().to_string();
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
                name,
                "--restore-to",
                &side,
                "--port",
                "58662",
                "--allow-unverified-backup",
            ],
        );
        assert_ne!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
        assert_eq!(std::fs::read_dir(&ts).unwrap().count(), 0);
        assert_eq!(std::fs::read_dir(&mapped).unwrap().count(), 0);
        if let Some(j) = o
            .stdout
            .lines()
            .find_map(|l| l.split_once(" steps. Journal: "))
        {
            cli(&rec.config_file, &state, &["abandon", j.1.trim()]);
        }
        format!("{}\n{}", o.stdout, o.stderr)
    };

    let all = attempt(&sides[0], "before_batch");
    assert!(
        all.contains("backup backup1-plain's pg_tblspc/16999")
            && all.contains("does not restore tablespaces yet")
            && all.contains("Nothing was changed"),
        "{all}"
    );
    let all = attempt(&sides[1], "before_cleanup");
    assert!(
        all.contains("pg_tblspc/16385")
            && all.contains(&format!(
                "the backup's tablespace_map puts tablespace 16385 at {}",
                mapped.display()
            )),
        "the map inside base.tar decides: {all}"
    );
    Listing::take(guard.parent.path(), &owned)
        .assert_unchanged_since(&before, "tablespace links of backups that say little");
}

/// A server with a real tablespace (CREATE TABLESPACE on the lab): a recovery in place and
/// one beside production are refused in preflight, naming the tablespace, before anything
/// moves; the tablespace's directory and production's data stay exactly as they were. Replay
/// would otherwise recreate the link from tablespace_map, or empty the location replaying
/// CREATE TABLESPACE, in production's own tablespace directory.
#[test]
fn a_server_with_a_tablespace_is_refused_in_place_and_beside_before_anything_moves() {
    let (mut guard, rec) = build(58665, false);
    let state = guard.path("state");
    std::fs::create_dir(&state).unwrap();
    let ts = guard.path("ts");
    std::fs::create_dir(&ts).unwrap();
    sh(&format!("chown postgres: {}", ts.display()));
    lab_support::psql(
        &rec,
        rec.port,
        &format!("create tablespace lab_ts location '{}'", ts.display()),
    );
    lab_support::psql(
        &rec,
        rec.port,
        "create table in_ts (id int) tablespace lab_ts; insert into in_ts select generate_series(1, 100); checkpoint",
    );
    let side = guard.path("side1");
    guard.side(&side);
    let mut owned = written_by_design(&rec);
    owned.extend([state.clone(), guard.path("side"), rec.backups_dir.clone()]);
    let before = Listing::take(guard.parent.path(), &owned);
    let pgdata = lab_support::fingerprint(&rec.pgdata);
    // Every file of the tablespace with its size and modification time.
    let tree = |dir: &Path| {
        let out = Command::new("find")
            .arg(dir)
            .args(["-printf", "%P %s %T@\\n"])
            .output()
            .unwrap();
        let mut lines: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    let ts_files = tree(&ts);
    assert!(ts_files.len() > 3, "{ts_files:?}");
    let side_text = side.display().to_string();
    for args in [
        vec![
            "recover",
            "--server",
            "lab",
            "--name",
            "before_batch",
            "--yes",
        ],
        vec![
            "recover",
            "--server",
            "lab",
            "--name",
            "before_batch",
            "--restore-to",
            &side_text,
            "--port",
            "58666",
            "--yes",
        ],
    ] {
        let o = cli(&rec.config_file, &state, &args);
        assert_ne!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
        let all = format!("{}\n{}", o.stdout, o.stderr);
        assert!(
            all.contains("production's tablespace")
                && all.contains(&ts.display().to_string())
                && all.contains("does not restore tablespaces yet"),
            "{all}"
        );
        assert_eq!(
            lab_support::fingerprint(&rec.pgdata),
            pgdata,
            "production untouched"
        );
        assert_eq!(tree(&ts), ts_files, "tablespace untouched");
        assert!(lab_support::moved_aside(&rec).is_empty());
        if let Some(j) = o
            .stdout
            .lines()
            .find_map(|l| l.split_once(" steps. Journal: "))
        {
            cli(&rec.config_file, &state, &["abandon", j.1.trim()]);
        }
    }
    assert_eq!(
        lab_support::psql(&rec, rec.port, "select count(*) from in_ts"),
        "100"
    );
    Listing::take(guard.parent.path(), &owned)
        .assert_unchanged_since(&before, "a server with a tablespace");
}
