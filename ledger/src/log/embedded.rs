//! The embedded backend: a durable log in one RocksDB database.
//!
//! Layout (column families):
//! - `records`: `topic_id u32 BE | partition u32 BE | offset u64 BE` -> `key_len u32 LE | key | value`
//! - `ids`: `event id` -> `topic_id u32 LE | partition u32 LE | offset u64 LE | digest [32]`
//! - `meta`: `topic/<name>` -> `topic_id u32 LE | partitions u32 LE`
//!
//! One writer thread owns all appends. It takes every request waiting in its queue (up to
//! `GROUP_COMMIT_RECORDS_MAX` records), writes them as one RocksDB write batch with
//! `sync = true` (one WAL fsync for all of them), and only then answers the callers. A crash
//! before the fsync loses the whole batch and no caller was told it was written; RocksDB's WAL
//! recovery (point-in-time) never exposes part of a batch.

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

use super::{AppendRequest, Appended, IdEntry, Log, LogRecord, Position};
use crate::LogError;
use crate::limits::{
    GROUP_COMMIT_RECORDS_MAX, READ_RECORDS_MAX, TOPIC_NAME_BYTES_MAX, TOPIC_PARTITIONS_MAX,
    WRITER_QUEUE_REQUESTS_MAX,
};
use crate::partition::partition_for;

const CF_RECORDS: &str = "records";
const CF_IDS: &str = "ids";
const CF_META: &str = "meta";

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

fn encode_stored(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut stored = Vec::with_capacity(4 + key.len() + value.len());
    let key_len = u32::try_from(key.len()).expect("keys are bounded by PARTITION_KEY_BYTES_MAX");
    stored.extend_from_slice(&key_len.to_le_bytes());
    stored.extend_from_slice(key);
    stored.extend_from_slice(value);
    stored
}

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

impl EmbeddedLog {
    /// Opens (or creates) the log in `path` and starts its writer thread.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LogError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        // Recover the longest consistent prefix of the WAL: a torn last batch disappears whole.
        options.set_wal_recovery_mode(DBRecoveryMode::PointInTime);
        options.set_paranoid_checks(true);
        options.set_compression_type(rocksdb::DBCompressionType::Lz4);
        // One writer thread does every write; the hashed id memtable below requires this.
        options.set_allow_concurrent_memtable_write(false);
        let mut ids_table = BlockBasedOptions::default();
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
        // Records are signatures, hashes and ciphertext: compression costs CPU and saves little.
        let mut records_options = Options::default();
        records_options.set_compression_type(rocksdb::DBCompressionType::None);
        let families = vec![
            ColumnFamilyDescriptor::new(CF_RECORDS, records_options),
            ColumnFamilyDescriptor::new(CF_IDS, ids_options),
            ColumnFamilyDescriptor::new(CF_META, Options::default()),
        ];
        let db = DB::open_cf_descriptors(&options, path, families)?;
        let topics = load_topics(&db)?;
        let inner = Arc::new(Inner { db, topics: RwLock::new(topics) });
        let (jobs, receiver) = mpsc::channel(WRITER_QUEUE_REQUESTS_MAX);
        let writer_inner = Arc::clone(&inner);
        let writer = std::thread::Builder::new()
            .name("locker-log-writer".to_owned())
            .spawn(move || writer_loop(&writer_inner, receiver))
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
    let meta = db.cf_handle(CF_META).ok_or_else(|| corrupt("meta", "column family missing"))?;
    let records =
        db.cf_handle(CF_RECORDS).ok_or_else(|| corrupt("records", "column family missing"))?;
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
            // The next offset is one past the last record of the partition.
            let last = record_key(id, partition, u64::MAX);
            let mut iter = db.iterator_cf(&records, IteratorMode::From(&last, Direction::Reverse));
            let end = match iter.next().transpose()? {
                Some((key, _)) if key.len() == 16 && key[..8] == last[..8] => {
                    let mut offset = [0u8; 8];
                    offset.copy_from_slice(&key[8..]);
                    u64::from_be_bytes(offset) + 1
                }
                _ => 0,
            };
            ends.push(watch::Sender::new(end));
        }
        topics.insert(name.clone(), Arc::new(Topic { id, name, partitions, ends }));
    }
    Ok(topics)
}

