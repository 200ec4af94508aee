//! `lab up`, `lab status`, `lab down`, `lab incident`.

use super::backup;
use super::binaries::PgBinaries;
use super::cluster::Cluster;
use super::config_file;
use super::error::LabError;
use super::paths::{default_dir, LabPaths};
use super::record::{LabRecord, RestorePoint};
use super::settings;
use super::workload::{self, DATABASE, FIRST_INCIDENT, LATER_INCIDENT};
use crate::adapters::run_as::default_server_user;
use crate::domain::backup::BackupFormat;
use crate::domain::segment::{SegmentSize, WalSegment};
use crate::domain::timeline::TimelineId;
use chrono::Utc;
use nix::unistd::{Uid, User};
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct LabOptions {
    /// Default: [`default_dir`].
    pub dir: Option<PathBuf>,
    /// Default: [`super::DEFAULT_PORT`].
    pub port: Option<u16>,
    /// Multiplies the rows per transaction; 0 counts as 1.
    pub scale: u32,
    /// Remove one archived segment between the second backup and the incident.
    pub with_gap: bool,
    /// Run on the binaries in this directory (`--pg-bin`).
    pub pg_bin: Option<PathBuf>,
    /// Run on the installed binaries of this major version (`--pg-version`).
    pub pg_version: Option<u32>,
    /// PostgreSQL 17+: `summarize_wal = on` and a third backup, incremental on backup 1,
    /// after the incident.
    pub incremental: bool,
    /// initdb's `--wal-segsize` in MiB; the lab's small default ([`super::WAL_SEGMENT_MIB`])
    /// when absent. Benches use 16, the size real clusters have.
    pub wal_segment_mib: Option<u32>,
}

impl LabOptions {
    /// The server binaries the options ask for; the machine's default without either.
    fn binaries(&self) -> Result<PgBinaries, LabError> {
        let bins = match (&self.pg_bin, self.pg_version) {
            (Some(dir), Some(v)) => {
                let bins = PgBinaries::at(dir)?;
                if bins.major() != v {
                    return Err(LabError::Refused(format!(
                        "--pg-bin {} holds PostgreSQL {}, but --pg-version {v} was asked for; give one of them",
                        dir.display(),
                        bins.version
                    )));
                }
                bins
            }
            (Some(dir), None) => PgBinaries::at(dir)?,
            (None, Some(v)) => PgBinaries::for_major(v)?,
            (None, None) => PgBinaries::find()?,
        };
        if self.incremental && bins.major() < 17 {
            return Err(LabError::Refused(format!(
                "--incremental needs PostgreSQL 17 or later (incremental backups and WAL summaries); {} holds {}. Try --pg-version 18",
                bins.dir.display(),
                bins.version
            )));
        }
        Ok(bins)
    }
}

#[derive(Debug, Clone)]
pub struct LabStatus {
    pub running: bool,
    pub port: u16,
    pub record: LabRecord,
}

/// Longest unix socket path the kernel takes (sun_path is 108 bytes with its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Builds a lab, or reuses the one already in the directory (starting its server if it is
/// stopped).
pub fn up(opts: &LabOptions) -> Result<LabRecord, LabError> {
    let dir = absolute(opts.dir.clone().unwrap_or_else(default_dir))?;
    let paths = LabPaths::new(&dir);
    if paths.record().is_file() {
        return reuse(&paths, opts);
    }
    if paths.marker().exists() {
        return Err(LabError::Incomplete { dir });
    }
    if dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(LabError::DirNotEmpty { dir });
    }
    build(&paths, opts)
}

fn reuse(paths: &LabPaths, opts: &LabOptions) -> Result<LabRecord, LabError> {
    let record = LabRecord::load(&paths.record())?;
    if let Some(port) = opts.port.filter(|p| *p != record.port) {
        return Err(LabError::Refused(format!(
            "the lab in {} uses port {}, not {port}; run `pitr-console lab down` first to rebuild it on another port",
            paths.dir.display(),
            record.port
        )));
    }
    if opts.incremental && !record.incremental {
        return Err(LabError::Refused(format!(
            "the lab in {} was built without --incremental; run `pitr-console lab down` first to rebuild it with an incremental backup",
            paths.dir.display()
        )));
    }
    let asked = opts.pg_bin.is_some() || opts.pg_version.is_some();
    if asked && opts.binaries()?.dir != record.bin_dir {
        return Err(LabError::Refused(format!(
            "the lab in {} runs PostgreSQL {} from {}; run `pitr-console lab down` first to rebuild it on other binaries",
            paths.dir.display(),
            record.pg_version,
            record.bin_dir.display()
        )));
    }
    if opts.with_gap && record.missing_segment.is_none() {
        return Err(LabError::Refused(format!(
            "the lab in {} was built without --with-gap; run `pitr-console lab down` first to rebuild it with a gap",
            paths.dir.display()
        )));
    }
    let cluster = cluster_of(&record)?;
    if !cluster.is_running()? {
        cluster.start()?;
    }
    Ok(record)
}

