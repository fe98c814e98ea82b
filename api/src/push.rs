//! `POST /v1/issuer/documents`: an issuer pushes a signed document event.
//!
//! The body is the signed event itself (its JSON form, `sealed: null`) plus, when the event
//! commits to personal fields, those fields with the salt of the commitment. The issuer
//! authenticates by that signature alone: the ledger checks it against the issuer's registered
//! key. Replays are refused by the event id (the same event answers "already present") and by
//! a clock window. The service checks the personal fields against the signed commitment and
//! seals them under the citizen's key before the event reaches the log; nothing is written
//! for a refused push.

use std::future::Future;
use std::pin::Pin;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ledger::{Ledger, LedgerError, Log, Verdict};
use schemas::{Actor, Envelope, Payload, PersonalData, SchemaError};
use serde::{Deserialize, Serialize};

use crate::limits::PUSH_CLOCK_SKEW_MS;
use crate::{ApiError, AppState};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The write side as the handlers see it: records in, verdicts out.
pub trait Appender: Send + Sync {
    fn append_record(&self, record: Vec<u8>) -> Pin<Box<dyn Future<Output = Verdict> + Send + '_>>;
    /// Many records in one call (at most `ledger::limits::APPEND_BATCH_RECORDS_MAX`):
    /// verified in parallel batches, written with one group commit.
    fn append_records(
        &self,
        records: Vec<Vec<u8>>,
    ) -> BoxFuture<'_, Result<Vec<Verdict>, LedgerError>>;
    /// Checks client-signed events as an append would (registry and signature) and appends
    /// nothing: the service authenticates a client's events before any work for them.
    fn authenticate(
        &self,
        envelopes: Vec<Envelope>,
    ) -> BoxFuture<'_, Result<Vec<Result<(), LedgerError>>, LedgerError>>;
    /// The events already logged under these ids, if any.
    fn logged_events(
        &self,
        ids: Vec<schemas::EventId>,
    ) -> BoxFuture<'_, Result<Vec<Option<Envelope>>, LedgerError>>;
    /// The event logged at `offset` of a topic's partition.
    fn logged_at(
        &self,
        topic: String,
        partition: u32,
        offset: u64,
    ) -> BoxFuture<'_, Result<Envelope, LedgerError>>;
    /// The principal's key if it may sign now (authenticates HTTP message signatures).
    fn active_key<'a>(
        &'a self,
        principal: &'a schemas::Principal,
        key_id: &'a schemas::KeyId,
    ) -> Pin<Box<dyn Future<Output = Result<ed25519_dalek::VerifyingKey, LedgerError>> + Send + 'a>>;
}

