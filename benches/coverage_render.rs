//! Issue 2's benchmark: a synthetic catalog of 1,000 backups and 1,000,000 segments over 3
//! timelines with 100 gaps. Prints coverage computation time, the console's preparation
//! (coverage + column buckets), per-keypress costs, the timeline frame render time at
//! 160x48 (average of 100 frames), and peak memory. Targets: coverage < 200 ms, render
//! < 5 ms a frame, memory < 200 MB.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pitr_console::adapters::catalog::RepositoryView;
use pitr_console::app::{buckets, update, App, Msg};
use pitr_console::config::{Config, RepositoryConfig, RepositoryKind, Role};
use pitr_console::domain::backup::{Backup, BackupFormat};
use pitr_console::domain::catalog::{ArchivedSegment, Catalog, Compression};
use pitr_console::domain::coverage;
use pitr_console::domain::lsn::Lsn;
use pitr_console::domain::segment::{SegmentSize, WalSegment};
use pitr_console::domain::timeline::{TimelineHistory, TimelineId};
use pitr_console::domain::times::EstimatedTimes;
use pitr_console::domain::zone::Zone;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::Instant;

const SEGMENTS: u64 = 1_000_000;
const BACKUPS: u64 = 1_000;
const GAPS: u64 = 100;
/// Timeline 2 forks from 1 here, timeline 3 from 2 at `FORK_3` (segment numbers).
const FORK_2: u64 = 350_000;
const FORK_3: u64 = 650_000;
/// Timeline 1 and 2 go on a while after their children fork, as old primaries do.
const OVERLAP: u64 = 50_000;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

fn owner(n: u64) -> u32 {
    if n < FORK_2 {
        1
    } else if n < FORK_3 {
        2
    } else {
        3
    }
}

fn catalog() -> Catalog {
    let size = SegmentSize::DEFAULT;
    // The segments each timeline holds, so that the total is exactly SEGMENTS.
    let tl3_end = SEGMENTS - 2 * OVERLAP;
    // Timeline 3 runs GAPS segments longer to make up for the missing ones.
    let ranges = [
        (1u32, 0u64, FORK_2 + OVERLAP),
        (2, FORK_2, FORK_3 + OVERLAP),
        (3, FORK_3, tl3_end + GAPS),
    ];
    let gap_every = tl3_end / GAPS;
    let missing = |n: u64| n % gap_every == gap_every / 2;
    let mut segments = Vec::with_capacity(SEGMENTS as usize);
    for (tli, from, to) in ranges {
        for n in from..to {
            if owner(n) == tli && missing(n) {
                continue;
            }
            let s = WalSegment::new(TimelineId(tli), n);
            segments.push(ArchivedSegment {
                segment: s,
                file_name: s.file_name(size),
                compression: Compression::None,
                partial: false,
                size_bytes: size.bytes(),
                archived_at: Some(t0() + Duration::seconds(10 * (n as i64 + 1) + i64::from(tli))),
            });
        }
    }
    let backups = (0..BACKUPS)
        .map(|i| {
            let n = 10 + i * (tl3_end - 20) / BACKUPS;
            Backup {
                id: format!("b{i:04}"),
                label: None,
                format: BackupFormat::Plain,
                location: format!("/srv/backups/b{i:04}"),
                timeline: TimelineId(owner(n)),
                start_lsn: Lsn(n * size.bytes() + 40),
                stop_lsn: Lsn((n + 1) * size.bytes() + 256),
                start_time: t0() + Duration::seconds(10 * n as i64 + 1),
                stop_time: t0() + Duration::seconds(10 * (n as i64 + 1) + 2),
                stop_time_exact: true,
                segment_size: size,
                system_identifier: None,
                size_bytes: None,
                manifest_wal_ranges: vec![],
                has_manifest: true,
                pg_major: None,
                incremental: None,
            }
        })
        .collect();
    let fork2 = Lsn(FORK_2 * size.bytes() + 0x100);
    let fork3 = Lsn(FORK_3 * size.bytes() + 0x100);
    let histories = vec![
        TimelineHistory::parse(TimelineId(2), &format!("1\t{fork2}\tbench\n")).unwrap(),
        TimelineHistory::parse(
            TimelineId(3),
            &format!("1\t{fork2}\tbench\n2\t{fork3}\tbench\n"),
        )
        .unwrap(),
    ];
    Catalog {
        repository: "bench".into(),
        segment_size: size,
        backups,
        segments,
        histories,
        warnings: vec![],
        damaged: Vec::new(),
    }
}

