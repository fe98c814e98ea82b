//! The one error type of the service: every failure becomes JSON `{code, message}` with a
//! stable machine-readable code and the right status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// The request fits the published schema, but a check the schema cannot state failed: a
    /// checksum, a clock window, a hash or commitment, an id derived from other fields. (A 400
    /// means the request breaks the schema itself; schemathesis holds the service to that.)
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// The same error with a more precise code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        // A 5xx tells the client what kind of failure, never internal details.
        let message = if self.status.is_server_error() {
            "internal error; see the server log"
        } else {
            &self.message
        };
        (self.status, axum::Json(Body { code: self.code, message })).into_response()
    }
}

impl From<projections::ProjectionError> for ApiError {
    fn from(e: projections::ProjectionError) -> Self {
        match e {
            projections::ProjectionError::InvalidCursor(reason) => {
                ApiError::bad_request("invalid_cursor", reason)
            }
            projections::ProjectionError::ForeignCursor(reason) => {
                ApiError::unprocessable("invalid_cursor", reason)
            }
            other => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", other.to_string())
            }
        }
    }
}

/// Maps the ledger's refusals to the API's stable codes.
pub(crate) fn ledger_error(e: ledger::LedgerError) -> ApiError {
    use ledger::LedgerError::*;
    match e {
        BadSignature { .. } | BadESignature => {
            ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string())
        }
        UnknownActor { .. } | UnknownKey { .. } => {
            ApiError::new(StatusCode::UNAUTHORIZED, "unknown_key", e.to_string())
        }
        KeyRotatedOut { .. } | KeyRevoked { .. } => {
            ApiError::new(StatusCode::UNAUTHORIZED, "key_revoked", e.to_string())
        }
        ActorSuspended { .. } => ApiError::new(StatusCode::FORBIDDEN, "suspended", e.to_string()),
        NotPermitted { .. } => ApiError::new(StatusCode::FORBIDDEN, "not_permitted", e.to_string()),
        IdConflict { .. } => ApiError::new(StatusCode::CONFLICT, "id_conflict", e.to_string()),
        AlreadyRegistered { .. } => {
            ApiError::new(StatusCode::CONFLICT, "already_registered", e.to_string())
        }
        Schema(schemas::SchemaError::RecordTooLarge { .. }) => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "event_too_large", e.to_string())
        }
        Schema(_) | InvalidKey { .. } | SealBroken => invalid_event(e.to_string()),
        Log(_) | ForeignLog { .. } | BatchTooLarge { .. } => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string())
        }
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", other.to_string()),
    }
}

pub(crate) fn invalid_event(message: impl Into<String>) -> ApiError {
    ApiError::unprocessable("invalid_event", message)
}
