//! Where a snapshot of derived state stands in the log, and the key registry's snapshot.
//!
//! A snapshot (of the registry here, of the views in the service) reflects the log up to a
//! mark in each partition: the next offset it has not seen, and the BLAKE3 of the last record
//! before it (on Kafka with owners, offsets without a record, transaction markers, may lie
//! between). A mark checks out against a log only if the partition reaches that far and that
//! record is the one the snapshot saw, so a snapshot of another log, or of a log that lost its
//! tail, is refused rather than trusted.
//!
//! The ledger does not know where snapshots are kept, nor who signed them: the service stores
//! them (in its object store) and signs them with the platform key; this module only makes and
//! checks their contents.

use schemas::Digest32;
use serde::{Deserialize, Serialize};

use crate::limits::READ_RECORDS_MAX;
use crate::log::Log;
use crate::registry::KeyRegistry;
use crate::{LedgerError, LogError};

/// How far a snapshot reflects one partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub topic: String,
    pub partition: u32,
    /// The first offset the snapshot has not seen.
    pub next: u64,
    /// The BLAKE3 of the last record below `next` (none when there is none).
    pub last: Option<Digest32>,
}

impl std::fmt::Display for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} partition {} offset {}", self.topic, self.partition, self.next)
    }
}

/// The mark of `partition` at `next`: finds the last record below it, looking back twice as
/// far each time (a dense log finds it at `next - 1` in one read).
pub async fn mark_at<L: Log>(
    log: &L,
    topic: &str,
    partition: u32,
    next: u64,
) -> Result<Mark, LogError> {
    let mut window = 1u64;
    let last = loop {
        let from = next.saturating_sub(window);
        if from == next {
            break None;
        }
        let last = last_below(log, topic, partition, from, next).await?;
        if last.is_some() || from == 0 {
            break last;
        }
        window = window.saturating_mul(2);
    };
    Ok(Mark { topic: topic.to_owned(), partition, next, last })
}

/// The BLAKE3 of the last record in `[from, next)`, if any.
async fn last_below<L: Log>(
    log: &L,
    topic: &str,
    partition: u32,
    mut from: u64,
    next: u64,
) -> Result<Option<Digest32>, LogError> {
    let mut last = None;
    while from < next {
        let wanted = usize::try_from(next - from).unwrap_or(usize::MAX).min(READ_RECORDS_MAX);
        let batch = log.read_batch(topic, partition, from, wanted).await?;
        if let Some(record) = batch.records.iter().rev().find(|r| r.position.offset < next) {
            last = Some(Digest32(*blake3::hash(&record.value).as_bytes()));
        }
        if batch.next_offset <= from {
            break;
        }
        from = batch.next_offset;
    }
    Ok(last)
}

/// Whether `mark` holds in `log`: the partition reaches it, and the record before it is the
/// one the snapshot saw. The error says why not, for the operator.
pub async fn check_mark<L: Log>(log: &L, mark: &Mark) -> Result<(), String> {
    let end = log
        .end_offset(&mark.topic, mark.partition)
        .await
        .map_err(|e| format!("cannot read the end of {mark}: {e}"))?;
    if mark.next > end {
        return Err(format!("{mark} is past the log's end ({end}): a snapshot of another log?"));
    }
    let here = mark_at(log, &mark.topic, mark.partition, mark.next)
        .await
        .map_err(|e| format!("cannot read the record before {mark}: {e}"))?;
    if here.last != mark.last {
        return Err(format!("the record before {mark} is not the one the snapshot saw"));
    }
    Ok(())
}

/// The format of a registry snapshot; another is refused (and the registry replayed).
pub const REGISTRY_SNAPSHOT_VERSION: u32 = 1;

/// The key registry as of `marks`.
#[derive(Serialize, Deserialize)]
struct RegistrySnapshot {
    version: u32,
    marks: Vec<Mark>,
    registry: Vec<u8>,
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_little_endian().with_fixed_int_encoding()
}

/// The bytes of a registry snapshot: the snapshot, then the BLAKE3 of it (so a damaged one is
/// recognised here; the service also signs what it stores).
pub fn encode_registry(marks: Vec<Mark>, registry: &KeyRegistry) -> Result<Vec<u8>, LedgerError> {
    let snapshot = RegistrySnapshot {
        version: REGISTRY_SNAPSHOT_VERSION,
        marks,
        registry: registry.encode()?,
    };
    let mut bytes = bincode::serde::encode_to_vec(snapshot, config())
        .map_err(|e| LedgerError::Snapshot(format!("cannot encode: {e}")))?;
    let hash = blake3::hash(&bytes);
    bytes.extend_from_slice(hash.as_bytes());
    Ok(bytes)
}

/// A registry snapshot's marks and registry; refused if damaged, malformed or of another
/// version.
pub fn decode_registry(bytes: &[u8]) -> Result<(Vec<Mark>, KeyRegistry), LedgerError> {
    let split = bytes
        .len()
        .checked_sub(32)
        .ok_or_else(|| LedgerError::Snapshot("shorter than its hash".to_owned()))?;
    let (bytes, hash) = bytes.split_at(split);
    if blake3::hash(bytes).as_bytes() != hash {
        return Err(LedgerError::Snapshot("its BLAKE3 does not match: damaged".to_owned()));
    }
    let (snapshot, used): (RegistrySnapshot, usize) =
        bincode::serde::decode_from_slice(bytes, config())
            .map_err(|e| LedgerError::Snapshot(format!("malformed: {e}")))?;
    if used != bytes.len() {
        return Err(LedgerError::Snapshot(format!("{} bytes after its end", bytes.len() - used)));
    }
    if snapshot.version != REGISTRY_SNAPSHOT_VERSION {
        return Err(LedgerError::Snapshot(format!(
            "version {} (this build reads {REGISTRY_SNAPSHOT_VERSION})",
            snapshot.version
        )));
    }
    Ok((snapshot.marks, KeyRegistry::decode(&snapshot.registry)?))
}
