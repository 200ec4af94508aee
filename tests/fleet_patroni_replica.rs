//! Seed 000's quick start through the console: a three-member Patroni cluster on one etcd;
//! the replica pg2 is recovered from the cluster's backups to an instant before a DELETE,
//! made the new leader, and the others (the old leader pg1 and the replica pg3)
//! reinitialised from it onto the new timeline, Patroni resumed. Patroni on pg2 is stopped
//! for the whole recovery (`patroni_stop` / `patroni_start`), so it never rewrites the node.
//! A replica without those keys is refused before anything is touched.
//! Ports 58700-58709. Skipped only when Patroni or etcd is not installed
//! (`scripts/install-fleet-ssh-patroni` installs them).
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod lab_support;
mod patroni_support;

use lab_support::cli;
use patroni_support::{as_pg, installed, wait, Fleet, Ports, BIN};
use pitr_console::domain::patroni::Role;
use pitr_console::engine::journal::{Body, JournalState};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PORTS: Ports = Ports {
    etcd_client: 58700,
    etcd_peer: 58701,
    rest: [58702, 58703, 58704],
    pg: [58705, 58706, 58707],
};

/// The console's configuration for member pg2; `daemon` adds patroni_stop/patroni_start.
fn config(fleet: &Fleet, daemon: bool) -> PathBuf {
    let d = fleet.dir.display();
    let keys = if daemon {
        format!(
            "patroni_stop = \"{}\"\npatroni_start = \"{}\"\n",
            fleet.stop_line(1).replace('"', "\\\""),
            fleet.start_line(1).replace('"', "\\\"")
        )
    } else {
        String::new()
    };
    let text = format!(
        "timezone = \"UTC\"\njournal_dir = \"{d}/journal\"\n\
         [[repository]]\nname = \"db1-backups\"\nkind = \"local\"\nbackups = \"{d}/backups\"\nwal_archive = \"{d}/archive\"\n\
         [[server]]\nname = \"db2\"\nrun_as = \"postgres\"\npgdata = \"{}\"\nbin_dir = \"{BIN}\"\nport = {}\n\
         dsn = \"host={d} port={} user=postgres dbname=postgres\"\nrepository = \"db1-backups\"\n\
         control = \"patroni\"\npatroni_url = \"{}\"\n{keys}",
        fleet.data_dir(1).display(),
        PORTS.pg[1],
        PORTS.pg[1],
        fleet.url(1),
    );
    let path = fleet
        .dir
        .join(if daemon { "site.toml" } else { "bare.toml" });
    std::fs::write(&path, text).unwrap();
    path
}

fn actions(journal: &Path) -> Vec<String> {
    JournalState::read(journal)
        .unwrap()
        .records
        .iter()
        .filter_map(|r| match &r.body {
            Body::Action { action, .. } => Some(action.clone()),
            _ => None,
        })
        .collect()
}

fn newest_journal(dir: &Path) -> PathBuf {
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    all.sort();
    all.pop().expect("a journal")
}

