//! TARGET of DESIGN.md's command line: exactly one of --time, --xid, --lsn, --name,
//! --immediate, --latest; --exclusive for the first three.

use super::exit::Failure;
use crate::domain::lsn::Lsn;
use crate::domain::target::RecoveryTarget;
use crate::domain::time_input::parse_instant;
use crate::domain::zone::Zone;
use clap::{ArgGroup, Args};

#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("target").required(true).multiple(false)))]
pub struct TargetArgs {
    /// "YYYY-MM-DD HH:MM:SS[.ffffff][ ZONE|±HH:MM]"; without a zone, --tz or the config's.
    #[arg(long, group = "target", value_name = "TIME")]
    pub time: Option<String>,
    /// A transaction id.
    #[arg(long, group = "target", value_name = "N")]
    pub xid: Option<u64>,
    /// A WAL position, X/Y.
    #[arg(long, group = "target", value_name = "X/Y")]
    pub lsn: Option<String>,
    /// A restore point made with pg_create_restore_point().
    #[arg(long, group = "target", value_name = "RESTORE_POINT")]
    pub name: Option<String>,
    /// The end of the base backup (its consistency point).
    #[arg(long, group = "target")]
    pub immediate: bool,
    /// The end of the archived WAL.
    #[arg(long, group = "target")]
    pub latest: bool,
    /// Stop just before the target instead of just after (time, xid, lsn).
    #[arg(long)]
    pub exclusive: bool,
}

impl TargetArgs {
    pub fn target(&self, zone: Zone) -> Result<RecoveryTarget, Failure> {
        let inclusive = !self.exclusive;
        let t = if let Some(text) = &self.time {
            RecoveryTarget::Time {
                at: parse_instant(text, zone).map_err(Failure::bad_input)?,
                inclusive,
            }
        } else if let Some(xid) = self.xid {
            RecoveryTarget::Xid { xid, inclusive }
        } else if let Some(text) = &self.lsn {
            let lsn: Lsn = text.trim().parse().map_err(|_| {
                Failure::bad_input(format!(
                    "--lsn `{text}` is not a WAL position: write it as X/Y in hex, e.g. 0/16B3748"
                ))
            })?;
            RecoveryTarget::Lsn { lsn, inclusive }
        } else if let Some(name) = &self.name {
            RecoveryTarget::Name { name: name.clone() }
        } else if self.immediate {
            RecoveryTarget::Immediate
        } else {
            RecoveryTarget::Latest
        };
        if self.exclusive
            && !matches!(
                t,
                RecoveryTarget::Time { .. }
                    | RecoveryTarget::Xid { .. }
                    | RecoveryTarget::Lsn { .. }
            )
        {
            return Err(Failure::bad_input(
                "--exclusive applies to --time, --xid and --lsn only",
            ));
        }
        Ok(t)
    }
}
