//! The Kafka backend: the same `Log` semantics on Apache Kafka, through librdkafka.
//!
//! - Producer: idempotent (`enable.idempotence=true`; librdkafka's default is off), `acks=all`,
//!   partitions chosen by Kafka's murmur2 (the same function as the embedded log), so a
//!   citizen's events keep one partition and their order.
//! - Topics are created by the admin client with explicit settings (unlimited retention,
//!   `cleanup.policy=delete`, never compaction); an existing topic with other partitions or
//!   with compaction is refused. Transient topics (outside input such as the issuers' inbox)
//!   are created with a retention, are not indexed by id, and are read from their oldest
//!   kept record when older ones are gone.
//! - Reads use explicit assignment and seek, `read_committed`. Positions belong to the reader,
//!   never to Kafka's committed offsets.
//! - Ownership (a cluster of nodes): the partitions of `owned_topics` are appended only by the
//!   process that `claim`ed them, each through a transactional producer whose id is the
//!   partition's (`locker/<topic>/<partition>`). A claim fences every earlier producer with that
//!   id (a node that lost the partition, even one paused mid-append) and aborts its open
//!   transaction; an append commits its records in one transaction per partition, so a fenced
//!   owner's records are never read. Offsets then have gaps (each commit's marker takes one):
//!   `read_batch` says where a reader continues.
//! - Idempotency by event id: Kafka does not deduplicate by our ids, so every record carries
//!   its id and digest in headers and this log keeps a local index of them (RocksDB), rebuilt
//!   from the topic when missing. The index is caught up on open and after any failed
//!   delivery, because a record whose acknowledgement was lost may still have been written.
//!   Within one process appends are serialised; two processes appending the same new id at
//!   the same moment can both write it (see ARCHITECTURE.md).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use rocksdb::{DB, WriteBatch};
use schemas::{Digest32, EventId};

use super::{AppendRequest, Appended, IdEntry, Log, LogRecord, Position, ReadBatch};
use crate::LogError;
use crate::limits::{
    KAFKA_COMMIT_WAKE_MS, KAFKA_DELIVERY_TIMEOUT_MS, KAFKA_OWNED_WAIT_POLL_MS, KAFKA_READ_WAIT_MS,
    KAFKA_REQUEST_TIMEOUT_MS, KAFKA_TRANSACTION_TIMEOUT_MS, KAFKA_WAITERS_IDLE_MAX,
    READ_RECORDS_MAX, TOPIC_PARTITIONS_MAX,
};
use crate::partition::partition_for;

/// Records with their identity headers, and the offset a next read starts from.
type RawBatch = (Vec<(LogRecord, Option<(EventId, Digest32)>)>, u64);

const HEADER_ID: &str = "locker.event-id";
const HEADER_DIGEST: &str = "locker.digest";

/// How to reach the cluster and how to create topics on it.
#[derive(Clone, Debug)]
pub struct KafkaSettings {
    /// `host:port[,host:port...]`
    pub bootstrap_servers: String,
    /// 3 in production; 1 on a single development broker.
    pub replication_factor: i32,
    /// With `acks=all`, how many replicas must hold a record before it is acknowledged.
    pub min_insync_replicas: i32,
    /// Where the local event-id index lives (rebuilt from the topics if lost).
    pub index_dir: PathBuf,
    /// How long a record may wait for delivery before its append fails.
    pub delivery_timeout_ms: u64,
    /// Producer compression, chosen by measurement (see benches/).
    pub compression: &'static str,
    /// Topics whose partitions only their owner appends to (see `KafkaLog::claim`); empty on
    /// a single node, where any partition is appended without a claim.
    pub owned_topics: Vec<String>,
    /// Fault injection for tests, `None` in service: while this file exists, an append to an
    /// owned partition waits between its records' delivery and its commit, so a test can pause
    /// the process mid-transaction (SIGSTOP), let another node claim the partition, and show
    /// that the commit is then refused (fenced) and nothing of it is ever read.
    pub hold_before_commit: Option<PathBuf>,
}

impl KafkaSettings {
    /// Settings for a single local broker.
    pub fn single_broker(bootstrap_servers: &str, index_dir: impl Into<PathBuf>) -> Self {
        KafkaSettings {
            bootstrap_servers: bootstrap_servers.to_owned(),
            replication_factor: 1,
            min_insync_replicas: 1,
            index_dir: index_dir.into(),
            delivery_timeout_ms: KAFKA_DELIVERY_TIMEOUT_MS,
            // Measured with benches' kafka-ratio (200k events, two rounds): no consistent winner
            // between none and lz4 for KafkaLog (76-105k vs 85-100k events/s), while Kafka's own
            // producer did as well or better without it; signed events (signatures, hashes,
            // ciphertext) barely compress, so none spares the two cores the broker shares.
            compression: "none",
            owned_topics: Vec::new(),
            hold_before_commit: None,
        }
    }
}

/// One owned partition's append lock.
type PartitionLock = Arc<tokio::sync::Mutex<()>>;

/// What an append holds while it runs (`KafkaLog::serialise`).
enum Serialised<'a> {
    Alone(#[allow(dead_code)] tokio::sync::RwLockWriteGuard<'a, ()>),
    Shared(
        #[allow(dead_code)] tokio::sync::RwLockReadGuard<'a, ()>,
        #[allow(dead_code)] Vec<tokio::sync::OwnedMutexGuard<()>>,
    ),
}

/// A `Log` on an Apache Kafka cluster.
pub struct KafkaLog {
    settings: KafkaSettings,
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    /// Reads and watermarks; used from blocking threads only.
    reader: Arc<Mutex<BaseConsumer<Quiet>>>,
    topics: RwLock<HashMap<String, u32>>,
    /// Topics of outside input, kept for a while: never indexed, read from what is left.
    transient: RwLock<HashSet<String>>,
    index: Arc<DB>,
    /// Appends to owned partitions take it shared, with their partitions' own locks; the
    /// index's catch-up and appends to topics without owners take it alone (their id check
    /// and index write span partitions).
    append_lock: tokio::sync::RwLock<()>,
    /// One per owned partition: its transactions run one at a time (its producer's), and its
    /// ids are checked and indexed under it. Partitions append concurrently.
    partition_locks: Mutex<HashMap<(String, u32), PartitionLock>>,
    /// Per owned partition, how many transactions this process committed to it: a waiter
    /// sees its own process's commits at once (a commit marker does not end a long poll).
    commits: Mutex<HashMap<(String, u32), Arc<AtomicU64>>>,
    /// Owned partitions whose producer is stuck (a commit or abort still in progress after a
    /// broker died, a claim again that failed): claimed again before the next append to
    /// them, and the index caught up after, since what it left may have landed.
    broken: Mutex<HashSet<(String, u32)>>,
    /// Set when a delivery failed: the index may lack a record that landed anyway.
    stale: AtomicBool,
    /// Idle consumers of `wait_for`, reused (reassigned) by the next wait.
    waiters: Arc<Mutex<Vec<BaseConsumer<Quiet>>>>,
    /// The partitions this process owns, each with its transactional producer.
    claims: RwLock<HashMap<(String, u32), Arc<FutureProducer>>>,
}

