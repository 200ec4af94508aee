//! The engine's file-system port on the local machine: renames, a fast tree copy
//! (copy_file_range, falling back to 1 MiB buffers), tar extraction, ownership for the
//! server's OS user.

use super::backup_links::LinkRules;
use crate::engine::ports::{ByteProgress, Fs, LinkFence, PortError};
use nix::unistd::{Gid, Uid, User};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{symlink, DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub struct LocalFs;

/// Chunk handed to copy_file_range between progress reports.
const CHUNK: usize = 64 << 20;

fn owner_ids(owner: Option<&str>) -> Result<Option<(Uid, Gid)>, PortError> {
    let Some(name) = owner else { return Ok(None) };
    let user = User::from_name(name)
        .map_err(|e| {
            PortError::new(
                crate::engine::ports::PortErrorKind::Other,
                format!("cannot look up OS user {name}: {e}"),
            )
        })?
        .ok_or_else(|| {
            PortError::new(
                crate::engine::ports::PortErrorKind::NotFound,
                format!("OS user {name} does not exist"),
            )
        })?;
    if user.uid == Uid::effective() {
        return Ok(None);
    }
    if !Uid::effective().is_root() {
        return Err(PortError::new(
            crate::engine::ports::PortErrorKind::Permission,
            format!(
            "files must belong to {name}, which needs root: run the console as root or as {name}"
        ),
        ));
    }
    Ok(Some((user.uid, user.gid)))
}

fn give(p: &Path, ids: Option<(Uid, Gid)>) -> Result<(), PortError> {
    if let Some((u, g)) = ids {
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            p,
            Some(u),
            Some(g),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| {
            PortError::new(
                crate::engine::ports::PortErrorKind::Other,
                format!("cannot chown {}: {e}", p.display()),
            )
        })?;
    }
    Ok(())
}

fn copy_file(
    from: &Path,
    to: &Path,
    mode: u32,
    done: &mut u64,
    progress: ByteProgress<'_>,
) -> io::Result<()> {
    let src = File::open(from)?;
    let dst = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(to)?;
    let len = src.metadata()?.len();
    let mut copied = 0u64;
    let mut kernel = true;
    while copied < len {
        let want = CHUNK.min((len - copied) as usize);
        let n = if kernel {
            match nix::fcntl::copy_file_range(&src, None, &dst, None, want) {
                Ok(n) => n,
                Err(_) => {
                    kernel = false;
                    continue;
                }
            }
        } else {
            buffered(&src, &dst, want)?
        };
        if n == 0 {
            break;
        }
        copied += n as u64;
        *done += n as u64;
        progress(*done);
    }
    fs::set_permissions(to, fs::Permissions::from_mode(mode))
}

fn buffered(mut src: &File, mut dst: &File, want: usize) -> io::Result<usize> {
    let mut buf = vec![0u8; (1 << 20).min(want)];
    let n = src.read(&mut buf)?;
    dst.write_all(&buf[..n])?;
    Ok(n)
}

/// The top of a tree copy: where the backup is, where it goes, what its links may be.
struct CopyRoot<'a> {
    from: &'a Path,
    to: &'a Path,
    links: LinkRules,
}

