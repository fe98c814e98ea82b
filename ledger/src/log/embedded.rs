//! The embedded backend: record bodies in append-only segment files (`segment`), their index
//! in RocksDB.
//!
//! Layout:
//! - `segments/`: every record as a checksummed frame (topic, partition, offset, event id,
//!   digest, key, value), in the order the writer wrote them.
//! - RocksDB column families:
//!   - `index`: `topic_id u32 BE | partition u32 BE | offset u64 BE` -> `position u64 LE |
//!     frame length u32 LE` in the segments
//!   - `ids`: `event id` -> `topic_id u32 LE | partition u32 LE | offset u64 LE | digest [32]`
//!   - `meta`: `topic/<name>` -> `topic_id u32 LE | partitions u32 LE`;
//!     `segments/indexed` -> the segment position up to which `index` and `ids` are written
//!   - `records`: the layout before segments (`topic_id | partition | offset` ->
//!     `key_len u32 LE | key | value`); a log that still has it is moved into segments when
//!     opened.
//!
//! One writer thread owns all appends. It takes every request waiting in its queue (up to
//! `GROUP_COMMIT_RECORDS_MAX` records), writes their frames as one contiguous write with one
//! `fdatasync`, then their index and ids as one RocksDB write batch without RocksDB's
//! write-ahead log, and only then answers the callers and lets readers see the records. The
//! segments are the durable truth: a crash loses the index entries RocksDB had not yet
//! flushed, and opening the log writes them again from the frames after `segments/indexed`
//! (which every batch carries, and which flushes with the entries: `atomic_flush`); a frame
//! cut short by the crash (never acknowledged) is cut off, and the log says so.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use rocksdb::{
    BlockBasedOptions, ColumnFamilyDescriptor, DB, DBRecoveryMode, Direction, IteratorMode,
    Options, WriteBatch, WriteOptions,
};
use schemas::{Digest32, EventId};
use tokio::sync::{mpsc, oneshot, watch};

use super::segment::{self, FrameHead, Segments};
use super::{AppendRequest, Appended, IdEntry, Log, LogRecord, Position};
use crate::LogError;
use crate::limits::{
    GROUP_COMMIT_RECORDS_MAX, READ_RECORDS_MAX, SEGMENT_BYTES, TOPIC_NAME_BYTES_MAX,
    TOPIC_PARTITIONS_MAX, WRITER_QUEUE_REQUESTS_MAX,
};
use crate::partition::partition_for;

const CF_RECORDS: &str = "records";
const CF_INDEX: &str = "index";
const CF_IDS: &str = "ids";
const CF_META: &str = "meta";
const META_INDEXED: &[u8] = b"segments/indexed";

type AppendResults = Result<Vec<Result<Appended, LogError>>, LogError>;

struct Topic {
    id: u32,
    name: String,
    partitions: u32,
    /// `ends[p]` is the next offset of partition p; only the writer thread advances it.
    ends: Vec<watch::Sender<u64>>,
}

struct Inner {
    db: DB,
    segments: Arc<Segments>,
    topics: RwLock<HashMap<String, Arc<Topic>>>,
}

struct Job {
    topic: Arc<Topic>,
    requests: Vec<AppendRequest>,
    reply: oneshot::Sender<AppendResults>,
}

/// A durable, Kafka-like log on local disk.
pub struct EmbeddedLog {
    inner: Arc<Inner>,
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for EmbeddedLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedLog").field("path", &self.inner.db.path()).finish()
    }
}

fn record_key(topic_id: u32, partition: u32, offset: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..4].copy_from_slice(&topic_id.to_be_bytes());
    key[4..8].copy_from_slice(&partition.to_be_bytes());
    key[8..].copy_from_slice(&offset.to_be_bytes());
    key
}

fn encode_id_entry(topic_id: u32, position: Position, digest: &Digest32) -> Vec<u8> {
    let mut value = Vec::with_capacity(48);
    value.extend_from_slice(&topic_id.to_le_bytes());
    value.extend_from_slice(&position.partition.to_le_bytes());
    value.extend_from_slice(&position.offset.to_le_bytes());
    value.extend_from_slice(digest.as_bytes());
    value
}

fn corrupt(location: impl Into<String>, reason: impl Into<String>) -> LogError {
    LogError::Corrupt { location: location.into(), reason: reason.into() }
}