pub fn status(dir: &Path) -> Result<LabStatus, LabError> {
    let record = load(&LabPaths::new(dir))?;
    let running = cluster_of(&record)?.is_running()?;
    Ok(LabStatus {
        running,
        port: record.port,
        record,
    })
}

/// Stops the lab's server and removes its directory. Refuses a directory that holds
/// neither a lab record nor the build marker, so it can never delete anything else.
pub fn down(dir: &Path) -> Result<(), LabError> {
    let paths = LabPaths::new(dir);
    let cluster = if paths.record().is_file() {
        cluster_of(&LabRecord::load(&paths.record())?)?
    } else if paths.marker().is_file() {
        Cluster {
            bins: PgBinaries::find()?,
            paths: paths.clone(),
            port: 0,
            os_user: default_server_user(),
            superuser: String::new(),
        }
    } else {
        return Err(LabError::NotALab {
            dir: dir.to_path_buf(),
        });
    };
    if cluster.is_running()? {
        cluster.stop("fast")?;
    }
    std::fs::remove_dir_all(dir).map_err(LabError::io(dir, "could not remove the lab directory"))
}

/// Another incident now, appended to the record; the server is started if it is stopped.
pub fn incident(dir: &Path) -> Result<LabRecord, LabError> {
    let paths = LabPaths::new(dir);
    let mut record = load(&paths)?;
    let cluster = cluster_of(&record)?;
    if !cluster.is_running()? {
        cluster.start()?;
    }
    let statement = if record.incidents.is_empty() {
        FIRST_INCIDENT
    } else {
        LATER_INCIDENT
    };
    let inc = workload::incident(&cluster, statement)?;
    workload::switch_and_wait_archived(&cluster)?;
    record.incidents.push(inc);
    record.save(&paths.record())?;
    Ok(record)
}

/// The record of a finished lab; a clear refusal for anything else.
fn load(paths: &LabPaths) -> Result<LabRecord, LabError> {
    if paths.record().is_file() {
        LabRecord::load(&paths.record())
    } else if paths.marker().is_file() {
        Err(LabError::Incomplete {
            dir: paths.dir.clone(),
        })
    } else {
        Err(LabError::NotALab {
            dir: paths.dir.clone(),
        })
    }
}

fn cluster_of(record: &LabRecord) -> Result<Cluster, LabError> {
    Ok(Cluster {
        bins: PgBinaries {
            dir: record.bin_dir.clone(),
            version: record.pg_version.clone(),
        },
        paths: LabPaths::new(&record.dir),
        port: record.port,
        os_user: default_server_user().filter(|u| *u == record.server_user),
        superuser: record.superuser.clone(),
    })
}

fn absolute(dir: PathBuf) -> Result<PathBuf, LabError> {
    if dir.is_absolute() {
        return Ok(dir);
    }
    let cwd = std::env::current_dir().map_err(LabError::io(
        &dir,
        "could not resolve the current directory",
    ))?;
    Ok(cwd.join(dir))
}

/// Stops the server if the build fails halfway, leaving the directory (and its log) for
/// inspection; `lab down` removes it thanks to the marker.
struct StopOnFailure<'a> {
    cluster: &'a Cluster,
    armed: bool,
}

impl Drop for StopOnFailure<'_> {
    fn drop(&mut self) {
        if self.armed && self.cluster.is_running().unwrap_or(true) {
            if let Err(e) = self.cluster.stop("immediate") {
                tracing::warn!("could not stop the lab server after a failed build: {e}");
            }
        }
    }
}

