//! Request bodies read whole, bounded in size and in time: a client that sends slowly (or
//! stops) is cut off instead of holding the connection, its buffer, and whatever the handler
//! would take next, for ever.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use http_body_util::BodyExt;

use crate::AppError;
use crate::app::json::json;
use crate::limits::{BODY_IDLE_MS, BODY_READ_MS};
use wire::ErrorCode;

/// The body's bytes: at most `max_bytes`, all within `BODY_READ_MS`, and no pause between
/// two chunks longer than `BODY_IDLE_MS`. `what` names the body in the errors ("a push").
pub async fn read_bounded(body: Body, max_bytes: usize, what: &str) -> Result<Bytes, AppError> {
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
                    AppError::new(
                        ErrorCode::PayloadTooLarge,
                        format!("{what} is at most {max_bytes} bytes"),
                    )
                } else {
                    AppError::new(ErrorCode::BodyInterrupted, format!("{what} broke off: {e}"))
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

pub(crate) fn too_slow(what: &str) -> AppError {
    AppError::new(
        ErrorCode::BodyTooSlow,
        format!(
            "{what} must arrive within {BODY_READ_MS} ms, with no pause over {BODY_IDLE_MS} ms"
        ),
    )
}

/// A JSON body of type `T`, read as [`json`] reads it. Refused with `415 unsupported_media_type`
/// when the content type is not JSON, and `400 invalid_json` when the bytes are not a `T`.
pub(crate) struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        let is_json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(is_json_type);
        if !is_json {
            return Err(AppError::new(
                ErrorCode::UnsupportedMediaType,
                "expected a body of content type application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ErrorCode::InvalidBodyAsPayloadTooLarge
            } else {
                ErrorCode::InvalidBody
            };
            AppError::new(code, e.body_text())
        })?;
        json(&bytes).map(JsonBody)
    }
}

/// `application/json` or `application/*+json`, with any parameters.
fn is_json_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}
