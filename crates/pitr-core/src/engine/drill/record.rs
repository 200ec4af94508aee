//! The record of one drill: every item's result, each phase timed, the sign-off; built
//! from the run's journal and saved beside it.

use super::*;

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

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOff {
    pub performed_by: Option<String>,
    pub verified_by: Option<String>,
    /// When the drill was closed.
    pub at: Option<DateTime<Utc>>,
    /// When each person signed: at the close, or later for a verifier who read the report
    /// afterwards (`pitr-console sign-drill`).
    #[serde(default)]
    pub performed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub verified_at: Option<DateTime<Utc>>,
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
    /// Why there is no RPO, when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_unmeasured: Option<String>,
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
            rpo_unmeasured: None,
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

    /// Widens a phase's span to hold work between `from` and `to`, both read from the wall
    /// clock (the drill's own and the journal's times), so every phase is measured the same way.
    pub fn add_time(&mut self, phase: PhaseId, from: DateTime<Utc>, to: DateTime<Utc>) {
        if let Some(p) = self.phase_mut(phase) {
            let started = p.started.map_or(from, |s| s.min(from));
            let finished = p.finished.map_or(to, |f| f.max(to));
            p.started = Some(started);
            p.finished = Some(finished);
            p.duration_ms = Some(span_ms(started, finished));
        }
    }

    /// Makes the timed phases follow one another: each starts where the one before it ended
    /// (a pause between two phases belongs to the one that follows it), so the phases add up
    /// to the RTO and no two claim the same second.
    fn settle_times(&mut self) {
        let mut last_end: Option<DateTime<Utc>> = None;
        let mut origin: Option<DateTime<Utc>> = None;
        for p in self.phases.iter_mut().filter(|p| p.id.timed()) {
            let (Some(s), Some(f)) = (p.started, p.finished) else {
                continue;
            };
            let start = last_end.map_or(s, |e| e.min(f));
            let zero = *origin.get_or_insert(start);
            p.started = Some(start);
            // Milliseconds counted from the first phase's start, so that rounding cannot
            // make the phases add up to a millisecond more or less than the RTO.
            p.duration_ms = Some(span_ms(zero, f).saturating_sub(span_ms(zero, start)));
            last_end = Some(last_end.map_or(f, |e| e.max(f)));
        }
    }

    /// The drill's verdict: passed only when no item failed or was left open and no problem
    /// was recorded; a failure names the first phase (in checklist order) where it happened.
    pub fn verdict(&self) -> Verdict {
        let failing = |status: ItemStatus| {
            self.phases.iter().find_map(|p| {
                p.items
                    .iter()
                    .find(|i| i.status == status)
                    .map(|i| (p.id, p.title.clone(), i))
            })
        };
        if let Some((phase, title, item)) = failing(ItemStatus::Failed) {
            return Verdict::Failed {
                phase: Some(phase),
                phase_title: title,
                why: format!("{}: {}", item.text, item.detail),
            };
        }
        if let Some(problem) = self.problems.first() {
            return Verdict::Failed {
                phase: None,
                phase_title: String::new(),
                why: problem.clone(),
            };
        }
        if let Some((phase, title, item)) = failing(ItemStatus::Open) {
            return Verdict::Failed {
                phase: Some(phase),
                phase_title: title,
                why: format!("{}: left open (tick by hand)", item.text),
            };
        }
        Verdict::Passed
    }

    /// What the drill did not verify: every item that neither passed nor was noted.
    pub fn not_verified(&self) -> Vec<&ItemResult> {
        self.phases
            .iter()
            .flat_map(|p| &p.items)
            .filter(|i| !matches!(i.status, ItemStatus::Passed | ItemStatus::Noted))
            .collect()
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
                Body::Outcome { index, step, .. } => {
                    let from = open.remove(index).unwrap_or(r.time);
                    if let Some(phase) = phase_of_step(step) {
                        self.add_time(phase, from, r.time);
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
                    if step == id && *status != Some(crate::engine::StepStatus::Skipped))
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
        self.settle_times();
        if self.item("reached_target").map(|i| i.status) != Some(ItemStatus::Passed) {
            self.rpo = None;
            self.rpo_unmeasured = Some("the side restore did not reach the target".into());
        } else if self.rpo.is_none() && self.rpo_unmeasured.is_none() {
            self.rpo_unmeasured =
                Some("no WAL index, or a target the index cannot place in time".into());
        }
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
        // A name under a failed drill records who was there; it is no sign-off of a pass.
        let failed = match self.verdict() {
            Verdict::Passed => None,
            v => Some(v.headline()),
        };
        for (id, who) in [("performed_by", &performed), ("verified_by", &verified)] {
            match (who, &failed) {
                (Some(name), None) => self.set(id, ItemStatus::Passed, name.clone()),
                (Some(name), Some(why)) => self.set(
                    id,
                    ItemStatus::Noted,
                    format!("{name}, under a drill that {why}"),
                ),
                (None, _) => self.set(id, ItemStatus::Failed, "not signed"),
            }
        }
        if performed.is_some() && performed == verified {
            self.problems.push(
                "the same person performed and verified the drill: a second pair of eyes is the point of verifying".into(),
            );
        }
        self.sign_off = SignOff {
            performed_at: performed.is_some().then_some(at),
            verified_at: verified.is_some().then_some(at),
            performed_by: performed,
            verified_by: verified,
            at: Some(at),
        };
    }

    /// The verifier signs a closed drill later, at `at`, having read its report. Refused when
    /// someone verified it already, or when the verifier performed it.
    pub fn countersign(&mut self, verified_by: &str, at: DateTime<Utc>) -> Result<(), String> {
        let name = verified_by.trim();
        if name.is_empty() {
            return Err("the verifier's name is empty".into());
        }
        if let Some(v) = &self.sign_off.verified_by {
            return Err(format!("this drill was verified already, by {v}"));
        }
        if self.sign_off.performed_by.as_deref() == Some(name) {
            return Err(format!(
                "{name} performed this drill: a second pair of eyes is the point of verifying"
            ));
        }
        // The close recorded the missing signature as a failed item and a problem.
        if let Some(i) = self.item("verified_by").cloned() {
            let unsigned = format!("{}: {}", i.text, i.detail);
            self.problems.retain(|p| *p != unsigned);
            self.set("verified_by", ItemStatus::Pending, "");
        }
        match self.verdict() {
            Verdict::Passed => self.set("verified_by", ItemStatus::Passed, name),
            v => self.set(
                "verified_by",
                ItemStatus::Noted,
                format!("{name}, under a drill that {}", v.headline()),
            ),
        }
        self.sign_off.verified_by = Some(name.to_string());
        self.sign_off.verified_at = Some(at);
        Ok(())
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

/// Whether a drill passed, and if not, where it failed and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed {
        /// The first phase holding a failed (or open) item; None for a problem of the drill
        /// as a whole (the same person signing twice).
        phase: Option<PhaseId>,
        phase_title: String,
        why: String,
    },
}

impl Verdict {
    /// `passed`, `failed in Recovery`, `failed`.
    pub fn headline(&self) -> String {
        match self {
            Verdict::Passed => "passed".into(),
            Verdict::Failed {
                phase: Some(_),
                phase_title,
                ..
            } => format!("failed in {phase_title}"),
            Verdict::Failed { .. } => "failed".into(),
        }
    }

    pub fn passed(&self) -> bool {
        *self == Verdict::Passed
    }
}

fn span_ms(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    u64::try_from((to - from).num_milliseconds()).unwrap_or(0)
}
