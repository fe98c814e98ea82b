//! The vault's keys where every node of a cluster reaches them (issue 18): one object per key
//! in the bucket (`vault/<name in hex>`), created only if absent, so two nodes that create
//! one subject's key at once agree on the winner's. Each key is wrapped (XChaCha20-Poly1305,
//! its name as associated data, under a key derived from the platform key every node holds),
//! so the bucket alone opens nothing, and a key moved to another name is refused. The node's
//! own vault keeps a copy of each key it used.
//! Requests go through a `Bridge`: the vault is called from synchronous code.

use bytes::Bytes;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use futures_util::StreamExt;
use rand_core::{OsRng, RngCore};

use crate::limits::VAULT_SHARED_REQUESTS_IN_FLIGHT;
use crate::store::blobs::{BlobSettings, Blobs};
use crate::store::bridge::Bridge;

const NONCE_BYTES: usize = 24;
const WRAPPED_BYTES: usize = NONCE_BYTES + 32 + 16;

pub struct SharedKeys {
    blobs: Blobs,
    wrap: XChaCha20Poly1305,
    bridge: Bridge,
}

impl std::fmt::Debug for SharedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedKeys").field("store", &self.blobs.describe()).finish()
    }
}

fn object_name(name: &[u8]) -> String {
    let mut out = String::with_capacity(6 + name.len() * 2);
    out.push_str("vault/");
    for byte in name {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

impl SharedKeys {
    /// Keys in the store `settings` names, wrapped under a key derived from `platform`.
    pub fn open(
        settings: &BlobSettings,
        platform: &ed25519_dalek::SigningKey,
    ) -> Result<Self, String> {
        // Its own client: the object store's connections belong to the runtime that made them.
        let blobs = Blobs::open(settings).map_err(|e| e.to_string())?;
        let wrapping = blake3::derive_key("locker vault key wrapping v1", &platform.to_bytes());
        Ok(SharedKeys {
            blobs,
            wrap: XChaCha20Poly1305::new((&wrapping).into()),
            bridge: Bridge::start("vault-store")?,
        })
    }

    fn seal(&self, name: &[u8], key: &[u8; 32]) -> Result<Bytes, String> {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .wrap
            .encrypt((&nonce).into(), Payload { msg: key, aad: name })
            .map_err(|_| "cannot wrap a key".to_owned())?;
        Ok(Bytes::from([&nonce[..], &sealed].concat()))
    }

    fn open_sealed(&self, name: &[u8], bytes: &[u8]) -> Result<[u8; 32], String> {
        let refused = || format!("{} is not a key wrapped for this platform", object_name(name));
        if bytes.len() != WRAPPED_BYTES {
            return Err(refused());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let nonce: &[u8; NONCE_BYTES] = nonce.try_into().map_err(|_| refused())?;
        let key = self
            .wrap
            .decrypt(nonce.into(), Payload { msg: sealed, aad: name })
            .map_err(|_| refused())?;
        <[u8; 32]>::try_from(key.as_slice()).map_err(|_| refused())
    }

    /// The key stored under `name`, if any.
    pub fn get(&self, name: &[u8]) -> Result<Option<[u8; 32]>, String> {
        let blobs = self.blobs.clone();
        let object = object_name(name);
        let found = self
            .bridge
            .run(async move { blobs.get_object_bounded(&object, 1024).await })?
            .map_err(|e| e.to_string())?;
        found.map(|bytes| self.open_sealed(name, &bytes)).transpose()
    }

    /// Stores each key unless its name has one already; returns the stored keys (each the one
    /// given, or the one another node created first), in order.
    pub fn create(&self, keys: &[(Vec<u8>, [u8; 32])]) -> Result<Vec<[u8; 32]>, String> {
        let mut requests = Vec::with_capacity(keys.len());
        for (name, key) in keys {
            requests.push((object_name(name), self.seal(name, key)?));
        }
        let blobs = self.blobs.clone();
        let created: Vec<Result<bool, String>> =
            self.bridge.run(
                futures_util::stream::iter(requests)
                    .map(move |(object, bytes)| {
                        let blobs = blobs.clone();
                        async move {
                            blobs.create_object(&object, bytes).await.map_err(|e| e.to_string())
                        }
                    })
                    .buffered(VAULT_SHARED_REQUESTS_IN_FLIGHT)
                    .collect(),
            )?;
        let mut stored = Vec::with_capacity(keys.len());
        for ((name, key), created) in keys.iter().zip(created) {
            if created? {
                stored.push(*key);
            } else {
                let winner = self
                    .get(name)?
                    .ok_or_else(|| format!("{} exists and cannot be read", object_name(name)))?;
                stored.push(winner);
            }
        }
        Ok(stored)
    }
}
