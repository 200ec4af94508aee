//! Exit codes are part of the contract (DESIGN.md): scripts branch on them.

use std::fmt::Display;

pub const BAD_INPUT: i32 = 2;
pub const NOT_RECOVERABLE: i32 = 3;
pub const STEP_FAILED: i32 = 4;
pub const REFUSED_BY_ROLE: i32 = 5;

#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
    /// Why a target could not be placed, in parts, for `--json`.
    pub detail: Option<serde_json::Value>,
    /// Print the failure as one JSON object on standard output (`--json`).
    pub json: bool,
}

impl Failure {
    /// The same failure, printed as JSON when `json` is set.
    pub fn json_if(mut self, json: bool) -> Failure {
        self.json = json;
        self
    }

    /// The JSON a `--json` command prints for this failure.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "format_version": 1,
            "refused": true,
            "exit_code": self.code,
            "kind": match self.code {
                BAD_INPUT => "bad_input",
                NOT_RECOVERABLE => "not_recoverable",
                STEP_FAILED => "step_failed",
                REFUSED_BY_ROLE => "refused_by_role",
                _ => "failed",
            },
            "message": self.message,
        });
        if let (Some(obj), Some(serde_json::Value::Object(d))) = (v.as_object_mut(), &self.detail) {
            obj.extend(d.clone());
        }
        v
    }

    pub fn bad_input(message: impl Display) -> Failure {
        Failure {
            code: BAD_INPUT,
            message: message.to_string(),
            detail: None,
            json: false,
        }
    }
    pub fn not_recoverable(message: impl Display) -> Failure {
        Failure {
            code: NOT_RECOVERABLE,
            message: message.to_string(),
            detail: None,
            json: false,
        }
    }
    pub fn step_failed(message: impl Display) -> Failure {
        Failure {
            code: STEP_FAILED,
            message: message.to_string(),
            detail: None,
            json: false,
        }
    }
    pub fn refused(message: impl Display) -> Failure {
        Failure {
            code: REFUSED_BY_ROLE,
            message: message.to_string(),
            detail: None,
            json: false,
        }
    }
}
