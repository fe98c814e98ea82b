use thiserror::Error;

/// Everything that can be wrong with a value or a record, before any IO or signature check.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemaError {
    #[error("invalid {kind}: {reason}")]
    InvalidIdentifier { kind: &'static str, reason: String },
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    #[error("record of {size_bytes} bytes exceeds the limit of {limit_bytes} bytes")]
    RecordTooLarge { size_bytes: usize, limit_bytes: usize },
    #[error("record is {size_bytes} bytes, too short to hold an envelope version")]
    RecordTruncated { size_bytes: usize },
    #[error("unsupported envelope version {found} (this build reads versions 1 to {supported})")]
    UnsupportedVersion { found: u16, supported: u16 },
    #[error("record does not decode: {0}")]
    Malformed(String),
    #[error("record has {extra_bytes} trailing bytes after the envelope")]
    TrailingBytes { extra_bytes: usize },
    #[error("JSON does not describe a valid event: {0}")]
    Json(String),
}

impl SchemaError {
    pub(crate) fn invalid(kind: &'static str, reason: impl Into<String>) -> Self {
        SchemaError::InvalidIdentifier { kind, reason: reason.into() }
    }
}
