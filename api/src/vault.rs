//! The key vault: one random sealing key per subject (citizen locker or Aadhaar), kept outside
//! the log in its own RocksDB. Deleting a subject's key erases its personal data everywhere
//! (crypto-shredding); every signature on the log still verifies.

use std::path::Path;

use rand_core::{OsRng, RngCore};
use schemas::SealSubject;

#[derive(Debug)]
pub struct Vault {
    db: rocksdb::DB,
    /// Held while keys are created: two writers creating one subject's key at once would
    /// each seal under their own, and the later write would make the earlier data unreadable.
    creating: std::sync::Mutex<()>,
}

fn key_of(subject: &SealSubject) -> Vec<u8> {
    match subject {
        SealSubject::Locker(locker) => [&b"L"[..], &locker.0[..]].concat(),
        SealSubject::Aadhaar(hash) => [&b"A"[..], &hash.0[..]].concat(),
    }
}

impl Vault {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, rocksdb::Error> {
        let mut options = rocksdb::Options::default();
        options.create_if_missing(true);
        // A bulk load asks for many subjects that have no key yet: bloom filters answer those
        // misses without walking the memtable or reading tables.
        options.set_memtable_whole_key_filtering(true);
        options.set_memtable_prefix_bloom_ratio(0.05);
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        options.set_block_based_table_factory(&table);
        Ok(Vault { db: rocksdb::DB::open(&options, path)?, creating: std::sync::Mutex::new(()) })
    }

    /// The keys of many subjects, creating the missing ones in one synced write (a bulk load
    /// of new citizens must not cost one fsync each).
    pub fn keys_for(&self, subjects: &[SealSubject]) -> Result<Vec<[u8; 32]>, rocksdb::Error> {
        let _creating = self.creating.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut keys = Vec::with_capacity(subjects.len());
        let mut batch = rocksdb::WriteBatch::default();
        let mut created: std::collections::HashMap<Vec<u8>, [u8; 32]> =
            std::collections::HashMap::new();
        for subject in subjects {
            let name = key_of(subject);
            if let Some(key) = created.get(&name) {
                keys.push(*key);
                continue;
            }
            if let Some(key) =
                self.db.get(&name)?.and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
            {
                keys.push(key);
                continue;
            }
            let mut key = [0u8; 32];
            OsRng.fill_bytes(&mut key);
            batch.put(&name, key);
            created.insert(name, key);
            keys.push(key);
        }
        if !created.is_empty() {
            let mut sync = rocksdb::WriteOptions::default();
            sync.set_sync(true);
            self.db.write_opt(batch, &sync)?;
        }
        Ok(keys)
    }

    /// Opens the vault for reading only (an auditor's rebuild of the views), beside a running
    /// service.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, rocksdb::Error> {
        let db = rocksdb::DB::open_for_read_only(&rocksdb::Options::default(), path, false)?;
        Ok(Vault { db, creating: std::sync::Mutex::new(()) })
    }

    /// The subject's key, created (from the OS's randomness) on first use. Written with fsync:
    /// data sealed under a key that a crash forgot would be lost.
    pub fn key_for(&self, subject: &SealSubject) -> Result<[u8; 32], rocksdb::Error> {
        let name = key_of(subject);
        if let Some(key) = self.db.get(&name)?.and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
        {
            return Ok(key);
        }
        let _creating = self.creating.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Another writer may have created it meanwhile.
        if let Some(key) = self.db.get(&name)?.and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
        {
            return Ok(key);
        }
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        let mut sync = rocksdb::WriteOptions::default();
        sync.set_sync(true);
        self.db.put_opt(&name, key, &sync)?;
        Ok(key)
    }
}

impl Vault {
    /// Keeps a citizen's custodial signing key (fsync'd: a lost key cannot sign again).
    pub fn store_signing_key(
        &self,
        locker: &schemas::LockerId,
        key: &ed25519_dalek::SigningKey,
    ) -> Result<(), rocksdb::Error> {
        let mut sync = rocksdb::WriteOptions::default();
        sync.set_sync(true);
        self.db.put_opt([&b"S"[..], &locker.0[..]].concat(), key.to_bytes(), &sync)
    }

    /// A citizen's custodial signing key.
    pub fn signing_key(&self, locker: &schemas::LockerId) -> Option<ed25519_dalek::SigningKey> {
        let bytes = self.db.get([&b"S"[..], &locker.0[..]].concat()).ok()??;
        <[u8; 32]>::try_from(bytes.as_slice())
            .ok()
            .map(|b| ed25519_dalek::SigningKey::from_bytes(&b))
    }
}

impl projections::SealKeys for Vault {
    fn key(&self, subject: &SealSubject) -> Option<[u8; 32]> {
        let stored = self.db.get(key_of(subject)).ok()??;
        <[u8; 32]>::try_from(stored.as_slice()).ok()
    }
}