fn decode_id_entry(value: &[u8]) -> Result<(u32, Position, Digest32), LogError> {
    let fixed: &[u8; 48] = value
        .try_into()
        .map_err(|_| corrupt("id index", format!("entry of {} bytes, not 48", value.len())))?;
    let (topic, rest) = fixed.split_at(4);
    let (partition, rest) = rest.split_at(4);
    let (offset, digest) = rest.split_at(8);
    let le32 = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let mut d = [0u8; 32];
    d.copy_from_slice(digest);
    let mut o = [0u8; 8];
    o.copy_from_slice(offset);
    Ok((
        le32(topic),
        Position { partition: le32(partition), offset: u64::from_le_bytes(o) },
        Digest32(d),
    ))
}

/// A record in the layout before segments (see the module's doc), for the move into them.
fn decode_stored(stored: &[u8], position: Position) -> Result<(Vec<u8>, Vec<u8>), LogError> {
    let location = || format!("partition {} offset {}", position.partition, position.offset);
    let (len, rest) = stored
        .split_first_chunk::<4>()
        .ok_or_else(|| corrupt(location(), "record shorter than its header"))?;
    let key_len = u32::from_le_bytes(*len) as usize;
    if key_len > rest.len() {
        return Err(corrupt(location(), "key length beyond the record"));
    }
    let (key, value) = rest.split_at(key_len);
    Ok((key.to_vec(), value.to_vec()))
}

fn encode_index_entry(position: u64, len: u32) -> [u8; 12] {
    let mut value = [0u8; 12];
    value[..8].copy_from_slice(&position.to_le_bytes());
    value[8..].copy_from_slice(&len.to_le_bytes());
    value
}

fn decode_index_entry(value: &[u8], location: impl Fn() -> String) -> Result<(u64, u32), LogError> {
    let fixed: &[u8; 12] = value.try_into().map_err(|_| {
        corrupt(location(), format!("index entry of {} bytes, not 12", value.len()))
    })?;
    let mut position = [0u8; 8];
    position.copy_from_slice(&fixed[..8]);
    let len = u32::from_le_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]);
    let smallest = segment::HEADER_BYTES + segment::FIXED_BYTES;
    let largest = segment::HEADER_BYTES + crate::limits::SEGMENT_FRAME_BYTES_MAX;
    if !(smallest..=largest).contains(&(len as usize)) {
        return Err(corrupt(location(), format!("index entry of a {len}-byte frame")));
    }
    Ok((u64::from_le_bytes(position), len))
}

fn cf<'a>(db: &'a DB, name: &str) -> Result<&'a rocksdb::ColumnFamily, LogError> {
    db.cf_handle(name).ok_or_else(|| corrupt(name, "column family missing"))
}

impl EmbeddedLog {
    /// Opens (or creates) the log in `path` and starts its writer thread.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LogError> {
        Self::open_with_segments(path, SEGMENT_BYTES)
    }

    /// `open` with segment files of this size (tests of segment rolls use small ones). A log
    /// must be opened with the size it was created with.
    pub fn open_with_segments(
        path: impl AsRef<Path>,
        segment_bytes: u64,
    ) -> Result<Self, LogError> {
        Self::open_tuned(path, segment_bytes, crate::limits::LOG_INDEX_MEMTABLES_BYTES_MAX)
    }

    /// `open` with a budget for the index's memtables: a small one flushes the index many
    /// times a second, which the crash tests use to stop a writer between index flushes.
    pub fn open_with_index_memtables(
        path: impl AsRef<Path>,
        memtables_bytes: usize,
    ) -> Result<Self, LogError> {
        Self::open_tuned(path, SEGMENT_BYTES, memtables_bytes)
    }

    fn open_tuned(
        path: impl AsRef<Path>,
        segment_bytes: u64,
        memtables_bytes: usize,
    ) -> Result<Self, LogError> {
        assert!(
            segment_bytes
                >= (crate::limits::SEGMENT_FRAME_BYTES_MAX + segment::HEADER_BYTES) as u64,
            "a segment holds the largest frame"
        );
        let path = path.as_ref();
        let db = open_db(path, memtables_bytes)?;
        let segments = Arc::new(Segments::open(&path.join("segments"), segment_bytes)?);
        let topics = load_topics(&db)?;
        let inner = Arc::new(Inner { db, segments, topics: RwLock::new(topics) });
        let end = recover(&inner)?;
        let mut writer = segment::Writer::new(Arc::clone(&inner.segments), end);
        move_records_into_segments(&inner, &mut writer)?;
        let (jobs, receiver) = mpsc::channel(WRITER_QUEUE_REQUESTS_MAX);
        let writer_inner = Arc::clone(&inner);
        let writer = std::thread::Builder::new()
            .name("locker-log-writer".to_owned())
            .spawn(move || writer_loop(&writer_inner, writer, receiver))
            .map_err(|e| LogError::Storage(format!("cannot start the writer thread: {e}")))?;
        Ok(EmbeddedLog { inner, jobs: Some(jobs), writer: Some(writer) })
    }

    fn topic(&self, name: &str) -> Result<Arc<Topic>, LogError> {
        let topics = self.inner.topics.read().map_err(|_| LogError::Closed)?;
        topics.get(name).cloned().ok_or_else(|| LogError::UnknownTopic { topic: name.to_owned() })
    }

    fn end_receiver(&self, topic: &str, partition: u32) -> Result<watch::Receiver<u64>, LogError> {
        let topic = self.topic(topic)?;
        let partitions = topic.partitions;
        let end = topic.ends.get(partition as usize).ok_or_else(|| LogError::NoSuchPartition {
            topic: topic.name.clone(),
            partition,
            partitions,
        })?;
        Ok(end.subscribe())
    }
}

