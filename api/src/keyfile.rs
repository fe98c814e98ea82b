//! Ed25519 signing keys on disk: 64 hex digits, created with mode 0600.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use ed25519_dalek::SigningKey;

/// Writes a new key file; refuses to overwrite an existing one.
pub fn write_new(path: &Path, key: &SigningKey) -> Result<(), String> {
    let hex: String = key.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(hex.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub fn read(path: &Path) -> Result<SigningKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let bytes = schemas::Digest32::from_hex(text.trim())
        .map_err(|_| format!("{} is not a key file (64 hex digits)", path.display()))?;
    Ok(SigningKey::from_bytes(bytes.as_bytes()))
}