fn copy_dir(
    root: &CopyRoot<'_>,
    from: &Path,
    to: &Path,
    ids: Option<(Uid, Gid)>,
    done: &mut u64,
    progress: ByteProgress<'_>,
) -> Result<(), PortError> {
    let meta = fs::symlink_metadata(from).map_err(|e| PortError::io(from.display(), e))?;
    fs::DirBuilder::new()
        .mode(meta.mode() & 0o7777)
        .create(to)
        .map_err(|e| PortError::io(format!("cannot create {}", to.display()), e))?;
    fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(|e| PortError::io(to.display(), e))?;
    give(to, ids)?;
    let entries = fs::read_dir(from).map_err(|e| PortError::io(from.display(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| PortError::io(from.display(), e))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let m = fs::symlink_metadata(&src).map_err(|e| PortError::io(src.display(), e))?;
        if m.file_type().is_symlink() {
            let target = fs::read_link(&src).map_err(|e| PortError::io(src.display(), e))?;
            let rel = src.strip_prefix(root.from).unwrap_or(&src);
            root.links.check(rel, &target, root.to, root.from)?;
            symlink(&target, &dst).map_err(|e| PortError::io(dst.display(), e))?;
            give(&dst, ids)?;
        } else if m.is_dir() {
            copy_dir(root, &src, &dst, ids, done, progress)?;
        } else if m.is_file() {
            copy_file(&src, &dst, m.mode() & 0o7777, done, progress).map_err(|e| {
                PortError::io(format!("copying {} to {}", src.display(), dst.display()), e)
            })?;
            give(&dst, ids)?;
        }
    }
    Ok(())
}

/// While alive, this thread's file-system identity is the server's user: files are created
/// and permission-checked as that user, not as root (fsuid is per thread on Linux).
struct FsIdentity {
    uid: Uid,
    gid: Gid,
}

impl FsIdentity {
    fn become_(ids: Option<(Uid, Gid)>) -> Option<FsIdentity> {
        let (uid, gid) = ids?;
        let old_gid = nix::unistd::setfsgid(gid);
        let old_uid = nix::unistd::setfsuid(uid);
        Some(FsIdentity {
            uid: old_uid,
            gid: old_gid,
        })
    }
}

impl Drop for FsIdentity {
    fn drop(&mut self) {
        nix::unistd::setfsuid(self.uid);
        nix::unistd::setfsgid(self.gid);
    }
}

/// Opens `p` for writing as the server's user, relative to its directory and without
/// following a link at either: a link or hard link planted in a backup (say
/// `postgresql.auto.conf -> /etc/passwd`) is refused instead of written through.
fn open_no_follow(
    p: &Path,
    append: bool,
    mode: u32,
    ids: Option<(Uid, Gid)>,
) -> Result<File, PortError> {
    use nix::fcntl::{openat, OFlag};
    use nix::sys::stat::Mode;
    let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
        return Err(PortError::new(
            crate::engine::ports::PortErrorKind::Refused,
            format!("{}: not a file path", p.display()),
        ));
    };
    let _as_server = FsIdentity::become_(ids);
    let d = OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW).bits())
        .open(dir)
        .map_err(|e| {
            PortError::io(
                format!("{} (the directory, not followed if a link)", dir.display()),
                e,
            )
        })?;
    let flags = OFlag::O_WRONLY
        | OFlag::O_CREAT
        | OFlag::O_NOFOLLOW
        | OFlag::O_CLOEXEC
        | if append {
            OFlag::O_APPEND
        } else {
            OFlag::empty()
        };
    let fd = openat(&d, name, flags, Mode::from_bits_truncate(mode)).map_err(|e| {
        let why = if e == nix::errno::Errno::ELOOP {
            " (it is a symbolic link, which the console never writes through: move it aside and retry)".to_string()
        } else {
            String::new()
        };
        PortError::new(crate::engine::ports::PortErrorKind::Other, format!("cannot open {}: {e}{why}", p.display()))
    })?;
    let f = File::from(fd);
    let meta = f.metadata().map_err(|e| PortError::io(p.display(), e))?;
    if !meta.is_file() || meta.nlink() != 1 {
        return Err(PortError::new(crate::engine::ports::PortErrorKind::Refused, format!(
            "refusing to write {}: it is not a plain file of its own ({} links); a backup should not hold that, move it aside and retry",
            p.display(),
            meta.nlink()
        )));
    }
    if !append {
        f.set_len(0).map_err(|e| PortError::io(p.display(), e))?;
    }
    Ok(f)
}

/// Counts the bytes read from the archive, for progress.
struct Counting<'a, R> {
    inner: R,
    read: u64,
    progress: ByteProgress<'a>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        (self.progress)(self.read);
        Ok(n)
    }
}

