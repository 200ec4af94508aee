//! A small repository with fixed times for the console's tests: timeline 1 with a two-segment
//! gap, timeline 2 forked from it, four backups, and three servers (up, down, failing archiver).

#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use pitr_console::adapters::catalog::RepositoryView;
use pitr_console::app::transactions::TxList;
use pitr_console::app::{update, App, Msg};
use pitr_console::config::{Config, Role};
use pitr_console::domain::backup::{Backup, BackupFormat};
use pitr_console::domain::catalog::{ArchivedSegment, Catalog, Compression};
use pitr_console::domain::lsn::Lsn;
use pitr_console::domain::patroni::{Lag, Member, Role as PatroniRole};
use pitr_console::domain::segment::{SegmentSize, WalSegment};
use pitr_console::domain::server_status::{
    ArchiverStats, PatroniState, ServerFacts, ServerState, ServerStatus,
};
use pitr_console::domain::timeline::{TimelineHistory, TimelineId};
use pitr_console::domain::zone::Zone;
use pitr_console::wal::{RelFileNode, RelationTouch, RestorePoint, TxEnd, XactKind};
use std::path::Path;

pub const CONFIG: &str = r#"
timezone = "Europe/Berlin"
[[repository]]
name = "archive"
kind = "local"
backups = "/srv/backups"
wal_archive = "/srv/wal"
[[server]]
name = "db1"
pgdata = "/var/lib/postgresql/15/main"
dsn = "host=/tmp port=5432"
repository = "archive"
[[server]]
name = "db2"
pgdata = "/var/lib/postgresql/15/main"
dsn = "host=db2 port=5432"
repository = "archive"
[[server]]
name = "db3"
pgdata = "/var/lib/postgresql/15/main"
dsn = "host=db3 port=5432"
repository = "archive"
"#;

/// 2024-03-01 11:00:00 UTC, 12:00 in Berlin.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 11, 0, 0).unwrap()
}

pub fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

pub fn berlin() -> Zone {
    "Europe/Berlin".parse().unwrap()
}

/// Segment `n` is written during minute `n` after t0 and archived when it ends.
fn seg(tli: u32, n: u64) -> ArchivedSegment {
    let s = WalSegment::new(TimelineId(tli), n);
    ArchivedSegment {
        segment: s,
        file_name: s.file_name(SegmentSize::DEFAULT),
        compression: Compression::None,
        partial: false,
        size_bytes: SegmentSize::DEFAULT.bytes(),
        archived_at: Some(at(60 * (n as i64 + 1))),
    }
}

fn backup(id: &str, tli: u32, start_seg: u64, stop_seg: u64) -> Backup {
    let size = SegmentSize::DEFAULT.bytes();
    Backup {
        id: id.into(),
        label: None,
        format: BackupFormat::Plain,
        location: format!("/srv/backups/{id}"),
        timeline: TimelineId(tli),
        start_lsn: Lsn(start_seg * size + 40),
        stop_lsn: Lsn(stop_seg * size + 256),
        start_time: at(60 * start_seg as i64 + 1),
        stop_time: at(60 * stop_seg as i64 + 2),
        stop_time_exact: true,
        segment_size: SegmentSize::DEFAULT,
        system_identifier: None,
        size_bytes: None,
        manifest_wal_ranges: vec![],
        has_manifest: true,
        pg_major: None,
        incremental: None,
    }
}

/// Timeline 1: segments 1..=60 without 30 and 31. Timeline 2 forks inside segment 45 and
/// runs to 70. Backups b1 (segments 2-3), b2 (20-21), b3 (40-41) on 1, b4 (55-56) on 2.
pub fn catalog() -> Catalog {
    let mut segments: Vec<_> = (1..=60)
        .filter(|n| !(30..=31).contains(n))
        .map(|n| seg(1, n))
        .collect();
    segments.extend((45..=70).map(|n| seg(2, n)));
    Catalog {
        repository: "archive".into(),
        segment_size: SegmentSize::DEFAULT,
        backups: vec![
            backup("b1", 1, 2, 3),
            backup("b2", 1, 20, 21),
            backup("b3", 1, 40, 41),
            backup("b4", 2, 55, 56),
        ],
        segments,
        histories: vec![TimelineHistory::parse(
            TimelineId(2),
            "1\t0/2D000100\tbefore 2024-03-01 11:45:00+00\n",
        )
        .unwrap()],
        warnings: vec![],
        damaged: Vec::new(),
    }
}

