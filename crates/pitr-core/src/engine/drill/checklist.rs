//! The drill's checklist template: phases and items, the console's own items, which
//! engine step counts toward which phase.

use super::*;

/// The checklist shipped with the console.
pub const DEFAULT_CHECKLIST: &str = include_str!("../../../../../assets/drill-checklist.toml");

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

pub(super) fn is_auto(id: &str) -> bool {
    AUTO_ITEMS.iter().any(|(a, _)| *a == id)
}

/// Which drill phase an engine step's time counts toward.
pub fn phase_of_step(step: &str) -> Option<PhaseId> {
    match step {
        "preflight" | "snapshot" => Some(PhaseId::Preparation),
        "restore" | "write_config" | "start" | "replay" => Some(PhaseId::Recovery),
        // The engine checks the side instance before it promotes it, so its time from the
        // checks on is verification; recovery ends when replay reached the target.
        "verify" | "decide" | "promote" => Some(PhaseId::Verification),
        _ => None,
    }
}
