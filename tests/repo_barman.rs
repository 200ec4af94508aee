//! A real Barman server (Debian's barman 3.x) backing up a real primary, the console's
//! catalog of it, and recoveries through it: beside production to an instant and to a
//! restore point, then production itself in place, promoted.
//!
//! Barman runs as `postgres` (`barman_user = postgres` in its own config file in the test's
//! temp dir): the primary's archive_command copies into Barman's incoming directory and
//! `barman recover` writes the restored directory the server then owns, all without ssh or
//! sudo. Backups use `backup_method = postgres` (pg_basebackup over the primary's socket).
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod repo_support;

use pitr_console::domain::target::RecoveryTarget;
use repo_support::{tool_present, Primary, BIN, ROWS_AT_BEFORE_DELETE};
use std::time::Instant;

const PORT: u16 = 55810;

fn barman_config(p: &Primary) -> std::path::PathBuf {
    let d = p.dir.display();
    let text = format!(
        "[barman]\nbarman_home = {d}/barman\nbarman_user = postgres\nlog_file = {d}/barman.log\n\
         barman_lock_directory = {d}/barman-lock\ncompression = gzip\npath_prefix = {BIN}\n\n\
         [pg]\ndescription = pitr-console test\nconninfo = host={d} port={PORT} user=postgres dbname=postgres\n\
         streaming_conninfo = host={d} port={PORT} user=postgres\nbackup_method = postgres\n\
         archiver = on\nstreaming_archiver = off\n"
    );
    let path = p.dir.join("barman.conf");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn barman_backs_up_catalogs_and_recovers_to_an_instant() {
    if !tool_present(
        "barman",
        "barman_backs_up_catalogs_and_recovers_to_an_instant",
    ) {
        return;
    }
    let started = Instant::now();
    let dir = format!("/tmp/pitr-repo-barman-{}", std::process::id());
    let incoming = format!("{dir}/barman/pg/incoming");
    let mut p = Primary::new(
        "barman",
        PORT,
        &format!("test ! -f {incoming}/%f && cp %p {incoming}/%f"),
    );
    let cfg = barman_config(&p);
    let barman = |args: &str| repo_support::as_pg(&format!("barman -c {} {args}", cfg.display()));
    repo_support::as_pg(&format!("mkdir -p {incoming} {dir}/barman-lock"));
    p.create_table();
    barman("switch-wal --force --archive --archive-timeout 60 pg");
    barman("backup --wait pg");
    let w = p.workload_after_backup();
    barman("switch-wal --force --archive --archive-timeout 60 pg");
    let setup = started.elapsed();

    let (config_file, config) = p.write_config(&format!(
        "kind = \"barman\"\nbarman_server = \"pg\"\nbarman_user = \"postgres\"\nbarman_config = \"{}\"",
        cfg.display()
    ));
    let (view, catalog_time) =
        repo_support::load_and_check_catalog(&config_file, &config, w.before_delete);

    let t = Instant::now();
    let rows = repo_support::side_recovery(
        &mut p,
        &config,
        &view,
        RecoveryTarget::Time {
            at: w.before_delete,
            inclusive: false,
        },
        PORT + 1,
        "recover",
    )
    .await;
    assert_eq!(rows, ROWS_AT_BEFORE_DELETE, "barman recover to the instant");
    let recover_time = t.elapsed();

    // The same backup restored with --get-wal, WAL fetched by the atomic `barman get-wal`.
    let (_, config) = p.write_config(&format!(
        "kind = \"barman\"\nbarman_server = \"pg\"\nbarman_user = \"postgres\"\nbarman_config = \"{}\"\nrestore_method = \"get-wal\"",
        cfg.display()
    ));
    let t = Instant::now();
    let rows = repo_support::side_recovery(
        &mut p,
        &config,
        &view,
        RecoveryTarget::Name {
            name: "before_delete".into(),
        },
        PORT + 2,
        "get-wal",
    )
    .await;
    assert_eq!(rows, ROWS_AT_BEFORE_DELETE, "get-wal to the restore point");
    let get_wal_time = t.elapsed();

    // Production itself, in place: stopped, moved aside, `barman recover` into its pgdata,
    // paused before the DELETE, promoted. It must archive again afterwards.
    let archive_command = p.psql("show archive_command");
    let (_, config) = p.write_config(&format!(
        "kind = \"barman\"\nbarman_server = \"pg\"\nbarman_user = \"postgres\"\nbarman_config = \"{}\"",
        cfg.display()
    ));
    let t = Instant::now();
    repo_support::recover_in_place_before_delete(&mut p, &config, &view, &w).await;
    assert_eq!(
        p.psql("show archive_command"),
        archive_command,
        "Barman's `archive_command = false` is undone for production"
    );
    eprintln!(
        "barman: setup (cluster, backup, workload) {:.1} s, catalog {:.2} s, side recover+pause {:.1} s, side get-wal recovery {:.1} s, in-place recovery+promote {:.1} s, total {:.1} s",
        setup.as_secs_f64(),
        catalog_time.as_secs_f64(),
        recover_time.as_secs_f64(),
        get_wal_time.as_secs_f64(),
        t.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
