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
use ledger::LedgerError;
use schemas::{Actor, Payload};
use serde::Deserialize;

use crate::app::error::invalid_event;
use crate::app::error::ledger_error;
use crate::app::issuance::PushBody;
use crate::app::issuance::authenticate;
use crate::app::issuance::check_window;
use crate::app::issuance::committed_personal;
use crate::app::json::json;
use crate::{AppError, AppState};
use wire::ErrorCode;
use wire::dto::{AadhaarBatchDto, AadhaarBatchItem, AadhaarReferenceDto};

/// Whether a document event fits what the citizen's locker holds now.
fn check_document_state(state: &AppState, payload: &Payload) -> Result<(), AppError> {
    use projections::views::{DocStatus, Owner};
    let owner_of = |recipient: &schemas::Recipient| match recipient {
        schemas::Recipient::Locker(locker) => Owner::Locker(*locker),
        schemas::Recipient::Aadhaar(aadhaar) => Owner::Aadhaar(aadhaar.keyed_hash),
    };
    let (recipient, uri) = match payload {
        Payload::DocumentIssued(e) => (&e.recipient, &e.uri),
        Payload::DocumentUpdated(e) => (&e.recipient, &e.uri),
        Payload::DocumentRevoked(e) => (&e.recipient, &e.uri),
        _ => return Ok(()),
    };
    if let schemas::Recipient::Locker(locker) = recipient
        && state.views.profile(locker)?.is_none()
    {
        return Err(
            AppError::not_found(format!("no locker {locker}")).with_code(ErrorCode::UnknownLocker)
        );
    }
    let existing = state.views.document(&owner_of(recipient), &uri.to_string())?;
    match (payload, existing) {
        (Payload::DocumentIssued(_), Some(_)) => Err(AppError::new(
            ErrorCode::UriExists,
            format!("{uri} is already issued; push document_updated to change it"),
        )),
        (Payload::DocumentIssued(_), None) => Ok(()),
        (_, None) => Err(AppError::not_found(format!("{uri} was never issued to this recipient"))
            .with_code(ErrorCode::UnknownDocument)),
        (_, Some(doc)) if matches!(doc.status, DocStatus::Revoked(_)) => {
            Err(AppError::new(ErrorCode::DocumentRevoked, format!("{uri} is revoked")))
        }
        _ => Ok(()),
    }
}

/// Checks pushed bytes (base64) against the content the event signs: size, hash and media
/// type, in memory. Nothing is written.
fn checked_content(payload: &Payload, content: &str) -> Result<Vec<u8>, AppError> {
    use crate::limits::ISSUED_CONTENT_BYTES_MAX;
    use base64::Engine;
    use wire::limits::ISSUED_TYPES;
    let signed = match payload {
        Payload::DocumentIssued(e) => &e.content,
        Payload::DocumentUpdated(e) => &e.content,
        _ => return Err(invalid_event("a revocation carries no content")),
    };
    // Bounded before decoding: base64 is 4 bytes for every 3.
    if content.len() as u64 > ISSUED_CONTENT_BYTES_MAX.div_ceil(3) * 4 {
        return Err(content_too_large());
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(content).map_err(|e| {
        AppError::new(ErrorCode::InvalidContent, format!("content is not base64: {e}"))
    })?;
    if bytes.len() as u64 > ISSUED_CONTENT_BYTES_MAX {
        return Err(content_too_large());
    }
    let hash = schemas::Digest32(*blake3::hash(&bytes).as_bytes());
    if hash != signed.hash || bytes.len() as u64 != signed.size_bytes {
        return Err(AppError::new(
            ErrorCode::HashMismatch,
            "the content's BLAKE3 hash or size differs from the signed event's",
        ));
    }
    let sniffed = wire::media::sniff(&bytes).filter(|t| ISSUED_TYPES.contains(t));
    if sniffed != Some(signed.media_type) {
        return Err(AppError::new(
            ErrorCode::InvalidFiletype,
            format!(
                "the event says {} but the content is {}",
                signed.media_type.mime(),
                sniffed.map_or("not a PDF, XML or JSON document", |t| t.mime())
            ),
        ));
    }
    Ok(bytes)
}

fn content_too_large() -> AppError {
    AppError::new(
        ErrorCode::InvalidFilesize,
        format!("a document may have at most {} bytes", crate::limits::ISSUED_CONTENT_BYTES_MAX),
    )
}

/// Stores checked bytes, pinned. Called in the push's turn after every check passed and
/// before the event is logged, so a logged event never names bytes the service was sent but
/// lost, and a refused push leaves nothing behind.
async fn store_content(state: &AppState, bytes: &[u8]) -> Result<(), AppError> {
    state.files.put(bytes).await.map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?;
    Ok(())
}

#[utoipa::path(post, path = "/v1/issuer/documents", tag = "issuer", request_body = PushBody, description = "The body is the issuer's signed document event (issued, updated or revoked); the signature authenticates the issuer. Replays are refused by event id and a clock window.", responses((status = 422, description = "`invalid_event`, `stale_event`, `invalid_event_id`, `commitment_mismatch`, `hash_mismatch`", body = crate::openapi::ErrorDto), (status = 201, description = "Accepted", body = wire::dto::Accepted), (status = 200, description = "Already present (a retry)", body = wire::dto::Accepted), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "`bad_signature`, `unknown_key`, `key_revoked`", body = crate::openapi::ErrorDto), (status = 403, description = "`not_permitted`, `suspended`", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_locker`, `unknown_document`", body = crate::openapi::ErrorDto), (status = 409, description = "`uri_exists`, `id_conflict`, `document_revoked`", body = crate::openapi::ErrorDto), (status = 413, description = "`payload_too_large`, `invalid_filesize`", body = crate::openapi::ErrorDto), (status = 415, description = "`invalid_filetype`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn push_document(
    State(state): State<AppState>,
    body: axum::body::Body,
) -> Result<Response, AppError> {
    // This route's own bound: a push may carry a 10 MB document in base64.
    let bytes =
        crate::http::body::read_bounded(body, crate::limits::PUSH_BODY_BYTES_MAX, "a push").await?;
    let body: PushBody = json(&bytes)?;
    Ok(crate::http::answer::accepted(accept_push(&state, body).await?))
}

