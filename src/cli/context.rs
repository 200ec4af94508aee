//! What every subcommand needs: the configuration, where it came from, the zone and role.

use super::exit::Failure;
use crate::config::{self, Config, Origin, Role};
use crate::domain::zone::Zone;
use std::path::{Path, PathBuf};

pub struct Context {
    pub config: Config,
    pub path: PathBuf,
    pub origin: Origin,
    pub zone: Zone,
    pub role: Role,
}

impl Context {
    pub fn load(
        flag: Option<&Path>,
        role: Option<Role>,
        tz: Option<&str>,
    ) -> Result<Context, Failure> {
        let env = std::env::var_os("PITR_CONSOLE_CONFIG").map(PathBuf::from);
        let user = directories::ProjectDirs::from("", "", "pitr-console")
            .map(|d| d.config_dir().join("pitr-console.toml"));
        let lab = crate::lab::find_existing().map(|d| d.join("pitr-console.toml"));
        let (path, origin) = config::locate(flag, env.as_deref(), user.as_deref(), lab.as_deref())
            .map_err(Failure::bad_input)?;
        let config = config::load(&path).map_err(Failure::bad_input)?;
        crate::engine::state_dir::configure(config.state_dir.as_deref());
        let zone_text = tz.or(config.timezone.as_deref()).unwrap_or("UTC");
        let zone = zone_text
            .parse::<Zone>()
            .map_err(|e| Failure::bad_input(format!("--tz: {e}")))?;
        let role = config::policy::effective_role(role, config.role).map_err(Failure::refused)?;
        Ok(Context {
            config,
            path,
            origin,
            zone,
            role,
        })
    }

    /// Where WAL indexes and other caches of the console live.
    pub fn index_dir(&self) -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "pitr-console").map(|d| d.data_dir().join("index"))
    }

    /// "lab (/var/lib/pitr-console/lab/pitr-console.toml)" for the status bar.
    pub fn origin_label(&self) -> String {
        let from = match self.origin {
            Origin::Flag => "--config",
            Origin::Environment => "$PITR_CONSOLE_CONFIG",
            Origin::UserFile => "user config",
            Origin::Lab => "lab",
        };
        format!("{from} ({})", self.path.display())
    }
}

/// Role and zone for commands that work without a configuration (a journal holds what
/// they need): from the flags, else a configuration when one is found, else the defaults.
pub fn role_and_zone(
    flag: Option<&Path>,
    role: Option<Role>,
    tz: Option<&str>,
) -> Result<(Role, Zone), Failure> {
    // A configuration that exists but does not load refuses: falling back to defaults
    // would turn a broken `role = "trainee"` into operator.
    if flag.is_some() || found_config().is_some() {
        let ctx = Context::load(flag, role, tz)?;
        return Ok((ctx.role, ctx.zone));
    }
    let zone = tz
        .unwrap_or("UTC")
        .parse::<Zone>()
        .map_err(|e| Failure::bad_input(format!("--tz: {e}")))?;
    let role = config::policy::effective_role(role, None).map_err(Failure::refused)?;
    Ok((role, zone))
}

/// The configuration file the console would read without --config, if any.
fn found_config() -> Option<PathBuf> {
    let env = std::env::var_os("PITR_CONSOLE_CONFIG").map(PathBuf::from);
    let user = directories::ProjectDirs::from("", "", "pitr-console")
        .map(|d| d.config_dir().join("pitr-console.toml"));
    let lab = crate::lab::find_existing().map(|d| d.join("pitr-console.toml"));
    config::locate(None, env.as_deref(), user.as_deref(), lab.as_deref())
        .ok()
        .map(|(p, _)| p)
}

/// Opens the full-screen console.
pub fn open_tui(
    flag: Option<&Path>,
    role: Option<Role>,
    tz: Option<&str>,
    keymap: Option<&Path>,
) -> Result<(), Failure> {
    let ctx = Context::load(flag, role, tz)?;
    let keymap = load_keymap(keymap)?;
    let launch = crate::tui::Launch {
        keymap,
        origin_label: ctx.origin_label(),
        index_dir: ctx.index_dir(),
        role: ctx.role,
        zone_override: Some(ctx.zone),
        config: ctx.config,
    };
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| Failure::step_failed(format!("cannot start the async runtime: {e}")))?;
    runtime
        .block_on(crate::tui::run(launch))
        .map_err(|e| Failure::step_failed(format!("the console stopped: {e:#}")))
}

/// The shipped keys with the operator's file over them: `--keymap`, else keymap.toml in the
/// user config dir when it exists. A bad file stops the console before the terminal is taken.
fn load_keymap(flag: Option<&Path>) -> Result<crate::app::Keymap, Failure> {
    let user = directories::ProjectDirs::from("", "", "pitr-console")
        .map(|d| d.config_dir().join("keymap.toml"))
        .filter(|p| p.exists());
    let Some(path) = flag.map(Path::to_path_buf).or(user) else {
        return Ok(crate::app::Keymap::default());
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Failure::bad_input(format!("keymap {}: {e}", path.display())))?;
    crate::app::Keymap::with_overrides(&text, &path.display().to_string())
        .map_err(|e| Failure::bad_input(e.to_string()))
}
