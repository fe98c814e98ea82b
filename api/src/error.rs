//! The one error type of the service: every failure becomes JSON `{code, message}` with a
//! stable machine-readable code and the right status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use wire::ErrorCode;

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// A refusal with its code (which says the status) and a message that says what was wrong.
    /// A code's 400 means the request breaks the published schema; its 422, that it fits the
    /// schema but a check the schema cannot state failed (a checksum, a clock window, a hash or
    /// commitment, an id derived from other fields): schemathesis holds the service to that.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into() }
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
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code = self.code.code(), message = %self.message, "request failed");
        }
        // A 5xx tells the client what kind of failure, never internal details.
        let message = if status.is_server_error() {
            "internal error; see the server log"
        } else {
            &self.message
        };
        (status, axum::Json(Body { code: self.code.code(), message })).into_response()
    }
}

impl From<projections::ProjectionError> for ApiError {
    fn from(e: projections::ProjectionError) -> Self {
        match e {
            projections::ProjectionError::InvalidCursor(reason) => {
                ApiError::new(ErrorCode::InvalidCursor, reason)
            }
            projections::ProjectionError::ForeignCursor(reason) => {
                ApiError::new(ErrorCode::InvalidCursorAsUnprocessableEntity, reason)
            }
            other => ApiError::new(ErrorCode::Internal, other.to_string()),
        }
    }
}

/// Maps the ledger's refusals to the API's stable codes.
pub(crate) fn ledger_error(e: ledger::LedgerError) -> ApiError {
    use ledger::LedgerError::*;
    match e {
        BadSignature { .. } | BadESignature => {
            ApiError::new(ErrorCode::BadSignature, e.to_string())
        }
        UnknownActor { .. } | UnknownKey { .. } => {
            ApiError::new(ErrorCode::UnknownKey, e.to_string())
        }
        KeyRotatedOut { .. } | KeyRevoked { .. } => {
            ApiError::new(ErrorCode::KeyRevoked, e.to_string())
        }
        ActorSuspended { .. } => ApiError::new(ErrorCode::Suspended, e.to_string()),
        NotPermitted { .. } => ApiError::new(ErrorCode::NotPermitted, e.to_string()),
        IdConflict { .. } => ApiError::new(ErrorCode::IdConflict, e.to_string()),
        AlreadyRegistered { .. } => ApiError::new(ErrorCode::AlreadyRegistered, e.to_string()),
        Schema(schemas::SchemaError::RecordTooLarge { .. }) => {
            ApiError::new(ErrorCode::EventTooLarge, e.to_string())
        }
        Schema(_) | InvalidKey { .. } | SealBroken => invalid_event(e.to_string()),
        Log(_) | ForeignLog { .. } | BatchTooLarge { .. } => {
            ApiError::new(ErrorCode::Unavailable, e.to_string())
        }
        other => ApiError::new(ErrorCode::Internal, other.to_string()),
    }
}

pub(crate) fn invalid_event(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidEvent, message)
}
