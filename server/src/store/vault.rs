//! The key vault: one random sealing key per subject (citizen locker or Aadhaar), kept outside
//! the log in its own RocksDB. Deleting a subject's key erases its personal data everywhere
//! (crypto-shredding); every signature on the log still verifies.

use std::collections::HashMap;
use std::path::Path;

use rand_core::{OsRng, RngCore};
use schemas::SealSubject;

use crate::limits::VAULT_RECENT_KEYS_MAX;

/// A key and its name in the vault.
type Named = (Vec<u8>, [u8; 32]);

/// Why the vault could not give or keep a key.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the key vault: {0}")]
    Store(#[from] rocksdb::Error),
    #[error("the shared key vault: {0}")]
    Shared(String),
    /// The subject's locker is closed: its keys were destroyed and no new one is made.
    #[error("the locker is closed: its keys were destroyed")]
    Erased,
}

#[derive(Debug)]
pub struct Vault {
    db: rocksdb::DB,
    /// In a cluster, where every node's keys are (this node's store keeps a copy).
    shared: Option<crate::store::shared_keys::SharedKeys>,
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
    /// Keys erased so far: a key read from the store before an erasure is not remembered
    /// after it.
    erasures: u64,
}

impl Recent {
    fn get(&self, name: &[u8]) -> Option<[u8; 32]> {
        self.young.get(name).or_else(|| self.old.get(name)).copied()
    }

    fn remove(&mut self, name: &[u8]) {
        self.young.remove(name);
        self.old.remove(name);
    }

    fn insert(&mut self, name: Vec<u8>, key: [u8; 32]) {
        if self.young.len() >= VAULT_RECENT_KEYS_MAX / 2 {
            // The next generation is sized up front: growing it rehashed the whole map time
            // and again during a results day.
            let next = HashMap::with_capacity(VAULT_RECENT_KEYS_MAX / 2);
            self.old = std::mem::replace(&mut self.young, next);
        }
        self.young.insert(name, key);
    }
}

/// The name of a citizen's custodial signing key.
fn signing_name(locker: &schemas::LockerId) -> Vec<u8> {
    [&b"S"[..], &locker.0[..]].concat()
}

/// Marks that the event `by` erased the key `name`: a second erasure by the same event (a
/// rebuild of the views replaying it) is then no erasure at all.
fn erased_name(by: &schemas::EventId, name: &[u8]) -> Vec<u8> {
    [&b"X"[..], &by.0[..], name].concat()
}

/// A closed locker's key names (`L`, `S`) stay erased for good: nothing creates or copies them
/// again. (An Aadhaar's key may be made anew: documents issued to it later wait for a locker.)
fn tombstone_name(name: &[u8]) -> Option<Vec<u8>> {
    matches!(name.first(), Some(b'L' | b'S')).then(|| [&b"T"[..], name].concat())
}

/// A closing under way (`app::closing::Plan`, as its bytes), by its event id.
fn closing_name(id: &schemas::EventId) -> Vec<u8> {
    [&b"P"[..], &id.0[..]].concat()
}

