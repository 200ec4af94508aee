//! The report as Markdown: for the ticket, the audit file and the drill's sign-off sheet.

use super::build::{RunReport, StepOutcome};
use crate::domain::zone::Zone;
use crate::engine::drill::{human_ms, DrillRecord, PhaseId, Verdict};
use std::fmt::Write;

/// Table cells hold no pipes and no line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

// Over 100 lines on purpose: the report's sections top to bottom.
#[allow(clippy::too_many_lines)]
pub fn markdown(r: &RunReport, zone: &Zone) -> String {
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or("-".into(), |t| zone.format(t));
    let mut s = String::new();
    let kind = if r.drill.is_some() {
        "Restore drill"
    } else {
        "Recovery run"
    };
    let _ = writeln!(s, "# {kind} {} on server {}\n", r.run_id, r.server);
    let _ = writeln!(s, "- Target: {}", r.target);
    let _ = writeln!(s, "- Outcome: **{}**", r.outcome);
    if let Some(m) = &r.mode {
        let _ = writeln!(s, "- Restore: {m}");
    }
    if let Some(b) = &r.backup {
        let _ = writeln!(s, "- Backup: {} ({:?}, {})", b.id, b.format, b.location);
    }
    if let Some(role) = &r.role {
        let _ = writeln!(s, "- Role: {role}");
    }
    let _ = writeln!(s, "- Started: {}", when(r.started));
    let _ = writeln!(s, "- Finished: {}", when(r.finished));
    if let Some(ms) = r.duration_ms {
        let _ = writeln!(s, "- Duration: {}", human_ms(ms));
    }
    if !r.operators.is_empty() {
        let _ = writeln!(s, "- Run by: {}", r.operators.join(", "));
    }
    let _ = writeln!(s, "- Journal: `{}`", r.journal.display());
    if let Some(d) = &r.drill {
        drill_section(&mut s, d, zone);
    }
    if !r.timeline.is_empty() {
        let _ = writeln!(s, "\n## Timeline\n\n```");
        for e in &r.timeline {
            let _ = writeln!(
                s,
                "{:<32} {:<12} {}",
                e.time.map_or("(time not known)".into(), |t| zone.format(t)),
                e.lsn.as_deref().unwrap_or(""),
                e.what
            );
        }
        let _ = writeln!(s, "```");
    }
    let _ = writeln!(s, "\n## Plan\n");
    if r.plan.is_empty() {
        let _ = writeln!(s, "No steps (the run was refused before it was planned).");
    }
    for p in &r.plan {
        let mark = if p.destructive {
            " *(changes production)*"
        } else {
            ""
        };
        let _ = writeln!(s, "{}. {}{mark}", p.index + 1, p.title);
        for c in &p.commands {
            let _ = writeln!(s, "    - `{}`", c.replace('`', "'"));
        }
    }
    if !r.steps.is_empty() {
        let _ = writeln!(s, "\n## Steps\n");
        let _ = writeln!(s, "| # | Step | Started | Finished | Took | Outcome |");
        let _ = writeln!(s, "|---|------|---------|----------|------|---------|");
        for st in &r.steps {
            let mut outcome = st.outcome.word().to_string();
            if st.attempts > 1 {
                let _ = write!(outcome, " ({} attempts)", st.attempts);
            }
            if let (StepOutcome::Failed, Some(e)) = (st.outcome, &st.error) {
                let _ = write!(outcome, ": {e}");
            }
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                st.index + 1,
                cell(&st.title),
                st.started.map_or("-".into(), |t| zone.clock(t)),
                st.finished.map_or("-".into(), |t| zone.clock(t)),
                st.duration_ms.map_or("-".into(), human_ms),
                cell(&outcome)
            );
        }
    }
    if !r.checklist.is_empty() {
        let _ = writeln!(s, "\n## Verification checklist\n");
        for c in &r.checklist {
            let mark = match (c.ok, c.required) {
                (true, _) => "[x]",
                (false, true) => "[!]",
                (false, false) => "[i]",
            };
            let _ = writeln!(s, "- {mark} {}: {}", c.item, c.detail);
        }
    }
    if !r.decisions.is_empty() {
        let _ = writeln!(s, "\n## Decisions\n");
        for d in &r.decisions {
            let _ = writeln!(s, "- {d}");
        }
    }
    let _ = writeln!(s, "\n## Problems found\n");
    if r.problems.is_empty() {
        let _ = writeln!(s, "None.");
    }
    for p in &r.problems {
        let _ = writeln!(s, "- {p}");
    }
    s
}