fn open_db(path: &Path, memtables_bytes: usize) -> Result<DB, LogError> {
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    // Recover the longest consistent prefix of the WAL: a torn last batch disappears whole.
    options.set_wal_recovery_mode(DBRecoveryMode::PointInTime);
    options.set_paranoid_checks(true);
    options.set_compression_type(rocksdb::DBCompressionType::Lz4);
    // One writer thread does every write; the hashed id memtable below requires this.
    options.set_allow_concurrent_memtable_write(false);
    options.set_db_write_buffer_size(memtables_bytes);
    // The writer's batches skip the WAL (`commit_group`): `segments/indexed` in `meta` must
    // reach the disk together with the entries it vouches for, never ahead of them.
    options.set_atomic_flush(true);
    // One cache for every family: by default each would get its own 32 MiB.
    let cache = rocksdb::Cache::new_lru_cache(crate::limits::LOG_INDEX_BLOCK_CACHE_BYTES);
    let mut ids_table = BlockBasedOptions::default();
    ids_table.set_block_cache(&cache);
    // Most id lookups are for new ids; a bloom filter answers those without a disk read.
    ids_table.set_bloom_filter(10.0, false);
    let mut ids_options = Options::default();
    ids_options.set_block_based_table_factory(&ids_table);
    // Ids are random and only ever looked up whole, so the memtable hashes them into buckets
    // instead of inserting each into one big skiplist (which cost the writer ~30% of its
    // time), and a memtable bloom filter answers new ids without a bucket walk.
    ids_options.set_prefix_extractor(rocksdb::SliceTransform::create_fixed_prefix(4));
    ids_options.set_memtable_factory(rocksdb::MemtableFactory::HashSkipList {
        bucket_count: 1 << 20,
        height: 4,
        branching_factor: 4,
    });
    ids_options.set_memtable_whole_key_filtering(true);
    ids_options.set_memtable_prefix_bloom_ratio(0.1);
    // Records (before segments) are signatures, hashes and ciphertext: compression costs CPU
    // and saves little.
    let mut records_options = with_cache(&cache);
    records_options.set_compression_type(rocksdb::DBCompressionType::None);
    let families = vec![
        ColumnFamilyDescriptor::new(CF_RECORDS, records_options),
        ColumnFamilyDescriptor::new(CF_INDEX, with_cache(&cache)),
        ColumnFamilyDescriptor::new(CF_IDS, ids_options),
        ColumnFamilyDescriptor::new(CF_META, with_cache(&cache)),
    ];
    Ok(DB::open_cf_descriptors(&options, path, families)?)
}

/// A family's default options, but reading through `cache`.
fn with_cache(cache: &rocksdb::Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    let mut options = Options::default();
    options.set_block_based_table_factory(&table);
    options
}