impl<L: Log> Appender for Ledger<L> {
    fn append_record(&self, record: Vec<u8>) -> Pin<Box<dyn Future<Output = Verdict> + Send + '_>> {
        Box::pin(self.append_one(record))
    }
    fn append_records(
        &self,
        records: Vec<Vec<u8>>,
    ) -> BoxFuture<'_, Result<Vec<Verdict>, LedgerError>> {
        Box::pin(self.append(records))
    }
    fn authenticate(
        &self,
        envelopes: Vec<Envelope>,
    ) -> BoxFuture<'_, Result<Vec<Result<(), LedgerError>>, LedgerError>> {
        Box::pin(async move { Ledger::authenticate(self, &envelopes).await })
    }
    fn logged_events(
        &self,
        ids: Vec<schemas::EventId>,
    ) -> BoxFuture<'_, Result<Vec<Option<Envelope>>, LedgerError>> {
        Box::pin(async move {
            let entries = self.log().lookup(&ids).await?;
            let mut events = Vec::with_capacity(entries.len());
            for entry in entries {
                let Some(entry) = entry else {
                    events.push(None);
                    continue;
                };
                let p = entry.position;
                events.push(Some(self.logged_at(entry.topic, p.partition, p.offset).await?));
            }
            Ok(events)
        })
    }
    fn logged_at(
        &self,
        topic: String,
        partition: u32,
        offset: u64,
    ) -> BoxFuture<'_, Result<Envelope, LedgerError>> {
        Box::pin(async move {
            let records = self.log().read(&topic, partition, offset, 1).await?;
            let record = records
                .into_iter()
                .next()
                .filter(|r| r.position.partition == partition && r.position.offset == offset)
                .ok_or_else(|| {
                    LedgerError::Log(ledger::LogError::Corrupt {
                        location: format!("topic {topic} partition {partition} offset {offset}"),
                        reason: "a record the ledger logged is not in the log".to_owned(),
                    })
                })?;
            ledger::decode_logged(&topic, &record)
        })
    }
    fn active_key<'a>(
        &'a self,
        principal: &'a schemas::Principal,
        key_id: &'a schemas::KeyId,
    ) -> Pin<Box<dyn Future<Output = Result<ed25519_dalek::VerifyingKey, LedgerError>> + Send + 'a>>
    {
        Box::pin(Ledger::active_key(self, principal, key_id))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PushBody {
    /// The signed document event in its JSON form (`sealed` null)
    #[schema(schema_with = crate::openapi::event::document_envelope)]
    pub(crate) envelope: Envelope,
    /// The personal fields the event commits to, with the commitment's salt.
    #[schema(schema_with = crate::openapi::event::document_personal_or_null)]
    pub(crate) personal: Option<PersonalBody>,
    /// The document's bytes in base64, when the issuer sends them (otherwise only their hash
    /// is registered, and the bytes stay with the issuer).
    #[schema(schema_with = crate::openapi::event::base64_or_null)]
    pub(crate) content: Option<String>,
}

/// Its schema is `DocumentPersonal` (`openapi::event`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PersonalBody {
    /// The 32-byte salt of the commitment, in hex.
    pub(crate) salt: String,
    /// The personal fields the event commits to: {"document": {holder_name, date_of_birth, fields}}
    pub(crate) data: PersonalData,
}

pub(crate) fn invalid_event(message: impl Into<String>) -> ApiError {
    ApiError::unprocessable("invalid_event", message)
}

/// Maps the ledger's refusals to the API's stable codes.
pub(crate) fn ledger_error(e: LedgerError) -> ApiError {
    use LedgerError::*;
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
        Schema(SchemaError::RecordTooLarge { .. }) => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "event_too_large", e.to_string())
        }
        Schema(_) | InvalidKey { .. } | SealBroken => invalid_event(e.to_string()),
        Log(_) | ForeignLog { .. } | BatchTooLarge { .. } => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string())
        }
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", other.to_string()),
    }
}

/// Whether a document event fits what the citizen's locker holds now.
fn check_document_state(state: &AppState, payload: &Payload) -> Result<(), ApiError> {
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
        return Err(ApiError::not_found(format!("no locker {locker}")).with_code("unknown_locker"));
    }
    let existing = state.views.document(&owner_of(recipient), &uri.to_string())?;
    match (payload, existing) {
        (Payload::DocumentIssued(_), Some(_)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "uri_exists",
            format!("{uri} is already issued; push document_updated to change it"),
        )),
        (Payload::DocumentIssued(_), None) => Ok(()),
        (_, None) => Err(ApiError::not_found(format!("{uri} was never issued to this recipient"))
            .with_code("unknown_document")),
        (_, Some(doc)) if matches!(doc.status, DocStatus::Revoked(_)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "document_revoked",
            format!("{uri} is revoked"),
        )),
        _ => Ok(()),
    }
}

/// Refuses events whose time is far from the server's clock: with the event-id idempotency,
/// this bounds how long a captured request can be replayed.
pub(crate) fn check_window(state: &AppState, event: &schemas::Event) -> Result<(), ApiError> {
    check_window_at(state.clock.now(), event)
}

