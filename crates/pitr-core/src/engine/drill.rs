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

/// The checklist shipped with the console.
pub const DEFAULT_CHECKLIST: &str = include_str!("../../../../assets/drill-checklist.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseId {
    Preparation,
    Recovery,
    Verification,
    SignOff,
}

impl PhaseId {
    pub const ALL: [PhaseId; 4] = [
        PhaseId::Preparation,
        PhaseId::Recovery,
        PhaseId::Verification,
        PhaseId::SignOff,
    ];

    /// Phases whose time counts toward the RTO (sign-off happens after the service is back).
    pub fn timed(self) -> bool {
        self != PhaseId::SignOff
    }
}

/// Items the console fills in itself, with the phase each belongs to.
pub const AUTO_ITEMS: &[(&str, PhaseId)] = &[
    ("backup_located", PhaseId::Preparation),
    ("backup_verified", PhaseId::Preparation),
    ("expected_row_counts", PhaseId::Preparation),
    ("side_restore", PhaseId::Recovery),
    ("reached_target", PhaseId::Recovery),
    ("promoted", PhaseId::Recovery),
    ("checks", PhaseId::Verification),
    ("row_counts", PhaseId::Verification),
    ("smoke", PhaseId::Verification),
    ("performed_by", PhaseId::SignOff),
    ("verified_by", PhaseId::SignOff),
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checklist {
    pub title: String,
    #[serde(rename = "phase")]
    pub phases: Vec<PhaseTemplate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseTemplate {
    pub id: PhaseId,
    pub title: String,
    #[serde(rename = "item", default)]
    pub items: Vec<ItemTemplate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemTemplate {
    pub id: String,
    pub text: String,
}

impl Checklist {
    /// The shipped template.
    pub fn builtin() -> Checklist {
        Checklist::parse(DEFAULT_CHECKLIST, "the built-in drill checklist")
            .unwrap_or_else(|_| Checklist::minimal())
    }

    /// Only the console's own items, should the shipped file ever fail to parse (a test
    /// keeps it parsing).
    fn minimal() -> Checklist {
        Checklist {
            title: "Restore drill".into(),
            phases: PhaseId::ALL
                .iter()
                .map(|p| PhaseTemplate {
                    id: *p,
                    title: format!("{p:?}"),
                    items: AUTO_ITEMS
                        .iter()
                        .filter(|(_, ph)| ph == p)
                        .map(|(id, _)| ItemTemplate {
                            id: (*id).into(),
                            text: id.replace('_', " "),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The site's checklist at `path`, or the shipped one.
    pub fn load(path: Option<&Path>) -> Result<Checklist, String> {
        let Some(path) = path else {
            return Ok(Checklist::builtin());
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "drill_checklist {}: {e}; point it at a copy of assets/drill-checklist.toml",
                path.display()
            )
        })?;
        Checklist::parse(&text, &path.display().to_string())
    }

    /// Parses and checks a template: the four phases, once each, in order; item ids unique;
    /// an item of the console's own is in its own phase.
    pub fn parse(text: &str, origin: &str) -> Result<Checklist, String> {
        let c: Checklist = toml::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
        let order: Vec<PhaseId> = c.phases.iter().map(|p| p.id).collect();
        if order != PhaseId::ALL {
            return Err(format!(
                "{origin}: the phases must be preparation, recovery, verification, sign_off, once each and in that order (found {order:?})"
            ));
        }
        let mut seen = BTreeMap::new();
        for p in &c.phases {
            for i in &p.items {
                if i.id.trim().is_empty() {
                    return Err(format!(
                        "{origin}: an item of phase {:?} has an empty id",
                        p.id
                    ));
                }
                if seen.insert(i.id.clone(), p.id).is_some() {
                    return Err(format!("{origin}: item id `{}` appears twice", i.id));
                }
                if let Some((_, own)) = AUTO_ITEMS.iter().find(|(id, _)| *id == i.id) {
                    if *own != p.id {
                        return Err(format!(
                            "{origin}: item `{}` is checked by the console in phase {own:?}; move it there (found in {:?})",
                            i.id, p.id
                        ));
                    }
                }
            }
        }
        Ok(c)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Not reached yet.
    Pending,
    Running,
    Passed,
    Failed,
    /// Recorded for the report without passing or failing (e.g. counts that differ because
    /// the instant is before later writes).
    Noted,
    /// An item the drill leader ticks by hand, not ticked.
    Open,
    /// Not applicable to this drill (e.g. no smoke command configured).
    Skipped,
}

impl ItemStatus {
    pub fn mark(self) -> &'static str {
        match self {
            ItemStatus::Pending => "[ ]",
            ItemStatus::Running => "[~]",
            ItemStatus::Passed => "[x]",
            ItemStatus::Failed => "[!]",
            ItemStatus::Noted => "[i]",
            ItemStatus::Open => "[ ]",
            ItemStatus::Skipped => "[-]",
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            ItemStatus::Pending => "pending",
            ItemStatus::Running => "running",
            ItemStatus::Passed => "passed",
            ItemStatus::Failed => "FAILED",
            ItemStatus::Noted => "noted",
            ItemStatus::Open => "open (tick by hand)",
            ItemStatus::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    pub id: String,
    pub text: String,
    pub status: ItemStatus,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    pub id: PhaseId,
    pub title: String,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    /// Time spent in this phase's work (the drill's own and the engine steps it holds).
    pub duration_ms: Option<u64>,
    pub items: Vec<ItemResult>,
}

/// How much would be lost by recovering to the chosen instant rather than to the newest
/// archived WAL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rpo {
    /// The chosen instant (for an xid target: its commit time).
    pub chosen: DateTime<Utc>,
    /// The last commit in the newest archived WAL.
    pub newest_commit: DateTime<Utc>,
    pub newest_segment: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOff {
    pub performed_by: Option<String>,
    pub verified_by: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillRecord {
    pub format_version: u32,
    pub checklist_title: String,
    pub server: String,
    pub target: String,
    /// The journal of the drill's side-restore run, when it started.
    pub journal: Option<PathBuf>,
    pub started: DateTime<Utc>,
    pub finished: Option<DateTime<Utc>>,
    pub phases: Vec<PhaseResult>,
    /// Wall time from the start of preparation to the end of verification.
    pub rto_ms: Option<u64>,
    pub rpo: Option<Rpo>,
    pub sign_off: SignOff,
    pub problems: Vec<String>,
}

impl DrillRecord {
    /// A fresh record: every item pending.
    pub fn new(checklist: &Checklist, server: &str, target: &str, started: DateTime<Utc>) -> Self {
        DrillRecord {
            format_version: 1,
            checklist_title: checklist.title.clone(),
            server: server.to_string(),
            target: target.to_string(),
            journal: None,
            started,
            finished: None,
            phases: checklist
                .phases
                .iter()
                .map(|p| PhaseResult {
                    id: p.id,
                    title: p.title.clone(),
                    started: None,
                    finished: None,
                    duration_ms: None,
                    items: p
                        .items
                        .iter()
                        .map(|i| ItemResult {
                            id: i.id.clone(),
                            text: i.text.clone(),
                            status: if is_auto(&i.id) {
                                ItemStatus::Pending
                            } else {
                                ItemStatus::Open
                            },
                            detail: String::new(),
                        })
                        .collect(),
                })
                .collect(),
            rto_ms: None,
            rpo: None,
            sign_off: SignOff::default(),
            problems: Vec::new(),
        }
    }

    pub fn phase(&self, id: PhaseId) -> Option<&PhaseResult> {
        self.phases.iter().find(|p| p.id == id)
    }

    fn phase_mut(&mut self, id: PhaseId) -> Option<&mut PhaseResult> {
        self.phases.iter_mut().find(|p| p.id == id)
    }

    pub fn item(&self, id: &str) -> Option<&ItemResult> {
        self.phases
            .iter()
            .flat_map(|p| &p.items)
            .find(|i| i.id == id)
    }

    /// Sets an item's result (an item the site's checklist left out is ignored); a failed
    /// item is also a problem of the drill.
    pub fn set(&mut self, id: &str, status: ItemStatus, detail: impl Into<String>) {
        let detail = detail.into();
        let mut problem = None;
        if let Some(i) = self
            .phases
            .iter_mut()
            .flat_map(|p| p.items.iter_mut())
            .find(|i| i.id == id)
        {
            if status == ItemStatus::Failed {
                problem = Some(format!("{}: {detail}", i.text));
            }
            i.status = status;
            i.detail = detail;
        }
        self.problems.extend(problem);
    }

    /// Ticks (or unticks) an item kept by hand.
    pub fn tick(&mut self, id: &str, done: bool) {
        if is_auto(id) {
            return;
        }
        if let Some(i) = self
            .phases
            .iter_mut()
            .flat_map(|p| p.items.iter_mut())
            .find(|i| i.id == id)
        {
            i.status = if done {
                ItemStatus::Passed
            } else {
                ItemStatus::Open
            };
        }
    }

    /// Adds `ms` of work between `from` and `to` to a phase.
    pub fn add_time(&mut self, phase: PhaseId, from: DateTime<Utc>, to: DateTime<Utc>, ms: u64) {
        if let Some(p) = self.phase_mut(phase) {
            p.started = Some(p.started.map_or(from, |s| s.min(from)));
            p.finished = Some(p.finished.map_or(to, |f| f.max(to)));
            p.duration_ms = Some(p.duration_ms.unwrap_or(0) + ms);
        }
    }

    /// Takes the engine run's step times and results from its journal.
    pub fn apply_journal(&mut self, state: &JournalState) {
        self.journal = Some(state.path.clone());
        let mut open: BTreeMap<usize, DateTime<Utc>> = BTreeMap::new();
        for r in &state.records {
            match &r.body {
                Body::Intent { index, .. } => {
                    open.insert(*index, r.time);
                }
                Body::Outcome {
                    index,
                    step,
                    duration_ms,
                    ..
                } => {
                    let from = open.remove(index).unwrap_or(r.time);
                    if let Some(phase) = phase_of_step(step) {
                        self.add_time(phase, from, r.time, *duration_ms);
                    }
                }
                _ => {}
            }
        }
        self.results_from_facts(state);
    }

    fn results_from_facts(&mut self, state: &JournalState) {
        let done = |id: &str| {
            state.records.iter().any(|r| {
                matches!(&r.body, Body::Outcome { step, ok: true, status, .. }
                    if step == id && *status != Some(super::StepStatus::Skipped))
            })
        };
        let failed = |id: &str| {
            state.records.iter().rev().find_map(|r| match &r.body {
                Body::Outcome {
                    step,
                    ok: false,
                    error,
                    ..
                } if step == id => Some(error.clone().unwrap_or_default()),
                _ => None,
            })
        };
        let expected = facts::ROW_COUNTS.read(&state.facts).unwrap_or_default();
        if done("snapshot") {
            if expected.is_empty() {
                self.set(
                    "expected_row_counts",
                    ItemStatus::Noted,
                    "production was down: no counts to expect",
                );
            } else {
                let total: i64 = expected.values().sum();
                self.set(
                    "expected_row_counts",
                    ItemStatus::Passed,
                    format!(
                        "{} tables, {total} rows on production before the drill",
                        expected.len()
                    ),
                );
            }
        }
        for (item, step, what) in [
            (
                "side_restore",
                "restore",
                "base backup restored into the side directory",
            ),
            ("reached_target", "replay", "replay reached the target"),
            ("promoted", "promote", "the side instance left recovery"),
        ] {
            if let Some(e) = failed(step).filter(|_| !done(step)) {
                self.set(item, ItemStatus::Failed, e);
            } else if done(step) {
                let detail = match item {
                    "reached_target" => match (
                        facts::REPLAY_LSN.read(&state.facts),
                        facts::LAST_REPLAY_TIME.read(&state.facts).flatten(),
                    ) {
                        (Some(lsn), Some(t)) => format!(
                            "replayed to {lsn}, last commit {}",
                            t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                        ),
                        (Some(lsn), None) => format!("replayed to {lsn}"),
                        _ => what.to_string(),
                    },
                    _ => what.to_string(),
                };
                self.set(item, ItemStatus::Passed, detail);
            }
        }
        let checklist = facts::CHECKLIST.read(&state.facts);
        if let Some(items) = checklist {
            let required: Vec<&CheckItem> = items.iter().filter(|i| i.required).collect();
            let bad: Vec<String> = required
                .iter()
                .filter(|i| !i.ok)
                .map(|i| format!("{}: {}", i.item, i.detail))
                .collect();
            if bad.is_empty() {
                self.set(
                    "checks",
                    ItemStatus::Passed,
                    format!("{} checks passed", required.len()),
                );
            } else {
                self.set("checks", ItemStatus::Failed, bad.join("; "));
            }
        } else if let Some(e) = failed("verify") {
            self.set("checks", ItemStatus::Failed, e);
        }
        let after = facts::ROW_COUNTS_AFTER.read(&state.facts);
        if let Some(after) = after {
            let (status, detail) = compare_counts(&expected, &after);
            self.set("row_counts", status, detail);
        }
    }

    /// Closes the drill: the RTO from the first phase's start to the end of verification.
    pub fn finish(&mut self, now: DateTime<Utc>) {
        self.finished = Some(now);
        let start = self
            .phases
            .iter()
            .filter(|p| p.id.timed())
            .filter_map(|p| p.started)
            .min();
        let end = self
            .phases
            .iter()
            .filter(|p| p.id.timed())
            .filter_map(|p| p.finished)
            .max();
        self.rto_ms = match (start, end) {
            (Some(s), Some(e)) => Some((e - s).num_milliseconds().max(0) as u64),
            _ => None,
        };
        for p in &mut self.phases {
            for i in &mut p.items {
                if i.status == ItemStatus::Pending {
                    i.status = ItemStatus::Skipped;
                    if i.detail.is_empty() {
                        i.detail = "not reached".into();
                    }
                }
            }
        }
        let open: Vec<String> = self
            .phases
            .iter()
            .flat_map(|p| &p.items)
            .filter(|i| i.status == ItemStatus::Open)
            .map(|i| i.text.clone())
            .collect();
        if !open.is_empty() {
            self.problems.push(format!(
                "items left open (tick by hand): {}",
                open.join(", ")
            ));
        }
    }

    /// Records who performed and who verified; missing names are items left failed.
    pub fn sign(
        &mut self,
        performed_by: Option<String>,
        verified_by: Option<String>,
        at: DateTime<Utc>,
    ) {
        let performed = performed_by.filter(|s| !s.trim().is_empty());
        let verified = verified_by.filter(|s| !s.trim().is_empty());
        for (id, who) in [("performed_by", &performed), ("verified_by", &verified)] {
            match who {
                Some(name) => self.set(id, ItemStatus::Passed, name.clone()),
                None => self.set(id, ItemStatus::Failed, "not signed"),
            }
        }
        if performed.is_some() && performed == verified {
            self.problems.push(
                "the same person performed and verified the drill: a second pair of eyes is the point of verifying".into(),
            );
        }
        self.sign_off = SignOff {
            performed_by: performed,
            verified_by: verified,
            at: Some(at),
        };
    }

    /// Where the record of the drill run journaled at `journal` is kept: beside it.
    pub fn path_for(journal: &Path) -> PathBuf {
        sibling(journal, "drill.json")
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        write_private(path, text.as_bytes())
    }

    pub fn load(path: &Path) -> Result<DrillRecord, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a drill record: {e}", path.display()))
    }
}

/// Writes a file only its owner reads (like the journal it sits beside), fsynced.
/// Never through a link, nor into a file linked elsewhere too: a report or record is
/// written beside a journal whose directory others may have prepared.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(nix::libc::ELOOP) => std::io::Error::other(format!(
                "{} is a symbolic link, which the console never writes through",
                path.display()
            )),
            _ => e,
        })?;
    let meta = f.metadata()?;
    if !meta.is_file() || meta.nlink() != 1 {
        return Err(std::io::Error::other(format!(
            "{} is not a plain file of its own ({} links): not written",
            path.display(),
            meta.nlink()
        )));
    }
    f.set_len(0)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// `<dir>/<journal stem>-<suffix>`.
pub fn sibling(journal: &Path, suffix: &str) -> PathBuf {
    let stem = journal
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    journal.with_file_name(format!("{stem}-{suffix}"))
}

impl Checklist {
    /// The items the drill leader ticks by hand (every id that is not one of the console's).
    pub fn manual_ids(&self) -> Vec<String> {
        self.phases
            .iter()
            .flat_map(|p| &p.items)
            .filter(|i| !is_auto(&i.id))
            .map(|i| i.id.clone())
            .collect()
    }
}

fn is_auto(id: &str) -> bool {
    AUTO_ITEMS.iter().any(|(a, _)| *a == id)
}

/// Which drill phase an engine step's time counts toward.
pub fn phase_of_step(step: &str) -> Option<PhaseId> {
    match step {
        "preflight" | "snapshot" => Some(PhaseId::Preparation),
        "restore" | "write_config" | "start" | "replay" | "decide" | "promote" => {
            Some(PhaseId::Recovery)
        }
        "verify" => Some(PhaseId::Verification),
        _ => None,
    }
}

/// Restored counts against the expected ones: equal passes; a difference is noted, since
/// an instant before later writes rightly holds other counts.
pub fn compare_counts(
    expected: &BTreeMap<String, i64>,
    got: &BTreeMap<String, i64>,
) -> (ItemStatus, String) {
    if expected.is_empty() {
        return (
            ItemStatus::Noted,
            "no expected counts to compare with".into(),
        );
    }
    let diffs: Vec<String> = expected
        .keys()
        .chain(got.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|t| expected.get(*t) != got.get(*t))
        .map(|t| {
            let show = |v: Option<&i64>| v.map_or("-".to_string(), |x| x.to_string());
            format!(
                "{t}: expected {}, restored {}",
                show(expected.get(t)),
                show(got.get(t))
            )
        })
        .collect();
    if diffs.is_empty() {
        (
            ItemStatus::Passed,
            format!("all {} tables as expected", expected.len()),
        )
    } else {
        (ItemStatus::Noted, diffs.join("; "))
    }
}

/// The RPO of recovering to `target`: from the chosen instant to the last commit of the
/// newest archived WAL. None when the index cannot place the target in time.
pub fn rpo(index: &WalIndex, target: &RecoveryTarget) -> Option<Rpo> {
    let newest = index
        .commits()
        .max_by_key(|t| (t.timeline, t.time_us, t.lsn))?;
    let chosen = match target {
        RecoveryTarget::Time { at, .. } => *at,
        RecoveryTarget::Xid { xid, .. } => index.tx_end_by_xid(u32::try_from(*xid).ok()?)?.time(),
        RecoveryTarget::Name { name } => index.restore_point(name)?.time(),
        RecoveryTarget::Latest => newest.time(),
        RecoveryTarget::Lsn { .. } | RecoveryTarget::Immediate => return None,
    };
    let seconds = ((newest.time() - chosen).num_microseconds()? as f64 / 1e6).max(0.0);
    let size = index.segment_size();
    Some(Rpo {
        chosen,
        newest_commit: newest.time(),
        newest_segment: WalSegment::containing(newest.timeline, newest.lsn, size).file_name(size),
        seconds,
    })
}

/// `1 h 02 min 03.4 s`, `2 min 05.0 s`, `850 ms`.
pub fn human_ms(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms} ms");
    }
    let s = ms as f64 / 1000.0;
    let (h, m) = ((s / 3600.0) as u64, ((s % 3600.0) / 60.0) as u64);
    let rest = s - (h * 3600 + m * 60) as f64;
    match (h, m) {
        (0, 0) => format!("{rest:.1} s"),
        (0, _) => format!("{m} min {rest:04.1} s"),
        _ => format!("{h} h {m:02} min {rest:04.1} s"),
    }
}

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
