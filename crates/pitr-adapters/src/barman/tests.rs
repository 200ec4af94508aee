//! Parsers on Barman 3.4's own output (recorded from the real tool; a FAILED backup, a
//! bzip2 file and a history line added to cover those cases), and the rendered restores.

use super::*;
use crate::domain::segment::SegmentSize;

const LIST: &str = include_str!("../../../../tests/fixtures/barman/list-backups.json");
const SHOW: &str = include_str!("../../../../tests/fixtures/barman/show-backup.json");
const XLOG: &str = include_str!("../../../../tests/fixtures/barman/xlog.db");

#[test]
fn reads_list_and_show_backup() {
    let list = parse_list_backups(&serde_json::from_str(LIST).unwrap(), "pg").unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].backup_id, "20261121T060618");
    assert_eq!(list[0].size_bytes, Some(23212536));
    assert_eq!(list[1].status, "FAILED");
    assert!(
        parse_list_backups(&serde_json::from_str(LIST).unwrap(), "db9")
            .unwrap_err()
            .contains("barman_server")
    );

    let b = parse_show_backup(&serde_json::from_str(SHOW).unwrap(), "pg").unwrap();
    assert_eq!(b.timeline, TimelineId(1));
    assert_eq!(b.begin_lsn, "0/2000028".parse().unwrap());
    assert_eq!(b.end_lsn, "0/3000000".parse().unwrap());
    assert_eq!(b.begin_wal, "000000010000000000000002");
    assert_eq!(
        b.begin_time.to_rfc3339(),
        "2026-11-21T06:06:18.310212+00:00"
    );
    assert_eq!(b.end_time.timestamp(), 1795241179);
    assert_eq!(b.size_bytes, Some(23196076));
}

#[test]
fn show_backup_falls_back_to_the_epoch() {
    let mut v: Value = serde_json::from_str(SHOW).unwrap();
    v["pg"]["base_backup_information"]["end_time"] = Value::String("Sat Nov 21".into());
    let b = parse_show_backup(&v, "pg").unwrap();
    assert_eq!(b.end_time.timestamp(), 1795241179);
    v["pg"]["base_backup_information"]
        .as_object_mut()
        .unwrap()
        .remove("begin_lsn");
    assert!(parse_show_backup(&v, "pg")
        .unwrap_err()
        .contains("begin_lsn"));
}

#[test]
fn reads_xlog_db() {
    let mut w = Vec::new();
    let e = parse_xlog_db(XLOG, &mut w);
    assert_eq!(e.len(), 5);
    assert_eq!(e[0].name, "000000010000000000000002");
    assert_eq!(e[0].size, 16460);
    assert_eq!(e[0].compression, Compression::Gzip);
    assert_eq!(e[0].time.unwrap().timestamp(), 1795241178);
    assert_eq!(e[3].compression, Compression::None);
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("bzip2"), "{w:?}");
    let mut w = Vec::new();
    assert!(parse_xlog_db("garbage line\n", &mut w).is_empty());
    assert_eq!(w.len(), 1);
}

#[test]
fn show_server_gives_wals_dir_and_segment_size() {
    let v: Value = serde_json::from_str(
        r#"{"pg": {"wals_directory": "/var/lib/barman/pg/wals", "xlog_segment_size": 16777216, "postgres_systemid": "7710502126157745990"}}"#,
    )
    .unwrap();
    let s = parse_show_server(&v, "pg").unwrap();
    assert_eq!(s.wals_directory, "/var/lib/barman/pg/wals");
    assert_eq!(s.xlog_segment_size, Some(SegmentSize::DEFAULT.bytes()));
    assert_eq!(s.system_identifier, Some(7710502126157745990));
}

fn repo(method: RestoreMethod, host: Option<&str>) -> Barman {
    Barman {
        server: "pg".into(),
        tool: ToolHost {
            host: host.map(str::to_string),
            user: "barman".into(),
            ssh: Default::default(),
        },
        config: Some("/etc/barman.conf".into()),
        remote_ssh_command: None,
        method,
    }
}

fn server(host: &str) -> ServerConfig {
    crate::config::load::parse(
        Path::new("x.toml"),
        &format!(
            "[[repository]]\nname = \"b\"\nkind = \"barman\"\nbarman_server = \"pg\"\n\
             [[server]]\nname = \"db1\"\nhost = \"{host}\"\nrun_as = \"postgres\"\npgdata = \"/pg\"\ndsn = \"\"\nrepository = \"b\"\n"
        ),
    )
    .unwrap()
    .servers
    .remove(0)
}

fn backup() -> Backup {
    let shown = parse_show_backup(&serde_json::from_str(SHOW).unwrap(), "pg").unwrap();
    Backup {
        id: "20261121T060618".into(),
        label: None,
        format: BackupFormat::Tool,
        location: "barman:pg/20261121T060618".into(),
        timeline: shown.timeline,
        start_lsn: shown.begin_lsn,
        stop_lsn: shown.end_lsn,
        start_time: shown.begin_time,
        stop_time: shown.end_time,
        stop_time_exact: true,
        segment_size: SegmentSize::DEFAULT,
        system_identifier: None,
        size_bytes: None,
        manifest_wal_ranges: vec![],
        has_manifest: false,
        pg_major: None,
        incremental: None,
    }
}

