//! Builds a cluster shaped like the incidents the console must judge: base backups, an
//! archive (plain or gzip), in-place recoveries that PostgreSQL promotes to new timelines
//! (forks, and forks from forks), idle stretches with only checkpoints, and a gap.

use super::cluster::{as_server_user, bin, must, server_dir, Pg, SERVER_USER};
use super::model::{BaseBackup, Commit, Gap, Idle, Model, RestorePoint, Timeline};
use chrono::{DateTime, NaiveDateTime, Utc};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `to_char` pattern of instants the harness reads back: microseconds, UTC.
pub const SQL_INSTANT: &str = "YYYY-MM-DD HH24:MI:SS.US";

pub fn parse_instant(text: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.6f")
        .unwrap_or_else(|e| panic!("instant {text}: {e}"))
        .and_utc()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archive {
    Plain,
    Gzip,
}

pub struct Repo {
    pub name: String,
    pub dir: PathBuf,
    pub archive: Archive,
    pub primary: Pg,
    pub model: Model,
    moved_aside: usize,
    current: u32,
}

impl Repo {
    pub fn wal_archive(&self) -> PathBuf {
        self.dir.join("wal")
    }
    pub fn backups(&self) -> PathBuf {
        self.dir.join("backups")
    }
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    /// initdb with 1 MiB segments, archiving on, autovacuum off (its analyze would commit
    /// transactions the model does not know), one table.
    pub fn init(name: &str, dir: &Path, port: u16, archive: Archive) -> Repo {
        server_dir(dir);
        for sub in ["wal", "backups", "run", "log"] {
            server_dir(&dir.join(sub));
        }
        let pgdata = dir.join("pgdata");
        let mut initdb = as_server_user(&bin("initdb"));
        initdb
            .arg("-D")
            .arg(&pgdata)
            .args(["--wal-segsize", "1", "--auth=trust", "--locale=C"])
            .args(["-U", SERVER_USER]);
        must(initdb, "initdb");
        let wal = dir.join("wal").display().to_string();
        let archive_command = match archive {
            Archive::Plain => format!("test ! -f {wal}/%f && cp %p {wal}/%f"),
            Archive::Gzip => {
                format!("test ! -f {wal}/%f.gz && gzip -c %p > {wal}/%f.gz.tmp && mv {wal}/%f.gz.tmp {wal}/%f.gz")
            }
        };
        let conf = format!(
            "\nport = {port}\nlisten_addresses = ''\nunix_socket_directories = '{sock}'\n\
             wal_level = replica\narchive_mode = on\narchive_command = '{archive_command}'\n\
             track_commit_timestamp = on\nautovacuum = off\nshared_buffers = 16MB\n\
             max_connections = 20\nfsync = off\ntimezone = 'UTC'\nlog_timezone = 'UTC'\n",
            sock = dir.join("run").display()
        );
        append(&pgdata.join("postgresql.conf"), &conf);
        let primary = Pg {
            pgdata,
            port,
            socket_dir: dir.join("run"),
            log: dir.join("log").join("primary.log"),
        };
        assert!(primary.start(), "primary start: {}", primary.log_tail());
        primary.psql("CREATE TABLE t (id serial, label text NOT NULL);");
        let mut model = Model::default();
        model.timelines.push(Timeline {
            id: 1,
            parent: None,
            forked_after: 0,
            fork_commit: None,
        });
        Repo {
            name: name.into(),
            dir: dir.to_path_buf(),
            archive,
            primary,
            model,
            moved_aside: 0,
            current: 1,
        }
    }

    pub fn timeline(&self) -> u32 {
        self.current
    }

    fn control_timeline(&self) -> u32 {
        self.primary
            .one("SELECT timeline_id FROM pg_control_checkpoint();")
            .parse()
            .expect("a timeline number")
    }

    fn state(&self) -> String {
        self.primary.one(STATE_SQL)
    }

    /// One committed insert, its facts read back from the server.
    pub fn commit(&mut self) -> usize {
        let n = self.model.commits.len();
        let tl = self.timeline();
        let label = format!("{n:04}-tl{tl}");
        let script = format!(
            "BEGIN;\nINSERT INTO t(label) VALUES ('{label}');\n\
             SELECT txid_current() AS x, pg_current_wal_insert_lsn() AS before \\gset\n\
             COMMIT;\n\
             SELECT :x, :'before', pg_current_wal_insert_lsn(), \
             to_char(pg_xact_commit_timestamp(:'x'::xid) AT TIME ZONE 'UTC', '{SQL_INSTANT}'), ({STATE_SQL_INNER});\n"
        );
        let rows = self.primary.psql(&script);
        let r = &rows[0];
        self.model.commits.push(Commit {
            label,
            timeline: tl,
            xid: r[0].parse().expect("xid"),
            lsn_before: r[1].clone(),
            lsn_after: r[2].clone(),
            at: parse_instant(&r[3]),
            state: r[4].clone(),
        });
        n
    }

    pub fn commits(&mut self, n: usize) {
        for _ in 0..n {
            self.commit();
        }
    }

    pub fn restore_point(&mut self, name: &str) {
        self.primary
            .psql(&format!("SELECT pg_create_restore_point('{name}');"));
        let tl = self.timeline();
        let state = self.state();
        self.model.restore_points.push(RestorePoint {
            name: name.into(),
            timeline: tl,
            after: self.model.commits.len(),
            state,
        });
    }

    /// Seconds with checkpoints and segment switches only.
    pub fn idle(&mut self, rounds: usize) {
        let from = self.now();
        for _ in 0..rounds {
            std::thread::sleep(Duration::from_millis(400));
            self.primary.psql("CHECKPOINT;\nSELECT pg_switch_wal();");
        }
        std::thread::sleep(Duration::from_millis(400));
        let to = self.now();
        let timeline = self.timeline();
        self.model.idle.push(Idle { timeline, from, to });
    }

    fn now(&self) -> DateTime<Utc> {
        parse_instant(&self.primary.one(&format!(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', '{SQL_INSTANT}');"
        )))
    }

    /// Switches to a new segment and waits until every finished one is archived.
    pub fn switch_and_archive(&self) {
        // With nothing written since the last switch, pg_switch_wal() returns the start of
        // the current segment (PostgreSQL 18 skips idle checkpoints more often): the last
        // finished segment is the one holding the byte before.
        let name = self
            .primary
            .one("SELECT pg_walfile_name(pg_switch_wal() - 1);");
        let ok = self.primary.wait(Duration::from_secs(60), || {
            self.primary
                .one("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver;")
                >= name
        });
        assert!(
            ok,
            "segment {name} was not archived; the server's log ends:\n{}",
            self.primary.log_tail()
        );
    }

    /// pg_basebackup -X none (the archive holds the WAL), plain format.
    pub fn base_backup(&mut self, id: &str) {
        let mut c = as_server_user(&bin("pg_basebackup"));
        c.arg("-h")
            .arg(self.socket_dir())
            .args([
                "-p",
                &self.primary.port.to_string(),
                "-U",
                SERVER_USER,
                "-D",
            ])
            .arg(self.backups().join(id))
            .args(["-X", "none", "--checkpoint=fast", "--no-sync", "-F", "p"]);
        must(c, "pg_basebackup");
        let timeline = self.timeline();
        let state = self.state();
        self.model.backups.push(BaseBackup {
            id: id.into(),
            timeline,
            after: self.model.commits.len(),
            state,
        });
    }

    /// The incident's in-place recovery: the data directory moved aside, `backup` copied in,
    /// replay to the xid of commit `to` on timeline `on`, then promote — PostgreSQL picks the
    /// new timeline and writes its history file into the archive.
    pub fn recover_in_place_and_promote(&mut self, backup: &str, to: usize, on: u32) -> u32 {
        self.switch_and_archive();
        self.primary.stop("fast");
        self.moved_aside += 1;
        let aside = self
            .dir
            .join(format!("pgdata.before-pitr-{}", self.moved_aside));
        std::fs::rename(&self.primary.pgdata, &aside).expect("move pgdata aside");
        copy_dir(&self.backups().join(backup), &self.primary.pgdata);
        let settings = format!(
            "restore_command = '{}'\nrecovery_target_xid = '{}'\nrecovery_target_inclusive = true\n\
             recovery_target_timeline = '{on}'\nrecovery_target_action = 'promote'\n",
            restore_command(&self.wal_archive(), self.archive),
            self.model.commits[to].xid
        );
        write_server_file(&self.primary.pgdata.join("postgresql.auto.conf"), &settings);
        write_server_file(&self.primary.pgdata.join("recovery.signal"), "");
        assert!(
            self.primary.start(),
            "recovery start: {}",
            self.primary.log_tail()
        );
        let promoted = self.primary.wait(Duration::from_secs(120), || {
            self.primary
                .try_psql("SELECT pg_is_in_recovery();")
                .is_some_and(|r| r.first().is_some_and(|r| r[0] == "f"))
        });
        assert!(promoted, "promote: {}", self.primary.log_tail());
        // The settings would follow every later base backup into its copies.
        self.primary
            .psql("ALTER SYSTEM RESET ALL;\nSELECT pg_reload_conf();");
        let id = self.primary.wait(Duration::from_secs(30), || {
            self.primary.one("SELECT pg_is_in_recovery();") == "f"
        });
        assert!(id);
        // The first checkpoint after promote sets the control file's timeline.
        self.primary.psql("CHECKPOINT;");
        let tl = self.control_timeline();
        assert!(tl > self.current, "promote made no new timeline");
        self.current = tl;
        self.model.timelines.push(Timeline {
            id: tl,
            parent: Some(on),
            forked_after: self.model.commits.len(),
            fork_commit: Some(to),
        });
        tl
    }

    /// One commit, a switch, the commit whose segment is then deleted from the archive, a
    /// switch, and one more commit: a gap of exactly one segment.
    pub fn gap(&mut self) {
        let last_before = self.commit();
        self.switch_and_archive();
        let lost = self.commit();
        let segment = self.primary.one(&format!(
            "SELECT pg_walfile_name('{}');",
            self.model.commits[lost].lsn_before
        ));
        self.switch_and_archive();
        let first_after = self.commit();
        let file = match self.archive {
            Archive::Plain => segment.clone(),
            Archive::Gzip => format!("{segment}.gz"),
        };
        std::fs::remove_file(self.wal_archive().join(file)).expect("remove the gap segment");
        let timeline = self.timeline();
        self.model.gap = Some(Gap {
            segment,
            timeline,
            last_before,
            lost,
            first_after,
        });
    }

    pub fn finish(&mut self) {
        self.switch_and_archive();
        self.primary.stop("fast");
    }

    /// The console's configuration for this repository: a local kind, the primary as server.
    pub fn write_config(&self, journal: &Path) -> PathBuf {
        let path = self.dir.join("pitr-console.toml");
        let text = format!(
            "timezone = \"UTC\"\njournal_dir = \"{journal}\"\n\n[[repository]]\nname = \"{name}\"\n\
             kind = \"local\"\nbackups = \"{backups}\"\nwal_archive = \"{wal}\"\n\n[[server]]\n\
             name = \"{name}\"\nhost = \"localhost\"\nrun_as = \"{SERVER_USER}\"\npgdata = \"{pgdata}\"\n\
             bin_dir = \"{bin}\"\nport = {port}\ndsn = \"host={sock} port={port} user={SERVER_USER} dbname=postgres\"\n\
             repository = \"{name}\"\ncontrol = \"pg_ctl\"\n",
            journal = journal.display(),
            name = self.name,
            backups = self.backups().display(),
            wal = self.wal_archive().display(),
            pgdata = self.primary.pgdata.display(),
            bin = super::cluster::bin_dir(),
            port = self.primary.port,
            sock = self.socket_dir().display(),
        );
        std::fs::write(&path, text).expect("write the console's configuration");
        path
    }
}

/// A failed build or assertion must not leave the primary running.
impl Drop for Repo {
    fn drop(&mut self) {
        self.primary.stop("immediate");
    }
}

const STATE_SQL_INNER: &str = "SELECT count(*) || '/' || coalesce(max(label), '-') FROM t";
pub const STATE_SQL: &str = "SELECT count(*) || '/' || coalesce(max(label), '-') FROM t;";

/// The harness's own restore_command: a copy, or gzip -dc for the compressed archive.
pub fn restore_command(archive: &Path, kind: Archive) -> String {
    let a = archive.display();
    match kind {
        Archive::Plain => format!("cp {a}/%f %p"),
        Archive::Gzip => format!("test -f {a}/%f.gz && gzip -dc {a}/%f.gz > %p"),
    }
}

pub fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open to append");
    f.write_all(text.as_bytes()).expect("append");
}

/// Writes a file in a data directory and hands it to the server user.
pub fn write_server_file(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write a server file");
    must(
        {
            let mut c = std::process::Command::new("chown");
            c.arg(format!("{SERVER_USER}:{SERVER_USER}")).arg(path);
            c
        },
        "chown",
    );
}

/// `cp -a` as the server user: a restored data directory it owns.
pub fn copy_dir(from: &Path, to: &Path) {
    let mut c = as_server_user("cp");
    c.arg("-a").arg(from).arg(to);
    must(c, "copy a base backup");
    for stale in ["postmaster.pid", "backup_manifest"] {
        let _ = std::fs::remove_file(to.join(stale));
    }
}
