use thiserror::Error;

/// Why a projection could not be built or read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// The documented policy for an event the views cannot apply: its partition stops there,
    /// with the position and the reason, until the cause is fixed; it is never skipped.
    #[error("topic {topic} partition {partition} stopped at offset {offset}: {reason}")]
    Halted { topic: String, partition: u32, offset: u64, reason: String },
    #[error("view store: {0}")]
    Store(String),
    #[error("stored view at {location} does not decode: {reason}")]
    Corrupt { location: String, reason: String },
    /// Not a cursor at all (a list's cursor is the hex of a key, at most `CURSOR_CHARS_MAX`).
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    /// A well-formed cursor that this list never gave (another list's or another locker's).
    #[error("invalid cursor: {0}")]
    ForeignCursor(String),
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
    #[error(transparent)]
    Log(#[from] ledger::LogError),
}

impl From<rocksdb::Error> for ProjectionError {
    fn from(e: rocksdb::Error) -> Self {
        ProjectionError::Store(e.into_string())
    }
}
