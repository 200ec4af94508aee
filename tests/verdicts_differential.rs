//! The console's verdicts against PostgreSQL 15 itself (issue #9): forks, a fork from a
//! fork, a fork before an earlier fork, idle stretches, a gap, a gzip archive; every target
//! planned by the console and restored by the harness (differential_support/scenario.rs).
//!
//! Ports 57100-57199.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod differential_support;

#[test]
fn verdicts_agree_with_postgresql_on_every_timeline_window_edge_and_gap() {
    differential_support::scenario::verdicts_agree_with_postgresql(57100);
}
