//! A damaged backup in a Barman or pgBackRest repository is refused in preflight, by the
//! tool's own verification (`barman verify-backup` / `check-backup`, `pgbackrest verify`),
//! before production is touched, with what is wrong and the older backup that would do.
//!
//! Each repository holds two backups of the same primary; the newer one loses the table's
//! data file inside the repository, as a disk error or a careless cleanup would. Ports
//! 58110-58129.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod repo_support;

use repo_support::{as_pg, tool_present, Primary};
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_pitr-console");

/// `pitr-console --config CONFIG recover --server db1 --name before_delete --yes`, with
/// the test's own state directory: (exit code, stdout and stderr).
fn recover(p: &Primary, config: &Path) -> (i32, String) {
    std::fs::create_dir_all(p.dir.join("journal")).unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args([
            "recover",
            "--server",
            "db1",
            "--name",
            "before_delete",
            "--yes",
            "--journal",
        ])
        .arg(p.dir.join("journal").join("run.jsonl"))
        .env("PITR_CONSOLE_STATE_DIR", p.dir.join("state"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "$ pitr-console recover ... -> {:?}\n{all}",
        out.status.code()
    );
    (out.status.code().unwrap_or(-1), all)
}

/// Production as it was: the rows, still a primary, nothing moved aside beside it.
fn untouched(p: &Primary, rows: i64) {
    assert_eq!(p.count_at(p.port), rows, "production's rows");
    assert_eq!(p.psql("select pg_is_in_recovery()"), "f");
    let aside: Vec<String> = std::fs::read_dir(&p.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pg.pitr-") && !n.ends_with(".log"))
        .collect();
    assert!(aside.is_empty(), "moved aside: {aside:?}");
}

#[test]
fn barman_refuses_its_damaged_backup_and_names_the_older_one() {
    if !tool_present(
        "barman",
        "barman_refuses_its_damaged_backup_and_names_the_older_one",
    ) {
        return;
    }
    const PORT: u16 = 58110;
    let dir = format!("/tmp/pitr-repo-barmanverify-{}", std::process::id());
    let incoming = format!("{dir}/barman/pg/incoming");
    let p = Primary::new(
        "barmanverify",
        PORT,
        &format!("test ! -f {incoming}/%f && cp %p {incoming}/%f"),
    );
    let cfg = format!("{dir}/barman.conf");
    std::fs::write(
        &cfg,
        format!(
            "[barman]\nbarman_home = {dir}/barman\nbarman_user = postgres\nlog_file = {dir}/barman.log\n\
             barman_lock_directory = {dir}/barman-lock\ncompression = gzip\npath_prefix = {}\n\n\
             [pg]\ndescription = pitr-console test\nconninfo = host={dir} port={PORT} user=postgres dbname=postgres\n\
             streaming_conninfo = host={dir} port={PORT} user=postgres\nbackup_method = postgres\n\
             archiver = on\nstreaming_archiver = off\n",
            repo_support::BIN
        ),
    )
    .unwrap();
    let barman = |args: &str| as_pg(&format!("barman -c {cfg} {args}"));
    as_pg(&format!("mkdir -p {incoming} {dir}/barman-lock"));
    p.create_table();
    barman("switch-wal --force --archive --archive-timeout 60 pg");
    barman("backup --wait pg");
    barman("backup --wait pg");
    let ids = barman("list-backups --minimal pg");
    let ids: Vec<&str> = ids.lines().map(str::trim).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    let (newer, older) = (ids[0], ids[1]);
    p.workload_after_backup();
    barman("switch-wal --force --archive --archive-timeout 60 pg");
    let (config, _) = p.write_config(&format!(
        "kind = \"barman\"\nbarman_server = \"pg\"\nbarman_user = \"postgres\"\nbarman_config = \"{cfg}\""
    ));
    let rows = p.count_at(PORT);

    let file = p.psql("select pg_relation_filepath('t')");
    let damaged = format!("{dir}/barman/pg/base/{newer}/data/{file}");
    std::fs::remove_file(&damaged).unwrap_or_else(|e| panic!("{damaged}: {e}"));
    let (code, out) = recover(&p, &config);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains(&format!("backup {newer} is damaged")),
        "the damaged backup is named: {out}"
    );
    assert!(
        out.contains("verify-backup pg"),
        "Barman's check is named: {out}"
    );
    assert!(
        out.contains(&file),
        "what is wrong, in Barman's words: {out}"
    );
    assert!(out.contains("Nothing was changed"), "{out}");
    assert!(out.contains(older), "the older backup is offered: {out}");
    untouched(&p, rows);
}

#[test]
fn pgbackrest_refuses_a_damaged_repository_and_names_the_older_backup() {
    if !tool_present(
        "pgbackrest",
        "pgbackrest_refuses_a_damaged_repository_and_names_the_older_backup",
    ) {
        return;
    }
    const PORT: u16 = 58120;
    let dir = format!("/tmp/pitr-repo-pgbrverify-{}", std::process::id());
    let cfg = format!("{dir}/pgbackrest.conf");
    let p = Primary::new(
        "pgbrverify",
        PORT,
        &format!("pgbackrest --config={cfg} --stanza=main archive-push %p"),
    );
    std::fs::write(
        &cfg,
        format!(
            "[global]\nrepo1-path={dir}/repo\nlog-path={dir}/pgbr-log\nlock-path={dir}/pgbr-lock\n\
             spool-path={dir}/pgbr-spool\nlog-level-console=warn\nlog-level-file=off\nstart-fast=y\n\
             compress-type=gz\nrepo1-retention-full=2\n\n\
             [main]\npg1-path={dir}/pg\npg1-port={PORT}\npg1-socket-path={dir}\npg1-user=postgres\n"
        ),
    )
    .unwrap();
    let pgbackrest = |args: &str| as_pg(&format!("pgbackrest --config={cfg} --stanza=main {args}"));
    as_pg(&format!(
        "mkdir -p {dir}/repo {dir}/pgbr-log {dir}/pgbr-lock {dir}/pgbr-spool"
    ));
    p.create_table();
    pgbackrest("stanza-create");
    pgbackrest("--type=full backup");
    pgbackrest("--type=full backup");
    let labels = as_pg(&format!("ls {dir}/repo/backup/main"));
    let mut labels: Vec<&str> = labels.lines().filter(|l| l.ends_with('F')).collect();
    labels.sort();
    assert_eq!(labels.len(), 2, "{labels:?}");
    let (older, newer) = (labels[0], labels[1]);
    p.workload_after_backup();
    p.switch_and_wait_archived();
    let (config, _) = p.write_config(&format!(
        "kind = \"pgbackrest\"\nstanza = \"main\"\npgbackrest_config = \"{cfg}\"\npgbackrest_user = \"postgres\""
    ));
    let rows = p.count_at(PORT);

    // The table's file in the newer backup overwritten with other bytes of the same kind.
    let file = p.psql("select pg_relation_filepath('t')");
    let damaged = format!("{dir}/repo/backup/main/{newer}/pg_data/{file}.gz");
    as_pg(&format!("echo damaged | gzip > {damaged}"));
    let (code, out) = recover(&p, &config);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains(&format!("backup {newer} is damaged")),
        "the damaged backup is named: {out}"
    );
    assert!(out.contains("verify"), "pgBackRest's check is named: {out}");
    assert!(
        out.contains(&format!("backup: {newer}, status: invalid"))
            && out.contains("checksum invalid: 1"),
        "what is wrong, in pgBackRest's words: {out}"
    );
    assert!(out.contains("Nothing was changed"), "{out}");
    assert!(out.contains(older), "the older backup is offered: {out}");
    untouched(&p, rows);
}
