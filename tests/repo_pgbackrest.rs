//! A real pgBackRest repository (Debian's pgbackrest 2.x, repository on local disk) holding
//! a real primary's backup and WAL, the console's catalog of it, and recoveries to an
//! instant (`pgbackrest restore --type=time`) and to the last LSN written (`--type=none` plus
//! the console's own `restore_command = pgbackrest archive-get`), then production itself in
//! place, promoted.
//!
//! pgBackRest runs as `postgres` with `--config` pointing into the test's temp dir: it is
//! the database host's tool, run by the cluster's owner, and the temp config keeps tests
//! off /etc/pgbackrest.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod repo_support;

use pitr_console::domain::target::RecoveryTarget;
use repo_support::{tool_present, Primary, ROWS_AT_BEFORE_DELETE};
use std::time::Instant;

const PORT: u16 = 55820;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbackrest_backs_up_catalogs_and_recovers_to_an_instant() {
    if !tool_present(
        "pgbackrest",
        "pgbackrest_backs_up_catalogs_and_recovers_to_an_instant",
    ) {
        return;
    }
    let started = Instant::now();
    let dir = format!("/tmp/pitr-repo-pgbackrest-{}", std::process::id());
    let cfg = format!("{dir}/pgbackrest.conf");
    let mut p = Primary::new(
        "pgbackrest",
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
    let pgbackrest = |args: &str| {
        repo_support::as_pg(&format!("pgbackrest --config={cfg} --stanza=main {args}"))
    };
    repo_support::as_pg(&format!(
        "mkdir -p {dir}/repo {dir}/pgbr-log {dir}/pgbr-lock {dir}/pgbr-spool"
    ));
    p.create_table();
    pgbackrest("stanza-create");
    pgbackrest("--type=full backup");
    let w = p.workload_after_backup();
    let end_lsn = p.psql("select pg_current_wal_lsn()");
    p.switch_and_wait_archived();
    let setup = started.elapsed();

    let (config_file, config) = p.write_config(&format!(
        "kind = \"pgbackrest\"\nstanza = \"main\"\npgbackrest_config = \"{cfg}\"\npgbackrest_user = \"postgres\""
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
        "restore",
    )
    .await;
    assert_eq!(
        rows, ROWS_AT_BEFORE_DELETE,
        "pgbackrest restore to the instant"
    );
    let restore_time = t.elapsed();

    let (_, config) = p.write_config(&format!(
        "kind = \"pgbackrest\"\nstanza = \"main\"\npgbackrest_config = \"{cfg}\"\nrestore_method = \"archive-get\""
    ));
    let t = Instant::now();
    let rows = repo_support::side_recovery(
        &mut p,
        &config,
        &view,
        RecoveryTarget::Lsn {
            lsn: end_lsn.parse().unwrap(),
            inclusive: true,
        },
        PORT + 2,
        "archive-get",
    )
    .await;
    assert_eq!(
        rows,
        repo_support::ROWS_AT_END,
        "archive-get to the end LSN"
    );
    let archive_get_time = t.elapsed();

    // Production itself, in place: restored by pgBackRest into its pgdata, promoted.
    let (_, config) = p.write_config(&format!(
        "kind = \"pgbackrest\"\nstanza = \"main\"\npgbackrest_config = \"{cfg}\""
    ));
    let t = Instant::now();
    repo_support::recover_in_place_before_delete(&mut p, &config, &view, &w).await;
    eprintln!(
        "pgbackrest: setup (cluster, stanza, backup, workload) {:.1} s, catalog {:.2} s, side restore+pause {:.1} s, side archive-get recovery {:.1} s, in-place recovery+promote {:.1} s, total {:.1} s",
        setup.as_secs_f64(),
        catalog_time.as_secs_f64(),
        restore_time.as_secs_f64(),
        archive_get_time.as_secs_f64(),
        t.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