pub fn config() -> Config {
    pitr_console::config::load::parse(Path::new("fixture.toml"), CONFIG).unwrap()
}

fn up(name: &str, failed: i64) -> ServerStatus {
    ServerStatus {
        server: name.into(),
        checked_at: at(4300),
        state: ServerState::Up(ServerFacts {
            in_recovery: false,
            timeline: Some(TimelineId(2)),
            lsn: Some(Lsn(70 * SegmentSize::DEFAULT.bytes() + 0x1234)),
            archiver: ArchiverStats {
                last_archived_wal: Some("000000020000000000000045".into()),
                last_archived_time: Some(at(4260)),
                failed_count: failed,
                last_failed_wal: (failed > 0).then(|| "000000020000000000000046".into()),
                last_failed_time: (failed > 0).then(|| at(4290)),
            },
        }),
        patroni: None,
    }
}

/// db1's probe: a primary whose archive ends with segment 0x45.
pub fn db1_status() -> ServerStatus {
    up("db1", 0)
}

/// What db1's pg_wal holds past the archive: one DELETE of 1200 orders at 13:11:10.
pub fn unarchived_delete() -> pitr_console::wal::TailRead {
    let from = Lsn(70 * SegmentSize::DEFAULT.bytes());
    pitr_console::wal::TailRead {
        tx_ends: vec![TxEnd {
            timeline: TimelineId(2),
            lsn: Lsn(from.0 + 0x1000),
            end: Lsn(from.0 + 0x1030),
            xid: 951,
            time_us: at(4450).timestamp_micros(),
            kind: XactKind::Commit,
            records: 1201,
            bytes: 1_800_000,
            rel_start: 0,
            rel_len: 1,
            more_relations: false,
        }],
        relations: vec![RelationTouch {
            node: RelFileNode {
                spc: 1663,
                db: 16384,
                rel: 16385,
            },
            blocks: 40,
        }],
        restore_points: vec![],
        from,
        upto: Lsn(from.0 + 0x1234),
        read_to: Lsn(from.0 + 0x1234),
    }
}

/// db1 as the leader of a two-member Patroni cluster whose replica lags.
pub fn patroni_status() -> ServerStatus {
    let member = |name: &str, role: &str, lag: Lag| Member {
        name: name.into(),
        role: PatroniRole::parse(role),
        state: if role == "leader" {
            "running"
        } else {
            "streaming"
        }
        .into(),
        timeline: Some(2),
        lag,
        host: Some("10.0.0.1".into()),
        port: Some(5432),
        api_url: None,
    };
    ServerStatus {
        patroni: Some(PatroniState::Cluster {
            members: vec![
                member("pg-a", "leader", Lag::None),
                member("pg-b", "replica", Lag::Bytes(3 * 1024 * 1024)),
            ],
            paused: false,
        }),
        ..up("db1", 0)
    }
}

/// An app at `width` x `height` with the catalog and three server statuses loaded.
pub fn app(width: u16, height: u16) -> App {
    let mut app = App::new(
        &config(),
        "fixture.toml (--config)".into(),
        Role::Operator,
        berlin(),
        Some("America/New_York".parse().unwrap()),
    );
    app.start(at(4300));
    update(&mut app, Msg::Resize { width, height });
    update(
        &mut app,
        Msg::CatalogLoaded {
            repository: "archive".into(),
            result: Ok(RepositoryView::estimated(catalog())),
        },
    );
    update(&mut app, Msg::ServerStatus(up("db1", 0)));
    update(
        &mut app,
        Msg::ServerStatus(ServerStatus {
            server: "db2".into(),
            checked_at: at(4300),
            state: ServerState::Down {
                error:
                    "cannot connect: error connecting to server: Connection refused (os error 111)"
                        .into(),
            },
            patroni: None,
        }),
    );
    update(&mut app, Msg::ServerStatus(up("db3", 3)));
    update(&mut app, Msg::Health(Box::new(db1_health())));
    app
}