pub(crate) fn check_window_at(
    now: schemas::TimestampMs,
    event: &schemas::Event,
) -> Result<(), ApiError> {
    // As u64: the time is the caller's, and any i64 must not overflow a subtraction.
    let skew = event.occurred_at_ms.0.abs_diff(now.0);
    if skew > PUSH_CLOCK_SKEW_MS.unsigned_abs() {
        return Err(ApiError::unprocessable(
            "stale_event",
            format!(
                "occurred_at_ms is {skew} ms from the server's clock; at most {PUSH_CLOCK_SKEW_MS} allowed"
            ),
        ));
    }
    Ok(())
}

/// Checks a client's signed event with the ledger (key registry and signature) before the
/// service does anything for it. A retry of this very event (same id, same signed bytes) that
/// the registry now refuses, its key rotated out since, is let through: the append answers
/// it with its first position.
pub(crate) async fn authenticate(state: &AppState, envelope: &Envelope) -> Result<(), ApiError> {
    let mut verdicts =
        state.appender.authenticate(vec![envelope.clone()]).await.map_err(ledger_error)?;
    let closed = LedgerError::Log(ledger::LogError::Closed);
    let verdict = verdicts.pop().unwrap_or(Err(closed));
    match verdict {
        Ok(()) => Ok(()),
        Err(e @ LedgerError::BadSignature { .. }) => Err(ledger_error(e)),
        Err(e) => {
            let logged = state
                .appender
                .logged_events(vec![envelope.event.id])
                .await
                .map_err(ledger_error)?
                .pop()
                .flatten();
            match logged {
                Some(logged)
                    if logged.event == envelope.event && logged.signature == envelope.signature =>
                {
                    Ok(())
                }
                _ => Err(ledger_error(e)),
            }
        }
    }
}

/// Checks pushed bytes (base64) against the content the event signs: size, hash and media
/// type, in memory. Nothing is written.
fn checked_content(payload: &Payload, content: &str) -> Result<Vec<u8>, ApiError> {
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
        ApiError::bad_request("invalid_content", format!("content is not base64: {e}"))
    })?;
    if bytes.len() as u64 > ISSUED_CONTENT_BYTES_MAX {
        return Err(content_too_large());
    }
    let hash = schemas::Digest32(*blake3::hash(&bytes).as_bytes());
    if hash != signed.hash || bytes.len() as u64 != signed.size_bytes {
        return Err(ApiError::unprocessable(
            "hash_mismatch",
            "the content's BLAKE3 hash or size differs from the signed event's",
        ));
    }
    let sniffed = wire::media::sniff(&bytes).filter(|t| ISSUED_TYPES.contains(t));
    if sniffed != Some(signed.media_type) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_filetype",
            format!(
                "the event says {} but the content is {}",
                signed.media_type.mime(),
                sniffed.map_or("not a PDF, XML or JSON document", |t| t.mime())
            ),
        ));
    }
    Ok(bytes)
}

fn content_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_filesize",
        format!("a document may have at most {} bytes", crate::limits::ISSUED_CONTENT_BYTES_MAX),
    )
}

/// Stores checked bytes, pinned. Called in the push's turn after every check passed and
/// before the event is logged, so a logged event never names bytes the service was sent but
/// lost, and a refused push leaves nothing behind.
fn store_content(state: &AppState, bytes: &[u8]) -> Result<(), ApiError> {
    let internal = |e: String| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e);
    let nonce: [u8; 16] = state.accounts.random().map_err(|e| internal(format!("{e:?}")))?;
    let tag = format!("push-{}", schemas::Id16(nonce).to_hex());
    state.files.put(&tag, bytes).map_err(|e| internal(e.to_string()))?;
    Ok(())
}

