//! The per-host key that authenticates journal records (HMAC-SHA256): `journal.key`, 32
//! random bytes, mode 0600 in the checked state directory, created on first use. Whoever can
//! write a journal but not read this key cannot make the console accept an edited record.

use hmac::{KeyInit, Mac};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

const KEY_FILE: &str = "journal.key";
const KEY_LEN: usize = 32;

#[derive(Clone)]
pub struct JournalKey([u8; KEY_LEN]);

impl std::fmt::Debug for JournalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JournalKey(..)")
    }
}

impl JournalKey {
    /// This host's key, created when missing. Engine unit tests get a fixed one instead.
    #[cfg(test)]
    pub fn host() -> Result<JournalKey, String> {
        Ok(JournalKey([7; KEY_LEN]))
    }

    /// This host's key, created when missing.
    #[cfg(not(test))]
    pub fn host() -> Result<JournalKey, String> {
        let state = super::state_dir::current().map_err(|e| e.to_string())?;
        JournalKey::in_dir(state.path())
    }

    fn in_dir(dir: &Path) -> Result<JournalKey, String> {
        let path = dir.join(KEY_FILE);
        let err =
            |what: &str, e: std::io::Error| format!("journal key {}: {what}: {e}", path.display());
        let mut key = [0u8; KEY_LEN];
        match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(&path)
        {
            Ok(mut f) => {
                let meta = f.metadata().map_err(|e| err("stat", e))?;
                if meta.mode() & 0o077 != 0 || meta.uid() != nix::unistd::Uid::effective().as_raw()
                {
                    return Err(format!(
                        "journal key {} must be this user's and mode 0600 (it is {:o}, uid {}): anyone else who can read it can forge journals; fix with chmod 600",
                        path.display(),
                        meta.mode() & 0o7777,
                        meta.uid()
                    ));
                }
                f.read_exact(&mut key).map_err(|e| err("read", e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::File::open("/dev/urandom")
                    .and_then(|mut r| r.read_exact(&mut key))
                    .map_err(|e| err("random bytes", e))?;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(|e| err("create", e))?;
                f.write_all(&key)
                    .and_then(|_| f.sync_all())
                    .map_err(|e| err("write", e))?;
                std::fs::File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| err("sync its directory", e))?;
            }
            Err(e) => return Err(err("open", e)),
        }
        Ok(JournalKey(key))
    }

    /// The HMAC of `bytes`, in hex.
    pub fn sign(&self, bytes: &[u8]) -> String {
        let mut m = self.mac();
        m.update(bytes);
        m.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `mac_hex` is the HMAC of `bytes` (compared in constant time).
    pub fn verify(&self, bytes: &[u8], mac_hex: &str) -> bool {
        let Some(tag) = from_hex(mac_hex) else {
            return false;
        };
        let mut m = self.mac();
        m.update(bytes);
        m.verify_slice(&tag).is_ok()
    }

    #[allow(clippy::expect_used)] // HMAC-SHA256 accepts a key of any length: this cannot fail.
    fn mac(&self) -> HmacSha256 {
        <HmacSha256 as KeyInit>::new_from_slice(&self.0).expect("HMAC takes a key of any length")
    }
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = JournalKey::in_dir(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = JournalKey::in_dir(dir.path()).unwrap();
        let mac = a.sign(b"line");
        assert!(b.verify(b"line", &mac));
        assert!(!b.verify(b"line!", &mac));
        std::fs::set_permissions(
            dir.path().join(KEY_FILE),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert!(JournalKey::in_dir(dir.path())
            .unwrap_err()
            .contains("chmod 600"));
    }
}