impl std::fmt::Debug for KafkaLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaLog").field("bootstrap", &self.settings.bootstrap_servers).finish()
    }
}

/// The transactional id of a partition: the same on every node, so a claim fences the last.
fn transactional_id(topic: &str, partition: u32) -> String {
    format!("locker/{topic}/{partition}")
}

/// Whether a transactional producer's error means another producer took its id over.
fn is_fenced(error: &KafkaError) -> bool {
    // Only these: other fatal errors (a broker's death mid-commit) are this producer's,
    // cured by claiming the partition again, not a sign that another node owns it.
    matches!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::Fenced | RDKafkaErrorCode::ProducerFenced)
    )
}

fn producer_config(settings: &KafkaSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.bootstrap_servers)
        .set("socket.timeout.ms", KAFKA_REQUEST_TIMEOUT_MS.to_string())
        .set("log_level", "3")
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("partitioner", "murmur2_random")
        .set("compression.type", settings.compression)
        .set("linger.ms", "2")
        .set("message.timeout.ms", settings.delivery_timeout_ms.to_string())
        .set("queue.buffering.max.messages", "1000000");
    config
}

fn kafka_error(context: &str, e: KafkaError) -> LogError {
    LogError::Unavailable { reason: format!("{context}: {e}") }
}

fn corrupt(location: impl Into<String>, reason: impl Into<String>) -> LogError {
    LogError::Corrupt { location: location.into(), reason: reason.into() }
}

fn as_partition(partition: u32) -> i32 {
    // Partitions are bounded by TOPIC_PARTITIONS_MAX, far below i32::MAX.
    i32::try_from(partition).expect("partition numbers fit Kafka's int32")
}

fn position_of(partition: i32, offset: i64, location: &str) -> Result<Position, LogError> {
    match (u32::try_from(partition), u64::try_from(offset)) {
        (Ok(partition), Ok(offset)) => Ok(Position { partition, offset }),
        _ => Err(corrupt(location, format!("impossible position {partition}/{offset}"))),
    }
}

fn id_key(id: &EventId) -> Vec<u8> {
    let mut key = b"id/".to_vec();
    key.extend_from_slice(id.as_bytes());
    key
}

fn indexed_key(topic: &str, partition: u32) -> Vec<u8> {
    format!("indexed/{topic}/{partition}").into_bytes()
}

fn encode_entry(topic: &str, position: Position, digest: &Digest32) -> Vec<u8> {
    let mut value = Vec::with_capacity(46 + topic.len());
    value.extend_from_slice(&position.partition.to_le_bytes());
    value.extend_from_slice(&position.offset.to_le_bytes());
    value.extend_from_slice(digest.as_bytes());
    value.extend_from_slice(topic.as_bytes());
    value
}

fn decode_entry(value: &[u8]) -> Result<IdEntry, LogError> {
    if value.len() < 44 {
        return Err(corrupt("kafka id index", "entry too short"));
    }
    let (partition, rest) = value.split_at(4);
    let (offset, rest) = rest.split_at(8);
    let (digest, topic) = rest.split_at(32);
    let mut d = [0u8; 32];
    d.copy_from_slice(digest);
    let mut p = [0u8; 4];
    p.copy_from_slice(partition);
    let mut o = [0u8; 8];
    o.copy_from_slice(offset);
    Ok(IdEntry {
        topic: String::from_utf8(topic.to_vec())
            .map_err(|_| corrupt("kafka id index", "topic name"))?,
        position: Position { partition: u32::from_le_bytes(p), offset: u64::from_le_bytes(o) },
        digest: Digest32(d),
    })
}

/// The id and digest headers of a record, if it carries valid ones.
fn identity_of(message: &impl Message) -> Option<(EventId, Digest32)> {
    let headers = message.headers()?;
    let mut id = None;
    let mut digest = None;
    for header in headers.iter() {
        match (header.key, header.value) {
            (HEADER_ID, Some(value)) => id = <[u8; 16]>::try_from(value).ok().map(EventId),
            (HEADER_DIGEST, Some(value)) => {
                digest = <[u8; 32]>::try_from(value).ok().map(Digest32);
            }
            _ => {}
        }
    }
    Some((id?, digest?))
}

impl KafkaLog {
    /// Connects to the cluster (failing fast if no broker answers) and opens the local index.
    pub async fn open(settings: KafkaSettings) -> Result<Self, LogError> {
        let mut common = ClientConfig::new();
        common
            .set("bootstrap.servers", &settings.bootstrap_servers)
            .set("socket.timeout.ms", KAFKA_REQUEST_TIMEOUT_MS.to_string())
            .set("log_level", "3");
        let producer: FutureProducer = producer_config(&settings)
            .create()
            .map_err(|e| kafka_error("cannot create the producer", e))?;
        let admin: AdminClient<DefaultClientContext> =
            common.create().map_err(|e| kafka_error("cannot create the admin client", e))?;
        let reader: BaseConsumer<Quiet> = reader_config(&common)
            // Reads stop at the end of what is committed, which may be a transaction marker.
            .set("enable.partition.eof", "true")
            .create_with_context(Quiet)
            .map_err(|e| kafka_error("cannot create the reader", e))?;
        // Fail now, with a clear message, if the cluster cannot be reached.
        let reader = Arc::new(Mutex::new(reader));
        let probe = Arc::clone(&reader);
        let bootstrap = settings.bootstrap_servers.clone();
        blocking(move || {
            let reader = probe.lock().map_err(|_| LogError::Closed)?;
            reader
                .fetch_metadata(None, Duration::from_millis(KAFKA_REQUEST_TIMEOUT_MS))
                .map(|_| ())
                .map_err(|e| kafka_error(&format!("no Kafka broker answers at {bootstrap}"), e))
        })
        .await?;
        let index = DB::open_default(&settings.index_dir)?;
        Ok(KafkaLog {
            settings,
            producer,
            admin,
            reader,
            topics: RwLock::new(HashMap::new()),
            transient: RwLock::new(HashSet::new()),
            index: Arc::new(index),
            append_lock: tokio::sync::RwLock::new(()),
            partition_locks: Mutex::new(HashMap::new()),
            commits: Mutex::new(HashMap::new()),
            broken: Mutex::new(HashSet::new()),
            stale: AtomicBool::new(true),
            waiters: Arc::new(Mutex::new(Vec::new())),
            claims: RwLock::new(HashMap::new()),
        })
    }

