//! The run journal: JSON Lines, one file per run, mode 0600. Every record carries the
//! sha256 of the previous line, so an edited or truncated history is noticed; intents are
//! fsynced before the action they announce.

use super::event::{Decision, Phase, RunStatus, StepStatus};
use super::plan::StepView;
use super::redact::redact;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Output kept per action in the journal; the head and tail survive.
pub const OUTPUT_LIMIT: usize = 4096;
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub user: String,
    pub host: String,
    pub pid: u32,
    /// sha256 (hex) of the previous record's line.
    pub prev: String,
    #[serde(flatten)]
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// The first record: what this run is, enough to rebuild its plan on resume.
    Run {
        run_id: String,
        server: String,
        target: String,
        checksum: String,
        steps: Vec<StepView>,
        inputs: Value,
    },
    Resume {
        checksum: String,
    },
    Intent {
        index: usize,
        step: String,
        phase: Phase,
        commands: Vec<String>,
    },
    Outcome {
        index: usize,
        step: String,
        phase: Phase,
        ok: bool,
        status: Option<StepStatus>,
        duration_ms: u64,
        error: Option<String>,
        facts: Map<String, Value>,
    },
    /// One command, SQL statement or file move, before it happens.
    Action {
        index: usize,
        step: String,
        action: String,
    },
    ActionDone {
        index: usize,
        step: String,
        ok: bool,
        exit_code: Option<i32>,
        duration_ms: u64,
        output: String,
    },
    Decision {
        question: String,
        decision: Decision,
    },
    Note {
        index: Option<usize>,
        text: String,
    },
    Rollback {
        reason: String,
    },
    End {
        status: RunStatus,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("journal {path}, line {line}: {what}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        what: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |err| JournalError::Io {
        path: path.to_path_buf(),
        err,
    }
}

pub struct Journal {
    file: File,
    path: PathBuf,
    last_hash: String,
    seq: u64,
    user: String,
    host: String,
}

impl Journal {
    /// Creates `<dir>/<server>-<run_id>.jsonl` (mode 0600; the directory 0700 if new).
    pub fn create(dir: &Path, server: &str, run_id: &str) -> Result<Journal, JournalError> {
        create_private_dir(dir).map_err(io_err(dir))?;
        let path = dir.join(format!("{server}-{run_id}.jsonl"));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err(&path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))?;
        Ok(Journal::with(file, path, GENESIS.to_string(), 0))
    }

    /// Continues an existing journal after its last complete line (a torn last line, from a
    /// crash mid-write, is cut off).
    pub fn reopen(state: &JournalState) -> Result<Journal, JournalError> {
        let path = &state.path;
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        file.set_len(state.valid_len).map_err(io_err(path))?;
        drop(file);
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io_err(path))?;
        Ok(Journal::with(
            file,
            path.clone(),
            state.last_hash.clone(),
            state.last_seq + 1,
        ))
    }

    fn with(file: File, path: PathBuf, last_hash: String, seq: u64) -> Journal {
        Journal {
            file,
            path,
            last_hash,
            seq,
            user: os_user(),
            host: host_name(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and fsyncs it. Text fields are redacted here, once for all.
    pub fn write(&mut self, body: Body) -> Result<(), JournalError> {
        self.write_on(body, None)
    }

    /// Like `write`, for an action on another host (over SSH): the record names that host.
    pub fn write_on(&mut self, body: Body, host: Option<&str>) -> Result<(), JournalError> {
        let record = Record {
            seq: self.seq,
            time: Utc::now(),
            user: self.user.clone(),
            host: host
                .map(str::to_string)
                .unwrap_or_else(|| self.host.clone()),
            pid: std::process::id(),
            prev: self.last_hash.clone(),
            body: redact_body(body),
        };
        let line = serde_json::to_string(&record).map_err(|e| JournalError::Corrupt {
            path: self.path.clone(),
            line: self.seq as usize + 1,
            what: format!("cannot encode record: {e}"),
        })?;
        let path = self.path.clone();
        self.file
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|_| self.file.sync_data())
            .map_err(io_err(&path))?;
        self.last_hash = sha256_hex(line.as_bytes());
        self.seq += 1;
        Ok(())
    }
}

fn redact_body(body: Body) -> Body {
    match body {
        Body::Intent {
            index,
            step,
            phase,
            commands,
        } => Body::Intent {
            index,
            step,
            phase,
            commands: commands.iter().map(|c| redact(c)).collect(),
        },
        Body::Action {
            index,
            step,
            action,
        } => Body::Action {
            index,
            step,
            action: redact(&action),
        },
        Body::ActionDone {
            index,
            step,
            ok,
            exit_code,
            duration_ms,
            output,
        } => Body::ActionDone {
            index,
            step,
            ok,
            exit_code,
            duration_ms,
            output: truncate_output(&redact(&output)),
        },
        Body::Outcome {
            index,
            step,
            phase,
            ok,
            status,
            duration_ms,
            error,
            facts,
        } => Body::Outcome {
            index,
            step,
            phase,
            ok,
            status,
            duration_ms,
            error: error.map(|e| truncate_output(&redact(&e))),
            facts,
        },
        Body::Note { index, text } => Body::Note {
            index,
            text: redact(&text),
        },
        other => other,
    }
}

/// Keeps the first and last parts of long output, marking the cut.
pub fn truncate_output(s: &str) -> String {
    if s.len() <= OUTPUT_LIMIT {
        return s.to_string();
    }
    let half = OUTPUT_LIMIT / 2;
    let mut head = half;
    while !s.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = s.len() - half;
    while !s.is_char_boundary(tail) {
        tail += 1;
    }
    format!(
        "{}\n[... {} bytes cut ...]\n{}",
        &s[..head],
        tail - head,
        &s[tail..]
    )
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

pub fn os_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::effective())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| nix::unistd::Uid::effective().to_string())
}

pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// A step that must be settled before a resumed run goes on.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    /// Intent without outcome: the process died during it.
    Dirty { index: usize, phase: Phase },
    /// Its last outcome is a failure.
    Failed {
        index: usize,
        phase: Phase,
        error: String,
    },
}

/// A journal read back: the chain checked and the run's progress summed up.
#[derive(Debug, Clone)]
pub struct JournalState {
    pub path: PathBuf,
    pub run_id: String,
    pub server: String,
    pub target: String,
    pub checksum: String,
    pub inputs: Value,
    pub records: Vec<Record>,
    /// Steps done on the forward path (run phase), with how.
    pub finished: BTreeMap<usize, StepStatus>,
    /// Steps whose run phase began (they may need undoing on roll back).
    pub started: BTreeSet<usize>,
    /// Steps undone (or marked undone) during a roll back.
    pub undone: BTreeSet<usize>,
    pub pending: Option<Pending>,
    pub rolling_back: bool,
    /// Facts the finished steps recorded, later ones overriding earlier ones.
    pub facts: Map<String, Value>,
    pub ended: Option<RunStatus>,
    pub valid_len: u64,
    pub last_hash: String,
    pub last_seq: u64,
}

impl JournalState {
    pub fn read(path: &Path) -> Result<JournalState, JournalError> {
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        let corrupt = |line: usize, what: String| JournalError::Corrupt {
            path: path.to_path_buf(),
            line,
            what,
        };
        let mut records = Vec::new();
        let mut prev = GENESIS.to_string();
        let mut valid_len = 0u64;
        let mut lines = text.split_inclusive('\n').enumerate().peekable();
        while let Some((n, raw)) = lines.next() {
            // Records are written whole with their newline: a last line without one is
            // what a crash mid-write leaves, and is dropped.
            if !raw.ends_with('\n') && lines.peek().is_none() {
                break;
            }
            let line = raw.trim_end_matches('\n');
            let record: Record = serde_json::from_str(line)
                .map_err(|e| corrupt(n + 1, format!("not a journal record: {e}")))?;
            if record.prev != prev {
                return Err(corrupt(
                    n + 1,
                    "hash chain broken: this record does not follow the previous line (edited or reordered?)".into(),
                ));
            }
            prev = sha256_hex(line.as_bytes());
            valid_len += raw.len() as u64;
            records.push(record);
        }
        let Some(first) = records.first() else {
            return Err(corrupt(1, "empty journal".into()));
        };
        let Body::Run {
            run_id,
            server,
            target,
            checksum,
            inputs,
            ..
        } = &first.body
        else {
            return Err(corrupt(1, "the first record is not a run header".into()));
        };
        let mut state = JournalState {
            path: path.to_path_buf(),
            run_id: run_id.clone(),
            server: server.clone(),
            target: target.clone(),
            checksum: checksum.clone(),
            inputs: inputs.clone(),
            records: Vec::new(),
            finished: BTreeMap::new(),
            started: BTreeSet::new(),
            undone: BTreeSet::new(),
            pending: None,
            rolling_back: false,
            facts: Map::new(),
            ended: None,
            valid_len,
            last_hash: prev,
            last_seq: records.last().map(|r| r.seq).unwrap_or(0),
        };
        for r in &records {
            state.apply(&r.body);
        }
        state.records = records;
        Ok(state)
    }