fn drill_section(s: &mut String, d: &DrillRecord, zone: &Zone) {
    let _ = writeln!(s, "\n## {}\n", d.checklist_title);
    let verdict = d.verdict();
    let line = match &verdict {
        Verdict::Passed => "**The drill passed.**".to_string(),
        Verdict::Failed { why, .. } => {
            format!("**The drill {}**: {}", verdict.headline(), cell(why))
        }
    };
    let _ = writeln!(s, "{line}\n");
    let _ = writeln!(s, "| Phase | Started | Finished | Time (RTO share) |");
    let _ = writeln!(s, "|-------|---------|----------|------------------|");
    for p in d.phases.iter().filter(|p| p.id.timed()) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            cell(&p.title),
            p.started.map_or("-".into(), |t| zone.clock(t)),
            p.finished.map_or("-".into(), |t| zone.clock(t)),
            p.duration_ms.map_or("not timed".into(), human_ms)
        );
    }
    let _ = writeln!(
        s,
        "| **Total RTO** | | | **{}** |",
        d.rto_ms.map_or("not measured".into(), human_ms)
    );
    match &d.rpo {
        Some(rpo) => {
            let _ = writeln!(
                s,
                "\nRPO of the chosen instant: **{}** (chosen {}, newest archived commit {} in {})",
                human_ms((rpo.seconds * 1000.0).round() as u64),
                zone.format(rpo.chosen),
                zone.format(rpo.newest_commit),
                rpo.newest_segment
            );
        }
        None => {
            let _ = writeln!(
                s,
                "\nRPO: not measured ({})",
                d.rpo_unmeasured
                    .as_deref()
                    .unwrap_or("no WAL index, or a target the index cannot place in time")
            );
        }
    }
    let not_verified = d.not_verified();
    if !not_verified.is_empty() {
        let _ = writeln!(s, "\n### Not verified by this drill\n");
        for i in not_verified {
            let detail = if i.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", i.detail)
            };
            let _ = writeln!(s, "- {} ({}){detail}", i.text, i.status.word());
        }
    }
    for p in d.phases.iter().filter(|p| p.id != PhaseId::SignOff) {
        let _ = writeln!(s, "\n### {}\n", p.title);
        for i in &p.items {
            let detail = if i.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", i.detail)
            };
            let _ = writeln!(
                s,
                "- {} {} ({}){detail}",
                i.status.mark(),
                i.text,
                i.status.word()
            );
        }
    }
    let title = d
        .phase(PhaseId::SignOff)
        .map_or("Sign-off", |p| p.title.as_str());
    let _ = writeln!(s, "\n### {title}\n");
    let name = |n: &Option<String>| n.clone().unwrap_or_else(|| "________________".into());
    // Each signature's own time (a record from before they were kept has the close's).
    let date = |who: &Option<String>, at: Option<chrono::DateTime<chrono::Utc>>| match who {
        Some(_) => at
            .or(d.sign_off.at)
            .map_or("________________".into(), |t| zone.format(t)),
        None => "________________".to_string(),
    };
    let _ = writeln!(
        s,
        "Performed by: {}   Date: {}",
        name(&d.sign_off.performed_by),
        date(&d.sign_off.performed_by, d.sign_off.performed_at)
    );
    let _ = writeln!(
        s,
        "Verified by: {}   Date: {}",
        name(&d.sign_off.verified_by),
        date(&d.sign_off.verified_by, d.sign_off.verified_at)
    );
}