/// What `check` finds on db1: the newest backup too old (db3's check has not come back).
pub fn db1_health() -> pitr_console::planning::health::ServerHealth {
    use pitr_console::domain::health::{Finding, Level, Probe};
    pitr_console::planning::health::ServerHealth {
        server: "db1".into(),
        repository: "archive".into(),
        level: Level::Warning,
        findings: vec![
            Finding {
                probe: Probe::Archiver,
                level: Level::Ok,
                text: "archiver ok".into(),
            },
            Finding {
                probe: Probe::NewestBackup,
                level: Level::Warning,
                text: "the newest backup, b4, is 26 h old (warning above 25 h)".into(),
            },
        ],
    }
}

pub fn key(app: &mut App, code: crossterm::event::KeyCode) -> Vec<pitr_console::app::Cmd> {
    update(
        app,
        Msg::Key(crossterm::event::KeyEvent::new(
            code,
            crossterm::event::KeyModifiers::NONE,
        )),
    )
}

pub fn chars(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, crossterm::event::KeyCode::Char(c));
    }
}

/// Types an instant after `t` and presses Enter.
pub fn go_to(app: &mut App, instant: &str) {
    key(app, crossterm::event::KeyCode::Char('t'));
    chars(app, instant);
    key(app, crossterm::event::KeyCode::Enter);
}

/// Instant of the fixture's transaction number `k` (not on whole seconds).
pub fn tx_time(k: i64) -> DateTime<Utc> {
    at(3000 + 7 * k) + Duration::microseconds(123_456 + k)
}

/// The position an instant's estimate points at: segment n is written during minute n.
fn lsn_for(time: DateTime<Utc>) -> Lsn {
    let size = SegmentSize::DEFAULT.bytes();
    let us = (time - t0()).num_microseconds().unwrap() as u64;
    Lsn(us * size / 60_000_000)
}

/// The incident of the fixture log: transaction 7 deletes 1990 rows of relation 16385.
pub const BIG_XID: u32 = 807;

/// Twenty transactions on timeline 2 (xid 800 + k, every 7 s from 11:50), one abort
/// (k = 4), one big DELETE (k = 7), and a restore point between k = 9 and 10.
pub fn tx_list() -> TxList {
    let orders = RelFileNode {
        spc: 1663,
        db: 16384,
        rel: 16385,
    };
    let other = RelFileNode {
        spc: 1663,
        db: 16384,
        rel: 16390,
    };
    let relations = vec![
        RelationTouch {
            node: orders,
            blocks: 3,
        },
        RelationTouch {
            node: other,
            blocks: 1,
        },
    ];
    let tx_ends = (0..20)
        .map(|k| {
            let time = tx_time(k);
            let lsn = lsn_for(time);
            let big = k == 7;
            TxEnd {
                timeline: TimelineId(2),
                lsn,
                end: Lsn(lsn.0 + 40),
                xid: 800 + k as u32,
                time_us: time.timestamp_micros(),
                kind: if k == 4 {
                    XactKind::Abort
                } else {
                    XactKind::Commit
                },
                records: if big { 1990 } else { 3 },
                bytes: if big { 3_000_000 } else { 400 },
                rel_start: if k % 3 == 0 { 1 } else { 0 },
                rel_len: if big { 1 } else { 2 - (k % 3 == 0) as u32 },
                more_relations: false,
            }
        })
        .collect();
    let point = tx_time(9) + Duration::seconds(3);
    TxList {
        tx_ends,
        relations,
        restore_points: vec![RestorePoint {
            timeline: TimelineId(2),
            lsn: lsn_for(point),
            end: Lsn(lsn_for(point).0 + 40),
            name: "before_batch".into(),
            time_us: point.timestamp_micros(),
        }],
    }
}

/// The fixture app with `tx_list` as the repository's commit log.
pub fn app_with_log(width: u16, height: u16) -> App {
    let mut app = app(width, height);
    app.transactions
        .attach(0, Some(std::sync::Arc::new(tx_list())));
    app
}