    fn apply(&mut self, body: &Body) {
        match body {
            Body::Intent { index, phase, .. } => {
                if *phase == Phase::Run {
                    self.started.insert(*index);
                }
                self.pending = Some(Pending::Dirty {
                    index: *index,
                    phase: *phase,
                });
            }
            Body::Outcome {
                index,
                phase,
                ok,
                status,
                error,
                facts,
                ..
            } => {
                self.pending = None;
                if !ok {
                    self.pending = Some(Pending::Failed {
                        index: *index,
                        phase: *phase,
                        error: error.clone().unwrap_or_default(),
                    });
                    return;
                }
                match phase {
                    Phase::Run => {
                        self.finished
                            .insert(*index, status.unwrap_or(StepStatus::Done));
                        for (k, v) in facts {
                            self.facts.insert(k.clone(), v.clone());
                        }
                    }
                    Phase::Undo => {
                        self.undone.insert(*index);
                    }
                }
            }
            Body::Rollback { .. } => {
                self.rolling_back = true;
                if matches!(self.pending, Some(Pending::Failed { .. })) {
                    self.pending = None;
                }
            }
            Body::End { status } => self.ended = Some(status.clone()),
            _ => {}
        }
    }

    /// How many times a step's run phase was begun (a finished step is begun once).
    pub fn intents(&self, step: &str, phase: Phase) -> usize {
        self.records
            .iter()
            .filter(|r| matches!(&r.body, Body::Intent { step: s, phase: p, .. } if s == step && *p == phase))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn header() -> Body {
        Body::Run {
            run_id: "r1".into(),
            server: "db1".into(),
            target: "latest".into(),
            checksum: "abc".into(),
            steps: vec![],
            inputs: Value::Null,
        }
    }

    #[test]
    fn chain_mode_and_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::create(dir.path(), "db1", "r1").unwrap();
        j.write(header()).unwrap();
        j.write(Body::Intent {
            index: 0,
            step: "a".into(),
            phase: Phase::Run,
            commands: vec!["psql password=x".into()],
        })
        .unwrap();
        let mut facts = Map::new();
        facts.insert("k".into(), Value::from(1));
        j.write(Body::Outcome {
            index: 0,
            step: "a".into(),
            phase: Phase::Run,
            ok: true,
            status: None,
            duration_ms: 1,
            error: None,
            facts,
        })
        .unwrap();
        j.write(Body::Intent {
            index: 1,
            step: "b".into(),
            phase: Phase::Run,
            commands: vec![],
        })
        .unwrap();
        let path = j.path().to_path_buf();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("password=***") && !text.contains("password=x"));

        let s = JournalState::read(&path).unwrap();
        assert_eq!(s.checksum, "abc");
        assert_eq!(s.finished.len(), 1);
        assert_eq!(s.facts["k"], Value::from(1));
        assert_eq!(
            s.pending,
            Some(Pending::Dirty {
                index: 1,
                phase: Phase::Run
            })
        );

        // A torn last line is dropped; writing goes on from the last whole record.
        std::fs::write(&path, format!("{text}{{\"seq\":9,")).unwrap();
        let s = JournalState::read(&path).unwrap();
        let mut j = Journal::reopen(&s).unwrap();
        j.write(Body::Note {
            index: None,
            text: "resumed".into(),
        })
        .unwrap();
        let s = JournalState::read(&path).unwrap();
        assert_eq!(s.records.len(), 5);

        // Editing a past record breaks the chain.
        let edited = std::fs::read_to_string(&path)
            .unwrap()
            .replacen("\"a\"", "\"z\"", 1);
        std::fs::write(&path, edited).unwrap();
        let err = JournalState::read(&path).unwrap_err().to_string();
        assert!(err.contains("hash chain broken"), "{err}");
    }

    #[test]
    fn truncates_long_output() {
        let long = "x".repeat(10_000);
        let t = truncate_output(&long);
        assert!(t.len() < 4200 && t.contains("bytes cut"));
    }
}
