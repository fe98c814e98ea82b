//! Request bodies read whole, bounded in size and in time: a client that sends slowly (or
//! stops) is cut off instead of holding the connection, its buffer, and whatever the handler
//! would take next, for ever.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use http_body_util::BodyExt;

use crate::ApiError;
use crate::limits::{BODY_IDLE_MS, BODY_READ_MS};
use wire::ErrorCode;

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
                        ErrorCode::PayloadTooLarge,
                        format!("{what} is at most {max_bytes} bytes"),
                    )
                } else {
                    ApiError::new(ErrorCode::BodyInterrupted, format!("{what} broke off: {e}"))
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
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(is_json_type);
        if !is_json {
            return Err(ApiError::new(
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
            ApiError::new(code, e.body_text())
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

/// `bytes` as a `T`. JSON Schema (and so the OpenAPI document) counts `2.0` as the integer 2,
/// while serde refuses a float where it expects an integer: a body that serde refuses is read
/// again with every whole float spelled as an integer, so a client whose JSON library writes
/// `2.0` is not refused for it. The happy path parses once. Signatures are over the typed
/// event's canonical encoding, never the JSON text, so the spelling cannot change what is signed.
pub(crate) fn json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = match serde_json::from_slice(bytes) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let refused = || ApiError::new(ErrorCode::InvalidJson, first.to_string());
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Err(refused());
    };
    if !whole_floats_as_integers(&mut value) {
        return Err(refused());
    }
    serde_json::from_value(value).map_err(|e| ApiError::new(ErrorCode::InvalidJson, e.to_string()))
}

/// Rewrites every float with no fraction (and within an integer type's range) as an integer;
/// says whether it changed anything.
fn whole_floats_as_integers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            if float.fract() != 0.0 {
                return false;
            }
            // Spelled without its fraction and read back: exact, and out of every integer
            // type's range it reads as neither (no cast that could truncate).
            let digits = format!("{float:.0}");
            let integer = match (digits.parse::<i64>(), digits.parse::<u64>()) {
                (Ok(signed), _) => Value::from(signed),
                (_, Ok(unsigned)) => Value::from(unsigned),
                _ => return false,
            };
            *value = integer;
            true
        }
        Value::Array(items) => {
            items.iter_mut().fold(false, |changed, item| whole_floats_as_integers(item) | changed)
        }
        Value::Object(fields) => fields
            .values_mut()
            .fold(false, |changed, field| whole_floats_as_integers(field) | changed),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Counts {
        index: u32,
        at_ms: i64,
        ratio: f64,
    }

    #[test]
    fn whole_floats_read_as_integers_and_fractions_are_refused() {
        let read: Counts = json(br#"{"index": 2081.0, "at_ms": -7877484668957.0, "ratio": 2.0}"#)
            .unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(read, Counts { index: 2081, at_ms: -7_877_484_668_957, ratio: 2.0 });
        let refused = json::<Counts>(br#"{"index": 2081.5, "at_ms": 1, "ratio": 2.0}"#);
        assert!(refused.is_err_and(|e| e.code == ErrorCode::InvalidJson));
        let beyond = json::<Counts>(br#"{"index": 4294967296.0, "at_ms": 1, "ratio": 2.0}"#);
        assert!(beyond.is_err_and(|e| e.code == ErrorCode::InvalidJson));
        // The first error is the one reported when nothing could be rewritten.
        let missing = json::<Counts>(br#"{"index": 1}"#).err().map(|e| e.message);
        assert!(missing.is_some_and(|m| m.contains("missing field")));
    }
}
