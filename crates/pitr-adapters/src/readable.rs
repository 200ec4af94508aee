//! Whether an OS user could read a file, from its owner, group and mode bits (and the
//! search bit of every directory above it): the console often runs as root, which reads
//! anything, while PostgreSQL's restore_command runs as the server user, which may not.

use nix::unistd::{Gid, Uid, User};
use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Someone the kernel would check permissions for.
pub struct Reader {
    name: String,
    uid: Uid,
    groups: Vec<Gid>,
}

impl Reader {
    /// The OS user `name`, or None when it does not exist or its groups cannot be read.
    pub fn named(name: &str) -> Option<Reader> {
        let user = User::from_name(name).ok()??;
        let cname = CString::new(name).ok()?;
        let groups = nix::unistd::getgrouplist(&cname, user.gid).ok()?;
        Some(Reader {
            name: name.to_string(),
            uid: user.uid,
            groups,
        })
    }

    fn allowed(&self, meta: &std::fs::Metadata, bit: u32) -> bool {
        if self.uid.is_root() {
            return true;
        }
        let mode = meta.mode();
        if meta.uid() == self.uid.as_raw() {
            mode & (bit << 6) != 0
        } else if self.groups.iter().any(|g| g.as_raw() == meta.gid()) {
            mode & (bit << 3) != 0
        } else {
            mode & bit != 0
        }
    }

    /// Why this user cannot read `path`, or None when it can.
    pub fn cannot_read(&self, path: &Path) -> Option<String> {
        for dir in path.ancestors().skip(1) {
            if let Ok(meta) = std::fs::metadata(dir) {
                if !self.allowed(&meta, 0o1) {
                    return Some(format!(
                        "{} cannot enter {} (owner uid {}, mode {:04o})",
                        self.name,
                        dir.display(),
                        meta.uid(),
                        meta.mode() & 0o7777
                    ));
                }
            }
        }
        let meta = std::fs::metadata(path).ok()?;
        (!self.allowed(&meta, 0o4)).then(|| {
            format!(
                "{} cannot read {} (owner uid {}, group gid {}, mode {:04o})",
                self.name,
                path.display(),
                meta.uid(),
                meta.gid(),
                meta.mode() & 0o7777
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn root_reads_anything_and_others_follow_the_mode_bits() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("seg");
        std::fs::write(&f, b"x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let root = Reader::named("root").unwrap();
        assert_eq!(root.cannot_read(&f), None);
        if let Some(nobody) = Reader::named("nobody") {
            if Uid::effective().is_root() {
                let why = nobody
                    .cannot_read(&f)
                    .expect("nobody cannot read a 0600 file of root's");
                assert!(why.contains("nobody cannot"), "{why}");
                std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
                std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                    .unwrap();
                assert_eq!(nobody.cannot_read(&f), None);
            }
        }
    }
}