    /// Takes a partition of an owned topic for this process: a transactional producer with
    /// the partition's id, whose initialisation fences every earlier producer with that id
    /// (the previous owner, on another node or paused in this one) and aborts its open
    /// transaction. Until `release`, or until another claim fences it, this process appends
    /// to the partition. Call it when the group assigns the partition, before appending.
    pub async fn claim(&self, topic: &str, partition: u32) -> Result<(), LogError> {
        self.check_partition(topic, partition)?;
        let mut config = producer_config(&self.settings);
        let delivery_ms = self.settings.delivery_timeout_ms.min(KAFKA_TRANSACTION_TIMEOUT_MS);
        config
            .set("transactional.id", transactional_id(topic, partition))
            .set("transaction.timeout.ms", KAFKA_TRANSACTION_TIMEOUT_MS.to_string())
            .set("message.timeout.ms", delivery_ms.to_string());
        let producer: FutureProducer =
            config.create().map_err(|e| kafka_error("cannot create an owner's producer", e))?;
        let producer = Arc::new(producer);
        let init = Arc::clone(&producer);
        blocking(move || {
            init.init_transactions(Duration::from_millis(KAFKA_REQUEST_TIMEOUT_MS))
                .map_err(|e| kafka_error("claim: init transactions", e))
        })
        .await?;
        // The previous owner's records are indexed before this one appends (idempotency).
        self.stale.store(true, Ordering::SeqCst);
        self.claims
            .write()
            .map_err(|_| LogError::Closed)?
            .insert((topic.to_owned(), partition), producer);
        Ok(())
    }

    /// Gives a partition up (the group moved it): later appends to it are refused here.
    pub fn release(&self, topic: &str, partition: u32) -> Result<(), LogError> {
        self.claims.write().map_err(|_| LogError::Closed)?.remove(&(topic.to_owned(), partition));
        Ok(())
    }

    /// Whether this process holds `partition` of `topic` now (cheap: the write path asks it).
    pub fn holds(&self, topic: &str, partition: u32) -> bool {
        self.claims.read().is_ok_and(|claims| claims.contains_key(&(topic.to_owned(), partition)))
    }

    /// Gives the partition up only if `producer` still holds it: a claim made again since
    /// (after an unknown outcome) must not be dropped with the fenced one.
    fn release_fenced(&self, topic: &str, partition: u32, producer: &Arc<FutureProducer>) {
        if let Ok(mut claims) = self.claims.write() {
            let key = (topic.to_owned(), partition);
            if claims.get(&key).is_some_and(|held| Arc::ptr_eq(held, producer)) {
                claims.remove(&key);
            }
        }
    }

    /// The partitions this process holds, in order.
    pub fn claimed(&self) -> Result<Vec<(String, u32)>, LogError> {
        let mut claimed: Vec<(String, u32)> =
            self.claims.read().map_err(|_| LogError::Closed)?.keys().cloned().collect();
        claimed.sort();
        Ok(claimed)
    }

    /// What the id index holds for `ids`, as it is.
    fn indexed(&self, ids: &[EventId]) -> Result<Vec<Option<IdEntry>>, LogError> {
        let keys: Vec<Vec<u8>> = ids.iter().map(id_key).collect();
        self.index
            .multi_get(keys)
            .into_iter()
            .map(|found| match found? {
                Some(value) => decode_entry(&value).map(Some),
                None => Ok(None),
            })
            .collect()
    }

    fn owned_topic(&self, topic: &str) -> bool {
        self.settings.owned_topics.iter().any(|owned| owned == topic)
    }

    fn claim_of(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<Option<Arc<FutureProducer>>, LogError> {
        let claims = self.claims.read().map_err(|_| LogError::Closed)?;
        Ok(claims.get(&(topic.to_owned(), partition)).cloned())
    }

    /// The producer an append to the partition goes through: `None` for the shared one (a
    /// topic without owners), or the partition's claim with a transaction begun in `open`.
    fn transaction_for(
        &self,
        topic: &str,
        partition: u32,
        open: &mut HashMap<u32, Arc<FutureProducer>>,
    ) -> Result<Option<Arc<FutureProducer>>, LogError> {
        if !self.owned_topic(topic) {
            return Ok(None);
        }
        if let Some(producer) = open.get(&partition) {
            return Ok(Some(Arc::clone(producer)));
        }
        let not_owner = || LogError::NotOwner { topic: topic.to_owned(), partition };
        let producer = self.claim_of(topic, partition)?.ok_or_else(not_owner)?;
        if let Err(e) = producer.begin_transaction() {
            if is_fenced(&e) {
                tracing::warn!(topic, partition, "fenced: another node owns the partition now");
                self.release_fenced(topic, partition, &producer);
                return Err(LogError::Fenced { topic: topic.to_owned(), partition });
            }
            self.mark_broken(topic, partition);
            return Err(kafka_error("begin transaction", e));
        }
        open.insert(partition, Arc::clone(&producer));
        Ok(Some(producer))
    }

    /// Ends this call's transactions: commits each partition whose records were all
    /// delivered, aborts the others. A fenced owner gives the partition up.
    async fn settle(
        &self,
        topic: &str,
        open: HashMap<u32, Arc<FutureProducer>>,
        failed: &HashSet<u32>,
    ) -> HashMap<u32, Settled> {
        let mut settled = HashMap::with_capacity(open.len());
        for (partition, producer) in open {
            let commit = !failed.contains(&partition);
            let ending = Arc::clone(&producer);
            let outcome = blocking(move || Ok(end_transaction(&ending, commit)))
                .await
                .unwrap_or_else(|e| Settled::Unknown(e.to_string()));
            match &outcome {
                Settled::Fenced => {
                    tracing::warn!(topic, partition, "fenced: another node owns the partition now");
                    self.release_fenced(topic, partition, &producer);
                }
                // The producer may be stuck mid-transaction or failed: a new one with the same
                // id finishes or aborts what it left, and the index is caught up after it.
                Settled::Unknown(reason) => {
                    tracing::warn!(topic, partition, %reason, "claiming the partition again");
                    if let Err(e) = self.claim(topic, partition).await {
                        tracing::warn!(topic, partition, error = %e, "cannot claim it again");
                        self.mark_broken(topic, partition);
                    }
                }
                Settled::Committed | Settled::Aborted(_) => {}
            }
            if matches!(outcome, Settled::Committed)
                && let Ok(Some(commits)) = self.commits_to(topic, partition)
            {
                commits.fetch_add(1, Ordering::SeqCst);
            }
            settled.insert(partition, outcome);
        }
        settled
    }

    /// Takes what an append to `topic` must hold, after catching the index up if it is stale:
    /// the partitions' locks (in order) for an owned topic, every append's otherwise.
    async fn serialise(
        &self,
        topic: &str,
        partitions: u32,
        requests: &[AppendRequest],
    ) -> Result<Serialised<'_>, LogError> {
        if !self.owned_topic(topic) {
            let alone = self.append_lock.write().await;
            self.catch_up_if_stale().await?;
            return Ok(Serialised::Alone(alone));
        }
        let wanted: std::collections::BTreeSet<u32> =
            requests.iter().map(|r| partition_for(&r.key, partitions)).collect();
        self.repair(topic, &wanted).await?;
        loop {
            if self.stale.load(Ordering::SeqCst) {
                let _alone = self.append_lock.write().await;
                self.catch_up_if_stale().await?;
            }
            let shared = self.append_lock.read().await;
            // Marked stale since (another append failed, a claim): catch up first.
            if self.stale.load(Ordering::SeqCst) {
                continue;
            }
            let mut held = Vec::with_capacity(wanted.len());
            for &partition in &wanted {
                held.push(self.partition_lock(topic, partition)?.lock_owned().await);
            }
            // An append this one waited behind may have failed with an unknown outcome (its
            // record may have landed): the index must include it before ids are checked.
            if self.stale.load(Ordering::SeqCst) {
                continue;
            }
            return Ok(Serialised::Shared(shared, held));
        }
    }

