//! `POST /v1/issuer/batches`: bulk issuance. An exam board streams its results as batches of
//! NDJSON rows, each row what a single push takes (`issuance::PushBody`: the issuer's signed
//! `document_issued` event, and the personal fields it commits to), or of the same rows in
//! binary (`application/vnd.locker.rows`, `wire::rows`: the envelope and personal fields in the
//! ledger's canonical form, length-prefixed), which `locker issue bulk` sends: no text to parse. Every row gets its own
//! verdict, in order: `accepted` (with its log position), `already_present` (the same document
//! was issued before: a re-run), or `rejected` with a stable code and message. Bad rows never
//! stop good ones.
//!
//! The path of a batch: rows parsed and checked on all cores; ids looked up, so a re-run is
//! told apart from a conflicting document (same URI, other content) without a clock-window
//! refusal; sealing keys fetched or created in one synced write; events sealed; one
//! `Ledger::append` that verifies signatures in parallel batches and writes with one group
//! commit. In a cluster, the rows of partitions another node owns are sent on to it, and its
//! verdicts come back in their place (`forward::route_rows`). Back-pressure: at most `limits::BULK_BATCHES_IN_FLIGHT` batches are processed at
//! once; the rest wait, and so do their senders.
//!
//! Bulk rows register documents by hash (no bytes): the issuer keeps the documents, as exam
//! boards do with DigiLocker's pull model. A row with `content` is refused
//! (`content_not_supported`); push such documents one by one.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::app::bulk::{RowFormat, process};
use crate::app::error::invalid_event;
use crate::limits::{BULK_BATCH_ROWS_MAX, BULK_BODY_BYTES_MAX};
use crate::{AppError, AppState};
use wire::ErrorCode;
use wire::dto::BatchResult;

/// `POST /v1/issuer/batches`
#[utoipa::path(post, path = "/v1/issuer/batches", tag = "issuer", request_body(content = crate::openapi::event::BatchRows, content_type = "application/x-ndjson", description = "Up to 2,000 rows, one per line (NDJSON): each a `BatchRow`, a single push's body with a `document_issued` event and no `content`. With content type `application/vnd.locker.rows` the same rows in binary: each `len u32 LE | record_len u32 LE | record | salt [32] | personal`, the record and personal fields in the ledger's canonical encoding"), description = "Bulk issuance: every row gets its own verdict, in order. Rows are authenticated by their signatures, like single pushes.", responses((status = 200, body = BatchResult), (status = 413, description = "`payload_too_large`, `batch_too_large`", body = crate::openapi::ErrorDto), (status = 503, description = "`unavailable`: nothing of the batch was written; retry it", body = crate::openapi::ErrorDto)))]
pub(crate) async fn ingest(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
    body: axum::body::Body,
) -> Result<Response, AppError> {
    // The whole body first (bounded in size and time), then a permit: a slow sender holds
    // its own connection, never one of the few batches that may run at once.
    let bytes = crate::http::body::read_bounded(body, BULK_BODY_BYTES_MAX, "a batch").await?;
    let content_type = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let format = RowFormat::of(content_type);
    let lines = format.split(&bytes).map_err(|e| invalid_event(e.0))?;
    if lines.is_empty() {
        return Err(AppError::new(ErrorCode::EmptyBatch, "a batch has at least one row"));
    }
    let _permit =
        state.bulk.acquire().await.map_err(|_| AppError::new(ErrorCode::Unavailable, "closing"))?;
    if lines.len() > BULK_BATCH_ROWS_MAX {
        return Err(AppError::new(
            ErrorCode::BatchTooLargeAsPayloadTooLarge,
            format!("a batch has at most {BULK_BATCH_ROWS_MAX} rows; this one has {}", lines.len()),
        ));
    }
    let owned: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
    let mut results = process(&state, owned, format).await?;
    // In a cluster, rows of partitions other nodes own go on to them, without this node's
    // permit: two nodes each holding theirs while waiting on the other's would stall both.
    drop(_permit);
    let rows = (format, lines.as_slice());
    crate::http::forward::route_rows(&state, &headers, &extensions, rows, &mut results).await;
    Ok(Json(BatchResult::of(results)).into_response())
}