fn writer_loop(inner: &Inner, mut jobs: mpsc::Receiver<Job>) {
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
        commit_group(inner, group);
    }
}

/// Writes a group of jobs with one synced write batch, then answers each job.
fn commit_group(inner: &Inner, group: Vec<Job>) {
    match prepare_group(inner, &group) {
        Ok((batch, results, ends)) => {
            let mut sync = WriteOptions::default();
            sync.set_sync(true);
            match inner.db.write_opt(batch, &sync) {
                Ok(()) => {
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
                    let message = e.into_string();
                    tracing::error!(%message, "log write failed; no record of the batch was acknowledged");
                    for job in group {
                        let _ = job.reply.send(Err(LogError::Storage(message.clone())));
                    }
                }
            }
        }
        Err(e) => {
            let message = e.to_string();
            for job in group {
                let _ = job.reply.send(Err(LogError::Storage(message.clone())));
            }
        }
    }
}

type TopicPartition = (Arc<Topic>, u32);
type Prepared = (WriteBatch, Vec<Vec<Result<Appended, LogError>>>, Vec<(Arc<Topic>, u32, u64)>);

fn prepare_group(inner: &Inner, group: &[Job]) -> Result<Prepared, LogError> {
    let db = &inner.db;
    let records_cf = db.cf_handle(CF_RECORDS).ok_or_else(|| corrupt("records", "missing"))?;
    let ids_cf = db.cf_handle(CF_IDS).ok_or_else(|| corrupt("ids", "missing"))?;
    let all_ids: Vec<&EventId> =
        group.iter().flat_map(|job| job.requests.iter().map(|r| &r.id)).collect();
    let stored = db.batched_multi_get_cf(&ids_cf, all_ids.iter().map(|id| id.as_bytes()), false);
    let mut stored = stored.into_iter();

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
            batch.put_cf(
                &records_cf,
                record_key(topic.id, partition, position.offset),
                encode_stored(&request.key, &request.value),
            );
            batch.put_cf(
                &ids_cf,
                request.id.as_bytes(),
                encode_id_entry(topic.id, position, &request.digest),
            );
            in_batch.insert(request.id, (position, request.digest));
            job_results.push(Ok(Appended::New(position)));
        }
        results.push(job_results);
    }
    let ends =
        next.into_values().map(|((topic, partition), end)| (topic, partition, end)).collect();
    Ok((batch, results, ends))
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
        let records_cf = db.cf_handle(CF_RECORDS).ok_or_else(|| corrupt("records", "missing"))?;
        let start = record_key(topic.id, partition, from_offset);
        let limit = max_records.min(READ_RECORDS_MAX);
        let mut out = Vec::new();
        let mut expected = from_offset;
        for item in db.iterator_cf(&records_cf, IteratorMode::From(&start, Direction::Forward)) {
            if out.len() >= limit || expected >= end {
                break;
            }
            let (key, stored) = item?;
            if key.len() != 16 || key[..8] != start[..8] {
                break;
            }
            let mut offset = [0u8; 8];
            offset.copy_from_slice(&key[8..]);
            let offset = u64::from_be_bytes(offset);
            let position = Position { partition, offset };
            // The log has no holes: a missing offset means lost or deleted records.
            if offset != expected {
                return Err(corrupt(
                    format!("topic {} partition {partition}", topic.name),
                    format!("offset {expected} is missing (next stored is {offset})"),
                ));
            }
            let (key, value) = decode_stored(&stored, position)?;
            out.push(LogRecord { position, key, value });
            expected += 1;
        }
        if out.len() < limit && expected < end {
            return Err(corrupt(
                format!("topic {} partition {partition}", topic.name),
                format!("offsets {expected}..{end} are missing"),
            ));
        }
        Ok(out)
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
