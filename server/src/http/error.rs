//! The one `IntoResponse` error: every failure becomes JSON `{code, message}` with the code's
//! stable name and status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::app::error::AppError;

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

fn status(error: &AppError) -> StatusCode {
    StatusCode::from_u16(error.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = status(&self);
        if self.code == wire::ErrorCode::NotOwner {
            return not_owner(self.elsewhere);
        }
        // An outside service's answer (an issuer's, to a pull) is the client's to read: its
        // messages are written for people and hold nothing internal.
        let outside = matches!(
            self.code,
            wire::ErrorCode::TryLater
                | wire::ErrorCode::IssuerUnavailable
                | wire::ErrorCode::InvalidAnswer
        );
        if status.is_server_error() && !outside {
            tracing::error!(code = self.code.code(), message = %self.message, "request failed");
        }
        // A 5xx tells the client what kind of failure, never internal details.
        let message = if status.is_server_error() && !outside {
            "internal error; see the server log"
        } else {
            &self.message
        };
        (status, axum::Json(Body { code: self.code.code(), message })).into_response()
    }
}

/// Where a refused write belongs: read by the forwarding layer, never sent.
#[derive(Debug, Clone)]
pub(crate) struct Elsewhere(pub String, pub u32);

/// `not_owner` tells the client only to retry: which node owns what is the cluster's business.
fn not_owner(elsewhere: Option<(String, u32)>) -> Response {
    let body = Body {
        code: wire::ErrorCode::NotOwner.code(),
        message: "this locker's partition is moving between nodes; retry in a few seconds",
    };
    let mut response =
        (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "2")], axum::Json(body)).into_response();
    if let Some((topic, partition)) = elsewhere {
        response.extensions_mut().insert(Elsewhere(topic, partition));
    }
    response
}