#[test]
fn barman_recover_with_the_target_pausing() {
    let at = "2026-11-21T06:06:28.072185Z".parse().unwrap();
    let target = RecoveryTarget::Time {
        at,
        inclusive: false,
    };
    let (t, rc) = repo(RestoreMethod::BarmanRecover, None).restore(
        &server("localhost"),
        &backup(),
        &target,
        Path::new("/srv/restore"),
    );
    assert_eq!(t.commands.len(), 2, "barman's files are handed to postgres");
    assert_eq!(
        t.commands[0].display(),
        "(as barman) LC_ALL=C barman -c /etc/barman.conf recover --target-time '2026-11-21 06:06:28.072185+00:00' --exclusive --target-action pause pg 20261121T060618 /srv/restore"
    );
    assert_eq!(t.commands[1].display(), "chown -R postgres: /srv/restore");
    assert_eq!(
        rc,
        "test -f /srv/restore/barman_wal/%f && cp /srv/restore/barman_wal/%f \"%p\""
    );
}

#[test]
fn remote_barman_and_the_wal_fetch_forms() {
    let (t, rc) = repo(RestoreMethod::GetWal, Some("backup1")).restore(
        &server("db1.example"),
        &backup(),
        &RecoveryTarget::Immediate,
        Path::new("/pg"),
    );
    assert_eq!(t.commands.len(), 2);
    assert_eq!(
        t.commands[1].display(),
        "(as postgres) if [ -f /pg/postgresql.conf.origin ]; then cp -p /pg/postgresql.conf.origin /pg/postgresql.conf; fi",
        "in place: production's archive_command comes back"
    );
    let line = t.commands[0].args.last().unwrap();
    assert_eq!(
        line,
        "LC_ALL=C barman -c /etc/barman.conf recover --get-wal --remote-ssh-command 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes postgres@db1.example' pg 20261121T060618 /pg"
    );
    assert_eq!(
        rc,
        "test -f \"%p\" || (umask 077; tmp=\"%p.tmp.$$\"; ssh -o BatchMode=yes -o ConnectTimeout=15 -o StrictHostKeyChecking=yes barman@backup1 'barman -c /etc/barman.conf get-wal pg %f' > \"$tmp\" && mv \"$tmp\" \"%p\" || { rm -f \"$tmp\"; exit 1; })"
    );
    let (_, rc) = repo(RestoreMethod::BarmanWalRestore, Some("backup1")).restore(
        &server("db1.example"),
        &backup(),
        &RecoveryTarget::Latest,
        Path::new("/pg"),
    );
    assert_eq!(
        rc,
        "barman-wal-restore -U barman -c /etc/barman.conf backup1 pg %f %p"
    );
    let (t, rc) = repo(RestoreMethod::GetWal, None).restore(
        &server("localhost"),
        &backup(),
        &RecoveryTarget::Latest,
        Path::new("/pg"),
    );
    assert!(
        rc.contains("sudo -n -u barman barman -c /etc/barman.conf get-wal pg %f > \"$tmp\""),
        "{rc}"
    );
    assert!(t.commands[0].args.contains(&"--get-wal".to_string()));
}

#[test]
fn latest_has_no_target_action() {
    assert!(target_args(&RecoveryTarget::Latest).is_empty());
    assert_eq!(
        target_args(&RecoveryTarget::Name {
            name: "before_delete".into()
        }),
        ["--target-name", "before_delete", "--target-action", "pause"]
    );
}

#[test]
fn a_segment_missing_from_xlog_db_is_a_gap() {
    let mut w = Vec::new();
    let (segments, histories) =
        split_xlog(parse_xlog_db(XLOG, &mut w), SegmentSize::DEFAULT, &mut w);
    let numbers: Vec<u64> = segments.iter().map(|s| s.segment.number).collect();
    assert_eq!(numbers, [2, 3, 5]);
    assert_eq!(histories, [(TimelineId(2), "00000002.history".to_string())]);
    let catalog = Catalog {
        repository: "barman".into(),
        segment_size: SegmentSize::DEFAULT,
        backups: vec![backup()],
        segments,
        histories: vec![],
        warnings: vec![],
        damaged: Vec::new(),
    };
    let times = crate::domain::times::EstimatedTimes::from_catalog(&catalog);
    let cov = crate::domain::coverage::compute(&catalog, &times);
    let gaps = &cov.timelines[0].gaps;
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].first_missing, "000000010000000000000004");
}

#[test]
fn a_repositorys_ssh_settings_reach_the_console_and_the_restore_command() {
    let mut b = repo(RestoreMethod::GetWal, Some("backup1"));
    b.tool.ssh = crate::repo_tool::SshOptions {
        port: Some(2222),
        identity: Some("/etc/pitr/barman key".into()),
        known_hosts: Some("/etc/pitr/known_hosts".into()),
    };
    let (t, rc) = b.restore(
        &server("db1.example"),
        &backup(),
        &RecoveryTarget::Latest,
        Path::new("/pg"),
    );
    let opts = "-o StrictHostKeyChecking=yes -p 2222 -i '/etc/pitr/barman key' -o IdentitiesOnly=yes -o UserKnownHostsFile=/etc/pitr/known_hosts barman@backup1";
    assert!(rc.contains(opts), "{rc}");
    let console = t.commands[0].args.join(" ");
    assert!(
        console.contains("-p 2222 -i /etc/pitr/barman key -o IdentitiesOnly=yes"),
        "{console}"
    );
    b.method = RestoreMethod::BarmanWalRestore;
    let (_, rc) = b.restore(
        &server("db1.example"),
        &backup(),
        &RecoveryTarget::Latest,
        Path::new("/pg"),
    );
    assert!(
        rc.starts_with("barman-wal-restore -U barman --port 2222 "),
        "{rc}"
    );
}
