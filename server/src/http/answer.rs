//! Answers several routes build the same way: an appended event and a stored file.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::lookup::Resolved;
use wire::dto::Accepted;

/// 201 for an event this request appended, 200 for a retry of one already in the log.
pub(crate) fn accepted(answer: Accepted) -> Response {
    let status = if answer.is_new() { StatusCode::CREATED } else { StatusCode::OK };
    (status, Json(answer)).into_response()
}

/// The bytes as a download, typed by what they are and tagged with their hash.
pub(crate) fn content(bytes: bytes::Bytes, resolved: &Resolved) -> Response {
    // Only plain characters survive into the header; the name is a convenience, not data.
    let file_name: String = resolved
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || ".-_ ".contains(c) { c } else { '_' })
        .collect();
    (
        [
            (header::CONTENT_TYPE, resolved.media_type.mime().to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")),
            (header::ETAG, format!("\"{}\"", resolved.hash.to_hex())),
            (header::HeaderName::from_static("x-content-type-options"), "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// A proof bundle as a download (`<name>.locker-bundle.json`).
pub(crate) fn bundle_response(
    state: &crate::AppState,
    bundle: &ledger::merkle::ProofBundle,
    name: &str,
) -> Response {
    let body = verifier::bundle_json(bundle, &state.proofs.ledger_key());
    // Only characters safe in a header value and a file name.
    let file: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
        .take(100)
        .collect();
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}.locker-bundle.json\""),
            ),
        ],
        body,
    )
        .into_response()
}