    fn mark_broken(&self, topic: &str, partition: u32) {
        if let Ok(mut broken) = self.broken.lock() {
            broken.insert((topic.to_owned(), partition));
        }
    }

    /// Claims again the partitions of `wanted` whose producer is stuck, with every append
    /// held off (the claim fences the stuck producer and ends what it left; the index is
    /// caught up after, by `serialise`). Fails if a claim still cannot be made.
    async fn repair(
        &self,
        topic: &str,
        wanted: &std::collections::BTreeSet<u32>,
    ) -> Result<(), LogError> {
        let stuck: Vec<u32> = {
            let broken = self.broken.lock().map_err(|_| LogError::Closed)?;
            wanted.iter().copied().filter(|p| broken.contains(&(topic.to_owned(), *p))).collect()
        };
        if stuck.is_empty() {
            return Ok(());
        }
        let _alone = self.append_lock.write().await;
        for partition in stuck {
            // One given up meanwhile is no longer this process's to repair.
            if self.holds(topic, partition) {
                tracing::warn!(topic, partition, "claiming a stuck partition again");
                self.claim(topic, partition).await?;
            }
            let key = (topic.to_owned(), partition);
            self.broken.lock().map_err(|_| LogError::Closed)?.remove(&key);
        }
        Ok(())
    }

    fn partition_lock(&self, topic: &str, partition: u32) -> Result<PartitionLock, LogError> {
        let mut locks = self.partition_locks.lock().map_err(|_| LogError::Closed)?;
        Ok(Arc::clone(locks.entry((topic.to_owned(), partition)).or_default()))
    }

    /// This process's count of commits to an owned partition (`None` for other topics).
    fn commits_to(&self, topic: &str, partition: u32) -> Result<Option<Arc<AtomicU64>>, LogError> {
        // Only a partition this process holds can see commits of its own.
        if !self.owned_topic(topic) || !self.holds(topic, partition) {
            return Ok(None);
        }
        let mut commits = self.commits.lock().map_err(|_| LogError::Closed)?;
        Ok(Some(Arc::clone(commits.entry((topic.to_owned(), partition)).or_default())))
    }

    /// Catches the index up if something marked it stale; marked again if that fails.
    async fn catch_up_if_stale(&self) -> Result<(), LogError> {
        if self.stale.swap(false, Ordering::SeqCst)
            && let Err(e) = self.catch_up().await
        {
            self.stale.store(true, Ordering::SeqCst);
            return Err(e);
        }
        Ok(())
    }

