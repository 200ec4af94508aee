//! The same differential test on PostgreSQL 18 (issue #13: the verdicts on every version the
//! WAL reader knows): its WAL page magic, its initdb defaults (data checksums on), its
//! recovery. Binaries from scripts/install-pg-versions; without them the test says SKIPPED
//! loudly, and fails under CI.
//!
//! Ports 58400-58499.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod differential_support;

#[test]
fn verdicts_agree_with_postgresql_18_on_every_timeline_window_edge_and_gap() {
    let bin = match pitr_console::lab::binaries::PgBinaries::for_major(18) {
        Ok(b) => b,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("PostgreSQL 18 is not installed under CI: {e}")
        }
        Err(e) => {
            eprintln!(
                "\n*** SKIPPED: PostgreSQL 18 not installed ({e}); run scripts/install-pg-versions ***\n"
            );
            return;
        }
    };
    // Before any thread or child exists: the harness reads it for every program it runs.
    std::env::set_var("PITR_DIFFERENTIAL_PG_BIN", &bin.dir);
    differential_support::scenario::verdicts_agree_with_postgresql(58400);
}
