//! Where a drill's files go and how they are written (beside the journal, private).

use super::*;

/// Writes a file only its owner reads (like the journal it sits beside), fsynced.
/// Never through a link, nor into a file linked elsewhere too: a report or record is
/// written beside a journal whose directory others may have prepared.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(nix::libc::ELOOP) => std::io::Error::other(format!(
                "{} is a symbolic link, which the console never writes through",
                path.display()
            )),
            _ => e,
        })?;
    let meta = f.metadata()?;
    if !meta.is_file() || meta.nlink() != 1 {
        return Err(std::io::Error::other(format!(
            "{} is not a plain file of its own ({} links): not written",
            path.display(),
            meta.nlink()
        )));
    }
    f.set_len(0)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// `<dir>/<journal stem>-<suffix>`.
pub fn sibling(journal: &Path, suffix: &str) -> PathBuf {
    let stem = journal
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    journal.with_file_name(format!("{stem}-{suffix}"))
}