    /// See `KafkaSettings::hold_before_commit`.
    async fn hold_before_commit(&self, open: &HashMap<u32, Arc<FutureProducer>>) {
        let Some(file) = &self.settings.hold_before_commit else { return };
        if open.is_empty() {
            return;
        }
        while file.exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn is_transient(&self, topic: &str) -> Result<bool, LogError> {
        Ok(self.transient.read().map_err(|_| LogError::Closed)?.contains(topic))
    }

    /// The oldest offset still kept and the offset the next record will get.
    async fn watermarks(&self, topic: &str, partition: u32) -> Result<(u64, u64), LogError> {
        self.check_partition(topic, partition)?;
        let reader = Arc::clone(&self.reader);
        let topic = topic.to_owned();
        blocking(move || {
            let reader = reader.lock().map_err(|_| LogError::Closed)?;
            let deadline = Instant::now() + Duration::from_millis(KAFKA_REQUEST_TIMEOUT_MS);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match reader.fetch_watermarks(&topic, as_partition(partition), left) {
                    Ok((low, high)) => {
                        let offset = |watermark: i64| {
                            u64::try_from(watermark)
                                .map_err(|_| corrupt(topic.as_str(), "negative watermark"))
                        };
                        return Ok((offset(low)?, offset(high)?));
                    }
                    // Leader elections (after creation, or a broker restart) pass.
                    Err(e) if transient(&e) && !left.is_zero() => {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    Err(e) => return Err(kafka_error("watermarks", e)),
                }
            }
        })
        .await
    }

    /// Creates or checks a topic: a ledger topic (kept forever, indexed) without
    /// `retention_ms`, a transient one with it.
    async fn create(
        &self,
        topic: &str,
        partitions: u32,
        retention_ms: Option<u64>,
    ) -> Result<(), LogError> {
        if partitions == 0 || partitions > TOPIC_PARTITIONS_MAX {
            return Err(LogError::InvalidTopic {
                reason: format!("{partitions} partitions; 1 to {TOPIC_PARTITIONS_MAX} allowed"),
            });
        }
        if self.existing_partitions(topic).await?.is_none() {
            let min_insync = self.settings.min_insync_replicas.to_string();
            let retention = retention_ms.map_or_else(|| "-1".to_owned(), |ms| ms.to_string());
            let new = NewTopic::new(
                topic,
                as_partition(partitions),
                TopicReplication::Fixed(self.settings.replication_factor),
            )
            .set("cleanup.policy", "delete")
            .set("retention.ms", &retention)
            .set("retention.bytes", "-1")
            .set("min.insync.replicas", &min_insync);
            let options = AdminOptions::new()
                .operation_timeout(Some(Duration::from_millis(KAFKA_REQUEST_TIMEOUT_MS)));
            let results = self
                .admin
                .create_topics([&new], &options)
                .await
                .map_err(|e| kafka_error("create topic", e))?;
            for result in results {
                match result {
                    Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((name, code)) => {
                        return Err(LogError::InvalidTopic {
                            reason: format!("cannot create {name}: {code}"),
                        });
                    }
                }
            }
        }
        // Metadata lags creation a little; wait until the partitions are visible.
        let deadline = Instant::now() + Duration::from_millis(KAFKA_REQUEST_TIMEOUT_MS);
        let existing = loop {
            if let Some(existing) = self.existing_partitions(topic).await? {
                break existing;
            }
            if Instant::now() > deadline {
                return Err(LogError::Unavailable { reason: format!("{topic} did not appear") });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        if existing != partitions {
            return Err(LogError::PartitionMismatch {
                topic: topic.to_owned(),
                existing,
                requested: partitions,
            });
        }
        if retention_ms.is_some() {
            // Outside input: whatever retention its operator chose is theirs to choose.
            self.transient.write().map_err(|_| LogError::Closed)?.insert(topic.to_owned());
        } else {
            self.check_topic_config(topic).await?;
        }
        self.topics.write().map_err(|_| LogError::Closed)?.insert(topic.to_owned(), partitions);
        self.stale.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn partitions_of(&self, topic: &str) -> Result<u32, LogError> {
        let topics = self.topics.read().map_err(|_| LogError::Closed)?;
        topics.get(topic).copied().ok_or_else(|| LogError::UnknownTopic { topic: topic.to_owned() })
    }

    fn check_partition(&self, topic: &str, partition: u32) -> Result<(), LogError> {
        let partitions = self.partitions_of(topic)?;
        if partition >= partitions {
            return Err(LogError::NoSuchPartition {
                topic: topic.to_owned(),
                partition,
                partitions,
            });
        }
        Ok(())
    }

    /// The partition count of an existing topic, or `None` if it does not exist.
    async fn existing_partitions(&self, topic: &str) -> Result<Option<u32>, LogError> {
        let reader = Arc::clone(&self.reader);
        let name = topic.to_owned();
        blocking(move || {
            let reader = reader.lock().map_err(|_| LogError::Closed)?;
            let metadata = reader
                .fetch_metadata(Some(&name), Duration::from_millis(KAFKA_REQUEST_TIMEOUT_MS))
                .map_err(|e| kafka_error("metadata", e))?;
            let Some(found) = metadata.topics().iter().find(|t| t.name() == name) else {
                return Ok(None);
            };
            // A partition without a leader cannot be written or read yet (just created, or
            // an election is running): treat the topic as not there yet.
            let led = found.partitions().iter().all(|p| p.leader() >= 0 && p.error().is_none());
            if found.error().is_some() || found.partitions().is_empty() || !led {
                return Ok(None);
            }
            Ok(Some(u32::try_from(found.partitions().len()).unwrap_or(u32::MAX)))
        })
        .await
    }

    /// Refuses an existing topic whose settings would lose or rewrite signed events.
    async fn check_topic_config(&self, topic: &str) -> Result<(), LogError> {
        let options = AdminOptions::new()
            .request_timeout(Some(Duration::from_millis(KAFKA_REQUEST_TIMEOUT_MS)));
        let results = self
            .admin
            .describe_configs([&ResourceSpecifier::Topic(topic)], &options)
            .await
            .map_err(|e| kafka_error("describe topic config", e))?;
        let resource = results
            .into_iter()
            .next()
            .ok_or_else(|| LogError::Unavailable { reason: "no topic config returned".to_owned() })?
            .map_err(|code| LogError::Unavailable { reason: format!("topic config: {code}") })?;
        let value = |name: &str| resource.get(name).and_then(|e| e.value.clone());
        if let Some(policy) = value("cleanup.policy")
            && policy.contains("compact")
        {
            return Err(LogError::InvalidTopic {
                reason: format!(
                    "{topic} has cleanup.policy={policy}: signed events must never be compacted"
                ),
            });
        }
        for name in ["retention.ms", "retention.bytes"] {
            if let Some(limit) = value(name)
                && limit != "-1"
            {
                return Err(LogError::InvalidTopic {
                    reason: format!("{topic} has {name}={limit}: signed events are kept forever"),
                });
            }
        }
        Ok(())
    }

    /// Indexes every record of every known topic that the index has not seen yet.
    async fn catch_up(&self) -> Result<(), LogError> {
        let topics: Vec<(String, u32)> = {
            let topics = self.topics.read().map_err(|_| LogError::Closed)?;
            let transient = self.transient.read().map_err(|_| LogError::Closed)?;
            topics
                .iter()
                .filter(|(t, _)| !transient.contains(*t))
                .map(|(t, p)| (t.clone(), *p))
                .collect()
        };
        for (topic, partitions) in topics {
            for partition in 0..partitions {
                let mut from = match self.index.get(indexed_key(&topic, partition))? {
                    Some(value) => {
                        let bytes: [u8; 8] = value
                            .as_slice()
                            .try_into()
                            .map_err(|_| corrupt("kafka id index", "indexed offset"))?;
                        u64::from_le_bytes(bytes)
                    }
                    None => 0,
                };
                let end = self.end_offset(&topic, partition).await?;
                while from < end {
                    let (records, next) =
                        self.read_raw(&topic, partition, from, READ_RECORDS_MAX).await?;
                    if next == from {
                        break;
                    }
                    let mut batch = WriteBatch::default();
                    for (record, identity) in &records {
                        match identity {
                            Some((id, digest)) => {
                                batch
                                    .put(id_key(id), encode_entry(&topic, record.position, digest));
                            }
                            None => tracing::warn!(
                                topic,
                                partition,
                                offset = record.position.offset,
                                "record without locker id headers (produced outside locker?)"
                            ),
                        }
                    }
                    batch.put(indexed_key(&topic, partition), next.to_le_bytes());
                    self.index.write(batch)?;
                    from = next;
                }
            }
        }
        Ok(())
    }

    /// Records of one partition with their identity headers, and where the next read starts.
    async fn read_raw(
        &self,
        topic: &str,
        partition: u32,
        from_offset: u64,
        max_records: usize,
    ) -> Result<RawBatch, LogError> {
        let (oldest, end) = self.watermarks(topic, partition).await?;
        // A ledger topic keeps everything (an offset below the oldest is an error from Kafka);
        // a transient one is read from what retention left.
        let from_offset =
            if self.is_transient(topic)? { from_offset.max(oldest) } else { from_offset };
        if from_offset >= end || max_records == 0 {
            return Ok((Vec::new(), from_offset));
        }
        let wanted = usize::try_from(end - from_offset).unwrap_or(usize::MAX).min(max_records);
        // Only owners' transactions leave offsets without records (markers); elsewhere offsets
        // are dense, and a reader never steps past its last record (a new leader's watermark
        // may briefly lag the old one's). Owned topics: see ARCHITECTURE.md, known limits.
        let markers = self.owned_topic(topic);
        let reader = Arc::clone(&self.reader);
        let topic = topic.to_owned();
        blocking(move || {
            let reader = reader.lock().map_err(|_| LogError::Closed)?;
            assign_at(&reader, &topic, partition, from_offset)?;
            let deadline = Instant::now() + Duration::from_millis(KAFKA_REQUEST_TIMEOUT_MS);
            let mut out = Vec::with_capacity(wanted);
            // Kafka offsets may have gaps (transaction markers), so stop at the end of what is
            // committed (end of partition), never after counting `end - from` records.
            let mut next = from_offset;
            while out.len() < wanted && next < end {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(LogError::Unavailable {
                        reason: format!(
                            "read {topic}/{partition} from {from_offset}: reached {next} of \
                             {end} in {KAFKA_REQUEST_TIMEOUT_MS} ms"
                        ),
                    });
                }
                let Some(message) = reader.poll(left.min(Duration::from_millis(500))) else {
                    continue;
                };
                let message = match message {
                    Ok(message) => message,
                    // The reader is shared: an end of another partition's earlier read.
                    Err(KafkaError::PartitionEOF(other)) if other != as_partition(partition) => {
                        continue;
                    }
                    Err(KafkaError::PartitionEOF(_)) if !markers => break,
                    // Where the consumer stands is past every record and marker it fetched.
                    // Without a position (nothing fetched since the assignment: a new leader
                    // whose stable offset still lags `end` reports its end early) the read
                    // stops where it is; the caller reads again.
                    Err(KafkaError::PartitionEOF(_)) => {
                        match fetch_position(&reader, &topic, partition) {
                            Some(at) => next = next.max(at.min(end)),
                            None => tracing::debug!(%topic, partition, next, end, "end of partition without a position"),
                        }
                        break;
                    }
                    // A broker restarting or a leader moving: poll on, within the deadline.
                    Err(e) if transient(&e) => continue,
                    Err(e) => return Err(kafka_error("read", e)),
                };
                let location = format!("topic {topic} partition {partition}");
                let position = position_of(message.partition(), message.offset(), &location)?;
                next = position.offset + 1;
                let record = LogRecord {
                    position,
                    key: message.key().unwrap_or_default().to_vec(),
                    value: message.payload().unwrap_or_default().to_vec(),
                };
                out.push((record, identity_of(&message)));
            }
            reader.unassign().map_err(|e| kafka_error("unassign", e))?;
            Ok((out, next))
        })
        .await
    }
}

/// How an owner's transaction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Settled {
    Committed,
    /// Another producer took the partition's id: nothing of the transaction will be read.
    Fenced,
    /// Aborted (a record was not delivered, or the commit failed before it began).
    Aborted(String),
    /// The commit's outcome is not known: its records may be there.
    Unknown(String),
}

impl Settled {
    fn error(&self, topic: &str, partition: u32) -> LogError {
        match self {
            Settled::Committed => LogError::Closed,
            Settled::Fenced => LogError::Fenced { topic: topic.to_owned(), partition },
            Settled::Aborted(reason) => LogError::Unavailable {
                reason: format!("transaction aborted, nothing written: {reason}"),
            },
            Settled::Unknown(reason) => {
                LogError::Unavailable { reason: format!("commit not confirmed: {reason}") }
            }
        }
    }
}

/// Commits (or aborts) a producer's open transaction, retrying what librdkafka says may be
/// retried. Blocking.
fn end_transaction(producer: &FutureProducer, commit: bool) -> Settled {
    let timeout = Duration::from_millis(KAFKA_REQUEST_TIMEOUT_MS);
    let abort = |reason: String| match producer.abort_transaction(timeout) {
        Ok(()) => Settled::Aborted(reason),
        Err(e) if is_fenced(&e) => Settled::Fenced,
        Err(e) => Settled::Unknown(format!("{reason}; abort failed: {e}")),
    };
    if !commit {
        return abort("a record was not delivered".to_owned());
    }
    for _ in 0..3 {
        match producer.commit_transaction(timeout) {
            Ok(()) => return Settled::Committed,
            Err(e) if is_fenced(&e) => return Settled::Fenced,
            Err(KafkaError::Transaction(e)) if e.txn_requires_abort() => {
                return abort(e.to_string());
            }
            Err(KafkaError::Transaction(e)) if e.is_retriable() => {}
            Err(e) => return Settled::Unknown(e.to_string()),
        }
    }
    Settled::Unknown("commit still retriable after 3 tries".to_owned())
}

/// Copies of an id later in one call share the first copy's outcome.
fn share_first_outcomes(
    requests: &[AppendRequest],
    results: &mut [Option<Result<Appended, LogError>>],
    in_call: &HashMap<EventId, (usize, Digest32)>,
) {
    for (index, request) in requests.iter().enumerate() {
        if results[index].is_none() {
            let (first, _) = in_call[&request.id];
            results[index] = Some(match &results[first] {
                Some(Ok(appended)) => Ok(Appended::Existing(appended.position())),
                Some(Err(LogError::Fenced { topic, partition })) => {
                    Err(LogError::Fenced { topic: topic.clone(), partition: *partition })
                }
                Some(Err(LogError::NotOwner { topic, partition })) => {
                    Err(LogError::NotOwner { topic: topic.clone(), partition: *partition })
                }
                Some(Err(e)) => Err(LogError::Unavailable { reason: e.to_string() }),
                None => Err(LogError::Closed),
            });
        }
    }
}

type Delivery = rdkafka::producer::DeliveryFuture;

/// Each sent record's position, or why it was not delivered.
async fn await_deliveries(
    topic: &str,
    deliveries: Vec<(usize, u32, Delivery)>,
) -> Vec<(usize, u32, Result<Position, LogError>)> {
    let mut delivered = Vec::with_capacity(deliveries.len());
    for (index, partition, delivery) in deliveries {
        let outcome = match delivery.await {
            Ok(Ok(d)) => position_of(d.partition, d.offset, topic),
            Ok(Err((e, _))) => Err(kafka_error("delivery", e)),
            Err(_) => Err(LogError::Closed),
        };
        delivered.push((index, partition, outcome));
    }
    delivered
}

/// Errors that a leader election or a starting broker produce, and that pass by themselves.
fn transient(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
        )
    )
}