/// The personal fields sent with a document event, checked against the commitment the event
/// signs: both or neither, `document` fields, and the salt and fields hash to the commitment.
pub(crate) fn committed_personal(
    commitment: Option<schemas::Commitment>,
    sent: Option<PersonalBody>,
) -> Result<Option<([u8; 32], PersonalData)>, ApiError> {
    match (commitment, sent) {
        (None, None) => Ok(None),
        (None, Some(_)) => {
            Err(invalid_event("personal fields sent for an event that commits to none"))
        }
        (Some(_), None) => {
            Err(invalid_event("the event commits to personal fields; send them under `personal`"))
        }
        (Some(commitment), Some(personal)) => {
            if !matches!(personal.data, PersonalData::Document(_)) {
                return Err(invalid_event("a document's personal fields are `document` fields"));
            }
            let salt = salt_of(&personal.salt)?;
            let bytes = schemas::encode_personal(&personal.data)
                .map_err(|e| invalid_event(e.to_string()))?;
            if ledger::crypto::commitment(&salt, &bytes) != commitment {
                return Err(ApiError::unprocessable(
                    "commitment_mismatch",
                    "the personal fields and salt do not match the signed commitment",
                ));
            }
            Ok(Some((salt, personal.data)))
        }
    }
}

pub(crate) fn salt_of(text: &str) -> Result<[u8; 32], ApiError> {
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect();
    bytes
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| ApiError::bad_request("invalid_salt", "salt must be 64 hex digits"))
}

