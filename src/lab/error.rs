//! What can go wrong while building or driving the lab, worded for the operator.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(
        "PostgreSQL server binaries not found: looked for {wanted} in {searched}. \
         Install the server package (Debian/Ubuntu: `apt-get install postgresql-15`, \
         Fedora/RHEL: `dnf install postgresql-server`; PostgreSQL 16 and 18: `scripts/install-pg-versions`) or put its bin directory on PATH"
    )]
    BinariesMissing { wanted: String, searched: String },

    #[error("{path}: {what}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{dir} holds no lab (no lab.json or build marker in it); refusing to touch it. \
         Give the directory of a lab made by `pitr-console lab up`"
    )]
    NotALab { dir: PathBuf },

    #[error(
        "{dir} holds an incomplete lab left by a build that failed (its server log is in \
         {dir}/log); remove it with `pitr-console lab down --dir {dir}` and run `lab up` again"
    )]
    Incomplete { dir: PathBuf },

    #[error("{dir} exists and is not empty; give a new or empty directory for the lab")]
    DirNotEmpty { dir: PathBuf },

    #[error("`{command}` failed ({status}): {detail}")]
    Command {
        command: String,
        status: String,
        detail: String,
    },

    #[error("{path}: {problem}")]
    Record { path: PathBuf, problem: String },

    #[error("{0}")]
    Refused(String),

    #[error("timed out after {secs} s waiting for {what}; the server log is {log}")]
    Timeout {
        what: String,
        secs: u64,
        log: PathBuf,
    },

    #[error("unexpected output from {what}: `{output}` ({expected})")]
    Output {
        what: String,
        output: String,
        expected: &'static str,
    },
}

impl LabError {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        what: &'static str,
    ) -> impl FnOnce(std::io::Error) -> LabError {
        let path = path.into();
        move |source| LabError::Io { path, what, source }
    }
}
