//! The view database: one RocksDB with a column family per view, positions stored beside the
//! views, counters merged by an associative add (no read-modify-write across partitions), and
//! a schema version that wipes and rebuilds everything when the code's version changes.

use std::path::Path;

use rocksdb::{
    ColumnFamilyDescriptor, DB, Direction, IteratorMode, MergeOperands, Options, WriteBatch,
};
use serde::{Deserialize, Serialize};

use crate::ProjectionError;
use crate::views::{CF_COUNTERS, CF_META, CF_POSITIONS, VIEW_CFS, position_key};

/// Bump when a view's layout or meaning changes: the views are then rebuilt from the log.
pub const SCHEMA_VERSION: u32 = 9;
const VERSION_KEY: &[u8] = b"schema_version";
const HALT_PREFIX: &str = "halt/";

type Canonical = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Fixint,
    bincode::config::NoLimit,
>;

fn config() -> Canonical {
    bincode::config::standard().with_little_endian().with_fixed_int_encoding()
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Views are plain data; encoding them cannot fail.
    let mut bytes = Vec::with_capacity(schemas::limits::ENCODE_START_BYTES);
    schemas::encode_onto(&mut bytes, value, config()).expect("views encode");
    bytes
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
    location: &str,
) -> Result<T, ProjectionError> {
    bincode::serde::decode_from_slice(bytes, config()).map(|(value, _)| value).map_err(|e| {
        ProjectionError::Corrupt { location: location.to_owned(), reason: e.to_string() }
    })
}

/// A counter's stored value: 8 bytes, little-endian, signed (absent or malformed reads as 0).
pub(crate) fn counter_value(bytes: &[u8]) -> i64 {
    <[u8; 8]>::try_from(bytes).map(i64::from_le_bytes).unwrap_or(0)
}

/// The add merge of counters.
fn add_merge(_key: &[u8], existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    let mut total = existing.map_or(0, counter_value);
    for operand in operands {
        total = total.wrapping_add(counter_value(operand));
    }
    Some(total.to_le_bytes().to_vec())
}

/// A key and its value, as scanned.
pub(crate) type Row = (Vec<u8>, Vec<u8>);

/// Why and where a partition stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Halt {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub reason: String,
}

/// The view database.
pub struct Views {
    db: DB,
    /// Whether any partition ever halted here: the projector asks before every batch, and
    /// scanning the store for halts that almost never exist cost 0.5% of a bulk load's CPU.
    any_halt: std::sync::atomic::AtomicBool,
    /// Writes not yet flushed (the views skip the WAL): when the oldest and the latest of them
    /// were made, in ms since `opened` (0: none). `flush_if_settled` reads them.
    unflushed: Unflushed,
}

#[derive(Debug)]
struct Unflushed {
    opened: std::time::Instant,
    oldest_ms: std::sync::atomic::AtomicU64,
    latest_ms: std::sync::atomic::AtomicU64,
}

impl Unflushed {
    fn new() -> Self {
        Unflushed { opened: std::time::Instant::now(), oldest_ms: 0.into(), latest_ms: 0.into() }
    }

    fn now_ms(&self) -> u64 {
        // At least 1: 0 means nothing unflushed.
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX).max(1)
    }

    fn written(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.now_ms();
        self.latest_ms.store(now, SeqCst);
        let _ = self.oldest_ms.compare_exchange(0, now, SeqCst, SeqCst);
    }
}

impl std::fmt::Debug for Views {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Views").field("path", &self.db.path()).finish()
    }
}

/// What `Views::open` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opened {
    /// The views are at this code's schema version (possibly empty).
    Current,
    /// They were at another version and were wiped: they rebuild from the log.
    Wiped { found_version: u32 },
}

fn cf_options(name: &str, cache: &rocksdb::Cache) -> Options {
    let mut options = Options::default();
    // Most point reads while projecting miss (a document or profile not there yet): bloom
    // filters in the memtable and the tables answer them without walking either.
    options.set_memtable_whole_key_filtering(true);
    options.set_memtable_prefix_bloom_ratio(0.05);
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_bloom_filter(10.0, false);
    table.set_block_cache(cache);
    options.set_block_based_table_factory(&table);
    if name == CF_COUNTERS {
        options.set_merge_operator_associative("add_i64", add_merge);
    }
    options
}

/// How every write to the views goes: without RocksDB's write-ahead log. The views are derived
/// from the log, so a crash may lose their latest batches as long as it loses them in every
/// family at once: the families flush together (`atomic_flush`) and the positions family
/// flushes with them, so the projector resumes from the last batch the disk holds whole. The
/// WAL cost a bulk load a second copy of every view row through the page cache.
fn unlogged() -> rocksdb::WriteOptions {
    let mut options = rocksdb::WriteOptions::default();
    options.disable_wal(true);
    options
}

