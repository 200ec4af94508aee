//! TARGET of DESIGN.md's command line: exactly one of --time, --xid, --lsn, --name,
//! --immediate, --latest; --exclusive for the first three; --timeline for the branch.

use super::exit::Failure;
use crate::domain::lsn::Lsn;
use crate::domain::target::{RecoveryTarget, TimelineChoice};
use crate::domain::time_input::parse_instant;
use crate::domain::zone::Zone;
use crate::planning::prepare::PlanOptions;
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
    /// The timeline to recover along: a number, `current` (the newest backup's) or
    /// `latest` (the newest); the target is looked up on its history only.
    #[arg(long, value_name = "N|current|latest", default_value = "latest")]
    pub timeline: TimelineChoice,
    /// Plan an --xid that the complete WAL index never saw commit or abort.
    #[arg(long)]
    pub force_unknown_xid: bool,
    /// With --latest over a gap: accept that the WAL after the gap is not replayed.
    #[arg(long)]
    pub accept_wal_loss: bool,
}

/// The first normal transaction id (FirstNormalTransactionId); 0-2 are never assigned.
const FIRST_NORMAL_XID: u64 = 3;

impl TargetArgs {
    pub fn target(&self, zone: Zone) -> Result<RecoveryTarget, Failure> {
        let inclusive = !self.exclusive;
        let t = if let Some(text) = &self.time {
            RecoveryTarget::Time {
                at: parse_instant(text, zone).map_err(Failure::bad_input)?,
                inclusive,
            }
        } else if let Some(xid) = self.xid {
            if !(FIRST_NORMAL_XID..=u64::from(u32::MAX)).contains(&xid) {
                return Err(Failure::bad_input(format!(
                    "--xid {xid} is no transaction id PostgreSQL can stop at: recovery_target_xid takes {FIRST_NORMAL_XID} to {} (ids 0-2 are reserved, and WAL records carry 32 bits)",
                    u32::MAX
                )));
            }
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

    pub fn options(&self) -> PlanOptions {
        PlanOptions {
            timeline: self.timeline,
            force_unknown_xid: self.force_unknown_xid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::exit::BAD_INPUT;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        target: TargetArgs,
    }

    fn parse(args: &[&str]) -> TargetArgs {
        Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap()
            .target
    }

    #[test]
    fn impossible_xids_are_bad_input() {
        for xid in ["0", "2", "4294967296"] {
            let e = parse(&["--xid", xid]).target(Zone::UTC).unwrap_err();
            assert_eq!(e.code, BAD_INPUT, "{xid}");
            assert!(e.message.contains("3 to 4294967295"), "{}", e.message);
        }
        assert!(parse(&["--xid", "3"]).target(Zone::UTC).is_ok());
        assert!(parse(&["--xid", "4294967295"]).target(Zone::UTC).is_ok());
    }

    #[test]
    fn timeline_choices() {
        assert_eq!(parse(&["--latest"]).timeline, TimelineChoice::Latest);
        assert_eq!(
            parse(&["--latest", "--timeline", "1"]).options().timeline,
            TimelineChoice::Number(crate::domain::timeline::TimelineId(1))
        );
        assert_eq!(
            parse(&["--immediate", "--timeline", "current"]).timeline,
            TimelineChoice::Current
        );
        assert!(Cli::try_parse_from(["t", "--latest", "--timeline", "x"]).is_err());
    }
}
