//! The step engine: plans of steps, a runner that journals and asks, locks, resume.
//! Headless: it emits `EngineEvent`s and takes `Decision`s; the TUI and the CLI drive it.
//! No terminal here; IO goes through the ports.

pub mod check_item;
pub mod control_data;
pub mod drill;
pub mod event;
pub mod facts;
pub mod inputs;
pub mod journal;
pub mod journal_key;
pub mod lock;
pub mod plan;
pub mod plan_view;
pub mod ports;
pub mod recovery;
pub mod redact;
pub mod roles;
pub mod runner;
pub mod state_dir;
pub mod step;
pub mod steps;
pub mod training;

#[cfg(test)]
mod fakes;
#[cfg(test)]
mod runner_tests;

pub use event::{Decision, EngineEvent, Phase, ProgressUnit, Question, RunStatus, StepStatus};
pub use plan::Plan;
pub use plan_view::{PlanView, StepView};
pub use runner::{EngineError, Notebook, ResumeAction, RunHandle, RunOptions, Runner};
