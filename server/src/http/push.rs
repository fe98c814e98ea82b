//! `POST /v1/issuer/documents`: an issuer pushes a signed document event.
//!
//! The body is the signed event itself (its JSON form, `sealed: null`) plus, when the event
//! commits to personal fields, those fields with the salt of the commitment. The issuer
//! authenticates by that signature alone: the ledger checks it against the issuer's registered
//! key. Replays are refused by the event id (the same event answers "already present") and by
//! a clock window. The service checks the personal fields against the signed commitment and
//! seals them under the citizen's key before the event reaches the log; nothing is written
//! for a refused push.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::app::issuance::PushBody;
use crate::app::json::json;
use crate::{AppError, AppState};
use wire::ErrorCode;
use wire::dto::{AadhaarBatchDto, AadhaarBatchItem, AadhaarReferenceDto};

#[utoipa::path(post, path = "/v1/issuer/documents", tag = "issuer", request_body = PushBody, description = "The body is the issuer's signed document event (issued, updated or revoked); the signature authenticates the issuer. Replays are refused by event id and a clock window.", responses((status = 422, description = "`invalid_event`, `stale_event`, `invalid_event_id`, `commitment_mismatch`, `hash_mismatch`", body = crate::openapi::ErrorDto), (status = 201, description = "Accepted", body = wire::dto::Accepted), (status = 200, description = "Already present (a retry)", body = wire::dto::Accepted), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "`bad_signature`, `unknown_key`, `key_revoked`", body = crate::openapi::ErrorDto), (status = 403, description = "`not_permitted`, `suspended`", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_locker`, `unknown_document`", body = crate::openapi::ErrorDto), (status = 409, description = "`uri_exists`, `id_conflict`, `document_revoked`", body = crate::openapi::ErrorDto), (status = 413, description = "`payload_too_large`, `invalid_filesize`", body = crate::openapi::ErrorDto), (status = 415, description = "`invalid_filetype`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn push_document(
    State(state): State<AppState>,
    body: axum::body::Body,
) -> Result<Response, AppError> {
    // This route's own bound: a push may carry a 10 MB document in base64.
    let bytes =
        crate::http::body::read_bounded(body, crate::limits::PUSH_BODY_BYTES_MAX, "a push").await?;
    let body: PushBody = json(&bytes)?;
    Ok(crate::http::answer::accepted(crate::app::push::accept_push(&state, body).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AadhaarQuery {
    /// Twelve digits, spaces allowed; the last is a Verhoeff check digit.
    #[schema(pattern = r"^[2-9][0-9]{3} ?[0-9]{4} ?[0-9]{4}$")]
    aadhaar: String,
}

/// `POST /v1/issuer/aadhaar-references`: the reference an issuer puts in an event for a
/// citizen it knows only by Aadhaar. Only the platform can compute the keyed hash (so the log
/// never holds the number); an issuer gets it for numbers it already holds, signing the
/// request (RFC 9421) with its registered key.
#[utoipa::path(post, path = "/v1/issuer/aadhaar-references", tag = "issuer", security(("http_signature" = [])), request_body = AadhaarQuery, responses((status = 422, description = "`invalid_aadhaar`: the check digit does not match", body = crate::openapi::ErrorDto), (status = 200, body = AadhaarReferenceDto), (status = 400, description = "`invalid_aadhaar`, `invalid_json`", body = crate::openapi::ErrorDto), (status = 401, description = "`missing_signature`, `bad_signature`, `stale_signature`, `unknown_key`, `key_revoked`", body = crate::openapi::ErrorDto), (status = 429, description = "`rate_limited`: the issuer's hourly quota of references is spent", body = crate::openapi::ErrorDto)))]
pub(crate) async fn aadhaar_reference(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, AppError> {
    let (issuer, query): (_, AadhaarQuery) = signed_issuer_request(&state, request).await?;
    spend_aadhaar_quota(&state, &issuer, 1)?;
    let aadhaar = schemas::Aadhaar::parse(&query.aadhaar)
        .map_err(|e| AppError::new(ErrorCode::InvalidAadhaar, e.to_string()))?;
    let reference = ledger::crypto::aadhaar_ref(&state.platform_secret, &aadhaar);
    Ok(Json(AadhaarReferenceDto {
        keyed_hash: reference.keyed_hash.to_hex(),
        last4: reference.last4.as_str().to_owned(),
    })
    .into_response())
}

/// An issuer's RFC 9421-signed JSON request: who signed it, and what it asks.
async fn signed_issuer_request<T: serde::de::DeserializeOwned>(
    state: &AppState,
    request: axum::extract::Request,
) -> Result<(schemas::Principal, T), AppError> {
    let (issuer, body) = crate::http::signed::authenticate_as(state, request, |who| {
        schemas::IssuerId::parse(who).map(schemas::Principal::Issuer).map_err(|e| e.to_string())
    })
    .await?;
    let query = json(&body)?;
    Ok((issuer, query))
}

/// Counts references against the issuer's hourly quota: `rate_limited` (429) past it.
fn spend_aadhaar_quota(
    state: &AppState,
    issuer: &schemas::Principal,
    numbers: u64,
) -> Result<(), AppError> {
    state.aadhaar_quota.take(issuer, numbers, state.clock.now()).map_err(|seconds| {
        AppError::new(ErrorCode::RateLimited,
            format!(
                "at most {} Aadhaar references an hour per issuer; these {numbers} are available in {seconds} s",
                state.aadhaar_quota.capacity()
            ),
        )
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AadhaarBatchQuery {
    /// Up to 2,000 numbers of twelve digits (spaces allowed). Each is checked alone: one that
    /// is not an Aadhaar number gets an `error` in its place of the answer, and the rest their
    /// references, so any string is taken here.
    #[schema(max_items = 2000)]
    aadhaar_numbers: Vec<String>,
}

/// `POST /v1/issuer/aadhaar-reference-batches`: the references of many numbers at once, for
/// bulk issuance (a board seeded with Aadhaar numbers); signed like the single form. An
/// invalid number gets its own error; the others their references.
#[utoipa::path(post, path = "/v1/issuer/aadhaar-reference-batches", tag = "issuer", security(("http_signature" = [])), request_body = AadhaarBatchQuery, responses((status = 200, body = AadhaarBatchDto), (status = 400, description = "`invalid_json`, `batch_too_large`", body = crate::openapi::ErrorDto), (status = 401, description = "`missing_signature`, `bad_signature`, `stale_signature`, `unknown_key`, `key_revoked`", body = crate::openapi::ErrorDto), (status = 429, description = "`rate_limited`: the issuer's hourly quota of references is spent", body = crate::openapi::ErrorDto)))]
pub(crate) async fn aadhaar_reference_batch(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, AppError> {
    let (issuer, query): (_, AadhaarBatchQuery) = signed_issuer_request(&state, request).await?;
    if query.aadhaar_numbers.len() > crate::limits::AADHAAR_BATCH_MAX {
        return Err(AppError::new(
            ErrorCode::BatchTooLarge,
            format!("at most {} numbers per request", crate::limits::AADHAAR_BATCH_MAX),
        ));
    }
    spend_aadhaar_quota(&state, &issuer, query.aadhaar_numbers.len() as u64)?;
    let references = query
        .aadhaar_numbers
        .iter()
        .map(|text| match schemas::Aadhaar::parse(text) {
            Ok(aadhaar) => {
                let reference = ledger::crypto::aadhaar_ref(&state.platform_secret, &aadhaar);
                AadhaarBatchItem {
                    keyed_hash: Some(reference.keyed_hash.to_hex()),
                    last4: Some(reference.last4.as_str().to_owned()),
                    error: None,
                }
            }
            Err(e) => {
                AadhaarBatchItem { keyed_hash: None, last4: None, error: Some(e.to_string()) }
            }
        })
        .collect();
    Ok(Json(AadhaarBatchDto { references }).into_response())
}
