//! The run journal: JSON Lines, one file per run, mode 0600. Every record carries the
//! sha256 of the previous line and, first on its line, the HMAC-SHA256 of the rest under the
//! host's journal key (`journal_key`), so an edited record is noticed and cannot be re-signed
//! without the key. A signed end anchor beside the journal (`<journal>.end`) names the last
//! record written, so whole records cut from the end are noticed too. Intents are fsynced
//! before the action they announce.
//!
//! A journal that fails any of these checks is still read and shown, with its problems;
//! only resuming or appending to it is refused (`JournalState::require_intact`).

use super::event::{Decision, Phase, RunStatus, StepStatus};
use super::journal_key::JournalKey;
use super::plan_view::StepView;
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
    #[error("journal {path}: {0}", .what)]
    Key { path: PathBuf, what: String },
    #[error("journal {path} cannot be trusted, so it is neither resumed nor written to: {}. Nothing was changed; read it with `pitr-console journal show {path}`, and settle the run by hand from what it shows", .problems.join("; "))]
    Untrusted {
        path: PathBuf,
        problems: Vec<String>,
    },
}

const MAC_PREFIX: &str = "{\"mac\":\"";

/// The end anchor: the last record written, signed.
#[derive(Debug, Serialize, Deserialize)]
struct Anchor {
    seq: u64,
    hash: String,
    mac: String,
}

fn anchor_path(journal: &Path) -> PathBuf {
    let mut p = journal.as_os_str().to_owned();
    p.push(".end");
    PathBuf::from(p)
}

fn anchor_text(journal: &Path, seq: u64, hash: &str) -> String {
    let name = journal
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("end {name} {seq} {hash}")
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
    key: JournalKey,
    last_hash: String,
    seq: u64,
    user: String,
    host: String,
}

impl Journal {
    /// Creates `<dir>/<server>-<run_id>.jsonl` (mode 0600; the directory 0700 if new).
    pub fn create(dir: &Path, server: &str, run_id: &str) -> Result<Journal, JournalError> {
        create_private_dir(dir).map_err(io_err(dir))?;
        check_journal_dir(dir)?;
        let key = host_key(dir)?;
        let path = dir.join(format!("{server}-{run_id}.jsonl"));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err(&path))?;
        // The new name must survive a crash before the first record is read back.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))?;
        Ok(Journal::with(file, path, key, GENESIS.to_string(), 0))
    }

    /// Continues an intact journal after its last record; a journal with any problem (torn,
    /// cut, failing authentication) is refused, never truncated.
    pub fn reopen(state: &JournalState) -> Result<Journal, JournalError> {
        state.require_intact()?;
        let path = &state.path;
        let dir = path.parent().unwrap_or(Path::new("."));
        check_journal_dir(dir)?;
        let key = host_key(path)?;
        let file = OpenOptions::new()
            .append(true)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(path)
            .map_err(io_err(path))?;
        Ok(Journal::with(
            file,
            path.clone(),
            key,
            state.last_hash.clone(),
            state.last_seq + 1,
        ))
    }

    fn with(file: File, path: PathBuf, key: JournalKey, last_hash: String, seq: u64) -> Journal {
        Journal {
            file,
            path,
            key,
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
        let mac = self.key.sign(line.as_bytes());
        let line = format!("{MAC_PREFIX}{mac}\",{}", &line[1..]);
        let path = self.path.clone();
        self.file
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|_| self.file.sync_data())
            .map_err(io_err(&path))?;
        self.last_hash = sha256_hex(line.as_bytes());
        self.write_anchor()?;
        self.seq += 1;
        Ok(())
    }

    /// Replaces the end anchor (write, fsync, rename, fsync the directory).
    fn write_anchor(&self) -> Result<(), JournalError> {
        let anchor = Anchor {
            seq: self.seq,
            hash: self.last_hash.clone(),
            mac: self
                .key
                .sign(anchor_text(&self.path, self.seq, &self.last_hash).as_bytes()),
        };
        let end = anchor_path(&self.path);
        let mut tmp = end.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let text = serde_json::to_string(&anchor).unwrap_or_default();
        let _ = std::fs::remove_file(&tmp);
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(text.as_bytes())?;
                f.sync_data()
            })
            .and_then(|_| std::fs::rename(&tmp, &end))
            .and_then(|_| File::open(end.parent().unwrap_or(Path::new(".")))?.sync_all())
            .map_err(io_err(&end))
    }
}

fn host_key(path: &Path) -> Result<JournalKey, JournalError> {
    JournalKey::host().map_err(|what| JournalError::Key {
        path: path.to_path_buf(),
        what,
    })
}