fn reader_config(common: &ClientConfig) -> ClientConfig {
    let mut config = common.clone();
    config
        // Never used for group membership or commits: positions belong to the reader.
        .set("group.id", "locker-reader")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "error")
        // Records of transactions not (yet) committed are never read; watermarks are then
        // the last stable offset.
        .set("isolation.level", "read_committed")
        .set("check.crcs", "true")
        // A read asks for what is below the end it has seen, so the broker answers at once,
        // except over a tail of transaction markers only: there it holds the fetch this long
        // before the reader learns it reached the end (every write waits for that).
        .set("fetch.wait.max.ms", KAFKA_READ_WAIT_MS.to_string());
    config
}

/// Points a consumer at one partition from `offset` (explicit assignment: no group, no
/// committed offsets). Returns the offset as Kafka's signed type.
fn assign_at(
    consumer: &BaseConsumer<Quiet>,
    topic: &str,
    partition: u32,
    offset: u64,
) -> Result<i64, LogError> {
    let start = i64::try_from(offset)
        .map_err(|_| corrupt(topic, format!("offset {offset} beyond int64")))?;
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, as_partition(partition), Offset::Offset(start))
        .map_err(|e| kafka_error("assign", e))?;
    consumer.assign(&assignment).map_err(|e| kafka_error("assign", e))?;
    Ok(start)
}