fn build(paths: &LabPaths, opts: &LabOptions) -> Result<LabRecord, LabError> {
    let dir_text = paths.dir.to_string_lossy().into_owned();
    if let Some(c) = settings::unsafe_path_char(&dir_text) {
        return Err(LabError::Refused(format!(
            "the lab directory {dir_text} holds {c:?}, which the archive command cannot quote safely; choose another directory"
        )));
    }
    let socket_len = paths.socket_dir().as_os_str().len() + "/.s.PGSQL.65535".len();
    if socket_len > MAX_SOCKET_PATH {
        return Err(LabError::Refused(format!(
            "the lab directory {dir_text} is too long for the server's unix socket ({socket_len} > {MAX_SOCKET_PATH} bytes); choose a shorter path"
        )));
    }
    let bins = opts.binaries()?;
    let os_user = default_server_user();
    let server_user = match &os_user {
        Some(u) => u.clone(),
        None => current_user_name()?,
    };
    let cluster = Cluster {
        bins,
        paths: paths.clone(),
        port: opts.port.unwrap_or(super::DEFAULT_PORT),
        superuser: server_user.clone(),
        os_user,
    };
    tracing::info!(dir = %paths.dir.display(), bin_dir = %cluster.bins.dir.display(), "building the lab");
    prepare_dirs(&cluster)?;
    cluster.initdb(opts.wal_segment_mib.unwrap_or(super::WAL_SEGMENT_MIB))?;
    append(
        &cluster.paths.pgdata().join("postgresql.conf"),
        &settings::server_settings(paths, cluster.port, opts.incremental)
            .map_err(|e| LabError::Refused(e.to_string()))?,
    )?;
    cluster.start()?;
    let mut guard = StopOnFailure {
        cluster: &cluster,
        armed: true,
    };
    let record = populate(&cluster, opts, server_user)?;
    record.save(&paths.record())?;
    config_file::write(&record, paths.journal_dir(), default_server_user())?;
    guard.armed = false;
    Ok(record)
}

fn current_user_name() -> Result<String, LabError> {
    User::from_uid(Uid::effective())
        .ok()
        .flatten()
        .map(|u| u.name)
        .ok_or_else(|| {
            LabError::Refused("cannot tell the current user's name (no passwd entry)".into())
        })
}

/// Creates the lab directory and its parts; as root, hands them to the server user and
/// checks that user can reach them (a directory under /root is not reachable).
fn prepare_dirs(c: &Cluster) -> Result<(), LabError> {
    let p = &c.paths;
    std::fs::create_dir_all(&p.dir)
        .map_err(LabError::io(&p.dir, "could not create the lab directory"))?;
    std::fs::write(
        p.marker(),
        "pitr-console lab (incomplete until lab.json exists)\n",
    )
    .map_err(LabError::io(p.marker(), "could not write"))?;
    for d in [
        p.wal_archive(),
        p.backups(),
        p.socket_dir(),
        p.log_dir(),
        p.journal_dir(),
    ] {
        std::fs::create_dir_all(&d).map_err(LabError::io(&d, "could not create"))?;
    }
    let script = p.archive_script();
    std::fs::write(
        &script,
        settings::archive_script(&p.wal_archive().to_string_lossy()),
    )
    .map_err(LabError::io(&script, "could not write the archive script"))?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .map_err(LabError::io(&script, "could not make executable"))?;
    if let Some(user) = &c.os_user {
        let owner = User::from_name(user).ok().flatten().ok_or_else(|| {
            LabError::Refused(format!(
                "the OS user `{user}` does not exist; install the PostgreSQL server package, which creates it"
            ))
        })?;
        for d in [
            p.dir.clone(),
            p.wal_archive(),
            p.backups(),
            p.socket_dir(),
            p.log_dir(),
        ] {
            nix::unistd::chown(&d, Some(owner.uid), Some(owner.gid)).map_err(|e| LabError::Io {
                path: d.clone(),
                what: "could not hand the directory to the server user",
                source: e.into(),
            })?;
        }
        let mut test = c.command_as_user("test");
        test.arg("-w")
            .arg(p.wal_archive())
            .arg("-a")
            .arg("-x")
            .arg(p.archive_script());
        c.run(test).map_err(|_| {
            LabError::Refused(format!(
                "the server user `{user}` cannot reach {}; choose a directory outside /root, e.g. {}",
                p.dir.display(),
                super::paths::ROOT_DEFAULT_DIR
            ))
        })?;
    }
    Ok(())
}

fn append(path: &Path, text: &str) -> Result<(), LabError> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(LabError::io(
            path,
            "could not open to add the lab's settings",
        ))?;
    f.write_all(text.as_bytes())
        .map_err(LabError::io(path, "could not add the lab's settings"))
}

