//! Request bodies read whole, bounded in size and in time: a client that sends slowly (or
//! stops) is cut off instead of holding the connection, its buffer, and whatever the handler
//! would take next, for ever.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use http_body_util::BodyExt;

use crate::ApiError;
use crate::limits::{BODY_IDLE_MS, BODY_READ_MS};

/// The body's bytes: at most `max_bytes`, all within `BODY_READ_MS`, and no pause between
/// two chunks longer than `BODY_IDLE_MS`. `what` names the body in the errors ("a push").
pub async fn read_bounded(body: Body, max_bytes: usize, what: &str) -> Result<Bytes, ApiError> {
    let reading = async {
        let mut body = http_body_util::Limited::new(body, max_bytes);
        let mut bytes = Vec::new();
        loop {
            let frame = tokio::time::timeout(Duration::from_millis(BODY_IDLE_MS), body.frame())
                .await
                .map_err(|_| too_slow(what))?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        format!("{what} is at most {max_bytes} bytes"),
                    )
                } else {
                    ApiError::bad_request("body_interrupted", format!("{what} broke off: {e}"))
                }
            })?;
            if let Ok(chunk) = frame.into_data() {
                bytes.extend_from_slice(&chunk);
            }
        }
        Ok(Bytes::from(bytes))
    };
    tokio::time::timeout(Duration::from_millis(BODY_READ_MS), reading)
        .await
        .map_err(|_| too_slow(what))?
}

pub(crate) fn too_slow(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "body_too_slow",
        format!(
            "{what} must arrive within {BODY_READ_MS} ms, with no pause over {BODY_IDLE_MS} ms"
        ),
    )
}