/// A reader's context: reaching a partition's end is how reads end, not an error to log
/// (librdkafka reports the end of a partition no longer assigned as a client error).
pub(crate) struct Quiet;

impl rdkafka::ClientContext for Quiet {
    fn error(&self, error: KafkaError, reason: &str) {
        let end = matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        );
        if !end {
            tracing::error!(%error, reason, "librdkafka");
        }
    }
}

impl ConsumerContext for Quiet {}

/// The offset the consumer fetches `partition` of `topic` from next, if it has one.
fn fetch_position(consumer: &BaseConsumer<Quiet>, topic: &str, partition: u32) -> Option<u64> {
    let positions = consumer.position().ok()?;
    let element = positions.find_partition(topic, as_partition(partition))?;
    match element.offset() {
        Offset::Offset(at) => u64::try_from(at).ok(),
        _ => None,
    }
}

/// Runs blocking librdkafka calls off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, LogError> + Send + 'static,
) -> Result<T, LogError> {
    tokio::task::spawn_blocking(work).await.map_err(|_| LogError::Closed)?
}

impl Log for KafkaLog {
    async fn create_topic(&self, topic: &str, partitions: u32) -> Result<(), LogError> {
        self.create(topic, partitions, None).await
    }

    async fn create_transient_topic(
        &self,
        topic: &str,
        partitions: u32,
        retention_ms: u64,
    ) -> Result<(), LogError> {
        self.create(topic, partitions, Some(retention_ms)).await
    }

    fn partitions(&self, topic: &str) -> Result<u32, LogError> {
        self.partitions_of(topic)
    }