#[test]
fn a_replica_is_recovered_made_leader_and_the_others_rebuilt_from_it() {
    if !installed("patroni") || !installed("etcd") {
        println!("SKIPPED: patroni or etcd not installed; run scripts/install-fleet-ssh-patroni");
        return;
    }
    let t0 = Instant::now();
    let fleet = Fleet::start("replica-patroni", PORTS, 3);
    println!("cluster of 3 up in {:?}", t0.elapsed());
    let d = fleet.dir.display();
    let state = fleet.dir.join("state");
    as_pg(&format!(
        "{BIN}/pg_basebackup -h 127.0.0.1 -p {} -U postgres -D {d}/backups/b1 -Fp -X stream -c fast",
        PORTS.pg[0]
    ));
    let leader = |sql: &str| fleet.psql(PORTS.pg[0], sql);
    leader("create table t(id int primary key, created_at timestamptz not null default clock_timestamp())");
    leader("insert into t(id) select g from generate_series(1, 1000) g");
    std::thread::sleep(Duration::from_millis(1100));
    let at = leader(
        "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || ' UTC'",
    );
    std::thread::sleep(Duration::from_millis(1100));
    leader("delete from t where id <= 400");
    // Far more WAL after the target than Patroni's maximum_lag_on_failover (1 MiB): the
    // recovered node lags the old leader by all of it when the leader hands over.
    leader(
        "create table filler as select g, repeat('x', 400) as pad from generate_series(1, 20000) g",
    );
    let last = leader("select pg_walfile_name(pg_current_wal_lsn())");
    leader("select pg_switch_wal()");
    wait("WAL archived", Duration::from_secs(30), || {
        fleet.dir.join("archive").join(&last).exists()
    });
    assert_eq!(leader("select count(*) from t"), "600");

    // Without patroni_stop/patroni_start the replica is refused before anything changes:
    // a paused Patroni would restart it as a standby of pg1.
    let bare = config(&fleet, false);
    let o = cli(
        &bare,
        &state,
        &[
            "recover", "--server", "db2", "--time", &at, "--action", "promote", "--yes",
        ],
    );
    o.expect(2);
    let said = format!("{}{}", o.stdout, o.stderr);
    assert!(
        said.contains("is a replica of the leader pg1") && said.contains("patroni_stop"),
        "{said}"
    );
    let c = fleet.wait_cluster("nothing changed", Duration::from_secs(5), |_| true);
    assert!(!c.paused, "the refused run left the cluster as it was");
    assert_eq!(fleet.psql(PORTS.pg[1], "select pg_is_in_recovery()"), "t");

    // The plan names the current leader and what becomes of it.
    let site = config(&fleet, true);
    let plan = cli(&site, &state, &["plan", "--server", "db2", "--time", &at]);
    plan.expect(0);
    assert!(
        plan.stdout.contains("current leader pg1") && plan.stdout.contains("POST /failover"),
        "{}",
        plan.stdout
    );

    let started = Instant::now();
    let o = cli(
        &site,
        &state,
        &[
            "recover", "--server", "db2", "--time", &at, "--action", "promote", "--yes",
        ],
    );
    let took = started.elapsed();
    assert_eq!(o.code, 0, "{}\n{}\n{}", o.stdout, o.stderr, fleet.logs());
    println!("replica PITR with handover took {took:?}");

    let c = fleet.wait_cluster_at(
        1,
        "pg2 leading, pg1 and pg3 streaming on its timeline",
        Duration::from_secs(120),
        |c| {
            let tli = c.leader().and_then(|l| l.timeline);
            !c.paused
                && c.leader().is_some_and(|l| l.name == "pg2")
                && ["pg1", "pg3"].iter().all(|n| {
                    c.member(n).is_some_and(|m| {
                        m.role == Role::Replica
                            && m.timeline == tli
                            && matches!(m.state.as_str(), "running" | "streaming")
                    })
                })
        },
    );
    let tli = c.leader().and_then(|l| l.timeline).unwrap();
    assert!(tli >= 2, "a new timeline: {tli}");
    assert_eq!(fleet.psql(PORTS.pg[1], "select pg_is_in_recovery()"), "f");
    for port in PORTS.pg {
        wait("rows replicated", Duration::from_secs(30), || {
            fleet.psql(port, "select count(*) from t") == "1000"
        });
    }

    let journal = newest_journal(&fleet.dir.join("journal"));
    let done = actions(&journal);
    let url = |i: usize| fleet.url(i);
    for want in [
        format!("PATCH {}/config {{\"pause\": true}}", url(1)),
        fleet.stop_line(1),
        format!("POST {}/failover {{\"candidate\": \"pg2\"}}", url(1)),
        fleet.start_line(1),
        format!("POST {}/reinitialize", url(0)),
        format!("POST {}/reinitialize", url(2)),
        format!("PATCH {}/config {{\"pause\": false}}", url(1)),
    ] {
        assert!(
            done.iter().any(|a| a.contains(&want)),
            "`{want}` not journaled: {done:#?}"
        );
    }
    let at_stop = done.iter().position(|a| a.contains(&fleet.stop_line(1)));
    let at_start = done.iter().position(|a| a.contains(&fleet.start_line(1)));
    let at_promote = done.iter().position(|a| a.contains("pg_wal_replay_resume"));
    assert!(
        at_stop < at_promote && at_promote < at_start,
        "Patroni was down on pg2 from before the restore until after the promotion: {done:#?}"
    );
}
