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
}

impl Failure {
    pub fn bad_input(message: impl Display) -> Failure {
        Failure {
            code: BAD_INPUT,
            message: message.to_string(),
        }
    }
    pub fn not_recoverable(message: impl Display) -> Failure {
        Failure {
            code: NOT_RECOVERABLE,
            message: message.to_string(),
        }
    }
    pub fn step_failed(message: impl Display) -> Failure {
        Failure {
            code: STEP_FAILED,
            message: message.to_string(),
        }
    }
    pub fn refused(message: impl Display) -> Failure {
        Failure {
            code: REFUSED_BY_ROLE,
            message: message.to_string(),
        }
    }
}