/// Checks, seals and logs an issuer's signed document event with its personal fields and
/// bytes: a push, or an issuer's answer to a pull. Nothing is stored for a refused one.
pub(crate) async fn accept_push(
    state: &AppState,
    body: PushBody,
) -> Result<wire::dto::Accepted, AppError> {
    let state = state.clone();
    let mut envelope = body.envelope;
    let event = &envelope.event;
    if !matches!(event.actor, Actor::Issuer(_)) {
        return Err(AppError::new(ErrorCode::NotPermitted, "only issuers push documents here"));
    }
    if !matches!(
        event.payload,
        Payload::DocumentIssued(_) | Payload::DocumentUpdated(_) | Payload::DocumentRevoked(_)
    ) {
        return Err(invalid_event(format!(
            "{} is not a document event",
            event.payload.kind_name()
        )));
    }
    if envelope.sealed.is_some() {
        return Err(invalid_event(
            "send personal fields in clear under `personal`; the service seals them",
        ));
    }
    check_window(&state, event)?;
    if let Payload::DocumentIssued(issued) = &event.payload
        && event.id != ledger::crypto::issue_event_id(&issued.uri)
    {
        return Err(AppError::new(
            ErrorCode::InvalidEventId,
            format!(
                "an issuance's event id is derived from its URI: the first 16 bytes of BLAKE3(\"locker/issue-id/v1\\n{}\"), here {}",
                issued.uri,
                ledger::crypto::issue_event_id(&issued.uri)
            ),
        ));
    }
    // Nothing is stored, created or looked up for a caller whose signature has not passed.
    authenticate(&state, &envelope).await?;
    let personal = committed_personal(event.payload.personal_commitment().copied(), body.personal)?;
    if let Some((issuer, doc_type)) = crate::app::issuance::doc_type_of(&event.payload) {
        let declared = crate::app::issuance::declaration(&state, issuer, doc_type)?;
        let data = personal.as_ref().map(|(_, data)| data);
        crate::app::issuance::check_fields(declared.as_ref(), &event.payload, data)?;
    }
    let content = match &body.content {
        Some(content) => Some(checked_content(&envelope.event.payload, content)?),
        None => None,
    };
    // Pinned as they are stored; the sweeper must not be between its check and a removal.
    // (Taken before the turn, in the order uploads take them.)
    let _storing = match content {
        Some(_) => Some(state.files.storing().await),
        None => None,
    };
    let turn = state.writes.turn(&envelope.event.payload.partition_key()).await?;
    let logged = state.writes.is_logged(&envelope.event.id).await?;
    if !logged {
        check_document_state(&state, &envelope.event.payload)?;
    }
    if let Some((salt, data)) = personal {
        let subject = envelope
            .event
            .payload
            .seal_subject()
            .ok_or_else(|| invalid_event("no subject to seal for"))?;
        let key = state.vault.key_for(&subject).map_err(crate::app::write::vault_error)?;
        let nonce = state.nonces.next();
        let (_, sealed) = ledger::crypto::seal_personal(&key, subject, nonce, salt, &data)
            .map_err(ledger_error)?;
        envelope.sealed = Some(sealed);
    }
    if let Some(bytes) = content {
        store_content(&state, &bytes).await?;
    }
    let is_issuance = matches!(envelope.event.payload, Payload::DocumentIssued(_));
    let claimed = match logged {
        true => Vec::new(),
        false => crate::app::issuance::claim_uri(&state, &envelope).await?,
    };
    let answer = crate::app::write::submit(&state, &envelope, true, |e| match e {
        // The id is the URI's: another event with it issued the URI already.
        LedgerError::IdConflict { .. } if is_issuance => AppError::new(
            ErrorCode::UriExists,
            "this URI is already issued (a URI belongs to exactly one locker)",
        ),
        other => ledger_error(other),
    })
    .await;
    crate::app::issuance::settle_uri_claims(&state, &claimed, |_| answer.is_err()).await;
    let answer = answer?;
    drop(turn);
    Ok(answer)
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