/// A manual compaction that rewrites the last level too. Without it RocksDB may move a table
/// holding only a deleted row and a table holding only its deletion to the last level side by
/// side (their internal keys do not overlap), untouched: the row stays on disk. The right to
/// be forgotten's end-to-end test found a closed locker's upload name left so.
fn rewriting() -> rocksdb::CompactOptions {
    let mut options = rocksdb::CompactOptions::default();
    options.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
    options
}

impl Views {
    pub fn open(path: impl AsRef<Path>) -> Result<(Self, Opened), ProjectionError> {
        Self::open_with_memtables(path, crate::limits::VIEWS_MEMTABLES_BYTES_MAX)
    }

    /// `open` with another memtable budget: a small one flushes often, which the crash tests
    /// use to stop a projector between flushes of a load.
    pub fn open_with_memtables(
        path: impl AsRef<Path>,
        memtables_bytes: usize,
    ) -> Result<(Self, Opened), ProjectionError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        // Sixteen column families with RocksDB's 64 MB memtables each could hold a gigabyte
        // in memory during a bulk load; one budget for all of them bounds it.
        options.set_db_write_buffer_size(memtables_bytes);
        // Writes skip the WAL (`unlogged`): only flushing every family at once keeps the
        // positions true to the rows after a crash.
        options.set_atomic_flush(true);
        // One block cache for every family, for the same reason.
        let cache = rocksdb::Cache::new_lru_cache(crate::limits::VIEWS_BLOCK_CACHE_BYTES);
        let families = std::iter::once(CF_META)
            .chain(VIEW_CFS)
            .map(|name| ColumnFamilyDescriptor::new(name, cf_options(name, &cache)));
        let mut db = DB::open_cf_descriptors(&options, path, families)?;
        let meta = db.cf_handle(CF_META).ok_or_else(|| store_error("meta missing"))?;
        let stored = db.get_cf(&meta, VERSION_KEY)?;
        let opened = match stored {
            Some(bytes) => {
                let found = <[u8; 4]>::try_from(bytes.as_slice())
                    .map(u32::from_le_bytes)
                    .map_err(|_| store_error("schema version"))?;
                if found == SCHEMA_VERSION {
                    Opened::Current
                } else {
                    Opened::Wiped { found_version: found }
                }
            }
            None => Opened::Current,
        };
        if let Opened::Wiped { found_version } = opened {
            tracing::warn!(
                found_version,
                SCHEMA_VERSION,
                "view schema changed; rebuilding the views"
            );
            for name in VIEW_CFS {
                db.drop_cf(name)?;
                db.create_cf(name, &cf_options(name, &cache))?;
            }
            let halts: Vec<Vec<u8>> = {
                let meta = db.cf_handle(CF_META).ok_or_else(|| store_error("meta missing"))?;
                db.prefix_iterator_cf(&meta, HALT_PREFIX)
                    .filter_map(Result::ok)
                    .map(|(key, _)| key.to_vec())
                    .filter(|key| key.starts_with(HALT_PREFIX.as_bytes()))
                    .collect()
            };
            let meta = db.cf_handle(CF_META).ok_or_else(|| store_error("meta missing"))?;
            for key in halts {
                db.delete_cf_opt(&meta, key, &unlogged())?;
            }
        }
        let meta = db.cf_handle(CF_META).ok_or_else(|| store_error("meta missing"))?;
        db.put_cf_opt(&meta, VERSION_KEY, SCHEMA_VERSION.to_le_bytes(), &unlogged())?;
        let views = Views { db, any_halt: true.into(), unflushed: Unflushed::new() };
        // On disk at once: a reader opening the views read-only (an auditor) finds their
        // version even before the projector's first flush.
        views.flush()?;
        views.any_halt.store(!views.scan_halts()?.is_empty(), std::sync::atomic::Ordering::SeqCst);
        Ok((views, opened))
    }

    /// Opens views for reading only (an auditor comparing them with a rebuild): never wipes,
    /// never writes, works beside a running service, and refuses views of another schema
    /// version.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, ProjectionError> {
        let cache = rocksdb::Cache::new_lru_cache(crate::limits::VIEWS_BLOCK_CACHE_BYTES);
        let families = std::iter::once(CF_META)
            .chain(VIEW_CFS)
            .map(|name| ColumnFamilyDescriptor::new(name, cf_options(name, &cache)));
        let db = DB::open_cf_descriptors_read_only(&Options::default(), path, families, false)?;
        let meta = db.cf_handle(CF_META).ok_or_else(|| store_error("meta missing"))?;
        let found = db
            .get_cf(&meta, VERSION_KEY)?
            .and_then(|bytes| <[u8; 4]>::try_from(bytes.as_slice()).ok())
            .map(u32::from_le_bytes);
        if found != Some(SCHEMA_VERSION) {
            return Err(ProjectionError::Store(format!(
                "the views are at schema version {found:?}, this code's is {SCHEMA_VERSION}: start the service once to rebuild them"
            )));
        }
        let views = Views { db, any_halt: true.into(), unflushed: Unflushed::new() };
        views.any_halt.store(!views.scan_halts()?.is_empty(), std::sync::atomic::Ordering::SeqCst);
        Ok(views)
    }

    pub(crate) fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, ProjectionError> {
        self.db.cf_handle(name).ok_or_else(|| store_error(&format!("column family {name} missing")))
    }

    pub(crate) fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>, ProjectionError> {
        Ok(self.db.get_cf(self.cf(cf)?, key)?)
    }

    pub(crate) fn write(&self, batch: WriteBatch) -> Result<(), ProjectionError> {
        self.db.write_opt(batch, &unlogged())?;
        self.unflushed.written();
        Ok(())
    }

    /// Flushes the views if they hold writes not yet on disk and either none came for
    /// `quiet_ms` or the oldest is `age_ms_max` old; says whether it flushed. Without the WAL,
    /// what is on disk is what a crash keeps and what an auditor opening the views read-only
    /// sees; flushing only when the projector settles keeps a bulk load's memtables whole.
    pub fn flush_if_settled(
        &self,
        quiet_ms: u64,
        age_ms_max: u64,
    ) -> Result<bool, ProjectionError> {
        use std::sync::atomic::Ordering::SeqCst;
        let oldest = self.unflushed.oldest_ms.load(SeqCst);
        if oldest == 0 {
            return Ok(false);
        }
        let now = self.unflushed.now_ms();
        let quiet = now.saturating_sub(self.unflushed.latest_ms.load(SeqCst)) >= quiet_ms;
        if !quiet && now.saturating_sub(oldest) < age_ms_max {
            return Ok(false);
        }
        self.flush()?;
        Ok(true)
    }

    /// Writes every family's memtable to disk in one atomic flush. Flushing one family alone
    /// would let a crash leave it ahead of the positions, and the projector would apply its
    /// rows twice.
    pub fn flush(&self) -> Result<(), ProjectionError> {
        // Cleared first: a write from here on is either in this flush or marks it again.
        self.unflushed.oldest_ms.store(0, std::sync::atomic::Ordering::SeqCst);
        let families = std::iter::once(CF_META)
            .chain(VIEW_CFS)
            .map(|name| self.cf(name))
            .collect::<Result<Vec<_>, _>>()?;
        let flushed = self.db.flush_cfs_opt(&families, &rocksdb::FlushOptions::default());
        if flushed.is_err() {
            // Still unflushed: the follower tries again.
            self.unflushed.written();
        }
        Ok(flushed?)
    }

    /// A consistent copy of the views in `dir` (a new folder): a RocksDB checkpoint, whose
    /// files are hard links where the disk allows, so it costs little beyond a memtable flush.
    pub fn checkpoint(&self, dir: &Path) -> Result<(), ProjectionError> {
        rocksdb::checkpoint::Checkpoint::new(&self.db)?.create_checkpoint(dir)?;
        Ok(())
    }

    /// The next offset to apply in a partition.
    pub fn position(&self, topic: &str, partition: u32) -> Result<u64, ProjectionError> {
        match self.get(CF_POSITIONS, &position_key(topic, partition))? {
            Some(bytes) => <[u8; 8]>::try_from(bytes.as_slice())
                .map(u64::from_le_bytes)
                .map_err(|_| store_error("position")),
            None => Ok(0),
        }
    }

    /// A counter's value.
    pub fn counter(&self, key: &[u8]) -> Result<i64, ProjectionError> {
        Ok(self.get(CF_COUNTERS, key)?.map_or(0, |bytes| counter_value(&bytes)))
    }

    pub(crate) fn record_halt(&self, halt: &Halt) -> Result<(), ProjectionError> {
        let key = format!("{HALT_PREFIX}{}/{}", halt.topic, halt.partition);
        self.any_halt.store(true, std::sync::atomic::Ordering::SeqCst);
        self.db.put_cf_opt(self.cf(CF_META)?, key, encode(halt), &unlogged())?;
        self.unflushed.written();
        // On disk at once: the follower stops at a halt, and a reader of the flushed views
        // (the audit) must see it.
        self.flush()
    }

    /// The partitions that stopped on an event they could not apply (for health).
    pub fn halts(&self) -> Result<Vec<Halt>, ProjectionError> {
        if !self.any_halt.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(Vec::new());
        }
        self.scan_halts()
    }

    fn scan_halts(&self) -> Result<Vec<Halt>, ProjectionError> {
        let meta = self.cf(CF_META)?;
        let mut halts = Vec::new();
        for item in self.db.prefix_iterator_cf(meta, HALT_PREFIX) {
            let (key, value) = item?;
            if !key.starts_with(HALT_PREFIX.as_bytes()) {
                break;
            }
            halts.push(decode(&value, "meta/halt")?);
        }
        Ok(halts)
    }

    /// Items of a column family whose keys start with `prefix`, in key order, from just after
    /// `after` (a full key) if given.
    pub(crate) fn scan(
        &self,
        cf: &str,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Row>, ProjectionError> {
        let handle = self.cf(cf)?;
        let start = after.unwrap_or(prefix);
        let mut out = Vec::new();
        for item in self.db.iterator_cf(handle, IteratorMode::From(start, Direction::Forward)) {
            let (key, value) = item?;
            if !key.starts_with(prefix) || out.len() >= limit {
                break;
            }
            if after.is_some_and(|after| key.as_ref() == after) {
                continue;
            }
            out.push((key.to_vec(), value.to_vec()));
        }
        Ok(out)
    }

    /// Writes the memtables out and rewrites the files that held a closed locker's rows, so
    /// the rows `LockerClosed` deleted (names, file names, e-KYC data opened for the citizen)
    /// leave the disk instead of waiting for a compaction that may never come.
    pub fn compact_locker(
        &self,
        locker: &schemas::LockerId,
        aadhaar: Option<&schemas::Digest32>,
    ) -> Result<(), ProjectionError> {
        use crate::views::*;
        let mut ranges: Vec<(&str, Vec<u8>)> = [CF_PROFILES, CF_UPLOADS, CF_CONSENTS, CF_SHARES]
            .into_iter()
            .chain([CF_ACTIVITY])
            .map(|cf| (cf, locker.0.to_vec()))
            .collect();
        ranges.push((CF_DOCS, Owner::Locker(*locker).key()));
        if let Some(hash) = aadhaar {
            ranges.push((CF_DOCS, Owner::Aadhaar(*hash).key()));
            ranges.push((CF_AADHAAR, hash.0.to_vec()));
        }
        self.flush()?;
        for (cf, prefix) in &ranges {
            let end = prefix_end(prefix);
            self.db.compact_range_cf_opt(
                self.cf(cf)?,
                Some(prefix.as_slice()),
                end.as_deref(),
                &rewriting(),
            );
        }
        Ok(())
    }

    /// An order-independent digest of every view (positions, which are bookkeeping named by
    /// topic, are left out): two stores with the same digest hold the same views, however and
    /// from whichever backend they were built.
    pub fn digest(&self) -> Result<schemas::Digest32, ProjectionError> {
        let mut acc = [0u8; 32];
        for (_, digest) in self.family_digests()? {
            for (a, b) in acc.iter_mut().zip(digest.0) {
                *a ^= b;
            }
        }
        Ok(schemas::Digest32(acc))
    }

    /// `digest` family by family (their XOR is `digest`): which views two stores disagree on.
    pub fn family_digests(
        &self,
    ) -> Result<Vec<(&'static str, schemas::Digest32)>, ProjectionError> {
        let mut out = Vec::new();
        for name in VIEW_CFS.into_iter().filter(|name| *name != CF_POSITIONS) {
            let mut acc = [0u8; 32];
            let handle = self.cf(name)?;
            for item in self.db.iterator_cf(handle, IteratorMode::Start) {
                let (key, value) = item?;
                let mut hasher = blake3::Hasher::new();
                hasher.update(name.as_bytes());
                hasher.update(&(key.len() as u64).to_le_bytes());
                hasher.update(&key);
                hasher.update(&value);
                for (a, b) in acc.iter_mut().zip(hasher.finalize().as_bytes()) {
                    *a ^= b;
                }
            }
            out.push((name, schemas::Digest32(acc)));
        }
        Ok(out)
    }
}

/// The first key after every key starting with `prefix` (none when there is no such key).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn store_error(what: &str) -> ProjectionError {
    ProjectionError::Store(what.to_owned())
}