/// A journal directory must be a real directory of this user that nobody else may write:
/// otherwise another local user could plant or swap the files resume trusts.
fn check_journal_dir(dir: &Path) -> Result<(), JournalError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir).map_err(io_err(dir))?;
    let me = nix::unistd::Uid::effective().as_raw();
    let what = if meta.file_type().is_symlink() {
        Some("is a symbolic link; point journal_dir (or --journal) at a real directory".to_string())
    } else if meta.uid() != me && me != 0 {
        // Root may keep journals in a directory its server user owns (the lab's temp dirs):
        // that user cannot forge them, lacking root's journal key.
        Some(format!(
            "belongs to uid {}, not to this user (uid {me}); use a journal directory of your own",
            meta.uid()
        ))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!(
            "has mode {:o}: group or others may write to it; run `chmod go-w {}`",
            meta.mode() & 0o7777,
            dir.display()
        ))
    } else {
        None
    };
    match what {
        Some(what) => Err(JournalError::Io {
            path: dir.to_path_buf(),
            err: std::io::Error::other(what),
        }),
        None => Ok(()),
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
        Body::Run {
            run_id,
            server,
            target,
            checksum,
            steps,
            inputs,
        } => Body::Run {
            run_id,
            server,
            target: redact(&target),
            checksum,
            steps: steps
                .into_iter()
                .map(|mut v| {
                    v.title = redact(&v.title);
                    v.commands = v.commands.iter().map(|c| redact(c)).collect();
                    v.undo = v.undo.iter().map(|c| redact(c)).collect();
                    v
                })
                .collect(),
            inputs: redact_value(inputs),
        },
        Body::Decision { question, decision } => Body::Decision {
            question: redact(&question),
            decision,
        },
        Body::Rollback { reason } => Body::Rollback {
            reason: redact(&reason),
        },
        Body::End { status } => Body::End {
            status: serde_json::to_value(&status)
                .ok()
                .and_then(|v| serde_json::from_value(redact_value(v)).ok())
                .unwrap_or(status),
        },
        Body::Resume { checksum } => Body::Resume { checksum },
    }
}

/// Every string inside `v` redacted (the run's inputs hold the dsn, with its password).
pub fn redact_value(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(redact(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(redact_value).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, redact_value(v))).collect())
        }
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

pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
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

/// Why a line fails authentication, if it does. The message never shows the expected MAC.
fn unauthentic(key: &JournalKey, line: &str) -> Option<&'static str> {
    let Some(rest) = line.strip_prefix(MAC_PREFIX) else {
        return Some(
            "the record carries no authentication (written by hand or by an older console)",
        );
    };
    let (Some(mac), Some(body)) = (
        rest.get(..64),
        rest.get(64..).and_then(|r| r.strip_prefix("\",")),
    ) else {
        return Some("the record's authentication is malformed");
    };
    if key.verify(format!("{{{body}").as_bytes(), mac) {
        None
    } else {
        Some("the record fails authentication with this host's journal key: it was edited, or written on another host")
    }
}

/// Whether the end anchor says the journal ends where the file does. The anchor may lag one
/// record behind (a crash between writing a record and its anchor), never more.
fn end_problem(
    key: &JournalKey,
    path: &Path,
    records: &[Record],
    hashes: &[String],
) -> Option<String> {
    let end = anchor_path(path);
    let anchor: Anchor = match std::fs::read_to_string(&end) {
        Ok(t) => match serde_json::from_str(&t) {
            Ok(a) => a,
            Err(_) => return Some(format!("its end anchor {} is unreadable", end.display())),
        },
        Err(_) => {
            return Some(format!(
                "its end anchor {} is missing, so a cut at the end could not be noticed",
                end.display()
            ))
        }
    };
    if !key.verify(
        anchor_text(path, anchor.seq, &anchor.hash).as_bytes(),
        &anchor.mac,
    ) {
        return Some(format!(
            "its end anchor {} fails authentication",
            end.display()
        ));
    }
    let written = anchor.seq as usize + 1;
    if written > records.len() {
        return Some(format!(
            "it was cut: {written} records were written, the file holds {}",
            records.len()
        ));
    }
    let lag = records.len() - written;
    if lag > 1 || hashes.get(anchor.seq as usize) != Some(&anchor.hash) {
        return Some(format!(
            "its end anchor names record {} but the file holds {} records that do not end there",
            anchor.seq + 1,
            records.len()
        ));
    }
    None
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
    /// Why this journal cannot be trusted (torn or cut end, failed authentication), shown
    /// with it; empty when intact.
    pub problems: Vec<String>,
    pub last_hash: String,
    pub last_seq: u64,
}