/// The story the lab tells: trickle, backup 1 (plain), trickle, restore point, a batch,
/// backup 2 (tar), trickle, restore point, the incident, a little more, all archived.
fn populate(c: &Cluster, opts: &LabOptions, server_user: String) -> Result<LabRecord, LabError> {
    let scale = opts.scale.max(1);
    workload::create_schema(c)?;
    let facts = c.row(
        DATABASE,
        "SELECT (SELECT system_identifier FROM pg_control_system()), \
                (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'), \
                (SELECT timeline_id FROM pg_control_checkpoint());",
        3,
    )?;
    let system_identifier = workload::number(&facts[0])?;
    let segment_size = workload::number(&facts[1])?;
    let timeline = TimelineId(workload::number(&facts[2])? as u32);

    workload::trickle(c, 25, scale)?;
    tracing::info!("lab: base backup 1 (plain)");
    let b1 = backup::take(
        c,
        "backup1-plain",
        BackupFormat::Plain,
        "pitr-console lab backup 1",
        None,
    )?;
    workload::trickle(c, 25, scale)?;
    workload::switch_and_wait_archived(c)?;
    let mut restore_points: Vec<RestorePoint> = vec![workload::restore_point(c, "before_batch")?];
    workload::trickle(c, 20, scale)?;
    tracing::info!("lab: base backup 2 (tar)");
    let b2 = backup::take(
        c,
        "backup2-tar",
        BackupFormat::Tar,
        "pitr-console lab backup 2",
        None,
    )?;
    workload::trickle(c, 20, scale)?;
    // Closes the first segment after backup 2, so one whole segment lies between the
    // backup and the incident: the one --with-gap removes.
    workload::switch_and_wait_archived(c)?;
    workload::trickle(c, 20, scale)?;
    restore_points.push(workload::restore_point(c, "before_cleanup")?);
    workload::trickle(c, 10, scale)?;
    let first = workload::incident(c, FIRST_INCIDENT)?;
    tracing::info!(deleted = first.deleted, xid = first.xid, "lab: incident");
    workload::trickle(c, 20, scale)?;
    workload::switch_and_wait_archived(c)?;
    let mut backups = vec![b1, b2];
    if opts.incremental {
        tracing::info!("lab: base backup 3 (incremental on backup 1)");
        let b3 = backup::take(
            c,
            "backup3-incremental",
            BackupFormat::Plain,
            "pitr-console lab backup 3, incremental on backup 1",
            Some(&backups[0]),
        )?;
        backups.push(b3);
        workload::trickle(c, 10, scale)?;
        restore_points.push(workload::restore_point(c, "after_incremental")?);
        workload::trickle(c, 10, scale)?;
        workload::switch_and_wait_archived(c)?;
    }
    let b2 = &backups[1];

    let missing_segment = if opts.with_gap {
        Some(remove_gap_segment(c, segment_size, timeline, b2, &first)?)
    } else {
        None
    };
    Ok(LabRecord {
        dir: c.paths.dir.clone(),
        port: c.port,
        pgdata: c.paths.pgdata(),
        bin_dir: c.bins.dir.clone(),
        pg_version: c.bins.version.clone(),
        socket_dir: c.paths.socket_dir(),
        wal_archive: c.paths.wal_archive(),
        backups_dir: c.paths.backups(),
        config_file: c.paths.config(),
        log_file: c.paths.log_file(),
        database: DATABASE.to_string(),
        superuser: c.superuser.clone(),
        server_user,
        system_identifier,
        segment_size,
        timeline,
        scale,
        with_gap: opts.with_gap,
        incremental: opts.incremental,
        created_at: Utc::now(),
        backups,
        restore_points,
        incidents: vec![first],
        missing_segment,
    })
}

/// Removes the first archived segment after backup 2's stop segment; it must end before
/// the incident so the recoverable window splits between the two.
fn remove_gap_segment(
    c: &Cluster,
    segment_size: u64,
    timeline: TimelineId,
    b2: &super::record::LabBackup,
    inc: &super::record::Incident,
) -> Result<String, LabError> {
    let size = SegmentSize::new(segment_size).ok_or_else(|| LabError::Output {
        what: "wal_segment_size".into(),
        output: segment_size.to_string(),
        expected: "a power of two between 1 MiB and 1 GiB",
    })?;
    let seg = WalSegment::new(timeline, b2.stop_lsn.segment_number(size.bytes()) + 1);
    if seg.end_lsn(size) > inc.lsn_before {
        return Err(LabError::Refused(format!(
            "no whole WAL segment lies between backup 2 (stop {}) and the incident ({}); try a larger --scale",
            b2.stop_lsn, inc.lsn_before
        )));
    }
    let name = seg.file_name(size);
    let path = c.paths.wal_archive().join(&name);
    std::fs::remove_file(&path).map_err(LabError::io(
        &path,
        "could not remove the segment for --with-gap",
    ))?;
    Ok(name)
}
