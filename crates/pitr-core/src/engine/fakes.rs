//! Fakes of the ports for engine unit tests: commands succeed, SQL and files answer empty.

use super::ports::{
    ByteProgress, CommandResult, CommandRunner, CommandSpec, Fs, LineSink, LinkFence, PatroniApi,
    PortError, Ports, ReplayStatus, Rows, Sql,
};
use crate::domain::patroni::{ClusterState, NodeStatus};
use futures::future::BoxFuture;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub struct FakeCommands;
impl CommandRunner for FakeCommands {
    fn run<'a>(
        &'a self,
        _c: &'a CommandSpec,
        lines: LineSink<'a>,
    ) -> BoxFuture<'a, Result<CommandResult, PortError>> {
        Box::pin(async move {
            lines("ok");
            Ok(CommandResult {
                exit_code: Some(0),
                timed_out: false,
                output: "ok".into(),
                duration: Duration::ZERO,
            })
        })
    }
}

pub struct FakeSql;
impl Sql for FakeSql {
    fn rows<'a>(&'a self, _d: &'a str, _s: &'a str) -> BoxFuture<'a, Result<Rows, PortError>> {
        Box::pin(async { Ok(vec![]) })
    }
    fn replay_status<'a>(&'a self, _d: &'a str) -> BoxFuture<'a, Result<ReplayStatus, PortError>> {
        Box::pin(async {
            Ok(ReplayStatus {
                in_recovery: true,
                replay_lsn: None,
                last_replay_time: None,
                pause_state: Some("paused".into()),
            })
        })
    }
}

pub struct FakeFs;
impl Fs for FakeFs {
    fn exists(&self, _p: &Path) -> bool {
        false
    }
    fn is_absent_or_empty(&self, _p: &Path) -> Result<bool, PortError> {
        Ok(true)
    }
    fn rename(&self, _f: &Path, _t: &Path) -> Result<(), PortError> {
        Ok(())
    }
    fn copy_tree(
        &self,
        _f: &Path,
        _t: &Path,
        _o: Option<&str>,
        _l: &LinkFence,
        _p: ByteProgress<'_>,
    ) -> Result<u64, PortError> {
        Ok(0)
    }
    fn extract_tar(
        &self,
        _a: &Path,
        _t: &Path,
        _o: Option<&str>,
        _l: &LinkFence,
        _p: ByteProgress<'_>,
    ) -> Result<u64, PortError> {
        Ok(0)
    }
    fn tree_size(&self, _p: &Path) -> Result<u64, PortError> {
        Ok(0)
    }
    fn free_space(&self, _p: &Path) -> Result<u64, PortError> {
        Ok(u64::MAX)
    }
    fn read_to_string(&self, _p: &Path) -> Result<String, PortError> {
        Ok(String::new())
    }
    fn write_file(
        &self,
        _p: &Path,
        _c: &[u8],
        _a: bool,
        _m: u32,
        _o: Option<&str>,
    ) -> Result<(), PortError> {
        Ok(())
    }
    fn create_dir_all(&self, _p: &Path, _m: u32, _o: Option<&str>) -> Result<(), PortError> {
        Ok(())
    }
    fn sha256(&self, _p: &Path) -> Result<String, PortError> {
        Ok(String::new())
    }
    fn list_dir(&self, _p: &Path) -> Result<Vec<String>, PortError> {
        Ok(vec![])
    }
    fn file_size(&self, _p: &Path) -> Result<u64, PortError> {
        Ok(0)
    }
}

pub struct NoPatroni;
impl PatroniApi for NoPatroni {
    fn cluster<'a>(&'a self, u: &'a str) -> BoxFuture<'a, Result<ClusterState, PortError>> {
        Box::pin(async move {
            Err(PortError::new(
                crate::engine::ports::PortErrorKind::Unreachable,
                format!("no Patroni at {u} in unit tests"),
            ))
        })
    }
    fn node<'a>(&'a self, u: &'a str) -> BoxFuture<'a, Result<NodeStatus, PortError>> {
        Box::pin(async move {
            Err(PortError::new(
                crate::engine::ports::PortErrorKind::Unreachable,
                format!("no Patroni at {u} in unit tests"),
            ))
        })
    }
    fn set_pause<'a>(&'a self, u: &'a str, _p: bool) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            Err(PortError::new(
                crate::engine::ports::PortErrorKind::Unreachable,
                format!("no Patroni at {u} in unit tests"),
            ))
        })
    }
    fn reinitialize<'a>(&'a self, u: &'a str) -> BoxFuture<'a, Result<String, PortError>> {
        Box::pin(async move {
            Err(PortError::new(
                crate::engine::ports::PortErrorKind::Unreachable,
                format!("no Patroni at {u} in unit tests"),
            ))
        })
    }
    fn config<'a>(&'a self, u: &'a str) -> BoxFuture<'a, Result<serde_json::Value, PortError>> {
        Box::pin(async move {
            Err(PortError::new(
                crate::engine::ports::PortErrorKind::Unreachable,
                format!("no Patroni at {u} in unit tests"),
            ))
        })
    }
    fn patch_config<'a>(
        &'a self,
        u: &'a str,
        _p: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            Err(PortError::new(
                crate::engine::ports::PortErrorKind::Unreachable,
                format!("no Patroni at {u} in unit tests"),
            ))
        })
    }
    fn failover<'a>(&'a self, u: &'a str, _c: &'a str) -> BoxFuture<'a, Result<String, PortError>> {
        Box::pin(async move {
            Err(PortError::new(
                crate::engine::ports::PortErrorKind::Unreachable,
                format!("no Patroni at {u} in unit tests"),
            ))
        })
    }
}

pub fn ports() -> Ports {
    Ports {
        commands: Arc::new(FakeCommands),
        sql: Arc::new(FakeSql),
        fs: Arc::new(FakeFs),
        patroni: Arc::new(NoPatroni),
    }
}

/// Run options for a fake run journaled in `dir`, its server's lock under `dir/state`.
pub fn run_options(dir: &Path, confirmation: Option<&str>) -> super::runner::RunOptions {
    super::runner::RunOptions {
        journal_dir: dir.to_path_buf(),
        confirmation: confirmation.map(str::to_string),
        state_dir: super::state_dir::StateDir::open(&dir.join("state")).unwrap(),
        key: super::lock::ServerKey {
            server: "db1".into(),
            host: "test".into(),
            pgdata: dir.join("pgdata"),
        },
        action: None,
    }
}