fn seeded_from_os() -> rand_chacha::ChaCha20Rng {
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    rand_core::SeedableRng::from_seed(seed)
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
        options.set_db_write_buffer_size(crate::limits::VAULT_MEMTABLES_BYTES_MAX);
        // A bulk load asks for many subjects that have no key yet: bloom filters answer those
        // misses without walking the memtable or reading tables.
        options.set_memtable_whole_key_filtering(true);
        options.set_memtable_prefix_bloom_ratio(0.05);
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        table.set_block_cache(&rocksdb::Cache::new_lru_cache(
            crate::limits::VAULT_BLOCK_CACHE_BYTES,
        ));
        options.set_block_based_table_factory(&table);
        Ok(Vault::over(rocksdb::DB::open(&options, path)?))
    }

    fn over(db: rocksdb::DB) -> Self {
        Vault {
            db,
            shared: None,
            creating: std::sync::Mutex::default(),
            recent: std::sync::Mutex::default(),
        }
    }

    /// Keys created by any node of the cluster, kept where every node reaches them.
    pub fn with_shared(mut self, shared: crate::store::shared_keys::SharedKeys) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Another node's key of `name`, copied into this node's store.
    fn copy_shared(&self, name: &[u8]) -> Result<Option<[u8; 32]>, VaultError> {
        let Some(shared) = &self.shared else { return Ok(None) };
        if self.is_tombstoned(name)? {
            return Ok(None);
        }
        let Some(key) = shared.get(name).map_err(VaultError::Shared)? else { return Ok(None) };
        self.db.put(name, key)?;
        Ok(Some(key))
    }

    /// Stores new keys where every node reaches them first; returns the keys to use (another
    /// node's, where it created one of them first).
    fn share(&self, created: Vec<Named>) -> Result<Vec<Named>, VaultError> {
        let Some(shared) = &self.shared else { return Ok(created) };
        let stored = shared.create(&created).map_err(VaultError::Shared)?;
        Ok(created.into_iter().zip(stored).map(|((name, _), key)| (name, key)).collect())
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The stored key of `name`, remembered as recent.
    fn stored(&self, name: &[u8]) -> Result<Option<[u8; 32]>, VaultError> {
        let seen = {
            let recent = self.recent();
            if let Some(key) = recent.get(name) {
                return Ok(Some(key));
            }
            recent.erasures
        };
        let key = self.db.get(name)?.and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok());
        let key = match key {
            Some(key) => Some(key),
            None => self.copy_shared(name)?,
        };
        if let Some(key) = key {
            let mut recent = self.recent();
            // An erasure meanwhile may have been of this key: it is not remembered then.
            if recent.erasures == seen {
                recent.insert(name.to_vec(), key);
            }
        }
        Ok(key)
    }

    fn is_tombstoned(&self, name: &[u8]) -> Result<bool, VaultError> {
        Ok(match tombstone_name(name) {
            Some(tombstone) => self.db.get(tombstone)?.is_some(),
            None => false,
        })
    }

    /// The keys of many subjects, creating the missing ones in one synced write (a bulk load
    /// of new citizens must not cost one fsync each); none for a closed locker's.
    pub fn keys_for(&self, subjects: &[SealSubject]) -> Result<Vec<Option<[u8; 32]>>, VaultError> {
        let _creating = self.creating.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut keys: Vec<Result<Option<[u8; 32]>, Vec<u8>>> = Vec::with_capacity(subjects.len());
        let mut batch = rocksdb::WriteBatch::default();
        let mut created: std::collections::HashMap<Vec<u8>, [u8; 32]> =
            std::collections::HashMap::new();
        // One draw from the OS per call, not per key (a results batch creates thousands, and a
        // getrandom call each cost more than the key's ChaCha20 block): a ChaCha20 stream
        // seeded from the OS is as unpredictable, and lives only for this call.
        let mut keygen: Option<rand_chacha::ChaCha20Rng> = None;
        for subject in subjects {
            let name = key_of(subject);
            if created.contains_key(&name) {
                keys.push(Err(name));
                continue;
            }
            if let Some(key) = self.stored(&name)? {
                keys.push(Ok(Some(key)));
                continue;
            }
            if self.is_tombstoned(&name)? {
                keys.push(Ok(None));
                continue;
            }
            let mut key = [0u8; 32];
            keygen.get_or_insert_with(seeded_from_os).fill_bytes(&mut key);
            created.insert(name.clone(), key);
            keys.push(Err(name));
        }
        if !created.is_empty() {
            // In key order, for the memtable (see `projections`' `Tx::commit`).
            let mut sorted: Vec<_> = created.into_iter().collect();
            sorted.sort_unstable();
            let sorted = self.share(sorted)?;
            for (name, key) in &sorted {
                batch.put(name, key);
            }
            let mut sync = rocksdb::WriteOptions::default();
            sync.set_sync(true);
            self.db.write_opt(batch, &sync)?;
            // Only once synced: a key remembered before could seal data a crash then orphans.
            let mut recent = self.recent();
            for (name, key) in &sorted {
                recent.insert(name.clone(), *key);
            }
            created = sorted.into_iter().collect();
        }
        // A key created in this call is taken from `created`: another node's may have won.
        keys.into_iter()
            .map(|key| match key {
                Ok(key) => Ok(key),
                Err(name) => created
                    .get(&name)
                    .copied()
                    .map(Some)
                    .ok_or_else(|| VaultError::Shared("a created key went missing".to_owned())),
            })
            .collect()
    }

    /// The names of every stored key (`L` + locker, `A` + Aadhaar reference, `S` + locker for
    /// signing keys; `X` + event id + name marks an erasure, `T` + name a closed locker's key
    /// that stays erased, `P` + event id a closing under way), in order: what an operator or
    /// a test checks was (not) created.
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
    pub fn key_for(&self, subject: &SealSubject) -> Result<[u8; 32], VaultError> {
        let name = key_of(subject);
        if let Some(key) = self.stored(&name)? {
            return Ok(key);
        }
        let _creating = self.creating.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Another writer may have created it meanwhile.
        if let Some(key) = self.stored(&name)? {
            return Ok(key);
        }
        if self.is_tombstoned(&name)? {
            return Err(VaultError::Erased);
        }
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        let Some((name, key)) = self.share(vec![(name, key)])?.pop() else {
            return Err(VaultError::Shared("a created key went missing".to_owned()));
        };
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
    ) -> Result<(), VaultError> {
        let name = signing_name(locker);
        if self.is_tombstoned(&name)? {
            return Err(VaultError::Erased);
        }
        let Some((name, stored)) = self.share(vec![(name, key.to_bytes())])?.pop() else {
            return Err(VaultError::Shared("a created key went missing".to_owned()));
        };
        if stored != key.to_bytes() {
            return Err(VaultError::Shared(format!("locker {locker} has another signing key")));
        }
        let mut sync = rocksdb::WriteOptions::default();
        sync.set_sync(true);
        Ok(self.db.put_opt(name, stored, &sync)?)
    }

    /// A citizen's custodial signing key.
    pub fn signing_key(&self, locker: &schemas::LockerId) -> Option<ed25519_dalek::SigningKey> {
        let name = signing_name(locker);
        let bytes = match self.db.get(&name).ok()? {
            Some(bytes) => <[u8; 32]>::try_from(bytes.as_slice()).ok()?,
            None => self.copy_shared(&name).ok()??,
        };
        Some(ed25519_dalek::SigningKey::from_bytes(&bytes))
    }
}

