//! Catalog source and restore commands for `kind = "walg"` repositories.
//!
//! Backups come from `wal-g backup-list --detail --json`, WAL from `wal-g wal-show
//! --detailed-json` (per timeline: first and last segment and the missing ones, so the gaps
//! are WAL-G's own finding; parent and switch point give the timeline histories). WAL-G is
//! not packaged in Debian: the parsers are tested on samples of its documented shapes, and
//! docs/walg.md maps each recovery step to its WAL-G command.

use super::repo_tool::{self, ToolHost};
use crate::config::{RepositoryConfig, ServerConfig};
use crate::domain::backup::{Backup, BackupFormat};
use crate::domain::catalog::{ArchivedSegment, Catalog, Compression};
use crate::domain::lsn::Lsn;
use crate::domain::restore_command::shell_quote;
use crate::domain::segment::{SegmentSize, WalSegment};
use crate::domain::timeline::{HistoryEntry, TimelineHistory, TimelineId};
use crate::engine::inputs::ToolRestore;
use crate::engine::ports::CommandSpec;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

const HINT: &str = "WAL-G is not packaged in Debian: install its release binary as `wal-g` on the PATH of the user it runs as (https://github.com/wal-g/wal-g/releases)";

pub struct WalG {
    pub tool: ToolHost,
    pub config: Option<PathBuf>,
}

impl WalG {
    pub fn from_config(repo: &RepositoryConfig) -> WalG {
        WalG {
            tool: ToolHost {
                host: None,
                user: repo.walg_user.clone().unwrap_or_else(|| "postgres".into()),
                ssh: Default::default(),
            },
            config: repo.walg_config.clone(),
        }
    }

    /// The per-segment fetcher for the WAL index, where `wal-g` is on PATH: WAL-G lists no
    /// instants, so exact times need the segments read.
    pub fn fetcher(repo: &RepositoryConfig) -> Option<WalG> {
        let on_path = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("wal-g").is_file()));
        on_path.then(|| WalG::from_config(repo))
    }

    fn words(&self, args: &[&str]) -> Vec<String> {
        let mut w = Vec::new();
        if let Some(c) = &self.config {
            w.push("--config".to_string());
            w.push(c.display().to_string());
        }
        w.extend(args.iter().map(|a| a.to_string()));
        w
    }

    fn run(&self, args: &[&str]) -> Result<String, String> {
        repo_tool::output(
            &self.tool.command("wal-g", &self.words(args)),
            "WAL-G",
            HINT,
        )
    }

    pub fn read_catalog(&self, name: &str) -> Result<Catalog, String> {
        let backups = self.run(&["backup-list", "--detail", "--json"])?;
        let wal = self.run(&["wal-show", "--detailed-json"])?;
        catalog_from_json(name, &backups, &wal)
    }

    /// The restore: `wal-g backup-fetch DEST NAME`, and `wal-g wal-fetch` as restore_command.
    pub fn restore(
        &self,
        server: &ServerConfig,
        backup: &Backup,
        dest: &Path,
    ) -> (ToolRestore, String) {
        let dest_s = dest.display().to_string();
        let mut commands = vec![self
            .tool
            .command("wal-g", &self.words(&["backup-fetch", &dest_s, &backup.id]))];
        if let Some(owner) = server.run_as.as_deref().filter(|u| *u != self.tool.user) {
            commands.push(CommandSpec::new("chown").args(["-R", &format!("{owner}:"), &dest_s]));
        }
        let mut rc = vec!["wal-g".to_string()];
        rc.extend(self.words(&["wal-fetch"]).iter().map(|w| shell_quote(w)));
        rc.push("%f %p".into());
        (
            ToolRestore {
                tool: "wal-g".into(),
                commands,
                // WAL-G and the cloud tools have no check of one base backup.
                verify: Vec::new(),
            },
            rc.join(" "),
        )
    }
}

