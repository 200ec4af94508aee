//! The monthly restore drill: a checklist template (assets/drill-checklist.toml, or a site's
//! copy named by `drill_checklist`), and the record of one drill: every item's result, each
//! phase timed (RTO per phase and in total), the RPO of the chosen instant, the sign-off.
//!
//! The recovery itself is an ordinary side-restore run of the engine; its journal gives the
//! phase times of the engine's steps, and the drill adds what happens around the run
//! (locating and verifying the backup, the smoke command, the sign-off).

use super::check_item::CheckItem;
use super::facts;
use super::journal::{Body, JournalState};
use crate::domain::segment::WalSegment;
use crate::domain::target::RecoveryTarget;
use crate::wal::WalIndex;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod checklist;
mod checks;
mod files;
mod record;
mod rpo;
mod words;

pub use checklist::*;
pub use checks::*;
pub use files::*;
pub use record::*;
pub use rpo::*;
pub use words::*;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, 0).unwrap() + chrono::Duration::seconds(s as i64)
    }

    #[test]
    fn the_shipped_checklist_parses_with_every_console_item() {
        let c = Checklist::parse(DEFAULT_CHECKLIST, "assets").unwrap();
        for (id, phase) in AUTO_ITEMS {
            let p = c.phases.iter().find(|p| p.id == *phase).unwrap();
            assert!(p.items.iter().any(|i| i.id == *id), "{id}");
        }
    }

    #[test]
    fn a_site_checklist_is_checked() {
        let bad_order = "title = \"x\"\n[[phase]]\nid = \"recovery\"\ntitle = \"R\"\n";
        assert!(Checklist::parse(bad_order, "site")
            .unwrap_err()
            .contains("in that order"));
        let misplaced = DEFAULT_CHECKLIST.replacen("id = \"smoke\"", "id = \"backup_located\"", 1);
        let e = Checklist::parse(&misplaced, "site").unwrap_err();
        assert!(e.contains("twice"), "{e}");
        let own = DEFAULT_CHECKLIST.replacen("id = \"smoke\"", "id = \"auth_works\"", 1);
        let c = Checklist::parse(&own, "site").unwrap();
        let r = DrillRecord::new(&c, "db1", "latest", t(0));
        assert_eq!(r.item("auth_works").unwrap().status, ItemStatus::Open);
    }

    #[test]
    fn phases_timed_rto_and_sign_off() {
        let mut r = DrillRecord::new(&Checklist::builtin(), "db1", "latest", t(0));
        r.add_time(PhaseId::Preparation, t(0), t(10), 9_000);
        r.add_time(PhaseId::Recovery, t(10), t(70), 60_000);
        r.add_time(PhaseId::Recovery, t(80), t(85), 5_000);
        r.add_time(PhaseId::Verification, t(70), t(80), 10_000);
        r.set("smoke", ItemStatus::Failed, "exit 1");
        r.sign(Some("alice".into()), Some("alice".into()), t(100));
        r.finish(t(101));
        assert_eq!(r.rto_ms, Some(85_000));
        assert_eq!(
            r.phase(PhaseId::Recovery).unwrap().duration_ms,
            Some(65_000)
        );
        assert_eq!(r.item("performed_by").unwrap().status, ItemStatus::Passed);
        assert_eq!(
            r.item("backup_located").unwrap().status,
            ItemStatus::Skipped
        );
        assert!(r.problems.iter().any(|p| p.contains("exit 1")));
        assert!(r.problems.iter().any(|p| p.contains("same person")));
    }

    #[test]
    fn counts_and_durations() {
        let e: BTreeMap<String, i64> = [("orders".to_string(), 10)].into();
        assert_eq!(compare_counts(&e, &e).0, ItemStatus::Passed);
        let g: BTreeMap<String, i64> = [("orders".to_string(), 12)].into();
        let (s, d) = compare_counts(&e, &g);
        assert_eq!(s, ItemStatus::Noted);
        assert_eq!(d, "orders: expected 10, restored 12");
        assert_eq!(human_ms(850), "850 ms");
        assert_eq!(human_ms(125_000), "2 min 05.0 s");
        assert_eq!(human_ms(3_723_400), "1 h 02 min 03.4 s");
    }
}
