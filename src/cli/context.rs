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
        let role = role.or(config.role).unwrap_or_default();
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
    match Context::load(flag, role, tz) {
        Ok(ctx) => Ok((ctx.role, ctx.zone)),
        Err(e) if flag.is_some() => Err(e),
        Err(_) => {
            let zone = tz
                .unwrap_or("UTC")
                .parse::<Zone>()
                .map_err(|e| Failure::bad_input(format!("--tz: {e}")))?;
            Ok((role.unwrap_or_default(), zone))
        }
    }
}

/// Opens the full-screen console.
pub fn open_tui(flag: Option<&Path>, role: Option<Role>, tz: Option<&str>) -> Result<(), Failure> {
    let ctx = Context::load(flag, role, tz)?;
    let launch = crate::tui::Launch {
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
