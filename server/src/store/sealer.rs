//! One value sealed for the cluster's bucket (the vault's keys, the accounts' records):
//! XChaCha20-Poly1305 under a key derived from the platform key, a random 24-byte nonce before
//! the ciphertext, and the value's name as associated data, so a value moved to another name
//! does not open, nor one written under another platform.

use bytes::Bytes;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use rand_core::{OsRng, RngCore};

const NONCE_BYTES: usize = 24;

pub struct Sealer(XChaCha20Poly1305);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer")
    }
}

impl Sealer {
    /// A sealer whose key is the platform key's derivation under `context`.
    pub fn derived(context: &str, platform: &ed25519_dalek::SigningKey) -> Self {
        let key = blake3::derive_key(context, &platform.to_bytes());
        Sealer(XChaCha20Poly1305::new((&key).into()))
    }

    pub fn seal(&self, name: &[u8], value: &[u8]) -> Result<Bytes, String> {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .0
            .encrypt((&nonce).into(), Payload { msg: value, aad: name })
            .map_err(|_| "cannot seal a value".to_owned())?;
        Ok(Bytes::from([&nonce[..], &sealed].concat()))
    }

    /// The value, if `bytes` were sealed under `name` by this sealer.
    pub fn open(&self, name: &[u8], bytes: &[u8]) -> Option<Vec<u8>> {
        let (nonce, sealed) = bytes.split_at_checked(NONCE_BYTES)?;
        let nonce: &[u8; NONCE_BYTES] = nonce.try_into().ok()?;
        self.0.decrypt(nonce.into(), Payload { msg: sealed, aad: name }).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_under_its_name_and_platform() {
        let platform = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let sealer = Sealer::derived("test v1", &platform);
        let sealed = sealer.seal(b"name", b"value").expect("seal");
        assert_eq!(sealer.open(b"name", &sealed).as_deref(), Some(&b"value"[..]));
        assert!(sealer.open(b"other", &sealed).is_none(), "moved to another name");
        let stranger = Sealer::derived("test v1", &ed25519_dalek::SigningKey::from_bytes(&[2; 32]));
        assert!(stranger.open(b"name", &sealed).is_none(), "another platform");
        assert!(Sealer::derived("test v2", &platform).open(b"name", &sealed).is_none());
        let mut flipped = sealed.to_vec();
        flipped[30] ^= 1;
        assert!(sealer.open(b"name", &flipped).is_none(), "altered");
        assert!(sealer.open(b"name", &sealed[..10]).is_none(), "cut short");
    }
}