impl Vault {
    /// Destroys a closed locker's keys (its sealing key, its signing key, the linked
    /// Aadhaar's sealing key) here, in the cluster's store, and in the cache, as the event
    /// `by` says; then compacts them out of the store's files, so no copy is left on disk.
    pub fn erase_locker(
        &self,
        locker: &schemas::LockerId,
        by: &schemas::EventId,
    ) -> Result<(), VaultError> {
        let names = vec![key_of(&SealSubject::Locker(*locker)), signing_name(locker)];
        self.erase_everywhere(&names, by)
    }

    /// Destroys one subject's sealing key (a closed locker's Aadhaar) everywhere, as `by`
    /// says.
    pub fn erase_subject(
        &self,
        subject: &SealSubject,
        by: &schemas::EventId,
    ) -> Result<(), VaultError> {
        self.erase_everywhere(&[key_of(subject)], by)
    }

    fn erase_everywhere(&self, names: &[Vec<u8>], by: &schemas::EventId) -> Result<(), VaultError> {
        if let Some(shared) = &self.shared {
            shared.delete(names).map_err(VaultError::Shared)?;
        }
        for name in names {
            // Always: a read may have copied the shared key back since the views erased it.
            self.erase(name, by, false)?;
        }
        self.compact(names)
    }

    /// Deletes `name` (with `once`, unless `by` erased it already), and remembers that `by`
    /// did; whether it deleted.
    fn erase(&self, name: &[u8], by: &schemas::EventId, once: bool) -> Result<bool, VaultError> {
        let _creating = self.creating.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let marker = erased_name(by, name);
        if once && self.db.get(&marker)?.is_some() {
            return Ok(false);
        }
        let mut batch = rocksdb::WriteBatch::default();
        batch.delete(name);
        batch.put(&marker, []);
        if let Some(tombstone) = tombstone_name(name) {
            batch.put(tombstone, by.0);
        }
        let mut sync = rocksdb::WriteOptions::default();
        sync.set_sync(true);
        self.db.write_opt(batch, &sync)?;
        let mut recent = self.recent();
        recent.remove(name);
        recent.erasures += 1;
        Ok(true)
    }

    /// Keeps a closing's plan (synced) until `end_closing`.
    pub fn begin_closing(&self, id: &schemas::EventId, plan: &[u8]) -> Result<(), VaultError> {
        let mut sync = rocksdb::WriteOptions::default();
        sync.set_sync(true);
        Ok(self.db.put_opt(closing_name(id), plan, &sync)?)
    }

