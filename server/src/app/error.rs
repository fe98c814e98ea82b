//! The error of the use cases, the write path, the guard and the jobs: a stable code and a
//! message. It names no HTTP type; `http::error` turns it into `{code, message}` with the
//! code's status.

use wire::ErrorCode;

/// A refusal or failure of a use case: its stable code (which says the HTTP status the edge
/// answers with) and a message that says what was wrong. `http::error` renders it.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    /// The partition another node owns (`not_owner`): the edge forwards the request there.
    pub elsewhere: Option<(String, u32)>,
}

impl AppError {
    /// A refusal with its code (which says the status) and a message that says what was wrong.
    /// A code's 400 means the request breaks the published schema; its 422, that it fits the
    /// schema but a check the schema cannot state failed (a checksum, a clock window, a hash or
    /// commitment, an id derived from other fields): schemathesis holds the service to that.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError { code, message: message.into(), elsewhere: None }
    }
    /// This node may not append to the partition: another node owns it (or it is moving).
    pub fn not_owner(topic: &str, partition: u32) -> Self {
        AppError {
            code: ErrorCode::NotOwner,
            message: format!("another node owns {topic}/{partition}"),
            elsewhere: Some((topic.to_owned(), partition)),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    /// The same error with a more precise code of the same status.
    pub fn with_code(mut self, code: ErrorCode) -> Self {
        debug_assert_eq!(code.status(), self.code.status(), "{code} for {}", self.code);
        self.code = code;
        self
    }
}

impl From<projections::ProjectionError> for AppError {
    fn from(e: projections::ProjectionError) -> Self {
        match e {
            projections::ProjectionError::InvalidCursor(reason) => {
                AppError::new(ErrorCode::InvalidCursor, reason)
            }
            projections::ProjectionError::ForeignCursor(reason) => {
                AppError::new(ErrorCode::InvalidCursorAsUnprocessableEntity, reason)
            }
            other => AppError::new(ErrorCode::Internal, other.to_string()),
        }
    }
}

/// Maps the ledger's refusals to the API's stable codes.
pub(crate) fn ledger_error(e: ledger::LedgerError) -> AppError {
    use ledger::LedgerError::*;
    match e {
        BadSignature { .. } | BadESignature => {
            AppError::new(ErrorCode::BadSignature, e.to_string())
        }
        UnknownActor { .. } | UnknownKey { .. } => {
            AppError::new(ErrorCode::UnknownKey, e.to_string())
        }
        KeyRotatedOut { .. } | KeyRevoked { .. } => {
            AppError::new(ErrorCode::KeyRevoked, e.to_string())
        }
        ActorSuspended { .. } => AppError::new(ErrorCode::Suspended, e.to_string()),
        LockerClosed { .. } => AppError::new(ErrorCode::LockerClosed, e.to_string()),
        NotPermitted { .. } => AppError::new(ErrorCode::NotPermitted, e.to_string()),
        IdConflict { .. } => AppError::new(ErrorCode::IdConflict, e.to_string()),
        AlreadyRegistered { .. } => AppError::new(ErrorCode::AlreadyRegistered, e.to_string()),
        Schema(schemas::SchemaError::RecordTooLarge { .. }) => {
            AppError::new(ErrorCode::EventTooLarge, e.to_string())
        }
        Schema(_) | InvalidKey { .. } | SealBroken => invalid_event(e.to_string()),
        Log(ledger::LogError::NotOwner { topic, partition })
        | Log(ledger::LogError::Fenced { topic, partition }) => {
            AppError::not_owner(&topic, partition)
        }
        Log(_) | ForeignLog { .. } | BatchTooLarge { .. } => {
            AppError::new(ErrorCode::Unavailable, e.to_string())
        }
        other => AppError::new(ErrorCode::Internal, other.to_string()),
    }
}

pub(crate) fn invalid_event(message: impl Into<String>) -> AppError {
    AppError::new(ErrorCode::InvalidEvent, message)
}
