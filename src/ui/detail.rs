//! The detail pane: the cursor's instant in the display zone and UTC, and whether it can be
//! recovered to, from which backup, with which WAL, or why not and what is nearest.

use super::theme;
use crate::app::repo::RepoData;
use crate::app::{App, Focus};
use crate::domain::assess::{show, Verdict};
use crate::domain::health::Level;
use crate::domain::times::Stamp;
use crate::domain::zone::Zone;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

/// Past the archive, on a primary whose WAL is not archived yet: how to make it reachable.
fn live_tail_line(app: &App) -> Option<Line<'static>> {
    let (_, archived_end) = app.data()?.extent?;
    if app.cursor <= archived_end {
        return None;
    }
    let s = app.tail_server()?;
    let tail = s.tail.tail.as_ref().filter(|t| t.is_pending())?;
    let bytes = tail
        .unarchived_bytes()
        .map_or("WAL".to_string(), |b| bytesize::ByteSize(b).to_string());
    Some(Line::from(vec![
        Span::styled("Live     ", theme::get().label),
        Span::styled(
            format!("{bytes} on {} not yet archived", s.name),
            theme::get().live_tail,
        ),
        Span::raw(": W switches WAL (pg_switch_wal), then the archive reaches it"),
    ]))
}

// Over 100 lines on purpose: the detail pane's lines top to bottom.
#[allow(clippy::too_many_lines)]
pub fn render(frame: &mut Frame, app: &App, area: Rect) {
    let block = Block::bordered()
        .title(" Cursor ")
        .border_style(theme::pane_border(app.focus == Focus::Detail));
    let zone = app.zone();
    let mut lines = vec![
        Line::from(vec![
            Span::styled("At       ", theme::get().label),
            Span::raw(format!("{} ({zone})", zone.format(app.cursor))),
        ]),
        Line::from(vec![
            Span::styled("UTC      ", theme::get().label),
            Span::raw(Zone::UTC.format(app.cursor)),
        ]),
    ];
    let current = app.data().and(app.assessment.as_ref());
    match current.map(|a| (a.timeline, &a.verdict)) {
        None => lines.push(Line::styled(
            "no catalog: recoverability is unknown",
            theme::get().dim,
        )),
        Some((timeline, Verdict::Recoverable(r))) => {
            lines.push(Line::from(vec![
                Span::styled("RECOVERABLE", theme::get().good),
                Span::raw(format!(
                    " on timeline {timeline} from backup {}{}",
                    r.backup_id,
                    r.lsn
                        .map_or(String::new(), |l| format!(", replay stops near {l}"))
                )),
            ]));
            lines.push(Line::from(vec![
                Span::styled("WAL      ", theme::get().label),
                Span::raw(format!(
                    "{} .. {} ({} segments)",
                    r.first_segment, r.last_segment, r.segments,
                )),
            ]));
            let mut window = vec![
                Span::styled("Window   ", theme::get().label),
                Span::raw(format!(
                    "{} → {}",
                    stamp(&zone, r.window_start),
                    stamp(&zone, r.window_end)
                )),
            ];
            if r.estimated {
                window.push(Span::styled(
                    "  (~ estimated from file times: check near the edges)",
                    theme::get().dim,
                ));
            }
            lines.push(Line::from(window));
            let backup = app
                .data()
                .and_then(|d| d.catalog.backups.iter().find(|b| b.id == r.backup_id));
            if let Some(b) = backup {
                lines.push(Line::from(vec![
                    Span::styled("Backup   ", theme::get().label),
                    Span::raw(format!(
                        "{}: started {}, consistent from {}, at {}",
                        b.id,
                        zone.format(b.start_time),
                        zone.format(b.stop_time),
                        b.location
                    )),
                ]));
            }
        }
        Some((
            timeline,
            Verdict::NotRecoverable {
                reason,
                nearest_before,
                nearest_after,
            },
        )) => {
            lines.push(Line::from(vec![
                Span::styled("NOT RECOVERABLE", theme::get().bad),
                Span::raw(format!(
                    " on timeline {timeline}: {}",
                    reason.explain(&zone)
                )),
            ]));
            lines.push(Line::from(vec![
                Span::styled("Nearest  ", theme::get().label),
                Span::raw(format!(
                    "before: {}   after: {}",
                    stamp(&zone, *nearest_before),
                    stamp(&zone, *nearest_after)
                )),
            ]));
            lines.extend(live_tail_line(app));
        }
    }
    if let Some(d) = app.data() {
        lines.push(summary(d));
        lines.extend(health_line(app));
        for w in d.catalog.warnings.iter().take(3) {
            lines.push(Line::styled(format!("Warning  {w}"), theme::get().dim));
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}

/// What `check` found for the selected server: the findings that are not ok, or that every
/// probe passed, and when.
fn health_line(app: &App) -> Option<Line<'static>> {
    let row = app.servers.get(app.selected_server)?;
    let (at, h) = row.health.as_ref()?;
    let bad: Vec<String> = h
        .findings
        .iter()
        .filter(|f| f.level != Level::Ok)
        .map(|f| {
            let word = if f.level == Level::Critical {
                "CRITICAL"
            } else {
                "warning"
            };
            format!("{word}: {}", f.text)
        })
        .collect();
    let text = if bad.is_empty() {
        format!(
            "{}: every probe ok at {} (`pitr-console check` for the details)",
            h.server,
            app.zone().clock(*at)
        )
    } else {
        format!("{}: {}", h.server, bad.join("; "))
    };
    let style = match h.level {
        Level::Ok => theme::get().dim,
        Level::Warning => theme::get().warn,
        Level::Critical => theme::get().bad,
    };
    Some(Line::from(vec![
        Span::styled("Check    ", theme::get().label),
        Span::styled(text, style),
    ]))
}

/// One line about the whole repository, so that the pane says what it is judging from.
fn summary(d: &RepoData) -> Line<'static> {
    let gaps: usize = d.coverage.timelines.iter().map(|t| t.gaps.len()).sum();
    let missing: u64 = d
        .coverage
        .timelines
        .iter()
        .flat_map(|t| t.gaps.iter())
        .map(|g| g.missing_count)
        .sum();
    let text = format!(
        "{}: {}, {}, {}, {} ({} missing), {}",
        d.catalog.repository,
        count(d.catalog.backups.len() as u64, "backup"),
        count(d.catalog.segments.len() as u64, "archived WAL file"),
        count(d.coverage.timelines.len() as u64, "timeline"),
        count(gaps as u64, "gap"),
        count(missing, "segment"),
        count(d.catalog.warnings.len() as u64, "warning"),
    );
    let style = if gaps > 0 {
        theme::get().bad
    } else {
        theme::get().dim
    };
    Line::from(vec![
        Span::styled("Catalog  ", theme::get().label),
        Span::styled(text, style),
    ])
}

fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn stamp(zone: &Zone, s: Option<Stamp>) -> String {
    s.map_or("none".to_string(), |s| show(zone, s))
}