#[utoipa::path(post, path = "/v1/issuer/documents", tag = "issuer", request_body = PushBody, description = "The body is the issuer's signed document event (issued, updated or revoked); the signature authenticates the issuer. Replays are refused by event id and a clock window.", responses((status = 422, description = "`invalid_event`, `stale_event`, `invalid_event_id`, `commitment_mismatch`, `hash_mismatch`", body = crate::openapi::ErrorDto), (status = 201, description = "Accepted", body = crate::write::Accepted), (status = 200, description = "Already present (a retry)", body = crate::write::Accepted), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "`bad_signature`, `unknown_key`, `key_revoked`", body = crate::openapi::ErrorDto), (status = 403, description = "`not_permitted`, `suspended`", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_locker`, `unknown_document`", body = crate::openapi::ErrorDto), (status = 409, description = "`uri_exists`, `id_conflict`, `document_revoked`", body = crate::openapi::ErrorDto), (status = 413, description = "`payload_too_large`, `invalid_filesize`", body = crate::openapi::ErrorDto), (status = 415, description = "`invalid_filetype`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn push_document(
    State(state): State<AppState>,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    // This route's own bound: a push may carry a 10 MB document in base64.
    let bytes =
        crate::body::read_bounded(body, crate::limits::PUSH_BODY_BYTES_MAX, "a push").await?;
    let body: PushBody = crate::body::json(&bytes)?;
    let mut envelope = body.envelope;
    let event = &envelope.event;
    if !matches!(event.actor, Actor::Issuer(_)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_permitted",
            "only issuers push documents here",
        ));
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
        return Err(ApiError::unprocessable(
            "invalid_event_id",
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
    if !state.writes.is_logged(&envelope.event.id).await? {
        check_document_state(&state, &envelope.event.payload)?;
    }
    if let Some((salt, data)) = personal {
        let subject = envelope
            .event
            .payload
            .seal_subject()
            .ok_or_else(|| invalid_event("no subject to seal for"))?;
        let key = state.vault.key_for(&subject).map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("vault: {e}"))
        })?;
        let nonce = state.nonces.next();
        let (_, sealed) = ledger::crypto::seal_personal(&key, subject, nonce, salt, &data)
            .map_err(ledger_error)?;
        envelope.sealed = Some(sealed);
    }
    if let Some(bytes) = content {
        store_content(&state, &bytes)?;
    }
    let is_issuance = matches!(envelope.event.payload, Payload::DocumentIssued(_));
    let (status, answer) = crate::write::submit(&state, &envelope, true, |e| match e {
        // The id is the URI's: another event with it issued the URI already.
        LedgerError::IdConflict { .. } if is_issuance => ApiError::new(
            StatusCode::CONFLICT,
            "uri_exists",
            "this URI is already issued (a URI belongs to exactly one locker)",
        ),
        other => ledger_error(other),
    })
    .await?;
    drop(turn);
    Ok((status, Json(answer)).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AadhaarQuery {
    /// Twelve digits, spaces allowed; the last is a Verhoeff check digit.
    #[schema(pattern = r"^[2-9][0-9]{3} ?[0-9]{4} ?[0-9]{4}$")]
    aadhaar: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AadhaarReferenceDto {
    /// The platform-keyed BLAKE3 hash, in hex: put it in `recipient.aadhaar.keyed_hash`.
    keyed_hash: String,
    last4: String,
}

/// `POST /v1/issuer/aadhaar-references`: the reference an issuer puts in an event for a
/// citizen it knows only by Aadhaar. Only the platform can compute the keyed hash (so the log
/// never holds the number); an issuer gets it for numbers it already holds, signing the
/// request (RFC 9421) with its registered key.
#[utoipa::path(post, path = "/v1/issuer/aadhaar-references", tag = "issuer", security(("http_signature" = [])), request_body = AadhaarQuery, responses((status = 422, description = "`invalid_aadhaar`: the check digit does not match", body = crate::openapi::ErrorDto), (status = 200, body = AadhaarReferenceDto), (status = 400, description = "`invalid_aadhaar`, `invalid_json`", body = crate::openapi::ErrorDto), (status = 401, description = "`missing_signature`, `bad_signature`, `stale_signature`, `unknown_key`, `key_revoked`", body = crate::openapi::ErrorDto), (status = 429, description = "`rate_limited`: the issuer's hourly quota of references is spent", body = crate::openapi::ErrorDto)))]
pub(crate) async fn aadhaar_reference(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (issuer, query): (_, AadhaarQuery) = signed_issuer_request(&state, request).await?;
    spend_aadhaar_quota(&state, &issuer, 1)?;
    let aadhaar = schemas::Aadhaar::parse(&query.aadhaar)
        .map_err(|e| ApiError::unprocessable("invalid_aadhaar", e.to_string()))?;
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
) -> Result<(schemas::Principal, T), ApiError> {
    let (issuer, body) = crate::requester::authenticate_as(state, request, |who| {
        schemas::IssuerId::parse(who).map(schemas::Principal::Issuer).map_err(|e| e.to_string())
    })
    .await?;
    let query = crate::body::json(&body)?;
    Ok((issuer, query))
}

/// Counts references against the issuer's hourly quota: `rate_limited` (429) past it.
fn spend_aadhaar_quota(
    state: &AppState,
    issuer: &schemas::Principal,
    numbers: u64,
) -> Result<(), ApiError> {
    state.aadhaar_quota.take(issuer, numbers, state.clock.now()).map_err(|seconds| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
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

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AadhaarBatchItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    keyed_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last4: Option<String>,
    /// Why this number has no reference (`invalid_aadhaar`).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AadhaarBatchDto {
    /// One per number asked, in order.
    references: Vec<AadhaarBatchItem>,
}

/// `POST /v1/issuer/aadhaar-reference-batches`: the references of many numbers at once, for
/// bulk issuance (a board seeded with Aadhaar numbers); signed like the single form. An
/// invalid number gets its own error; the others their references.
#[utoipa::path(post, path = "/v1/issuer/aadhaar-reference-batches", tag = "issuer", security(("http_signature" = [])), request_body = AadhaarBatchQuery, responses((status = 200, body = AadhaarBatchDto), (status = 400, description = "`invalid_json`, `batch_too_large`", body = crate::openapi::ErrorDto), (status = 401, description = "`missing_signature`, `bad_signature`, `stale_signature`, `unknown_key`, `key_revoked`", body = crate::openapi::ErrorDto), (status = 429, description = "`rate_limited`: the issuer's hourly quota of references is spent", body = crate::openapi::ErrorDto)))]
pub(crate) async fn aadhaar_reference_batch(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (issuer, query): (_, AadhaarBatchQuery) = signed_issuer_request(&state, request).await?;
    if query.aadhaar_numbers.len() > crate::limits::AADHAAR_BATCH_MAX {
        return Err(ApiError::bad_request(
            "batch_too_large",
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