impl Drop for EmbeddedLog {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what it holds and stop.
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

fn load_topics(db: &DB) -> Result<HashMap<String, Arc<Topic>>, LogError> {
    let meta = cf(db, CF_META)?;
    let index = cf(db, CF_INDEX)?;
    let mut topics = HashMap::new();
    for item in db.prefix_iterator_cf(&meta, b"topic/") {
        let (key, value) = item?;
        let Some(name) = key.strip_prefix(b"topic/") else { break };
        let name = String::from_utf8(name.to_vec()).map_err(|_| corrupt("meta", "topic name"))?;
        let fixed: &[u8; 8] =
            value.as_ref().try_into().map_err(|_| corrupt("meta", "topic entry size"))?;
        let id = u32::from_le_bytes([fixed[0], fixed[1], fixed[2], fixed[3]]);
        let partitions = u32::from_le_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let mut ends = Vec::new();
        for partition in 0..partitions {
            ends.push(watch::Sender::new(indexed_end(db, index, id, partition)?));
        }
        topics.insert(name.clone(), Arc::new(Topic { id, name, partitions, ends }));
    }
    Ok(topics)
}

/// One past the last offset a partition's index (or `records`, the layout before segments)
/// holds.
fn indexed_end(
    db: &DB,
    family: &rocksdb::ColumnFamily,
    topic_id: u32,
    partition: u32,
) -> Result<u64, LogError> {
    let last = record_key(topic_id, partition, u64::MAX);
    let mut iter = db.iterator_cf(family, IteratorMode::From(&last, Direction::Reverse));
    Ok(match iter.next().transpose()? {
        Some((key, _)) if key.len() == 16 && key[..8] == last[..8] => {
            let mut offset = [0u8; 8];
            offset.copy_from_slice(&key[8..]);
            u64::from_be_bytes(offset) + 1
        }
        _ => 0,
    })
}

fn indexed_through(db: &DB) -> Result<u64, LogError> {
    let meta = cf(db, CF_META)?;
    match db.get_cf(meta, META_INDEXED)? {
        None => Ok(0),
        Some(value) => {
            let fixed: [u8; 8] =
                value.as_slice().try_into().map_err(|_| corrupt("meta", "segments/indexed"))?;
            Ok(u64::from_le_bytes(fixed))
        }
    }
}

/// Indexes the frames written after `segments/indexed` (their index entries were lost in a
/// crash), cuts off a torn tail, and returns where the next frame goes.
fn recover(inner: &Inner) -> Result<u64, LogError> {
    let db = &inner.db;
    let from = indexed_through(db)?;
    let topics: HashMap<u32, Arc<Topic>> = {
        let topics = inner.topics.read().map_err(|_| LogError::Closed)?;
        topics.values().map(|t| (t.id, Arc::clone(t))).collect()
    };
    let mut ends: HashMap<(u32, u32), u64> = HashMap::new();
    let mut batch = WriteBatch::default();
    let mut indexed = 0u64;
    let scan = inner.segments.scan(from, |position, len, frame| {
        let head = frame.head;
        let location = || format!("segment position {position}");
        let topic = topics
            .get(&head.topic_id)
            .ok_or_else(|| corrupt(location(), format!("unknown topic id {}", head.topic_id)))?;
        let sender = topic.ends.get(head.partition as usize).ok_or_else(|| {
            corrupt(location(), format!("no partition {} in {}", head.partition, topic.name))
        })?;
        let end = ends.entry((head.topic_id, head.partition)).or_insert_with(|| *sender.borrow());
        if head.offset != *end {
            return Err(corrupt(
                location(),
                format!(
                    "{} partition {} offset {} where offset {} comes next",
                    topic.name, head.partition, head.offset, end
                ),
            ));
        }
        *end += 1;
        put_index(inner, &mut batch, &head, position, len)?;
        indexed += 1;
        Ok(())
    })?;
    let cut = inner.segments.cut(scan.end)?;
    if cut > 0 {
        tracing::warn!(
            at = scan.end,
            bytes = cut,
            "the log's tail was cut short by a crash before it was synced (never acknowledged): cut off"
        );
    }
    batch.put_cf(cf(db, CF_META)?, META_INDEXED, scan.end.to_le_bytes());
    let mut sync = WriteOptions::default();
    sync.set_sync(true);
    db.write_opt(batch, &sync)?;
    if indexed > 0 {
        tracing::info!(records = indexed, "indexed records written before the last stop");
    }
    for ((topic_id, partition), end) in ends {
        if let Some(topic) = topics.get(&topic_id) {
            topic.ends[partition as usize].send_replace(end);
        }
    }
    Ok(scan.end)
}

fn put_index(
    inner: &Inner,
    batch: &mut WriteBatch,
    head: &FrameHead,
    position: u64,
    len: u32,
) -> Result<(), LogError> {
    let db = &inner.db;
    batch.put_cf(
        cf(db, CF_INDEX)?,
        record_key(head.topic_id, head.partition, head.offset),
        encode_index_entry(position, len),
    );
    let at = Position { partition: head.partition, offset: head.offset };
    batch.put_cf(
        cf(db, CF_IDS)?,
        head.id.as_bytes(),
        encode_id_entry(head.topic_id, at, &head.digest),
    );
    Ok(())
}

/// A log written before segments keeps its records in RocksDB's `records`: they move into
/// segments, partition by partition, and leave `records` once every one is written and
/// indexed. A crash in between moves them again (the index's end says where to go on).
fn move_records_into_segments(inner: &Inner, writer: &mut segment::Writer) -> Result<(), LogError> {
    let db = &inner.db;
    let records = cf(db, CF_RECORDS)?;
    if db.iterator_cf(records, IteratorMode::Start).next().is_none() {
        return Ok(());
    }
    // Each record's id and digest, by position: the frames carry them.
    let mut identities: HashMap<(u32, Position), (EventId, Digest32)> = HashMap::new();
    // The ids' memtable hashes its keys: only a total-order read sees every one of them.
    let mut total = rocksdb::ReadOptions::default();
    total.set_total_order_seek(true);
    for item in db.iterator_cf_opt(cf(db, CF_IDS)?, total, IteratorMode::Start) {
        let (key, value) = item?;
        let (topic_id, position, digest) = decode_id_entry(&value)?;
        let id: [u8; 16] = key.as_ref().try_into().map_err(|_| corrupt("ids", "id size"))?;
        identities.insert((topic_id, position), (EventId(id), digest));
    }
    let topics: Vec<Arc<Topic>> = {
        let topics = inner.topics.read().map_err(|_| LogError::Closed)?;
        topics.values().cloned().collect()
    };
    let mut moved = 0u64;
    for topic in topics {
        for partition in 0..topic.partitions {
            let stored_end = indexed_end(db, records, topic.id, partition)?;
            let mut next = *topic.ends[partition as usize].borrow();
            moved += stored_end.saturating_sub(next);
            while next < stored_end {
                let before = next;
                let mut group = writer.group();
                let mut batch = WriteBatch::default();
                let start = record_key(topic.id, partition, next);
                let iter = db.iterator_cf(records, IteratorMode::From(&start, Direction::Forward));
                for item in iter.take(GROUP_COMMIT_RECORDS_MAX) {
                    let (key, stored) = item?;
                    if key[..] != record_key(topic.id, partition, next)[..] {
                        break;
                    }
                    let at = Position { partition, offset: next };
                    let (key, value) = decode_stored(&stored, at)?;
                    let (id, digest) = identities
                        .get(&(topic.id, at))
                        .copied()
                        .ok_or_else(|| corrupt(format!("{} {at:?}", topic.name), "no id"))?;
                    let head =
                        FrameHead { topic_id: topic.id, partition, offset: next, id, digest };
                    let (position, len) = group.push(&head, &key, &value);
                    put_index(inner, &mut batch, &head, position, len)?;
                    next += 1;
                }
                if next == before {
                    let location = format!("{} partition {partition}", topic.name);
                    return Err(corrupt(location, format!("offset {next} is missing")));
                }
                batch.put_cf(cf(db, CF_META)?, META_INDEXED, group.end().to_le_bytes());
                writer.commit(group)?;
                db.write(batch)?;
                topic.ends[partition as usize].send_replace(next);
            }
        }
    }
    let mut sync = WriteOptions::default();
    sync.set_sync(true);
    let mut clear = WriteBatch::default();
    clear.delete_range_cf(records, [0u8; 16], [0xffu8; 16]);
    db.write_opt(clear, &sync)?;
    tracing::info!(records = moved, "moved the log's records into segment files");
    Ok(())
}

fn writer_loop(inner: &Inner, mut writer: segment::Writer, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.blocking_recv() {
        let mut records = first.requests.len();
        let mut group = vec![first];
        while records < GROUP_COMMIT_RECORDS_MAX {
            match jobs.try_recv() {
                Ok(job) => {
                    records += job.requests.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        commit_group(inner, &mut writer, group);
    }
}

/// Writes a group of jobs' frames with one sync, then their index, then answers each job.
fn commit_group(inner: &Inner, writer: &mut segment::Writer, group: Vec<Job>) {
    let written =
        prepare_group(inner, writer, &group).and_then(|(frames, batch, results, ends)| {
            writer.commit(frames)?;
            // Without the WAL: the frames are durable, and index entries a crash lost are
            // written again from them when the log opens. The WAL was a second copy of every
            // entry through the page cache.
            let mut unlogged = WriteOptions::default();
            unlogged.disable_wal(true);
            if let Err(e) = inner.db.write_opt(batch, &unlogged) {
                // The frames are durable but not indexed: the next group must not take their
                // offsets again, and their callers cannot be told they were not written.
                // Nothing more is written until a restart's recovery indexes them; a retry is
                // then answered by the id index.
                writer.poison();
                return Err(LogError::Storage(format!(
                    "the log's index could not be written ({e}); the records may be logged: restart to recover"
                )));
            }
            Ok((results, ends))
        });
    match written {
        Ok((results, ends)) => {
            for (topic, partition, end) in ends {
                // Offsets only ever grow; anything else is a broken log.
                let sender = &topic.ends[partition as usize];
                assert!(end >= *sender.borrow(), "offsets went backwards");
                sender.send_replace(end);
            }
            for (job, result) in group.into_iter().zip(results) {
                let _ = job.reply.send(Ok(result));
            }
        }
        Err(e) => {
            let message = e.to_string();
            tracing::error!(%message, "log write failed; no record of the batch was acknowledged");
            for job in group {
                let _ = job.reply.send(Err(LogError::Storage(message.clone())));
            }
        }
    }
}

type TopicPartition = (Arc<Topic>, u32);
type Prepared =
    (segment::Group, WriteBatch, Vec<Vec<Result<Appended, LogError>>>, Vec<(Arc<Topic>, u32, u64)>);

fn prepare_group(
    inner: &Inner,
    writer: &segment::Writer,
    group: &[Job],
) -> Result<Prepared, LogError> {
    let db = &inner.db;
    let ids_cf = cf(db, CF_IDS)?;
    let all_ids: Vec<&EventId> =
        group.iter().flat_map(|job| job.requests.iter().map(|r| &r.id)).collect();
    let stored = db.batched_multi_get_cf(&ids_cf, all_ids.iter().map(|id| id.as_bytes()), false);
    let mut stored = stored.into_iter();

    let mut frames = writer.group();
    let mut batch = WriteBatch::default();
    let mut next: HashMap<(u32, u32), (TopicPartition, u64)> = HashMap::new();
    let mut in_batch: HashMap<EventId, (Position, Digest32)> = HashMap::new();
    let mut results = Vec::with_capacity(group.len());
    for job in group {
        let topic = &job.topic;
        let partitions = topic.partitions;
        let mut job_results = Vec::with_capacity(job.requests.len());
        for request in &job.requests {
            let found =
                stored.next().ok_or_else(|| corrupt("id index", "lookup missed an id"))??;
            let existing = match found {
                Some(value) => {
                    let (_, position, digest) = decode_id_entry(&value)?;
                    Some((position, digest))
                }
                None => in_batch.get(&request.id).copied(),
            };
            if let Some((position, digest)) = existing {
                job_results.push(if digest == request.digest {
                    Ok(Appended::Existing(position))
                } else {
                    Err(LogError::IdConflict { event_id: request.id })
                });
                continue;
            }
            let partition = partition_for(&request.key, partitions);
            let slot = next.entry((topic.id, partition)).or_insert_with(|| {
                ((Arc::clone(topic), partition), *topic.ends[partition as usize].borrow())
            });
            let position = Position { partition, offset: slot.1 };
            slot.1 += 1;
            let head = FrameHead {
                topic_id: topic.id,
                partition,
                offset: position.offset,
                id: request.id,
                digest: request.digest,
            };
            let (at, len) = frames.push(&head, &request.key, &request.value);
            put_index(inner, &mut batch, &head, at, len)?;
            in_batch.insert(request.id, (position, request.digest));
            job_results.push(Ok(Appended::New(position)));
        }
        results.push(job_results);
    }
    batch.put_cf(cf(db, CF_META)?, META_INDEXED, frames.end().to_le_bytes());
    let ends =
        next.into_values().map(|((topic, partition), end)| (topic, partition, end)).collect();
    Ok((frames, batch, results, ends))
}

/// The records at these frames, checked to be the ones the index says they are. Frames next
/// to each other are read together.
fn read_frames(
    segments: &Segments,
    frames: &[(u64, u32)],
    (topic_id, topic, partition): (u32, &str, u32),
    from_offset: u64,
) -> Result<Vec<LogRecord>, LogError> {
    let mut out = Vec::with_capacity(frames.len());
    let mut i = 0;
    while i < frames.len() {
        // A run of frames that follow each other in one segment: one read.
        let (first, _) = frames[i];
        let mut j = i;
        let mut run_end = first;
        while j < frames.len()
            && frames[j].0 == run_end
            && (run_end + u64::from(frames[j].1) - 1) / segments.segment_bytes()
                == first / segments.segment_bytes()
            && run_end - first < (1 << 20)
        {
            run_end += u64::from(frames[j].1);
            j += 1;
        }
        if j == i {
            let offset = from_offset + i as u64;
            let location = format!("topic {topic} partition {partition} offset {offset}");
            return Err(corrupt(location, "its index entry points across a segment's end"));
        }
        let run =
            usize::try_from(run_end - first).map_err(|_| corrupt(topic, "a read too large"))?;
        let bytes = segments.read_at(first, run)?;
        let mut at = 0usize;
        for (k, (_, len)) in frames[i..j].iter().enumerate() {
            let offset = from_offset + (i + k) as u64;
            let location = || format!("topic {topic} partition {partition} offset {offset}");
            let frame = segment::decode_frame(&bytes[at..at + *len as usize])
                .map_err(|reason| corrupt(location(), reason))?;
            let head = frame.head;
            if (head.topic_id, head.partition, head.offset) != (topic_id, partition, offset) {
                return Err(corrupt(
                    location(),
                    format!(
                        "its frame holds topic id {} partition {} offset {}",
                        head.topic_id, head.partition, head.offset
                    ),
                ));
            }
            out.push(LogRecord {
                position: Position { partition, offset },
                key: frame.key,
                value: frame.value,
            });
            at += *len as usize;
        }
        i = j;
    }
    Ok(out)
}

fn check_topic_name(topic: &str) -> Result<(), LogError> {
    let valid = !topic.is_empty()
        && topic.len() <= TOPIC_NAME_BYTES_MAX
        && topic.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !valid {
        return Err(LogError::InvalidTopic {
            reason: format!("{topic:?}: 1 to {TOPIC_NAME_BYTES_MAX} of a-z A-Z 0-9 . _ -"),
        });
    }
    Ok(())
}

impl Log for EmbeddedLog {
    async fn create_transient_topic(
        &self,
        topic: &str,
        partitions: u32,
        _retention_ms: u64,
    ) -> Result<(), LogError> {
        // Nothing outside this process writes an embedded log, so there is no outside input
        // to forget: the topic is kept like any other.
        self.create_topic(topic, partitions).await
    }

    async fn create_topic(&self, topic: &str, partitions: u32) -> Result<(), LogError> {
        check_topic_name(topic)?;
        if partitions == 0 || partitions > TOPIC_PARTITIONS_MAX {
            return Err(LogError::InvalidTopic {
                reason: format!("{partitions} partitions; 1 to {TOPIC_PARTITIONS_MAX} allowed"),
            });
        }
        let mut topics = self.inner.topics.write().map_err(|_| LogError::Closed)?;
        if let Some(existing) = topics.get(topic) {
            let existing = existing.partitions;
            if existing != partitions {
                return Err(LogError::PartitionMismatch {
                    topic: topic.to_owned(),
                    existing,
                    requested: partitions,
                });
            }
            return Ok(());
        }
        let id = topics.values().map(|t| t.id + 1).max().unwrap_or(0);
        let meta = self.inner.db.cf_handle(CF_META).ok_or_else(|| corrupt("meta", "missing"))?;
        let mut value = id.to_le_bytes().to_vec();
        value.extend_from_slice(&partitions.to_le_bytes());
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        self.inner.db.put_cf_opt(&meta, format!("topic/{topic}"), value, &sync)?;
        let ends = (0..partitions).map(|_| watch::Sender::new(0)).collect();
        topics.insert(
            topic.to_owned(),
            Arc::new(Topic { id, name: topic.to_owned(), partitions, ends }),
        );
        Ok(())
    }

    fn partitions(&self, topic: &str) -> Result<u32, LogError> {
        Ok(self.topic(topic)?.partitions)
    }

    async fn append(&self, topic: &str, requests: Vec<AppendRequest>) -> AppendResults {
        let topic = self.topic(topic)?;
        super::check_requests(&requests)?;
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let jobs = self.jobs.as_ref().ok_or(LogError::Closed)?;
        let (reply, answer) = oneshot::channel();
        jobs.send(Job { topic, requests, reply }).await.map_err(|_| LogError::Closed)?;
        answer.await.map_err(|_| LogError::Closed)?
    }

    async fn lookup(&self, ids: &[EventId]) -> Result<Vec<Option<IdEntry>>, LogError> {
        let db = &self.inner.db;
        let ids_cf = db.cf_handle(CF_IDS).ok_or_else(|| corrupt("ids", "missing"))?;
        let names: HashMap<u32, String> = {
            let topics = self.inner.topics.read().map_err(|_| LogError::Closed)?;
            topics.values().map(|t| (t.id, t.name.clone())).collect()
        };
        db.batched_multi_get_cf(&ids_cf, ids.iter().map(|id| id.as_bytes()), false)
            .into_iter()
            .map(|found| {
                let Some(value) = found? else { return Ok(None) };
                let (topic_id, position, digest) = decode_id_entry(&value)?;
                let topic = names
                    .get(&topic_id)
                    .cloned()
                    .ok_or_else(|| corrupt("id index", format!("unknown topic id {topic_id}")))?;
                Ok(Some(IdEntry { topic, position, digest }))
            })
            .collect()
    }

    async fn read(
        &self,
        topic: &str,
        partition: u32,
        from_offset: u64,
        max_records: usize,
    ) -> Result<Vec<LogRecord>, LogError> {
        let end = *self.end_receiver(topic, partition)?.borrow();
        let topic = self.topic(topic)?;
        let db = &self.inner.db;
        let index = cf(db, CF_INDEX)?;
        let start = record_key(topic.id, partition, from_offset);
        let limit = max_records.min(READ_RECORDS_MAX);
        let location = || format!("topic {} partition {partition}", topic.name);
        // Where each record's frame is; the log has no holes: a missing offset means lost or
        // deleted records.
        let mut frames: Vec<(u64, u32)> = Vec::new();
        let mut expected = from_offset;
        for item in db.iterator_cf(&index, IteratorMode::From(&start, Direction::Forward)) {
            if frames.len() >= limit || expected >= end {
                break;
            }
            let (key, entry) = item?;
            if key.len() != 16 || key[..8] != start[..8] {
                break;
            }
            let mut offset = [0u8; 8];
            offset.copy_from_slice(&key[8..]);
            let offset = u64::from_be_bytes(offset);
            if offset != expected {
                return Err(corrupt(
                    location(),
                    format!("offset {expected} is missing (next stored is {offset})"),
                ));
            }
            frames.push(decode_index_entry(&entry, || format!("{} offset {offset}", location()))?);
            expected += 1;
        }
        if frames.len() < limit && expected < end {
            return Err(corrupt(location(), format!("offsets {expected}..{end} are missing")));
        }
        // Reads of the page cache, like RocksDB's before them: a thread hop per read cost more
        // than the read (a re-run looks each logged event up alone).
        read_frames(&self.inner.segments, &frames, (topic.id, &topic.name, partition), from_offset)
    }

    async fn end_offset(&self, topic: &str, partition: u32) -> Result<u64, LogError> {
        Ok(*self.end_receiver(topic, partition)?.borrow())
    }

    async fn wait_for(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        timeout: Duration,
    ) -> Result<bool, LogError> {
        let mut end = self.end_receiver(topic, partition)?;
        match tokio::time::timeout(timeout, end.wait_for(|end| *end > offset)).await {
            Ok(Ok(_)) => Ok(true),
            Ok(Err(_)) => Err(LogError::Closed),
            Err(_) => Ok(false),
        }
    }
}