fn decoder<'a>(archive: &Path, raw: Counting<'a, File>) -> Result<Box<dyn Read + 'a>, PortError> {
    let name = archive.to_string_lossy();
    let raw = io::BufReader::with_capacity(1 << 20, raw);
    Ok(if name.ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(raw))
    } else if name.ends_with(".zst") {
        Box::new(zstd::Decoder::with_buffer(raw).map_err(|e| PortError::io(archive.display(), e))?)
    } else if name.ends_with(".lz4") {
        Box::new(lz4_flex::frame::FrameDecoder::new(raw))
    } else {
        Box::new(raw)
    })
}

/// The directory holding `p` (`.` for a bare name).
fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

impl Fs for LocalFs {
    fn exists(&self, p: &Path) -> bool {
        fs::symlink_metadata(p).is_ok()
    }

    fn is_absent_or_empty(&self, p: &Path) -> Result<bool, PortError> {
        match fs::read_dir(p) {
            Ok(mut d) => Ok(d.next().is_none()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(PortError::io(p.display(), e)),
        }
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<(), PortError> {
        if self.exists(to) {
            return Err(PortError::new(
                crate::engine::ports::PortErrorKind::Refused,
                format!(
                    "cannot move {} to {}: the destination exists",
                    from.display(),
                    to.display()
                ),
            ));
        }
        fs::rename(from, to).map_err(|e| {
            PortError::io(
                format!("cannot move {} to {}", from.display(), to.display()),
                e,
            )
        })?;
        // A rename lives in the directories' entries: until they are on disk a crash can
        // bring back the old names (the original where the restore now is, or neither).
        let dirs = [parent_dir(to), parent_dir(from)];
        for dir in dirs.iter().take(if dirs[0] == dirs[1] { 1 } else { 2 }) {
            File::open(dir).and_then(|d| d.sync_all()).map_err(|e| {
                PortError::io(
                    format!(
                        "moved {} to {}, but cannot flush {} to disk",
                        from.display(),
                        to.display(),
                        dir.display()
                    ),
                    e,
                )
            })?;
        }
        Ok(())
    }

    fn copy_tree(
        &self,
        from: &Path,
        to: &Path,
        owner: Option<&str>,
        fence: &LinkFence,
        progress: ByteProgress<'_>,
    ) -> Result<u64, PortError> {
        let ids = owner_ids(owner)?;
        let mut done = 0;
        let root = CopyRoot {
            from,
            to,
            links: LinkRules::of_backup(from, fence),
        };
        copy_dir(&root, from, to, ids, &mut done, progress)?;
        Ok(done)
    }

    fn extract_tar(
        &self,
        archive: &Path,
        to: &Path,
        owner: Option<&str>,
        fence: &LinkFence,
        progress: ByteProgress<'_>,
    ) -> Result<u64, PortError> {
        let ids = owner_ids(owner)?;
        // A link at the destination (a `pg_wal` link from base.tar before pg_wal.tar) would
        // take every entry, written as root, wherever it points.
        if fs::symlink_metadata(to).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(PortError::new(crate::engine::ports::PortErrorKind::Refused, format!(
                "{} is a symbolic link: {} is extracted only into a real directory, never through a link; check who wrote this backup, or choose another",
                to.display(),
                archive.display()
            )));
        }
        let mut links = LinkRules::of_backup(archive.parent().unwrap_or(Path::new("/")), fence);
        // Links are made last, once every entry is out: none is written through, and a
        // `tablespace_map` inside the archive (base.tar holds it) is read before any link
        // is checked, wherever the archive puts it.
        let mut deferred: Vec<(PathBuf, PathBuf)> = Vec::new();
        if !to.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(to)
                .map_err(|e| PortError::io(to.display(), e))?;
            give(to, ids)?;
        }
        let file = File::open(archive).map_err(|e| PortError::io(archive.display(), e))?;
        let reader = decoder(
            archive,
            Counting {
                inner: file,
                read: 0,
                progress,
            },
        )?;
        let mut tar = tar::Archive::new(reader);
        tar.set_preserve_permissions(true);
        tar.set_overwrite(false);
        let mut bytes = 0;
        let entries = tar
            .entries()
            .map_err(|e| PortError::io(archive.display(), e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| PortError::io(archive.display(), e))?;
            bytes += entry.size();
            // `./base/1` and `base/1` are the same entry (tar tools write either).
            let rel: PathBuf = entry
                .path()
                .map_err(|e| PortError::io(archive.display(), e))?
                .components()
                .filter(|c| *c != std::path::Component::CurDir)
                .collect();
            let kind = entry.header().entry_type();
            if kind.is_symlink() {
                let target = entry
                    .link_name()
                    .map_err(|e| PortError::io(archive.display(), e))?
                    .unwrap_or_default()
                    .into_owned();
                deferred.push((rel, target));
                continue;
            } else if !(kind.is_file() || kind.is_dir()) {
                return Err(PortError::new(crate::engine::ports::PortErrorKind::Refused, format!(
                    "{} in {} is a {kind:?} entry: a base backup holds only files, directories and the tablespace and pg_wal links; refusing to restore it",
                    rel.display(),
                    archive.display()
                )));
            }
            entry.unpack_in(to).map_err(|e| {
                PortError::io(
                    format!("extracting {} from {}", rel.display(), archive.display()),
                    e,
                )
            })?;
            give(&to.join(&rel), ids)?;
            if rel
                .components()
                .eq(Path::new("tablespace_map").components())
            {
                let text = fs::read_to_string(to.join(&rel))
                    .map_err(|e| PortError::io(to.join(&rel).display(), e))?;
                links.use_map(&text);
            }
        }
        for (rel, target) in deferred {
            links.check(&rel, &target, to, archive)?;
            let at = to.join(&rel);
            symlink(&target, &at).map_err(|e| PortError::io(at.display(), e))?;
            give(&at, ids)?;
        }
        Ok(bytes)
    }

