use schemas::{ActorKind, EventId, KeyId, SchemaError};
use thiserror::Error;

/// Why the ledger refused a record or could not do its work.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LedgerError {
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("signature does not verify for event {event_id}")]
    BadSignature { event_id: EventId },
    #[error("e-signature does not verify with the citizen's key")]
    BadESignature,
    #[error("unknown actor {actor}")]
    UnknownActor { actor: String },
    #[error("key {key_id} is not registered for {actor}")]
    UnknownKey { actor: String, key_id: KeyId },
    #[error("key {key_id} of {actor} was rotated out and signs nothing new")]
    KeyRotatedOut { actor: String, key_id: KeyId },
    #[error("key {key_id} of {actor} is revoked")]
    KeyRevoked { actor: String, key_id: KeyId },
    #[error("{actor} is suspended")]
    ActorSuspended { actor: String },
    #[error("locker {locker} is closed: nothing more is appended to it")]
    LockerClosed { locker: String },
    #[error("a {actor_kind:?} may not emit {event_kind}: {reason}")]
    NotPermitted { actor_kind: ActorKind, event_kind: &'static str, reason: String },
    #[error("invalid public key: {reason}")]
    InvalidKey { reason: String },
    #[error("{what} is already registered")]
    AlreadyRegistered { what: String },
    #[error("event id {event_id} already names a different event")]
    IdConflict { event_id: EventId },
    #[error("batch of {records} records exceeds the limit of {limit}")]
    BatchTooLarge { records: usize, limit: usize },
    #[error("sealed payload does not open or does not match its commitment")]
    SealBroken,
    #[error(
        "this log was written under another platform key: {location} is signed by key {key_id}, \
         which the configured platform keys do not include (wrong data folder or topics?)"
    )]
    ForeignLog { location: String, key_id: KeyId },
    #[error("snapshot: {0}")]
    Snapshot(String),
    #[error("log: {0}")]
    Log(#[from] LogError),
    #[error("Merkle tree: {0}")]
    Tree(#[from] crate::merkle::ProofError),
}

/// Errors of a log backend.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LogError {
    #[error("unknown topic {topic:?}")]
    UnknownTopic { topic: String },
    #[error("topic {topic:?} exists with {existing} partitions, not {requested}")]
    PartitionMismatch { topic: String, existing: u32, requested: u32 },
    #[error("invalid topic: {reason}")]
    InvalidTopic { reason: String },
    #[error("partition {partition} out of range: topic {topic:?} has {partitions}")]
    NoSuchPartition { topic: String, partition: u32, partitions: u32 },
    #[error("record of {size_bytes} bytes exceeds the limit of {limit_bytes} bytes")]
    RecordTooLarge { size_bytes: usize, limit_bytes: usize },
    #[error("partition key of {size_bytes} bytes exceeds the limit of {limit_bytes} bytes")]
    KeyTooLarge { size_bytes: usize, limit_bytes: usize },
    #[error("event id {event_id} already names a different event")]
    IdConflict { event_id: EventId },
    #[error("stored data is corrupt at {location}: {reason}")]
    Corrupt { location: String, reason: String },
    #[error("storage: {0}")]
    Storage(String),
    #[error("log unavailable: {reason}")]
    Unavailable { reason: String },
    /// Appends to this partition go through its owner, and this process does not hold it.
    #[error("this node does not own {topic}/{partition}: its owner appends to it")]
    NotOwner { topic: String, partition: u32 },
    /// Another process took the partition over since this one claimed it: its appends were
    /// aborted, and it must not append there again.
    #[error("fenced: {topic}/{partition} was taken over by another owner; nothing was written")]
    Fenced { topic: String, partition: u32 },
    #[error("the log is shut down")]
    Closed,
}

#[cfg(feature = "store")]
impl From<rocksdb::Error> for LogError {
    fn from(e: rocksdb::Error) -> Self {
        LogError::Storage(e.into_string())
    }
}