impl super::wal_fetch::SegmentFetch for WalG {
    fn command(&self, name: &str, dest: &Path) -> CommandSpec {
        self.tool.command(
            "wal-g",
            &self.words(&["wal-fetch", name, &dest.display().to_string()]),
        )
    }
    fn tool(&self) -> &str {
        "WAL-G"
    }
    fn hint(&self) -> &str {
        HINT
    }
}

/// One entry of `backup-list --detail --json` (and of `wal-show`'s `backups`).
#[derive(Debug, Clone, Deserialize)]
pub struct BackupDetail {
    pub backup_name: String,
    pub wal_file_name: String,
    pub start_time: DateTime<Utc>,
    pub finish_time: DateTime<Utc>,
    pub start_lsn: u64,
    pub finish_lsn: u64,
    #[serde(default)]
    pub is_permanent: bool,
    pub system_identifier: Option<u64>,
    pub uncompressed_size: Option<u64>,
}

/// One timeline of `wal-show --detailed-json`.
#[derive(Debug, Clone, Deserialize)]
pub struct TimelineInfo {
    pub id: u32,
    #[serde(default)]
    pub parent_id: u32,
    #[serde(default)]
    pub switch_point_lsn: u64,
    pub start_segment: String,
    pub end_segment: String,
    #[serde(default)]
    pub missing_segments: Vec<String>,
    #[serde(default)]
    pub status: String,
}

/// Builds a catalog from the two JSON documents WAL-G prints.
pub fn catalog_from_json(name: &str, backup_list: &str, wal_show: &str) -> Result<Catalog, String> {
    let details: Vec<BackupDetail> = serde_json::from_str(backup_list).map_err(|e| {
        format!("`wal-g backup-list --detail --json` printed an unexpected shape: {e}")
    })?;
    let timelines: Vec<TimelineInfo> = serde_json::from_str(wal_show).map_err(|e| {
        format!("`wal-g wal-show --detailed-json` printed an unexpected shape: {e}")
    })?;
    let mut warnings = Vec::new();
    let pairs: Vec<(Lsn, String)> = details
        .iter()
        .map(|b| (Lsn(b.start_lsn), b.wal_file_name.clone()))
        .collect();
    let segment_size = repo_tool::segment_size(None, &pairs, &mut warnings);

    let mut backups = Vec::new();
    for b in details {
        let Some(timeline) = repo_tool::timeline_of(&b.wal_file_name) else {
            warnings.push(format!(
                "backup {}: wal_file_name `{}` is not a segment name; not listed",
                b.backup_name, b.wal_file_name
            ));
            continue;
        };
        backups.push(Backup {
            location: format!("wal-g:{}", b.backup_name),
            label: b.is_permanent.then(|| "permanent".to_string()),
            id: b.backup_name,
            format: BackupFormat::Tool,
            timeline,
            start_lsn: Lsn(b.start_lsn),
            stop_lsn: Lsn(b.finish_lsn),
            start_time: b.start_time,
            stop_time: b.finish_time,
            stop_time_exact: true,
            segment_size,
            system_identifier: b.system_identifier,
            size_bytes: b.uncompressed_size,
            manifest_wal_ranges: Vec::new(),
            has_manifest: false,
            pg_major: None,
            incremental: None,
        });
    }
    backups.sort_by(|a, b| (a.start_lsn, &a.id).cmp(&(b.start_lsn, &b.id)));

    let mut segments = Vec::new();
    for t in &timelines {
        segments.extend(timeline_segments(t, segment_size, &mut warnings));
        if t.status != "OK" && t.missing_segments.is_empty() && !t.status.is_empty() {
            warnings.push(format!("WAL-G reports timeline {} as {}", t.id, t.status));
        }
    }
    segments.sort_by_key(|s| s.segment);
    Ok(Catalog {
        repository: name.to_string(),
        segment_size,
        backups,
        segments,
        histories: histories(&timelines),
        warnings,
        damaged: Vec::new(),
    })
}