fn ms(d: std::time::Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown (no /proc/self/status)".into())
}

fn press(app: &mut App, code: KeyCode) {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn main() {
    let started = Instant::now();
    let catalog = catalog();
    println!(
        "catalog: {} segments, {} backups, 3 timelines, built in {}",
        catalog.segments.len(),
        catalog.backups.len(),
        ms(started.elapsed())
    );

    // The first round also pays for touching fresh memory; later ones show the steady cost.
    for round in 1..=5 {
        let t = Instant::now();
        let times = EstimatedTimes::from_catalog(&catalog);
        let estimate = t.elapsed();
        let t = Instant::now();
        let cov = coverage::compute(&catalog, &times);
        let compute = t.elapsed();
        let gaps: usize = cov.timelines.iter().map(|t| t.gaps.len()).sum();
        println!(
            "round {round}: EstimatedTimes::from_catalog {}, coverage::compute {} ({} gaps, {} windows), together {} (target < 200 ms)",
            ms(estimate),
            ms(compute),
            gaps,
            cov.windows.len(),
            ms(estimate + compute)
        );
    }

    let config = Config {
        repositories: vec![RepositoryConfig {
            name: "bench".into(),
            kind: RepositoryKind::Local,
            ..RepositoryConfig::default()
        }],
        ..Config::default()
    };
    let mut app = App::new(&config, "bench".into(), Role::Operator, Zone::UTC, None);
    update(
        &mut app,
        Msg::Resize {
            width: 160,
            height: 48,
        },
    );
    let t = Instant::now();
    update(
        &mut app,
        Msg::CatalogLoaded {
            repository: "bench".into(),
            result: Ok(RepositoryView::estimated(catalog)),
        },
    );
    println!(
        "App: catalog loaded (times + coverage + jump lists + buckets + first verdict): {}",
        ms(t.elapsed())
    );

    let data = app.data().unwrap();
    let rounds = 100;
    let t = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(buckets::prepare(data, &app.view));
    }
    println!(
        "view preparation (column buckets, {} columns, whole history in view): {} each",
        app.view.columns,
        ms(t.elapsed() / rounds)
    );
    let t = Instant::now();
    for _ in 0..rounds {
        press(&mut app, KeyCode::Left);
    }
    println!(
        "a cursor key (move + verdict at the cursor): {} each",
        ms(t.elapsed() / rounds)
    );
    let t = Instant::now();
    for _ in 0..10 {
        press(&mut app, KeyCode::Char('i'));
        press(&mut app, KeyCode::Char('o'));
    }
    println!(
        "a zoom key (re-bucket + verdict): {} each",
        ms(t.elapsed() / 20)
    );
    press(&mut app, KeyCode::End);

    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    terminal
        .draw(|f| pitr_console::ui::render(f, &app))
        .unwrap();
    let frames = 100;
    let t = Instant::now();
    for _ in 0..frames {
        terminal
            .draw(|f| pitr_console::ui::render(f, &app))
            .unwrap();
    }
    println!(
        "frame render at 160x48 (TestBackend, average of {frames}): {} (target < 5 ms)",
        ms(t.elapsed() / frames)
    );
    println!("peak memory (VmHWM): {} (target < 200 MB)", peak_rss());
}
