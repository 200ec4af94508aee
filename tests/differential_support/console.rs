//! The console's answer for one target: `pitr-console plan --json`, run as the binary.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The target as the console's command line spells it.
#[derive(Debug, Clone)]
pub struct TargetArgs {
    pub args: Vec<String>,
    pub timeline: Option<u32>,
}

/// The console's prediction of where replay stops (the verdicts branch's `prediction`).
#[derive(Debug, Clone)]
pub struct Prediction {
    pub timeline: Option<u32>,
    /// `pg_last_wal_replay_lsn()` must lie in this closed range.
    pub replay_min: Option<String>,
    pub replay_max: Option<String>,
    /// The last transaction end replay keeps; for an inclusive LSN also `or_kept`, since the
    /// record at that LSN may be the next transaction's end.
    pub last_kept_xids: Vec<u64>,
}

#[derive(Debug, Clone)]
pub enum Verdict {
    Recoverable {
        backup: String,
        /// recovery_target_* lines of the plan's write_config step.
        settings: Vec<String>,
        prediction: Option<Prediction>,
    },
    /// Exit 3: not recoverable.
    Refused { message: String },
    /// Exit 2 or anything else: not a verdict on the target.
    Error { code: i32, message: String },
    /// The target names a timeline and this build has no `--timeline`: not asked.
    Unsupported,
}

pub struct Console<'a> {
    pub binary: &'a str,
    pub config: &'a Path,
    pub state_dir: &'a Path,
    pub server: &'a str,
}

impl Console<'_> {
    /// Whether `plan` takes `--timeline` on this build.
    pub fn has_timeline_option(&self) -> bool {
        let out = Command::new(self.binary)
            .args(["plan", "--help"])
            .output()
            .expect("the console runs");
        String::from_utf8_lossy(&out.stdout).contains("--timeline")
    }

    pub fn plan(&self, target: &TargetArgs, side_dir: &Path, port: u16) -> Verdict {
        let mut c = Command::new(self.binary);
        c.arg("--config")
            .arg(self.config)
            .args(["plan", "--server", self.server, "--json", "--restore-to"])
            .arg(side_dir)
            .args(["--port", &port.to_string()])
            .args(&target.args)
            .env("PITR_CONSOLE_STATE_DIR", self.state_dir)
            .env_remove("PITR_CONSOLE_CONFIG");
        if let Some(tl) = target.timeline {
            c.args(["--timeline", &tl.to_string()]);
        }
        let out = c.output().expect("the console runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let code = out.status.code().unwrap_or(-1);
        let message = if stderr.is_empty() {
            stdout.trim().to_string()
        } else {
            stderr
        };
        match code {
            0 => match serde_json::from_str::<Value>(&stdout) {
                Ok(json) => recoverable(&json),
                Err(e) => Verdict::Error {
                    code,
                    message: format!("plan --json printed no JSON ({e}): {stdout}"),
                },
            },
            3 => Verdict::Refused { message },
            _ => Verdict::Error { code, message },
        }
    }
}

fn recoverable(json: &Value) -> Verdict {
    let backup = json["backup"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let settings = json["plan"]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["id"] == "write_config")
        .flat_map(|s| s["commands"].as_array().cloned().unwrap_or_default())
        .filter_map(|l| l.as_str().map(|l| l.trim().to_string()))
        .filter(|l| l.starts_with("recovery_target") && !l.starts_with("recovery_target_action"))
        .collect();
    let p = json
        .get("prediction")
        .or_else(|| json.get("predicted_stop"))
        .filter(|p| p.is_object());
    let prediction = p.map(|p| Prediction {
        timeline: p["timeline"].as_u64().map(|t| t as u32),
        replay_min: p["replay_min"].as_str().map(str::to_string),
        replay_max: p["replay_max"].as_str().map(str::to_string),
        last_kept_xids: [&p["last_kept"], &p["or_kept"]]
            .iter()
            .filter_map(|k| k["xid"].as_u64())
            .collect(),
    });
    Verdict::Recoverable {
        backup,
        settings,
        prediction,
    }
}