    /// The plans of closings not yet ended.
    pub fn pending_closings(&self) -> Result<Vec<Vec<u8>>, VaultError> {
        let mut plans = Vec::new();
        for item in self.db.prefix_iterator(b"P") {
            let (name, plan) = item?;
            if !name.starts_with(b"P") {
                break;
            }
            plans.push(plan.to_vec());
        }
        Ok(plans)
    }

    pub fn end_closing(&self, id: &schemas::EventId) -> Result<(), VaultError> {
        let mut sync = rocksdb::WriteOptions::default();
        sync.set_sync(true);
        Ok(self.db.delete_opt(closing_name(id), &sync)?)
    }

    /// Rewrites the store's files that held `names`: a deleted key stays readable in a table
    /// or the write-ahead log until then, and crypto-shredding means no copy anywhere.
    fn compact(&self, names: &[Vec<u8>]) -> Result<(), VaultError> {
        self.db.flush()?;
        // The last level rewritten too: RocksDB may otherwise move a table holding only the
        // key and one holding only its deletion there untouched, side by side (the views
        // lost a closed locker's rows to that). Here the deletion's batch also writes its
        // markers, which sort after every key, so the tables overlap and are merged anyway;
        // forced, that no longer depends on the order of names.
        let mut rewrite = rocksdb::CompactOptions::default();
        rewrite.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
        for name in names {
            let end = [name.as_slice(), &[0xff]].concat();
            self.db.compact_range_opt(Some(name.as_slice()), Some(end.as_slice()), &rewrite);
        }
        Ok(())
    }
}

impl projections::SealKeys for Vault {
    fn key(&self, subject: &SealSubject) -> Option<[u8; 32]> {
        self.stored(&key_of(subject)).ok()?
    }

    /// This node's copy of the key goes as the views apply `LockerClosed` (every node
    /// follows every partition; the node that closed the locker erased the shared copy).
    fn forget(&self, subject: &SealSubject, by: &schemas::EventId) {
        let mut names = vec![key_of(subject)];
        // A closed locker's signing key goes with its sealing key.
        if let SealSubject::Locker(locker) = subject {
            names.push(signing_name(locker));
        }
        for name in names {
            // A replay (a rebuild, an auditor's read-only vault) finds the marker and writes
            // nothing.
            let erased = match self.erase(&name, by, true) {
                Ok(true) => self.compact(&[name]),
                other => other.map(drop),
            };
            if let Err(e) = erased {
                tracing::error!(error = %e, "a closed locker's key could not be erased here");
            }
        }
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

    /// Crypto-shredding: an erased key's bytes are nowhere in the store's files, also when the
    /// key had reached a table before its erasure. (RocksDB moved the table holding the key and
    /// the one holding its deletion to the last level side by side, untouched, and the key
    /// stayed on disk, until the compaction was forced to rewrite the last level.)
    #[test]
    fn an_erased_key_leaves_every_file_of_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let locker = LockerId([9; 16]);
        let vault = Vault::open(dir.path()).expect("open");
        let key = vault.key_for(&SealSubject::Locker(locker)).expect("key");
        let other = vault.key_for(&SealSubject::Locker(LockerId([8; 16]))).expect("other");
        vault.db.flush().expect("the keys reach a table");
        let on_disk = |bytes: &[u8; 32]| -> Vec<String> {
            std::fs::read_dir(dir.path())
                .expect("list")
                .map(|entry| entry.expect("entry").path())
                .filter(|path| std::fs::read(path).expect("read").windows(32).any(|w| w == bytes))
                .map(|path| path.display().to_string())
                .collect()
        };
        assert!(!on_disk(&key).is_empty(), "the test needs the key in a file first");
        vault.erase_locker(&locker, &schemas::EventId([1; 16])).expect("erase");
        assert_eq!(on_disk(&key), Vec::<String>::new(), "the erased key is still on disk");
        assert!(!on_disk(&other).is_empty(), "only the erased key goes");
        assert_eq!(vault.key(&SealSubject::Locker(LockerId([8; 16]))), Some(other));
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
            let created: Vec<[u8; 32]> =
                vault.keys_for(&subjects).expect("keys").into_iter().flatten().collect();
            let again: Vec<[u8; 32]> =
                vault.keys_for(&subjects).expect("again").into_iter().flatten().collect();
            assert_eq!(again, created, "created once");
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
