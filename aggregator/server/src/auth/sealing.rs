//! Secrets that must be read back (TOTP seeds), sealed with a key kept beside the database,
//! not in it: `secret.key` in the data directory, 32 random bytes, mode 0600, made on first
//! use.
//!
//! A copy of `hitkeep.db` alone therefore holds no usable TOTP seed. The key must be backed
//! up with the database: without it, TOTP codes cannot be checked (recovery codes, which are
//! digests, still work, and `hitkeep user reset-factors` removes a person's factors).
//!
//! Sealed values are `1 || nonce (12 bytes) || ChaCha20-Poly1305 ciphertext and tag`, with
//! what the value is for (`totp:<user id>`) as associated data, so a sealed value moved to
//! another row or account does not open.

use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "secret.key";

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// Seals and opens secrets with the data directory's key.
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

/// The key file could not be read or made.
#[derive(Debug, thiserror::Error)]
#[error("the key file {path}: {reason}")]
pub struct KeyFileError {
    path: PathBuf,
    reason: String,
}

impl SecretBox {
    /// The box of `data_dir`'s key file, made (mode 0600) when there is none.
    pub fn open_dir(data_dir: &Path) -> Result<Self, KeyFileError> {
        let path = data_dir.join(KEY_FILE);
        let failed = |reason: String| KeyFileError { path: path.clone(), reason };
        let key = match std::fs::read(&path) {
            Ok(key) => key,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(|e| failed(e.to_string()))?;
                match create_key_file(&path) {
                    Ok(key) => key.to_vec(),
                    // Another process made it first.
                    Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::read(&path).map_err(|e| failed(e.to_string()))?
                    }
                    Err(error) => return Err(failed(error.to_string())),
                }
            }
            Err(error) => return Err(failed(error.to_string())),
        };
        let key: [u8; 32] =
            key.try_into().map_err(|_| failed("must hold exactly 32 bytes (is it damaged?)".into()))?;
        warn_if_readable_by_others(&path);
        Ok(Self::from_key(key))
    }

    /// A box with this key (tests, benchmarks).
    pub fn from_key(key: [u8; 32]) -> Self {
        Self { cipher: ChaCha20Poly1305::new(Key::from_slice(&key)) }
    }

    /// Seals `secret` for `purpose`.
    pub fn seal(&self, purpose: &str, secret: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the operating system provides randomness");
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: secret, aad: purpose.as_bytes() })
            .expect("ChaCha20-Poly1305 seals any input shorter than 256 GiB");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`SecretBox::seal`] made for the same purpose with the same key; `None`
    /// for anything else.
    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        let (&version, rest) = sealed.split_first()?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: purpose.as_bytes() })
            .ok()
    }
}

fn create_key_file(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(std::io::Error::other)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(&key)?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "made the key that seals second-factor secrets; back it up with the database");
    Ok(key)
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "the key file is readable by others; chmod 600 it");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_key_and_purpose() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretBox::open_dir(dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let sealed = first.seal("totp:1", b"seed bytes");
        assert!(!sealed.windows(10).any(|w| w == b"seed bytes"), "no clear text");
        let again = SecretBox::open_dir(dir.path()).unwrap();
        assert_eq!(again.open("totp:1", &sealed).as_deref(), Some(&b"seed bytes"[..]));
        assert_eq!(again.open("totp:2", &sealed), None, "another account's");
        assert_eq!(SecretBox::from_key([9; 32]).open("totp:1", &sealed), None, "another key");
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(again.open("totp:1", &flipped), None);
        assert_eq!(again.open("totp:1", &sealed[..5]), None);
        assert_ne!(first.seal("totp:1", b"x"), first.seal("totp:1", b"x"), "fresh nonces");

        std::fs::write(dir.path().join(KEY_FILE), b"short").unwrap();
        let error = SecretBox::open_dir(dir.path()).unwrap_err().to_string();
        assert!(error.contains("32 bytes"), "{error}");
    }
}