    async fn append(
        &self,
        topic: &str,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<Result<Appended, LogError>>, LogError> {
        let partitions = self.partitions_of(topic)?;
        super::check_requests(&requests)?;
        let _serialised = self.serialise(topic, partitions, &requests).await?;
        // Outside input is not indexed: its records are gone after the retention anyway.
        let indexed = !self.is_transient(topic)?;
        let known = if indexed {
            let ids: Vec<EventId> = requests.iter().map(|r| r.id).collect();
            self.indexed(&ids)?
        } else {
            vec![None; requests.len()]
        };
        let mut results: Vec<Option<Result<Appended, LogError>>> =
            (0..requests.len()).map(|_| None).collect();
        let mut in_call: HashMap<EventId, (usize, Digest32)> = HashMap::new();
        let mut deliveries = Vec::new();
        let mut open: HashMap<u32, Arc<FutureProducer>> = HashMap::new(); // begun transactions
        for (index, (request, entry)) in requests.iter().zip(known).enumerate() {
            if let Some(entry) = entry {
                results[index] = Some(if entry.digest == request.digest {
                    Ok(Appended::Existing(entry.position))
                } else {
                    Err(LogError::IdConflict { event_id: request.id })
                });
                continue;
            }
            if let Some((_, digest)) = in_call.get(&request.id) {
                // Resolved once the first copy is delivered (below).
                if *digest != request.digest {
                    results[index] = Some(Err(LogError::IdConflict { event_id: request.id }));
                }
                continue;
            }
            in_call.insert(request.id, (index, request.digest));
            let partition = partition_for(&request.key, partitions);
            let owner = match self.transaction_for(topic, partition, &mut open) {
                Ok(owner) => owner,
                Err(e) => {
                    results[index] = Some(Err(e));
                    continue;
                }
            };
            let headers = OwnedHeaders::new()
                .insert(Header { key: HEADER_ID, value: Some(request.id.as_bytes()) })
                .insert(Header { key: HEADER_DIGEST, value: Some(request.digest.as_bytes()) });
            let record = FutureRecord::to(topic)
                .partition(as_partition(partition))
                .key(&request.key)
                .payload(&request.value)
                .headers(headers);
            match owner.as_deref().unwrap_or(&self.producer).send_result(record) {
                Ok(delivery) => deliveries.push((index, partition, delivery)),
                Err((e, _)) => {
                    results[index] = Some(Err(kafka_error("enqueue", e)));
                }
            }
        }
        let delivered = await_deliveries(topic, deliveries).await;
        let failed: HashSet<u32> =
            delivered.iter().filter(|(_, _, o)| o.is_err()).map(|(_, p, _)| *p).collect();
        self.hold_before_commit(&open).await;
        let settled = self.settle(topic, open, &failed).await;
        let mut batch = WriteBatch::default();
        for (index, partition, outcome) in delivered {
            let request = &requests[index];
            let outcome = match (outcome, settled.get(&partition)) {
                (Ok(position), None | Some(Settled::Committed)) => {
                    if indexed {
                        batch.put(
                            id_key(&request.id),
                            encode_entry(topic, position, &request.digest),
                        );
                    }
                    Ok(Appended::New(position))
                }
                (
                    _,
                    Some(settled @ (Settled::Fenced | Settled::Aborted(_) | Settled::Unknown(_))),
                ) => Err(settled.error(topic, partition)),
                (Err(e), _) => Err(e),
            };
            if outcome.is_err() {
                // It may have landed all the same: re-read before trusting the index again.
                self.stale.store(true, Ordering::SeqCst);
            }
            results[index] = Some(outcome);
        }
        self.index.write(batch)?;
        share_first_outcomes(&requests, &mut results, &in_call);
        Ok(results.into_iter().map(|r| r.unwrap_or(Err(LogError::Closed))).collect())
    }

    /// After a claim or a failed append the index may lack what another process (or a late
    /// delivery) wrote: it is caught up first, as an append would, so a retry through the
    /// new owner is seen as one.
    async fn lookup(&self, ids: &[EventId]) -> Result<Vec<Option<IdEntry>>, LogError> {
        if self.stale.load(Ordering::SeqCst) {
            let _alone = self.append_lock.write().await;
            self.catch_up_if_stale().await?;
        }
        self.indexed(ids)
    }

    async fn read(
        &self,
        topic: &str,
        partition: u32,
        from_offset: u64,
        max_records: usize,
    ) -> Result<Vec<LogRecord>, LogError> {
        Ok(self.read_batch(topic, partition, from_offset, max_records).await?.records)
    }

    async fn read_batch(
        &self,
        topic: &str,
        partition: u32,
        from_offset: u64,
        max_records: usize,
    ) -> Result<ReadBatch, LogError> {
        let (records, next_offset) =
            self.read_raw(topic, partition, from_offset, max_records.min(READ_RECORDS_MAX)).await?;
        Ok(ReadBatch {
            records: records.into_iter().map(|(record, _)| record).collect(),
            next_offset,
        })
    }

    async fn end_offset(&self, topic: &str, partition: u32) -> Result<u64, LogError> {
        Ok(self.watermarks(topic, partition).await?.1)
    }

    fn dense_offsets(&self) -> bool {
        false
    }

    async fn wait_for(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        timeout: Duration,
    ) -> Result<bool, LogError> {
        if self.end_offset(topic, partition).await? > offset {
            return Ok(true);
        }
        // A consumer of its own, parked in the broker's long-poll fetch: no busy polling.
        // Idle ones are kept and reassigned, so a follower that waits again and again does
        // not connect anew each time.
        let idle = self.waiters.lock().map_err(|_| LogError::Closed)?.pop();
        let consumer = match idle {
            Some(consumer) => consumer,
            None => {
                let mut common = ClientConfig::new();
                common.set("bootstrap.servers", &self.settings.bootstrap_servers);
                let mut config = reader_config(&common);
                // A transaction's records become readable when its commit marker is written,
                // which does not end the broker's long poll: where owners write in
                // transactions, waiters ask again sooner (idle waiters serve any topic).
                let owners = !self.settings.owned_topics.is_empty();
                let wait_ms = if owners { KAFKA_OWNED_WAIT_POLL_MS } else { 500 };
                config.set("fetch.wait.max.ms", wait_ms.to_string());
                config.create_with_context(Quiet).map_err(|e| kafka_error("waiting consumer", e))?
            }
        };
        let commits = self.commits_to(topic, partition)?;
        let topic = topic.to_owned();
        let (consumer, woken) = blocking(move || {
            let woken = wait_with(&consumer, &topic, partition, offset, timeout, commits);
            Ok((consumer, woken))
        })
        .await?;
        // A consumer that failed is dropped; a new one is made next time.
        if woken.is_ok() {
            let mut waiters = self.waiters.lock().map_err(|_| LogError::Closed)?;
            if waiters.len() < KAFKA_WAITERS_IDLE_MAX {
                waiters.push(consumer);
            }
        }
        woken
    }
}

/// Waits on `consumer`, assigned at `offset`, until a record at or past it arrives.
fn wait_with(
    consumer: &BaseConsumer<Quiet>,
    topic: &str,
    partition: u32,
    offset: u64,
    timeout: Duration,
    commits: Option<Arc<AtomicU64>>,
) -> Result<bool, LogError> {
    let seen = commits.as_ref().map(|c| c.load(Ordering::SeqCst));
    let start = assign_at(consumer, topic, partition, offset)?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        // This process committed to the partition since the wait began: readable now.
        if commits.as_ref().map(|c| c.load(Ordering::SeqCst)) != seen {
            return Ok(true);
        }
        let slice = match commits {
            Some(_) => left.min(Duration::from_millis(KAFKA_COMMIT_WAKE_MS)),
            None => left,
        };
        match consumer.poll(slice) {
            // Only this assignment's records count: a reused consumer may still hand out one
            // fetched for its previous wait.
            Some(Ok(message))
                if message.topic() == topic
                    && message.partition() == as_partition(partition)
                    && message.offset() >= start =>
            {
                return Ok(true);
            }
            Some(Ok(_)) | None => {}
            // "Offset out of range" until the record exists: keep waiting.
            Some(Err(KafkaError::MessageConsumption(_))) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(Err(e)) => return Err(kafka_error("wait", e)),
        }
    }
}

/// For test suites: the broker in `KAFKA_BOOTSTRAP`, or `None` after saying once, on stderr
/// (which libtest does not capture), that Kafka tests are skipped. Under `CI=true` a missing
/// broker panics: there, Kafka tests must run.
pub fn test_bootstrap() -> Option<String> {
    use std::io::Write;
    match std::env::var("KAFKA_BOOTSTRAP") {
        Ok(address) if !address.is_empty() => Some(address),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but KAFKA_BOOTSTRAP is not set: Kafka tests must run in CI \
                 (scripts/test starts a broker and sets it)"
            );
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "skipping Kafka tests: KAFKA_BOOTSTRAP is not set (scripts/test starts a broker)"
                );
            });
            None
        }
    }
}
