//! The links a backup holds, checked on the remote host as the local copy checks them
//! (`backup_links`): the backup's own links before anything is copied, and the copy's once
//! it is made, since whoever writes the repository may change it in between. A link the
//! rules refuse in the copy is unlinked there (the copy is the console's own directory; the
//! link's target is never touched), then the restore fails with the reason.

use super::{p, RemoteFs};
use crate::backup_links::LinkRules;
use crate::engine::ports::{LinkFence, PortError, PortErrorKind};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

impl RemoteFs {
    /// The rules of the backup in `dir`, from its `tablespace_map` and `backup_manifest`
    /// on the remote host.
    pub(super) fn link_rules(&self, dir: &Path, fence: &LinkFence) -> Result<LinkRules, PortError> {
        let map = self.read_if_there(&dir.join("tablespace_map"))?;
        let manifest = self.read_if_there(&dir.join("backup_manifest"))?;
        let map = map.as_deref().map(String::from_utf8_lossy);
        Ok(LinkRules::of_texts(
            map.as_deref(),
            manifest.as_deref(),
            fence,
        ))
    }

    /// Reads a tablespace_map extracted from an archive into the rules.
    pub(super) fn use_extracted_map(
        &self,
        rules: &mut LinkRules,
        dir: &Path,
    ) -> Result<(), PortError> {
        if let Some(map) = self.read_if_there(&dir.join("tablespace_map"))? {
            rules.use_map(&String::from_utf8_lossy(&map));
        }
        Ok(())
    }

    /// Refuses when a link under `root` is one the rules forbid for the directory `dest`
    /// restored from `whence`; with `unlink_as`, each forbidden link is removed first.
    pub(super) fn fence_links(
        &self,
        root: &Path,
        dest: &Path,
        whence: &Path,
        rules: &LinkRules,
        unlink_as: Option<Option<&str>>,
    ) -> Result<(), PortError> {
        let refused: Vec<(PathBuf, PortError)> = self
            .links_under(root)?
            .into_iter()
            .filter_map(|(rel, target)| {
                rules
                    .check(&rel, &target, dest, whence)
                    .err()
                    .map(|e| (rel, e))
            })
            .collect();
        let Some((_, first)) = refused.first() else {
            return Ok(());
        };
        if let Some(owner) = unlink_as {
            for (rel, _) in &refused {
                let link = root.join(rel);
                self.sh_ok(
                    &format!("cannot remove the refused link {}", link.display()),
                    r#"[ ! -L "$1" ] || rm -f -- "$1""#,
                    &[p(&link)],
                    owner,
                    None,
                )?;
            }
        }
        Err(first.clone())
    }

    /// Every symbolic link under `root`, never following one: (path relative to root, target).
    fn links_under(&self, root: &Path) -> Result<Vec<(PathBuf, PathBuf)>, PortError> {
        let c = self.sh(
            r#"find -P "$1" -mindepth 1 -type l -printf '%P\0%l\0'"#,
            &[p(root)],
            None,
            None,
        )?;
        if c.exit_code != Some(0) {
            return Err(PortError::new(
                PortErrorKind::Remote,
                format!(
                    "cannot list the links under {} on {}: {}",
                    root.display(),
                    self.commands.target().host,
                    c.stderr.trim()
                ),
            ));
        }
        let words: Vec<&[u8]> = c.stdout.split(|b| *b == 0).collect();
        Ok(words
            .chunks_exact(2)
            .map(|w| {
                (
                    PathBuf::from(OsStr::from_bytes(w[0])),
                    PathBuf::from(OsStr::from_bytes(w[1])),
                )
            })
            .collect())
    }

    /// A regular file's bytes, or None when there is none at `path`.
    fn read_if_there(&self, path: &Path) -> Result<Option<Vec<u8>>, PortError> {
        let c = self.sh(
            r#"[ -f "$1" ] || exit 3
cat -- "$1""#,
            &[p(path)],
            None,
            None,
        )?;
        match c.exit_code {
            Some(0) => Ok(Some(c.stdout)),
            Some(3) => Ok(None),
            _ => Err(PortError::new(
                PortErrorKind::Remote,
                format!(
                    "cannot read {} on {}: {}",
                    path.display(),
                    self.commands.target().host,
                    c.stderr.trim()
                ),
            )),
        }
    }
}
