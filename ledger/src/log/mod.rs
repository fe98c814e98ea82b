//! The `Log` abstraction: Kafka's semantics, implemented by the embedded RocksDB backend here
//! and by Kafka later, so the code above it runs unchanged on either.
//!
//! - Named topics with a fixed number of partitions.
//! - Records keyed by a partition key; one key's records stay in one partition, in order.
//! - `append` returns positions only once the records are durable.
//! - Reads are ordered from a position; `wait_for` parks a reader until new records arrive.
//! - Appends are idempotent by event id: the same id and digest return the first position;
//!   the same id with another digest is refused.

#[cfg(feature = "store")]
pub mod embedded;
#[cfg(feature = "store")]
pub mod group;
#[cfg(feature = "store")]
pub mod kafka;
#[cfg(feature = "store")]
pub mod segment;

use std::future::Future;
use std::time::Duration;

use schemas::{Digest32, EventId};

use crate::LogError;

/// A position in a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    pub partition: u32,
    pub offset: u64,
}

/// One record to append.
#[derive(Clone, Debug)]
pub struct AppendRequest {
    /// The idempotency key.
    pub id: EventId,
    /// What makes two records with the same id "the same": the event hash.
    pub digest: Digest32,
    /// The partition key.
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// The outcome of one appended record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Written now, at this position.
    New(Position),
    /// The same event was already in the log, at this position; nothing was written.
    Existing(Position),
}

impl Appended {
    pub fn position(&self) -> Position {
        match self {
            Appended::New(p) | Appended::Existing(p) => *p,
        }
    }
}

/// Where an event id already sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdEntry {
    pub topic: String,
    pub position: Position,
    pub digest: Digest32,
}

/// A record read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub position: Position,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// Records read from a partition, and the offset the next read continues from: past the last
/// record, and past offsets that hold no record (Kafka's transaction markers) up to where the
/// read stopped, so a reader that caught up stands at `end_offset`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadBatch {
    pub records: Vec<LogRecord>,
    pub next_offset: u64,
}

pub trait Log: Send + Sync + 'static {
    /// Creates the topic, or checks that it exists with this many partitions.
    fn create_topic(
        &self,
        topic: &str,
        partitions: u32,
    ) -> impl Future<Output = Result<(), LogError>> + Send;

    /// Creates (or checks the partitions of) a topic for input that is not ledger events: what
    /// producers outside the ledger write for it to consume (the issuers' inbox). On Kafka it
    /// keeps records `retention_ms` (an existing topic keeps the retention its operator set),
    /// its records are never indexed by id, and a read from an offset retention deleted starts
    /// at the oldest record kept. The embedded log, which only its own process writes, treats
    /// it as any topic.
    fn create_transient_topic(
        &self,
        topic: &str,
        partitions: u32,
        retention_ms: u64,
    ) -> impl Future<Output = Result<(), LogError>> + Send;

    fn partitions(&self, topic: &str) -> Result<u32, LogError>;

    /// Appends the records, each to the partition its key hashes to. Resolves once every
    /// record is durable; the outer error means nothing of this call was written; an inner one
    /// refuses that record alone (an id conflict).
    fn append(
        &self,
        topic: &str,
        requests: Vec<AppendRequest>,
    ) -> impl Future<Output = Result<Vec<Result<Appended, LogError>>, LogError>> + Send;

    /// Where each id sits, if it was appended.
    fn lookup(
        &self,
        ids: &[EventId],
    ) -> impl Future<Output = Result<Vec<Option<IdEntry>>, LogError>> + Send;

    /// Up to `max_records` records of one partition, from `from_offset` on, in order.
    fn read(
        &self,
        topic: &str,
        partition: u32,
        from_offset: u64,
        max_records: usize,
    ) -> impl Future<Output = Result<Vec<LogRecord>, LogError>> + Send;

    /// Whether every offset below the end holds a record. Kafka's do not where transactions
    /// wrote (their markers take offsets); there a record cannot go missing from within a
    /// partition kept forever, and the checkpoints' record counts and roots prove the sequence.
    fn dense_offsets(&self) -> bool {
        true
    }

    /// `read`, with where the next read continues (see `ReadBatch`). A log with dense offsets
    /// continues after the last record.
    fn read_batch(
        &self,
        topic: &str,
        partition: u32,
        from_offset: u64,
        max_records: usize,
    ) -> impl Future<Output = Result<ReadBatch, LogError>> + Send {
        async move {
            let records = self.read(topic, partition, from_offset, max_records).await?;
            let next_offset = records.last().map_or(from_offset, |r| r.position.offset + 1);
            Ok(ReadBatch { records, next_offset })
        }
    }

    /// The offset after the last record a reader can see (Kafka: the last stable offset, the
    /// high watermark when no transaction is open; markers included).
    fn end_offset(
        &self,
        topic: &str,
        partition: u32,
    ) -> impl Future<Output = Result<u64, LogError>> + Send;

    /// Waits until the partition holds a record at `offset` (true), or `timeout` passes
    /// (false). Parks the task; no polling.
    fn wait_for(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        timeout: Duration,
    ) -> impl Future<Output = Result<bool, LogError>> + Send;
}

/// The bounds every backend puts on a record before accepting a call.
#[cfg(feature = "store")]
pub(crate) fn check_requests(requests: &[AppendRequest]) -> Result<(), LogError> {
    use crate::limits::{PARTITION_KEY_BYTES_MAX, RECORD_SIZE_BYTES_MAX};
    for request in requests {
        if request.value.len() > RECORD_SIZE_BYTES_MAX {
            return Err(LogError::RecordTooLarge {
                size_bytes: request.value.len(),
                limit_bytes: RECORD_SIZE_BYTES_MAX,
            });
        }
        if request.key.len() > PARTITION_KEY_BYTES_MAX {
            return Err(LogError::KeyTooLarge {
                size_bytes: request.key.len(),
                limit_bytes: PARTITION_KEY_BYTES_MAX,
            });
        }
    }
    Ok(())
}

/// Calls `visit` with every record of `topic`, partition by partition, each in offset order,
/// reading `READ_RECORDS_MAX` records at a time. Stops at the first error.
pub async fn scan_topic<L: Log, E: From<LogError>>(
    log: &L,
    topic: &str,
    visit: impl FnMut(&LogRecord) -> Result<(), E>,
) -> Result<(), E> {
    scan_topic_from(log, topic, |_| 0, visit).await
}

/// `scan_topic` from `from(partition)` on in each partition (a snapshot's tail).
pub async fn scan_topic_from<L: Log, E: From<LogError>>(
    log: &L,
    topic: &str,
    from: impl Fn(u32) -> u64,
    mut visit: impl FnMut(&LogRecord) -> Result<(), E>,
) -> Result<(), E> {
    for partition in 0..log.partitions(topic)? {
        let mut offset = from(partition);
        loop {
            let batch = log.read(topic, partition, offset, crate::limits::READ_RECORDS_MAX).await?;
            let Some(last) = batch.last() else { break };
            offset = last.position.offset + 1;
            for record in &batch {
                visit(record)?;
            }
        }
    }
    Ok(())
}