impl JournalState {
    pub fn read(path: &Path) -> Result<JournalState, JournalError> {
        // `recover --journal FILE` makes FILE a link to the journal in its directory: the end
        // anchor and the directory checks belong to the real file, not to the link.
        let real = std::fs::canonicalize(path).map_err(io_err(path))?;
        let path = real.as_path();
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        let corrupt = |line: usize, what: String| JournalError::Corrupt {
            path: path.to_path_buf(),
            line,
            what,
        };
        let key = JournalKey::host();
        let mut problems = Vec::new();
        if let Err(e) = &key {
            problems.push(format!("its records cannot be authenticated ({e})"));
        }
        let mut records = Vec::new();
        let mut hashes = Vec::new();
        let mut prev = GENESIS.to_string();
        let mut lines = text.split_inclusive('\n').enumerate().peekable();
        while let Some((n, raw)) = lines.next() {
            // Records are written whole with their newline: a last line without one is what
            // a crash mid-write, or a cut file, leaves. It is reported, never dropped.
            if !raw.ends_with('\n') && lines.peek().is_none() {
                problems.push(format!(
                    "line {} is a partial record ({} bytes without an end): the file was cut or torn after record {}",
                    n + 1,
                    raw.len(),
                    records.len()
                ));
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
            if let Ok(key) = &key {
                if let Some(why) = unauthentic(key, line) {
                    problems.push(format!("line {}: {why}", n + 1));
                }
            }
            prev = sha256_hex(line.as_bytes());
            hashes.push(prev.clone());
            records.push(record);
        }
        if let Ok(key) = &key {
            if let Some(why) = end_problem(key, path, &records, &hashes) {
                problems.push(why);
            }
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
            problems,
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

    /// Refuses a journal with any problem: it may be shown, not resumed or appended to.
    pub fn require_intact(&self) -> Result<(), JournalError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(JournalError::Untrusted {
                path: self.path.clone(),
                problems: self.problems.clone(),
            })
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

        assert!(s.problems.is_empty(), "{:?}", s.problems);
        let mut j = Journal::reopen(&s).unwrap();
        j.write(Body::Note {
            index: None,
            text: "resumed".into(),
        })
        .unwrap();
        let s = JournalState::read(&path).unwrap();
        assert_eq!(s.records.len(), 5);
        assert!(s.problems.is_empty(), "{:?}", s.problems);

        // Editing a past record breaks the chain.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("\"a\"", "\"z\"", 1)).unwrap();
        let err = JournalState::read(&path).unwrap_err().to_string();
        assert!(err.contains("hash chain broken"), "{err}");
        std::fs::write(&path, &text).unwrap();
    }

    fn journal_of(n: usize) -> (tempfile::TempDir, PathBuf, String) {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::create(dir.path(), "db1", "r1").unwrap();
        j.write(header()).unwrap();
        for i in 1..n {
            j.write(Body::Note {
                index: None,
                text: format!("note {i}"),
            })
            .unwrap();
        }
        let path = j.path().to_path_buf();
        let text = std::fs::read_to_string(&path).unwrap();
        (dir, path, text)
    }

    #[test]
    fn a_torn_end_is_shown_and_refused_never_truncated() {
        let (_d, path, text) = journal_of(3);
        let torn = format!("{text}{{\"seq\":3,");
        std::fs::write(&path, &torn).unwrap();
        let s = JournalState::read(&path).unwrap();
        assert_eq!(s.records.len(), 3);
        assert!(
            s.problems[0].contains("line 4 is a partial record"),
            "{:?}",
            s.problems
        );
        let err = Journal::reopen(&s).err().unwrap().to_string();
        assert!(err.contains("cannot be trusted"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), torn);
    }

    #[test]
    fn whole_records_cut_from_the_end_are_noticed() {
        let (_d, path, text) = journal_of(4);
        let cut: Vec<&str> = text.split_inclusive('\n').take(2).collect();
        std::fs::write(&path, cut.concat()).unwrap();
        let s = JournalState::read(&path).unwrap();
        assert_eq!(
            s.problems,
            ["it was cut: 4 records were written, the file holds 2"]
        );
        assert!(s.require_intact().is_err());
    }

    #[test]
    fn an_edited_record_fails_authentication() {
        let (_d, path, text) = journal_of(2);
        // A consistent forgery: the edited line re-chained, as anyone without the key can.
        let lines: Vec<&str> = text.lines().collect();
        let forged = lines[0].replace("\"target\":\"latest\"", "\"target\":\"forged\"");
        let next = lines[1].replace(
            &sha256_hex(lines[0].as_bytes()),
            &sha256_hex(forged.as_bytes()),
        );
        std::fs::write(&path, format!("{forged}\n{next}\n")).unwrap();
        let s = JournalState::read(&path).unwrap();
        assert_eq!(s.target, "forged");
        assert!(
            s.problems
                .iter()
                .any(|p| p.starts_with("line 1: the record fails authentication")),
            "{:?}",
            s.problems
        );
        let err = s.require_intact().unwrap_err().to_string();
        assert!(!err.contains(&sha256_hex(lines[0].as_bytes())), "{err}");
    }

    #[test]
    fn truncates_long_output() {
        let long = "x".repeat(10_000);
        let t = truncate_output(&long);
        assert!(t.len() < 4200 && t.contains("bytes cut"));
    }
}
