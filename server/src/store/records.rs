//! Small records in the bucket every node of a cluster reaches (accounts, sessions, sign-up
//! challenges): one object per record, named by a keyed BLAKE3 of its key (`records/<hex>`:
//! no username or number shows, and none can be found from a dictionary), its value sealed
//! with XChaCha20-Poly1305 with its name as associated data (both keys derived from the
//! platform key). A reader of the bucket learns nothing; a writer can destroy records but not
//! forge one (a session made up in the bucket does not open), nor move one to another name.

use futures_util::StreamExt;

use crate::limits::RECORD_BYTES_MAX;
use crate::store::blobs::{BlobSettings, Blobs};
use crate::store::bridge::Bridge;
use crate::store::sealer::Sealer;

pub struct SharedRecords {
    blobs: Blobs,
    bridge: Bridge,
    names: [u8; 32],
    seal: Sealer,
}

impl std::fmt::Debug for SharedRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRecords").field("store", &self.blobs.describe()).finish()
    }
}

impl SharedRecords {
    pub fn open(
        settings: &BlobSettings,
        platform: &ed25519_dalek::SigningKey,
    ) -> Result<Self, String> {
        // Its own client, used only on the bridge's runtime.
        let blobs = Blobs::open(settings).map_err(|e| e.to_string())?;
        Ok(SharedRecords {
            blobs,
            bridge: Bridge::start("records-store")?,
            names: blake3::derive_key("locker shared record names v1", &platform.to_bytes()),
            seal: Sealer::derived("locker shared records v1", platform),
        })
    }

    fn object_name(&self, key: &[u8]) -> String {
        format!("records/{}", blake3::keyed_hash(&self.names, key).to_hex())
    }

    fn opened(&self, name: &str, bytes: &[u8]) -> Result<Vec<u8>, String> {
        self.seal
            .open(name.as_bytes(), bytes)
            .ok_or_else(|| format!("{name} is not a record sealed for this platform"))
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let name = self.object_name(key);
        let (blobs, object) = (self.blobs.clone(), name.clone());
        let found = self
            .bridge
            .run(async move { blobs.get_object_bounded(&object, RECORD_BYTES_MAX as u64).await })?;
        found.map_err(|e| e.to_string())?.map(|bytes| self.opened(&name, &bytes)).transpose()
    }

    pub fn put(&self, key: &[u8], value: Vec<u8>) -> Result<(), String> {
        let name = self.object_name(key);
        let bytes = self.seal.seal(name.as_bytes(), &value)?;
        let blobs = self.blobs.clone();
        let put = self.bridge.run(async move { blobs.put_object(&name, bytes).await });
        put?.map_err(|e| e.to_string())
    }

    /// Stores the record only if none has this key: whether this call created it.
    pub fn create(&self, key: &[u8], value: Vec<u8>) -> Result<bool, String> {
        let name = self.object_name(key);
        let bytes = self.seal.seal(name.as_bytes(), &value)?;
        let blobs = self.blobs.clone();
        let created = self.bridge.run(async move { blobs.create_object(&name, bytes).await });
        created?.map_err(|e| e.to_string())
    }

    /// Stores each record whose key has none, `in_flight` at a time: per record, whether this
    /// call created it.
    pub fn create_many(
        &self,
        records: Vec<(Vec<u8>, Vec<u8>)>,
        in_flight: usize,
    ) -> Result<Vec<Result<bool, String>>, String> {
        let mut requests = Vec::with_capacity(records.len());
        for (key, value) in records {
            let name = self.object_name(&key);
            let bytes = self.seal.seal(name.as_bytes(), &value)?;
            requests.push((name, bytes));
        }
        let blobs = self.blobs.clone();
        self.bridge.run(
            futures_util::stream::iter(requests)
                .map(move |(name, bytes)| {
                    let blobs = blobs.clone();
                    async move { blobs.create_object(&name, bytes).await.map_err(|e| e.to_string()) }
                })
                .buffered(in_flight)
                .collect(),
        )
    }

    pub fn delete(&self, key: &[u8]) -> Result<(), String> {
        let (blobs, name) = (self.blobs.clone(), self.object_name(key));
        let deleted = self.bridge.run(async move { blobs.delete_object(&name).await });
        deleted?.map_err(|e| e.to_string())
    }
}
