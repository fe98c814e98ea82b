//! Ed25519 signing keys on disk, as every actor keeps them (`locker keys generate`, the
//! platform's key, the demo's keys): 64 hex digits, created with mode 0600, never overwritten.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use thiserror::Error;

/// Why a key file could not be written or read.
#[derive(Debug, Error)]
pub enum KeyFileError {
    // The I/O error is part of the message, not a `source`: callers print chains, and it
    // would be said twice.
    #[error("cannot create {}: {error}", path.display())]
    Create { path: PathBuf, error: std::io::Error },
    #[error("{}: {error}", path.display())]
    Write { path: PathBuf, error: std::io::Error },
    #[error("cannot read {}: {error}", path.display())]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{} is not a key file (64 hex digits)", path.display())]
    NotAKey { path: PathBuf },
}

/// Writes a new key file; refuses to overwrite an existing one.
pub fn write_new(path: &Path, key: &SigningKey) -> Result<(), KeyFileError> {
    let hex: String = schemas::to_hex(&key.to_bytes());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|error| KeyFileError::Create { path: path.to_owned(), error })?;
    file.write_all(hex.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|error| KeyFileError::Write { path: path.to_owned(), error })
}

/// Reads a key file written by [`write_new`] (surrounding white space allowed).
pub fn read(path: &Path) -> Result<SigningKey, KeyFileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| KeyFileError::Read { path: path.to_owned(), error })?;
    let bytes = schemas::Digest32::from_hex(text.trim())
        .map_err(|_| KeyFileError::NotAKey { path: path.to_owned() })?;
    Ok(SigningKey::from_bytes(bytes.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_survives_the_round_trip_and_is_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.key");
        let key = SigningKey::from_bytes(&[9; 32]);
        write_new(&path, &key).expect("write");
        assert_eq!(read(&path).expect("read").to_bytes(), key.to_bytes());
        assert!(matches!(write_new(&path, &key), Err(KeyFileError::Create { .. })));
        let mode = std::fs::metadata(&path).expect("meta");
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o600);
        std::fs::write(&path, "not hex").expect("overwrite");
        assert!(matches!(read(&path), Err(KeyFileError::NotAKey { .. })));
    }
}