/// Every segment from first to last that WAL-G does not list as missing. WAL-G gives
/// neither sizes nor times per segment, nor which compression it used.
fn timeline_segments(
    t: &TimelineInfo,
    size: SegmentSize,
    warnings: &mut Vec<String>,
) -> Vec<ArchivedSegment> {
    let parse = |n: &str| WalSegment::parse_file_name(n, size);
    let (Some(first), Some(last)) = (parse(&t.start_segment), parse(&t.end_segment)) else {
        warnings.push(format!(
            "timeline {}: start/end segment `{}`/`{}` are not segment names; its WAL is not listed",
            t.id, t.start_segment, t.end_segment
        ));
        return Vec::new();
    };
    let missing: BTreeSet<u64> = t
        .missing_segments
        .iter()
        .filter_map(|n| parse(n))
        .map(|s| s.number)
        .collect();
    (first.number..=last.number)
        .filter(|n| !missing.contains(n))
        .map(|n| {
            let segment = WalSegment::new(first.timeline, n);
            ArchivedSegment {
                segment,
                file_name: segment.file_name(size),
                compression: Compression::None,
                partial: false,
                size_bytes: 0,
                archived_at: None,
            }
        })
        .collect()
}

/// A history for every timeline with a parent, chained through its ancestors.
fn histories(timelines: &[TimelineInfo]) -> Vec<TimelineHistory> {
    let parents: HashMap<u32, (u32, u64)> = timelines
        .iter()
        .filter(|t| t.parent_id != 0)
        .map(|t| (t.id, (t.parent_id, t.switch_point_lsn)))
        .collect();
    let mut out = Vec::new();
    for t in timelines.iter().filter(|t| t.parent_id != 0) {
        let mut entries = Vec::new();
        let mut at = t.id;
        // Bounded: a malformed listing with a cycle must not loop.
        for _ in 0..=parents.len() {
            let Some((parent, switch)) = parents.get(&at) else {
                break;
            };
            entries.push(HistoryEntry {
                parent: TimelineId(*parent),
                switch_point: Lsn(*switch),
                reason: "from wal-g wal-show".into(),
            });
            at = *parent;
        }
        entries.reverse();
        out.push(TimelineHistory {
            timeline: TimelineId(t.id),
            entries,
        });
    }
    out.sort_by_key(|h| h.timeline);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = include_str!("../../../tests/fixtures/walg/backup-list-detail.json");
    const SHOW: &str = include_str!("../../../tests/fixtures/walg/wal-show-detailed.json");

    #[test]
    fn catalog_from_the_documented_shapes() {
        let c = catalog_from_json("s3", LIST, SHOW).unwrap();
        assert_eq!(c.segment_size, SegmentSize::DEFAULT);
        assert_eq!(c.backups.len(), 2);
        let b = &c.backups[0];
        assert_eq!(b.id, "base_000000010000000000000002");
        assert_eq!(b.timeline, TimelineId(1));
        assert_eq!(b.start_lsn, "0/2000028".parse().unwrap());
        assert_eq!(b.stop_time.to_rfc3339(), "2026-11-20T02:00:04.005180+00:00");
        assert_eq!(c.backups[1].label.as_deref(), Some("permanent"));
        assert_eq!(c.backups[1].timeline, TimelineId(2));

        let tl1: Vec<u64> = c
            .segments
            .iter()
            .filter(|s| s.segment.timeline == TimelineId(1))
            .map(|s| s.segment.number)
            .collect();
        assert_eq!(tl1, [1, 2, 3, 4, 6, 7, 8], "segment 5 is missing");
        assert_eq!(c.histories.len(), 1);
        assert_eq!(c.histories[0].timeline, TimelineId(2));
        assert_eq!(c.histories[0].entries[0].parent, TimelineId(1));
        assert_eq!(
            c.histories[0].entries[0].switch_point,
            "0/80000A0".parse().unwrap()
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn coverage_shows_walg_s_missing_segment_as_a_gap() {
        let c = catalog_from_json("s3", LIST, SHOW).unwrap();
        let times = crate::domain::times::EstimatedTimes::from_catalog(&c);
        let cov = crate::domain::coverage::compute(&c, &times);
        let json = serde_json::to_string(&cov).unwrap();
        assert!(json.contains("000000010000000000000005"), "{json}");
    }

    #[test]
    fn chains_histories_through_ancestors() {
        let t = |id, parent_id, switch_point_lsn| TimelineInfo {
            id,
            parent_id,
            switch_point_lsn,
            start_segment: String::new(),
            end_segment: String::new(),
            missing_segments: vec![],
            status: "OK".into(),
        };
        let h = histories(&[t(1, 0, 0), t(2, 1, 100), t(3, 2, 200)]);
        assert_eq!(h.len(), 2);
        let parents: Vec<u32> = h[1].entries.iter().map(|e| e.parent.0).collect();
        assert_eq!(parents, [1, 2]);
        let cyclic = histories(&[t(2, 3, 1), t(3, 2, 2)]);
        assert!(cyclic.iter().all(|h| h.entries.len() <= 3));
    }

    #[test]
    fn unexpected_shapes_say_which_command() {
        let err = catalog_from_json("s3", "{}", SHOW).unwrap_err();
        assert!(err.contains("backup-list"), "{err}");
        let err = catalog_from_json("s3", LIST, "[{\"id\": 1}]").unwrap_err();
        assert!(err.contains("wal-show"), "{err}");
    }

    #[test]
    fn a_missing_wal_g_is_named() {
        let w = WalG {
            tool: ToolHost {
                host: None,
                user: nix::unistd::User::from_uid(nix::unistd::Uid::effective())
                    .unwrap()
                    .unwrap()
                    .name,
                ssh: Default::default(),
            },
            config: None,
        };
        if which("wal-g") {
            return;
        }
        let err = w.read_catalog("s3").unwrap_err();
        assert!(
            err.contains("wal-g not found") && err.contains("releases"),
            "{err}"
        );
    }

    fn which(p: &str) -> bool {
        std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).any(|d| d.join(p).exists()))
            .unwrap_or(false)
    }

    #[test]
    fn restore_commands() {
        let c = catalog_from_json("s3", LIST, SHOW).unwrap();
        let server = crate::config::load::parse(
            Path::new("x.toml"),
            "[[repository]]\nname = \"s3\"\nkind = \"walg\"\n[[server]]\nname = \"db1\"\nrun_as = \"postgres\"\npgdata = \"/pg\"\ndsn = \"\"\nrepository = \"s3\"\n",
        )
        .unwrap()
        .servers
        .remove(0);
        let w = WalG {
            tool: ToolHost {
                host: None,
                user: "postgres".into(),
                ssh: Default::default(),
            },
            config: Some("/etc/wal-g/walg.json".into()),
        };
        let (t, rc) = w.restore(&server, &c.backups[0], Path::new("/pg"));
        assert_eq!(
            t.commands[0].display(),
            "(as postgres) LC_ALL=C wal-g --config /etc/wal-g/walg.json backup-fetch /pg base_000000010000000000000002"
        );
        assert_eq!(t.commands.len(), 1);
        assert_eq!(rc, "wal-g --config /etc/wal-g/walg.json wal-fetch %f %p");
        // Per-segment fetching for the index: a sample only, WAL-G is not installable here.
        let fetch = crate::wal_fetch::SegmentFetch::command(
            &w,
            "000000010000000000000005",
            Path::new("/idx/c.wal/incoming/000000010000000000000005"),
        );
        assert_eq!(
            fetch.display(),
            "(as postgres) LC_ALL=C wal-g --config /etc/wal-g/walg.json wal-fetch 000000010000000000000005 /idx/c.wal/incoming/000000010000000000000005"
        );
    }
}
