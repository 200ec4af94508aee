//! A plan: the ordered steps of one run, described exactly, with a checksum a resumed run
//! must match.

use super::journal::sha256_hex;
use super::plan_view::{Branch, PlanView, StepView};
use super::redact::redact;
use super::step::Step;
use serde_json::Value;
use std::fmt::Write;

pub struct Plan {
    pub run_id: String,
    pub server: String,
    /// The target in words, for the header and the report.
    pub target: String,
    pub steps: Vec<Box<dyn Step>>,
    /// What the plan was built from, serialized, so `resume` can rebuild it.
    pub inputs: Value,
    checksum: String,
}

impl Plan {
    pub fn new(
        run_id: String,
        server: String,
        target: String,
        inputs: Value,
        steps: Vec<Box<dyn Step>>,
    ) -> Plan {
        let mut plan = Plan {
            run_id,
            server,
            target,
            steps,
            inputs,
            checksum: String::new(),
        };
        let views = plan.step_views();
        plan.checksum = sha256_hex(serde_json::to_string(&views).unwrap_or_default().as_bytes());
        plan
    }

    /// sha256 over the steps' redacted descriptions.
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    pub fn step_views(&self) -> Vec<StepView> {
        self.steps
            .iter()
            .enumerate()
            .map(|(index, s)| StepView {
                index,
                id: s.id().to_string(),
                title: s.title(),
                commands: s.describe().iter().map(|c| redact(c)).collect(),
                undo: s.describe_undo().iter().map(|c| redact(c)).collect(),
                destructive: s.destructive(),
                branch: s.branch(),
            })
            .collect()
    }

    pub fn view(&self) -> PlanView {
        PlanView {
            run_id: self.run_id.clone(),
            server: self.server.clone(),
            target: self.target.clone(),
            checksum: self.checksum.clone(),
            steps: self.step_views(),
        }
    }

    /// The dry run: every step with its exact commands, then what a roll back would do.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Plan {} for server {}: recover to {}",
            self.run_id, self.server, self.target
        );
        for v in self.step_views() {
            let mark = if v.destructive {
                " [changes production]"
            } else {
                ""
            };
            let when = match v.branch {
                Branch::Main => "",
                Branch::AfterPromote => " (after promote)",
                Branch::Final => " (always, last)",
            };
            let _ = writeln!(s, "{:>2}. {}{when}{mark}", v.index + 1, v.title);
            for c in &v.commands {
                let _ = writeln!(s, "      {c}");
            }
        }
        let _ = writeln!(s, "Roll back (if chosen) undoes, in reverse order:");
        for v in self
            .step_views()
            .iter()
            .rev()
            .filter(|v| !v.undo.is_empty())
        {
            let _ = writeln!(s, "    {}:", v.title);
            for c in &v.undo {
                let _ = writeln!(s, "      {c}");
            }
        }
        let _ = writeln!(s, "Plan checksum {}", self.checksum);
        s
    }
}
