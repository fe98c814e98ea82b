//! The vault's keys where every node of a cluster reaches them (issue 18): one object per key
//! in the bucket (`vault/<name in hex>`), created only if absent, so two nodes that create
//! one subject's key at once agree on the winner's. Each key is wrapped (XChaCha20-Poly1305,
//! its name as associated data, under a key derived from the platform key every node holds),
//! so the bucket alone opens nothing, and a key moved to another name is refused. The node's
//! own vault keeps a copy of each key it used.
//! Requests go through a `Bridge`: the vault is called from synchronous code.

use futures_util::StreamExt;

use crate::limits::VAULT_SHARED_REQUESTS_IN_FLIGHT;
use crate::store::blobs::{BlobSettings, Blobs};
use crate::store::bridge::Bridge;
use crate::store::sealer::Sealer;

pub struct SharedKeys {
    blobs: Blobs,
    wrap: Sealer,
    bridge: Bridge,
}

impl std::fmt::Debug for SharedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedKeys").field("store", &self.blobs.describe()).finish()
    }
}

fn object_name(name: &[u8]) -> String {
    format!("vault/{}", schemas::to_hex(name))
}

impl SharedKeys {
    /// Keys in the store `settings` names, wrapped under a key derived from `platform`.
    pub fn open(
        settings: &BlobSettings,
        platform: &ed25519_dalek::SigningKey,
    ) -> Result<Self, String> {
        // Its own client: the object store's connections belong to the runtime that made them.
        let blobs = Blobs::open(settings).map_err(|e| e.to_string())?;
        Ok(SharedKeys {
            blobs,
            wrap: Sealer::derived("locker vault key wrapping v1", platform),
            bridge: Bridge::start("vault-store")?,
        })
    }

    fn open_sealed(&self, name: &[u8], bytes: &[u8]) -> Result<[u8; 32], String> {
        let refused = || format!("{} is not a key wrapped for this platform", object_name(name));
        let key = self.wrap.open(name, bytes).ok_or_else(refused)?;
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

    /// Deletes the keys stored under `names` (crypto-shredding a closed locker).
    pub fn delete(&self, names: &[Vec<u8>]) -> Result<(), String> {
        for name in names {
            let blobs = self.blobs.clone();
            let object = object_name(name);
            self.bridge
                .run(async move { blobs.delete_object(&object).await })?
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Stores each key unless its name has one already; returns the stored keys (each the one
    /// given, or the one another node created first), in order.
    pub fn create(&self, keys: &[(Vec<u8>, [u8; 32])]) -> Result<Vec<[u8; 32]>, String> {
        let mut requests = Vec::with_capacity(keys.len());
        for (name, key) in keys {
            requests.push((object_name(name), self.wrap.seal(name, key)?));
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
