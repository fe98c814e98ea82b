//! Small records in the bucket every node of a cluster reaches (accounts, sessions, sign-up
//! challenges): one object per record, named by the BLAKE3 of its key (`records/<hex>`), so
//! no username or number shows in an object's name.

use bytes::Bytes;

use crate::limits::RECORD_BYTES_MAX;
use crate::store::blobs::{BlobSettings, Blobs};
use crate::store::bridge::Bridge;

pub struct SharedRecords {
    blobs: Blobs,
    bridge: Bridge,
}

impl std::fmt::Debug for SharedRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRecords").field("store", &self.blobs.describe()).finish()
    }
}

fn object_name(key: &[u8]) -> String {
    format!("records/{}", blake3::hash(key).to_hex())
}

impl SharedRecords {
    pub fn open(settings: &BlobSettings) -> Result<Self, String> {
        // Its own client, used only on the bridge's runtime.
        let blobs = Blobs::open(settings).map_err(|e| e.to_string())?;
        Ok(SharedRecords { blobs, bridge: Bridge::start("records-store")? })
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let (blobs, name) = (self.blobs.clone(), object_name(key));
        let found = self
            .bridge
            .run(async move { blobs.get_object_bounded(&name, RECORD_BYTES_MAX as u64).await })?;
        Ok(found.map_err(|e| e.to_string())?.map(|bytes| bytes.to_vec()))
    }

    pub fn put(&self, key: &[u8], value: Vec<u8>) -> Result<(), String> {
        let (blobs, name) = (self.blobs.clone(), object_name(key));
        let put = self.bridge.run(async move { blobs.put_object(&name, Bytes::from(value)).await });
        put?.map_err(|e| e.to_string())
    }

    /// Stores the record only if none has this key: whether this call created it.
    pub fn create(&self, key: &[u8], value: Vec<u8>) -> Result<bool, String> {
        let (blobs, name) = (self.blobs.clone(), object_name(key));
        let created =
            self.bridge.run(async move { blobs.create_object(&name, Bytes::from(value)).await });
        created?.map_err(|e| e.to_string())
    }

    pub fn delete(&self, key: &[u8]) -> Result<(), String> {
        let (blobs, name) = (self.blobs.clone(), object_name(key));
        let deleted = self.bridge.run(async move { blobs.delete_object(&name).await });
        deleted?.map_err(|e| e.to_string())
    }
}