    fn tree_size(&self, p: &Path) -> Result<u64, PortError> {
        let m = fs::symlink_metadata(p).map_err(|e| PortError::io(p.display(), e))?;
        if !m.is_dir() {
            return Ok(if m.is_file() { m.len() } else { 0 });
        }
        let mut total = 0;
        for e in fs::read_dir(p).map_err(|e| PortError::io(p.display(), e))? {
            let e = e.map_err(|e| PortError::io(p.display(), e))?;
            total += self.tree_size(&e.path())?;
        }
        Ok(total)
    }

    fn free_space(&self, p: &Path) -> Result<u64, PortError> {
        let s = nix::sys::statvfs::statvfs(p).map_err(|e| {
            PortError::new(
                crate::engine::ports::PortErrorKind::Other,
                format!("statvfs {}: {e}", p.display()),
            )
        })?;
        Ok(s.blocks_available() as u64 * s.fragment_size() as u64)
    }

    fn read_to_string(&self, p: &Path) -> Result<String, PortError> {
        let bytes = fs::read(p).map_err(|e| PortError::io(p.display(), e))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn write_file(
        &self,
        p: &Path,
        contents: &[u8],
        append: bool,
        mode: u32,
        owner: Option<&str>,
    ) -> Result<(), PortError> {
        let ids = owner_ids(owner)?;
        let f = open_no_follow(p, append, mode, ids)?;
        let mut f = &f;
        f.write_all(contents)
            .and_then(|_| f.sync_all())
            .map_err(|e| PortError::io(p.display(), e))
    }

    fn create_dir_all(&self, p: &Path, mode: u32, owner: Option<&str>) -> Result<(), PortError> {
        if p.is_dir() {
            return Ok(());
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(p)
            .map_err(|e| PortError::io(p.display(), e))?;
        give(p, owner_ids(owner)?)
    }

    fn sha256(&self, p: &Path) -> Result<String, PortError> {
        let mut f = File::open(p).map_err(|e| PortError::io(p.display(), e))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| PortError::io(p.display(), e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }

    fn list_dir(&self, p: &Path) -> Result<Vec<String>, PortError> {
        let mut names = Vec::new();
        for e in fs::read_dir(p).map_err(|e| PortError::io(p.display(), e))? {
            let e = e.map_err(|e| PortError::io(p.display(), e))?;
            names.push(e.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn file_size(&self, p: &Path) -> Result<u64, PortError> {
        Ok(fs::metadata(p)
            .map_err(|e| PortError::io(p.display(), e))?
            .len())
    }
}

/// The real ports: local processes, PostgreSQL, local files.
pub fn local_ports() -> crate::engine::ports::Ports {
    use std::sync::Arc;
    crate::engine::ports::Ports {
        commands: Arc::new(super::process::LocalCommands),
        sql: Arc::new(super::postgres::Postgres),
        fs: Arc::new(LocalFs),
        patroni: Arc::new(super::patroni::RestClient::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_a_tree_with_modes_and_links() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/a"), vec![7u8; 3 << 20]).unwrap();
        fs::set_permissions(src.join("sub/a"), fs::Permissions::from_mode(0o600)).unwrap();
        let wal = d.path().join("wal");
        fs::create_dir(&wal).unwrap();
        symlink(&wal, src.join("pg_wal")).unwrap();
        let done = std::sync::atomic::AtomicU64::new(0);
        let n = LocalFs
            .copy_tree(
                &src,
                &d.path().join("dst"),
                None,
                &LinkFence::default(),
                &|b| done.store(b, std::sync::atomic::Ordering::Relaxed),
            )
            .unwrap();
        assert_eq!(n, 3 << 20);
        assert_eq!(done.load(std::sync::atomic::Ordering::Relaxed), 3 << 20);
        let m = fs::metadata(d.path().join("dst/sub/a")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_link(d.path().join("dst/pg_wal")).unwrap(), wal);
    }

    #[test]
    fn links_a_backup_should_not_hold_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        fs::create_dir_all(&src).unwrap();
        symlink("/etc/passwd", src.join("postgresql.auto.conf")).unwrap();
        let e = LocalFs
            .copy_tree(
                &src,
                &d.path().join("dst"),
                None,
                &LinkFence::default(),
                &|_| {},
            )
            .unwrap_err();
        assert!(
            e.message
                .contains("links only at pg_tblspc/<oid> and pg_wal"),
            "{e}"
        );
        assert!(!d.path().join("dst/postgresql.auto.conf").exists());
    }

    #[test]
    fn writes_never_go_through_a_link() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let data = d.path().join("data");
        fs::create_dir(&data).unwrap();
        symlink(&victim, data.join("recovery.signal")).unwrap();
        fs::hard_link(&victim, data.join("postgresql.auto.conf")).unwrap();
        let e = LocalFs
            .write_file(&data.join("recovery.signal"), b"", false, 0o600, None)
            .unwrap_err();
        assert!(e.message.contains("symbolic link"), "{e}");
        let e = LocalFs
            .write_file(
                &data.join("postgresql.auto.conf"),
                b"x = 1\n",
                true,
                0o600,
                None,
            )
            .unwrap_err();
        assert!(e.message.contains("not a plain file of its own"), "{e}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
    }

    #[test]
    fn extracts_compressed_tars() {
        let d = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o600);
        h.set_cksum();
        b.append_data(&mut h, "global/pg_control", &b"hello"[..])
            .unwrap();
        let raw = b.into_inner().unwrap();
        let zst = zstd::encode_all(&raw[..], 3).unwrap();
        let arch = d.path().join("base.tar.zst");
        fs::write(&arch, zst).unwrap();
        let out = d.path().join("out");
        let n = LocalFs
            .extract_tar(&arch, &out, None, &LinkFence::default(), &|_| {})
            .unwrap();
        assert_eq!(n, 5);
        assert_eq!(fs::read(out.join("global/pg_control")).unwrap(), b"hello");
    }

    /// base.tar links pg_wal to a root-owned directory; pg_wal.tar must not land there.
    #[test]
    fn a_tar_is_never_extracted_through_a_link() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::create_dir(&victim).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, "pg_wal", &victim).unwrap();
        fs::write(d.path().join("base.tar"), b.into_inner().unwrap()).unwrap();
        let mut w = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o600);
        h.set_cksum();
        w.append_data(&mut h, "000000010000000000000001", &b"hello"[..])
            .unwrap();
        fs::write(d.path().join("pg_wal.tar"), w.into_inner().unwrap()).unwrap();
        let out = d.path().join("out");
        LocalFs
            .extract_tar(
                &d.path().join("base.tar"),
                &out,
                None,
                &LinkFence::default(),
                &|_| {},
            )
            .unwrap();
        let e = LocalFs
            .extract_tar(
                &d.path().join("pg_wal.tar"),
                &out.join("pg_wal"),
                None,
                &LinkFence::default(),
                &|_| {},
            )
            .unwrap_err();
        assert!(e.message.contains("never through a link"), "{e}");
        assert_eq!(fs::read_dir(&victim).unwrap().count(), 0);
    }

    /// A tar whose entries are `(path, Some(link target))` links or `(path, None)` with
    /// `data`: directories end with `/`.
    fn tar_of(entries: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, link, data) in entries {
            let mut h = tar::Header::new_gnu();
            match (link, path.ends_with('/')) {
                (Some(target), _) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    h.set_mode(0o777);
                    b.append_link(&mut h, path, target).unwrap();
                }
                (None, true) => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    h.set_mode(0o700);
                    h.set_cksum();
                    b.append_data(&mut h, path, &b""[..]).unwrap();
                }
                (None, false) => {
                    h.set_size(data.len() as u64);
                    h.set_mode(0o600);
                    h.set_cksum();
                    b.append_data(&mut h, path, *data).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn a_tablespace_map_inside_the_tar_decides_its_links_wherever_it_comes() {
        let d = tempfile::tempdir().unwrap();
        let ts = d.path().join("ts");
        fs::create_dir(&ts).unwrap();
        let map = format!("16385 {}\n", ts.display());
        let victim = d.path().join("victim");
        fs::create_dir(&victim).unwrap();
        let (ts_s, victim_s) = (ts.display().to_string(), victim.display().to_string());
        for (name, link_first, target, ok) in [
            ("good", false, ts_s.as_str(), true),
            ("elsewhere", false, victim_s.as_str(), false),
            ("link-before-map", true, victim_s.as_str(), false),
        ] {
            let link = ("pg_tblspc/16385", Some(target), &b""[..]);
            let map_entry = ("tablespace_map", None, map.as_bytes());
            let mut entries = vec![("pg_tblspc/", None, &b""[..])];
            if link_first {
                entries.extend([link, map_entry]);
            } else {
                entries.extend([map_entry, link]);
            }
            let arch = d.path().join(format!("{name}.tar"));
            fs::write(&arch, tar_of(&entries)).unwrap();
            let out = d.path().join(format!("out-{name}"));
            let res = LocalFs.extract_tar(&arch, &out, None, &LinkFence::default(), &|_| {});
            if ok {
                res.unwrap();
                assert_eq!(fs::read_link(out.join("pg_tblspc/16385")).unwrap(), ts);
            } else {
                let e = res.unwrap_err();
                assert!(
                    e.message.contains(&format!(
                        "tablespace_map puts tablespace 16385 at {}",
                        ts.display()
                    )),
                    "{name}: {e}"
                );
                assert!(!out.join("pg_tblspc/16385").exists(), "{name}");
            }
        }
        assert_eq!(fs::read_dir(&victim).unwrap().count(), 0);
    }
}
