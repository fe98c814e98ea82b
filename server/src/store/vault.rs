//! The key vault: one random sealing key per subject (citizen locker or Aadhaar), kept outside
//! the log in its own RocksDB. Deleting a subject's key erases its personal data everywhere
//! (crypto-shredding); every signature on the log still verifies.

use std::collections::HashMap;
use std::path::Path;

use rand_core::{OsRng, RngCore};
use schemas::SealSubject;

use crate::limits::VAULT_RECENT_KEYS_MAX;

#[derive(Debug)]
pub struct Vault {
    db: rocksdb::DB,
    /// Held while keys are created: two writers creating one subject's key at once would
    /// each seal under their own, and the later write would make the earlier data unreadable.
    creating: std::sync::Mutex<()>,
    /// Keys recently created or read (bounded by `VAULT_RECENT_KEYS_MAX`). Whatever erases a
    /// subject's key must forget it here too.
    recent: std::sync::Mutex<Recent>,
}

/// Two generations: when the young one is full it becomes the old one, and the old one is
/// dropped, so the most recent half of the bound is always kept without per-entry bookkeeping.
#[derive(Debug, Default)]
struct Recent {
    young: HashMap<Vec<u8>, [u8; 32]>,
    old: HashMap<Vec<u8>, [u8; 32]>,
}

impl Recent {
    fn get(&self, name: &[u8]) -> Option<[u8; 32]> {
        self.young.get(name).or_else(|| self.old.get(name)).copied()
    }

    fn insert(&mut self, name: Vec<u8>, key: [u8; 32]) {
        if self.young.len() >= VAULT_RECENT_KEYS_MAX / 2 {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(name, key);
    }
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
        Ok(Vault::over(rocksdb::DB::open(&options, path)?))
    }

    fn over(db: rocksdb::DB) -> Self {
        Vault { db, creating: std::sync::Mutex::default(), recent: std::sync::Mutex::default() }
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The stored key of `name`, remembered as recent.
    fn stored(&self, name: &[u8]) -> Result<Option<[u8; 32]>, rocksdb::Error> {
        if let Some(key) = self.recent().get(name) {
            return Ok(Some(key));
        }
        let key = self.db.get(name)?.and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok());
        if let Some(key) = key {
            self.recent().insert(name.to_vec(), key);
        }
        Ok(key)
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
            if let Some(key) = self.stored(&name)? {
                keys.push(key);
                continue;
            }
            let mut key = [0u8; 32];
            OsRng.fill_bytes(&mut key);
            created.insert(name, key);
            keys.push(key);
        }
        if !created.is_empty() {
            // In key order, for the memtable (see `projections`' `Tx::commit`).
            let mut sorted: Vec<_> = created.into_iter().collect();
            sorted.sort_unstable();
            for (name, key) in &sorted {
                batch.put(name, key);
            }
            let mut sync = rocksdb::WriteOptions::default();
            sync.set_sync(true);
            self.db.write_opt(batch, &sync)?;
            // Only once synced: a key remembered before could seal data a crash then orphans.
            let mut recent = self.recent();
            for (name, key) in sorted {
                recent.insert(name, key);
            }
        }
        Ok(keys)
    }

    /// The names of every stored key (`L` + locker, `A` + Aadhaar reference, `S` + locker for
    /// signing keys), in order: what an operator or a test checks was (not) created.
    pub fn names(&self) -> Result<Vec<Vec<u8>>, rocksdb::Error> {
        self.db.iterator(rocksdb::IteratorMode::Start).map(|item| Ok(item?.0.to_vec())).collect()
    }

    /// Opens the vault for reading only (an auditor's rebuild of the views), beside a running
    /// service.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, rocksdb::Error> {
        let db = rocksdb::DB::open_for_read_only(&rocksdb::Options::default(), path, false)?;
        Ok(Vault::over(db))
    }

    /// The subject's key, created (from the OS's randomness) on first use. Written with fsync:
    /// data sealed under a key that a crash forgot would be lost.
    pub fn key_for(&self, subject: &SealSubject) -> Result<[u8; 32], rocksdb::Error> {
        let name = key_of(subject);
        if let Some(key) = self.stored(&name)? {
            return Ok(key);
        }
        let _creating = self.creating.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Another writer may have created it meanwhile.
        if let Some(key) = self.stored(&name)? {
            return Ok(key);
        }
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        let mut sync = rocksdb::WriteOptions::default();
        sync.set_sync(true);
        self.db.put_opt(&name, key, &sync)?;
        self.recent().insert(name, key);
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
        self.stored(&key_of(subject)).ok()?
    }
}

#[cfg(test)]
mod tests {
    use projections::SealKeys;
    use schemas::{Digest32, LockerId};

    use super::*;

    #[test]
    fn recent_keys_stay_bounded_and_keep_the_latest() {
        let mut recent = Recent::default();
        let total = VAULT_RECENT_KEYS_MAX + 10;
        for i in 0..total {
            recent.insert(i.to_le_bytes().to_vec(), [1; 32]);
        }
        assert!(recent.young.len() + recent.old.len() <= VAULT_RECENT_KEYS_MAX);
        assert!(recent.get(&(total - 1).to_le_bytes()).is_some());
        assert!(recent.get(&(total - VAULT_RECENT_KEYS_MAX / 2).to_le_bytes()).is_some());
        assert!(recent.get(&0usize.to_le_bytes()).is_none());
    }

    #[test]
    fn a_key_read_after_the_cache_forgot_it_is_the_stored_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let subjects: Vec<SealSubject> = (0..3u8)
            .map(|i| SealSubject::Aadhaar(Digest32([i; 32])))
            .chain([SealSubject::Locker(LockerId([7; 16]))])
            .collect();
        let created = {
            let vault = Vault::open(dir.path()).expect("open");
            let created = vault.keys_for(&subjects).expect("keys");
            assert_eq!(vault.keys_for(&subjects).expect("again"), created, "created once");
            for (subject, key) in subjects.iter().zip(&created) {
                assert_eq!(vault.key(subject), Some(*key), "from the cache");
            }
            created
        };
        let reopened = Vault::open(dir.path()).expect("reopen");
        for (subject, key) in subjects.iter().zip(&created) {
            assert_eq!(reopened.key(subject), Some(*key), "from the store");
            assert_eq!(reopened.key_for(subject).expect("key_for"), *key);
        }
    }
}
