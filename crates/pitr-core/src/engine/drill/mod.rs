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

    fn all_passed(c: &Checklist) -> DrillRecord {
        let mut r = DrillRecord::new(c, "db1", "latest", t(0));
        for id in AUTO_ITEMS.iter().map(|(id, _)| *id) {
            r.set(id, ItemStatus::Passed, "ok");
        }
        r
    }

    #[test]
    fn phases_follow_one_another_and_add_up_to_the_rto() {
        let mut r = DrillRecord::new(&Checklist::builtin(), "db1", "latest", t(0));
        r.add_time(PhaseId::Preparation, t(0), t(10));
        // The restore starts 2 s after preparation ended: that pause is recovery's.
        r.add_time(PhaseId::Recovery, t(12), t(70));
        r.add_time(PhaseId::Verification, t(68), t(80));
        r.add_time(PhaseId::Verification, t(82), t(85));
        r.sign(Some("alice".into()), Some("bob".into()), t(100));
        r.finish(t(101));
        let ms = |p| r.phase(p).unwrap().duration_ms.unwrap();
        assert_eq!(ms(PhaseId::Preparation), 10_000);
        assert_eq!(ms(PhaseId::Recovery), 60_000);
        assert_eq!(
            r.phase(PhaseId::Verification).unwrap().started,
            Some(t(70)),
            "verification starts where recovery ended"
        );
        assert_eq!(ms(PhaseId::Verification), 15_000);
        assert_eq!(r.rto_ms, Some(85_000));
        assert_eq!(
            r.rto_ms,
            Some(ms(PhaseId::Preparation) + ms(PhaseId::Recovery) + ms(PhaseId::Verification))
        );
    }

    #[test]
    fn a_drill_whose_replay_failed_says_where_and_ticks_nothing_for_it() {
        let mut r = DrillRecord::new(&Checklist::builtin(), "db1", "2026-11-01 09:00", t(0));
        r.set("backup_located", ItemStatus::Passed, "b1");
        r.set("backup_verified", ItemStatus::Passed, "verified");
        r.set("side_restore", ItemStatus::Passed, "restored");
        r.set(
            "reached_target",
            ItemStatus::Failed,
            "recovery ended before the target",
        );
        r.rpo = Some(Rpo {
            chosen: t(0),
            newest_commit: t(0),
            newest_segment: "000000010000000000000003".into(),
            seconds: 0.0,
        });
        r.sign(Some("alice".into()), Some("bob".into()), t(100));
        r.finish(t(101));
        let v = r.verdict();
        assert_eq!(v.headline(), "failed in Recovery");
        assert!(!v.passed());
        for id in ["performed_by", "verified_by"] {
            let i = r.item(id).unwrap();
            assert_eq!(i.status, ItemStatus::Noted, "{id} is no sign-off of a pass");
            assert!(i.detail.contains("failed in Recovery"), "{}", i.detail);
        }
        assert_eq!(r.rpo, None, "no RPO for a target never reached");
        assert_eq!(
            r.rpo_unmeasured.as_deref(),
            Some("the side restore did not reach the target")
        );
        let not: Vec<&str> = r.not_verified().iter().map(|i| i.id.as_str()).collect();
        assert!(
            not.contains(&"reached_target") && not.contains(&"smoke"),
            "{not:?}"
        );
    }

    #[test]
    fn open_items_and_one_person_signing_twice_fail_the_drill() {
        let c = Checklist::builtin();
        let mut r = all_passed(&c);
        r.sign(Some("alice".into()), Some("bob".into()), t(1));
        r.finish(t(1));
        assert!(r.verdict().passed(), "{:?}", r.problems);
        assert_eq!(r.item("verified_by").unwrap().status, ItemStatus::Passed);

        let mut r = all_passed(&c);
        r.sign(Some("alice".into()), Some("alice".into()), t(1));
        r.finish(t(1));
        assert!(r.problems.iter().any(|p| p.contains("same person")));
        assert_eq!(r.verdict().headline(), "failed");

        let own = DEFAULT_CHECKLIST.replacen("id = \"smoke\"", "id = \"auth_works\"", 1);
        let c = Checklist::parse(&own, "site").unwrap();
        assert_eq!(c.manual_ids(), vec!["auth_works".to_string()]);
        let mut r = all_passed(&c);
        r.sign(Some("alice".into()), Some("bob".into()), t(1));
        r.finish(t(1));
        assert!(!r.verdict().passed(), "an open item");
        let mut r = all_passed(&c);
        r.tick("auth_works", true);
        r.sign(Some("alice".into()), Some("bob".into()), t(1));
        r.finish(t(1));
        assert!(r.verdict().passed(), "{:?}", r.problems);
    }

    #[test]
    fn the_verifier_signs_later_with_a_time_of_their_own() {
        let c = Checklist::builtin();
        let mut r = all_passed(&c);
        r.sign(Some("alice".into()), None, t(10));
        r.finish(t(10));
        assert!(!r.verdict().passed(), "not verified yet");
        assert!(r
            .countersign("alice", t(20))
            .unwrap_err()
            .contains("second pair"));
        r.countersign("bob", t(3600)).unwrap();
        assert!(r.verdict().passed(), "{:?}", r.problems);
        assert_eq!(r.item("verified_by").unwrap().status, ItemStatus::Passed);
        assert_eq!(
            (r.sign_off.performed_at, r.sign_off.verified_at),
            (Some(t(10)), Some(t(3600)))
        );
        assert!(r
            .countersign("carol", t(3700))
            .unwrap_err()
            .contains("by bob"));
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
