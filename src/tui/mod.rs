//! The event loop: terminal events, a clock tick and background results feed `update`;
//! the commands it returns run on tasks whose results come back as messages. Nothing here
//! blocks on a server or a repository.

mod commands;
mod drill_runner;
pub mod engine_bridge;
mod logging;
mod unfinished;

use crate::app::{update, App, Msg};
use crate::config::{Config, Role};
use crate::domain::zone::Zone;
use chrono::Utc;
use color_eyre::eyre::WrapErr;
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use ratatui::DefaultTerminal;
use std::path::PathBuf;
use std::time::Duration;
use tokio::signal::unix::{signal as unix_signal, SignalKind};
use tokio::sync::mpsc;

pub use commands::Commands;
pub use logging::log_file;

const TICK: Duration = Duration::from_secs(1);

/// What the console opens with.
pub struct Launch {
    pub config: Config,
    /// Where the configuration came from (shown in the title bar).
    pub origin_label: String,
    pub role: Role,
    /// `--tz`, which wins over the configured zone.
    pub zone_override: Option<Zone>,
    /// Where WAL indexes are cached; None reads no WAL (times stay estimates).
    pub index_dir: Option<PathBuf>,
    /// The shipped keys with the operator's keymap file over them.
    pub keymap: crate::app::Keymap,
}

/// Opens the console until the operator quits. The terminal is restored on return, on
/// error and on panic.
pub async fn run(launch: Launch) -> color_eyre::Result<()> {
    let Launch {
        config,
        origin_label,
        role,
        zone_override,
        index_dir,
        keymap,
    } = launch;
    let _log_guard = logging::init();
    let display = zone_override
        .or_else(|| config.timezone.as_deref().and_then(|z| z.parse().ok()))
        .unwrap_or(Zone::UTC);
    let local = iana_time_zone::get_timezone()
        .ok()
        .and_then(|name| name.parse::<Zone>().ok());
    let mut app = App::new(&config, origin_label, role, display, local);
    app.keymap = keymap;
    match crate::engine::drill::Checklist::load(config.drill_checklist.as_deref()) {
        Ok(c) => app.checklist = c,
        Err(e) => tracing::warn!("{e}; the drill screen uses the shipped checklist"),
    }
    // ratatui::try_init installs a panic hook that restores the terminal first.
    let mut terminal = ratatui::try_init().wrap_err("cannot set up the terminal")?;
    let result = event_loop(&mut terminal, &mut app, config, index_dir).await;
    ratatui::restore();
    tracing::info!("console closed");
    result
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    config: Config,
    index_dir: Option<PathBuf>,
) -> color_eyre::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut commands = Commands::new(config, index_dir, tx);
    let size = terminal.size()?;
    update(
        app,
        Msg::Resize {
            width: size.width,
            height: size.height,
        },
    );
    let first = app.start(Utc::now());
    commands.spawn(first);
    let mut events = EventStream::new();
    let mut ticks = tokio::time::interval(TICK);
    // A closed terminal (SIGHUP) or a `kill` (SIGTERM) ends the loop like `q`, so `run`
    // restores the terminal; a run in flight is journaled step by step and resumable.
    let mut hangup = unix_signal(SignalKind::hangup()).wrap_err("cannot watch SIGHUP")?;
    let mut terminate = unix_signal(SignalKind::terminate()).wrap_err("cannot watch SIGTERM")?;
    loop {
        terminal.draw(|frame| crate::ui::render(frame, app))?;
        let msg = tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) => Msg::Key(key),
                Some(Ok(Event::Resize(width, height))) => Msg::Resize { width, height },
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e).wrap_err("reading terminal events"),
                None => return Ok(()),
            },
            _ = hangup.recv() => return closed_by("SIGHUP (the terminal went away)"),
            _ = terminate.recv() => return closed_by("SIGTERM"),
            _ = ticks.tick() => Msg::Tick { now: Utc::now() },
            Some(msg) = rx.recv() => msg,
        };
        let cmds = update(app, msg);
        if app.quitting {
            return Ok(());
        }
        commands.spawn(cmds);
    }
}

fn closed_by(signal: &str) -> color_eyre::Result<()> {
    tracing::warn!(
        "closed by {signal}; a run in flight stopped where its journal says and can be resumed"
    );
    Ok(())
}
