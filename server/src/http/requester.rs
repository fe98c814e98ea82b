//! Requesters (banks, telcos, passport offices): every request is signed with the
//! requester's registered Ed25519 key as an HTTP Message Signature (RFC 9421) covering the
//! method, path, query and, for a body, its Content-Digest. Writes carry their own signed
//! event as well (a consent request, a document access), because the log keeps only what the
//! actor signed.
//!
//! Consent events reach the requester through a Server-Sent Events stream. Each event's id
//! is the stream's position in every citizen partition after it, so a client that reconnects
//! with `Last-Event-ID` continues exactly where it stopped: no gap, no repeat, whichever
//! partitions move meanwhile.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use projections::views::{ConsentState, RequesterEventKind, RequesterEventView};
use schemas::*;
use serde::{Deserialize, Serialize};

use crate::app::dto::state_name;
use crate::app::error::ledger_error;
use crate::app::json::json;
use crate::app::lookup::{doc_text, resolve};
use crate::app::write::internal;
use crate::http::list::{ListQuery, list_query};
use crate::http::signed::authenticate;
use crate::limits::{CONSENT_REQUEST_DAYS_MAX, SSE_BATCH_EVENTS, SSE_KEEPALIVE_MS, SSE_STREAM_MS};
use crate::{AppError, AppState};
use wire::ErrorCode;
use wire::dto::Accepted;
use wire::dto::{GrantedDto, ListDto, RequesterConsentDto};
use wire::rfc9421;

#[derive(Serialize, utoipa::ToSchema)]
struct LockerDto {
    locker: String,
}

/// `GET /v1/requester/lockers/{username}`: the locker a citizen's username names.
#[utoipa::path(get, path = "/v1/requester/lockers/{username}", tag = "requester", security(("http_signature" = [])), params(("username" = String, Path, pattern = r"^[a-z][a-z0-9._]{2,31}$")), responses((status = 200, body = LockerDto), (status = 401, description = "Missing, malformed, stale or forged HTTP message signature (`missing_signature`, `bad_signature`, `stale_signature`, `unknown_key`, `key_revoked`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_citizen`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn locker_of(
    State(state): State<AppState>,
    Path(username): Path<String>,
    request: Request,
) -> Result<Response, AppError> {
    authenticate(&state, request).await?;
    let locker = state.accounts.locker_of(&username).map_err(internal)?.ok_or_else(|| {
        AppError::not_found(format!("no citizen {username:?}")).with_code(ErrorCode::UnknownCitizen)
    })?;
    Ok(Json(LockerDto { locker: locker.to_string() }).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedBody {
    envelope: Envelope,
}

/// `SignedBody` as `POST /v1/requester/consents` documents it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // a schema only; requests decode as `SignedBody`
struct ConsentRequestBody {
    /// The signed `consent_requested` event in its JSON form (`sealed` null)
    #[schema(schema_with = crate::openapi::event::consent_requested_envelope)]
    envelope: (),
}

/// `SignedBody` as `POST /v1/requester/documents` documents it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // a schema only; requests decode as `SignedBody`
struct AccessBody {
    /// The signed `document_accessed` event in its JSON form (`sealed` null)
    #[schema(schema_with = crate::openapi::event::document_accessed_envelope)]
    envelope: (),
}

/// The signed event in a requester's body: theirs, of the expected kind, and recent.
fn signed_event(
    state: &AppState,
    requester: &RequesterId,
    body: &[u8],
    kinds: &[&str],
) -> Result<Envelope, AppError> {
    let SignedBody { envelope } = json(body)?;
    if envelope.event.actor != Actor::Requester(requester.clone()) {
        return Err(AppError::new(
            ErrorCode::NotPermitted,
            "the event must be signed by the requester that signs the request",
        ));
    }
    if !kinds.contains(&envelope.event.payload.kind_name()) {
        return Err(AppError::new(
            ErrorCode::InvalidEvent,
            format!(
                "expected a {} event, not {}",
                kinds.join(" or "),
                envelope.event.payload.kind_name()
            ),
        ));
    }
    if envelope.sealed.is_some() {
        return Err(AppError::new(ErrorCode::InvalidEvent, "requester events seal nothing"));
    }
    crate::app::issuance::check_window(state, &envelope.event)?;
    Ok(envelope)
}

async fn append(state: &AppState, envelope: &Envelope) -> Result<Accepted, AppError> {
    crate::app::write::submit(state, envelope, true, ledger_error).await
}

/// `POST /v1/requester/consents`: `{envelope}` of a signed `consent_requested` event.
#[utoipa::path(post, path = "/v1/requester/consents", tag = "requester", security(("http_signature" = [])), request_body(content = ConsentRequestBody, description = "A `consent_requested` event signed by the requester"), responses((status = 403, description = "`not_permitted`: the event is another requester's", body = crate::openapi::ErrorDto), (status = 422, description = "`invalid_event`, `stale_event`, `invalid_expiry`", body = crate::openapi::ErrorDto), (status = 201, body = Accepted), (status = 200, description = "Already present (a retry)", body = Accepted), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "Missing, malformed, stale or forged HTTP message signature (`missing_signature`, `bad_signature`, `stale_signature`, `unknown_key`, `key_revoked`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_locker`", body = crate::openapi::ErrorDto), (status = 409, description = "`consent_exists`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn request_consent(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, AppError> {
    let (requester, body) = authenticate(&state, request).await?;
    let kinds = ["consent_requested", "consent_requested_with_terms"];
    let envelope = signed_event(&state, &requester, &body, &kinds)?;
    let asked = match &envelope.event.payload {
        Payload::ConsentRequested(e) => {
            Asked { locker: e.locker, consent_id: e.consent_id, expires_at_ms: e.expires_at_ms }
        }
        Payload::ConsentRequestedWithTerms(e) => {
            Asked { locker: e.locker, consent_id: e.consent_id, expires_at_ms: e.expires_at_ms }
        }
        _ => return Err(internal("kind checked above")),
    };
    let now = state.clock.now();
    let latest = now.0 + i64::from(CONSENT_REQUEST_DAYS_MAX) * schemas::limits::DAY_MS;
    if asked.expires_at_ms <= now || asked.expires_at_ms.0 > latest {
        return Err(AppError::new(
            ErrorCode::InvalidExpiryAsUnprocessableEntity,
            format!("a request must expire within {CONSENT_REQUEST_DAYS_MAX} days from now"),
        ));
    }
    let _turn = state.writes.turn(&PartitionKey::Locker(asked.locker)).await?;
    if !state.writes.is_logged(&envelope.event.id).await? {
        if state.views.profile(&asked.locker)?.is_none() {
            return Err(AppError::not_found(format!("no locker {}", asked.locker))
                .with_code(ErrorCode::UnknownLocker));
        }
        if state.views.consent(&asked.locker, &asked.consent_id, now)?.is_some() {
            return Err(AppError::new(
                ErrorCode::ConsentExists,
                format!("consent id {} is already used in that locker", asked.consent_id),
            ));
        }
    }
    let answer = append(&state, &envelope).await?;
    Ok(crate::http::answer::accepted(answer))
}

/// What both kinds of consent request say that the service checks.
struct Asked {
    locker: LockerId,
    consent_id: Id16,
    expires_at_ms: TimestampMs,
}

/// `GET /v1/requester/consents`: the requester's consents across lockers, paginated.
#[utoipa::path(get, path = "/v1/requester/consents", tag = "requester", security(("http_signature" = [])), params(ListQuery), responses((status = 422, description = "`invalid_cursor`: a cursor of another list", body = crate::openapi::ErrorDto), (status = 200, body = ListDto<RequesterConsentDto>), (status = 401, description = "Missing, malformed, stale or forged HTTP message signature (`missing_signature`, `bad_signature`, `stale_signature`, `unknown_key`, `key_revoked`)", body = crate::openapi::ErrorDto)))]
pub(crate) async fn consents(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
    request: Request,
) -> Result<Json<ListDto<RequesterConsentDto>>, AppError> {
    let (requester, _) = authenticate(&state, request).await?;
    let query = list_query(query)?;
    let page = state.views.requester_consents(
        requester.as_str(),
        state.clock.now(),
        query.cursor.as_deref(),
        query.limit()?,
    )?;
    let mut items = Vec::with_capacity(page.items.len());
    for consent in page.items {
        let granted = consent
            .granted
            .iter()
            .map(|doc| {
                let (uri, upload_id) = doc_text(doc);
                let content_hash =
                    resolve(&state, &consent.locker, doc).ok().map(|r| r.hash.to_hex());
                GrantedDto { uri, upload_id, content_hash }
            })
            .collect();
        items.push(RequesterConsentDto {
            id: consent.consent_id.to_hex(),
            locker: consent.locker.to_string(),
            state: state_name(consent.state).to_owned(),
            purpose: consent.purpose.code,
            purpose_text: consent.purpose.text.to_string(),
            items: consent.items,
            requested_at_ms: consent.requested_at_ms.0,
            request_expires_at_ms: consent.request_expires_at_ms.0,
            access_expires_at_ms: consent.access_expires_at_ms.map(|t| t.0),
            granted,
            accesses: consent.accesses,
            terms: consent.terms.as_ref().map(crate::app::dto::terms_dto),
            refusals: consent.refusals,
        });
    }
    Ok(Json(ListDto { items, next_cursor: page.next }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct FetchedDto {
    #[serde(flatten)]
    accepted: Accepted,
    #[serde(flatten)]
    document: wire::dto::DocumentDto,
    /// The document's bytes in base64, when the service holds them.
    content: Option<String>,
}

fn refused(code: ErrorCode, message: impl Into<String>) -> AppError {
    debug_assert_eq!(code.status(), 403);
    AppError::new(code, message)
}

/// `POST /v1/requester/documents`: `{envelope}` of a signed `document_accessed` event; the
/// answer is the document, if the consent allows it now.
#[utoipa::path(post, path = "/v1/requester/documents", tag = "requester", security(("http_signature" = [])), request_body(content = AccessBody, description = "A `document_accessed` event signed by the requester"), responses((status = 422, description = "`invalid_event`, `stale_event`", body = crate::openapi::ErrorDto), (status = 200, body = FetchedDto), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "Missing, malformed, stale or forged HTTP message signature (`missing_signature`, `bad_signature`, `stale_signature`, `unknown_key`, `key_revoked`)", body = crate::openapi::ErrorDto), (status = 403, description = "`consent_expired`, `consent_revoked`, `consent_paused`, `consent_state`, `document_not_granted`", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_consent`", body = crate::openapi::ErrorDto), (status = 409, description = "`stale_document`", body = crate::openapi::ErrorDto), (status = 429, description = "`frequency_exceeded`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn fetch(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, AppError> {
    let (requester, body) = authenticate(&state, request).await?;
    let envelope = signed_event(&state, &requester, &body, &["document_accessed"])?;
    let Payload::DocumentAccessed(access) = &envelope.event.payload else {
        return Err(internal("kind checked above"));
    };
    let _turn = state.writes.turn(&PartitionKey::Locker(access.locker)).await?;
    // Checked on retries too: a logged access does not outlive a revocation.
    let unknown = || {
        AppError::not_found(format!("no consent {} of yours in that locker", access.consent_id))
            .with_code(ErrorCode::UnknownConsent)
    };
    let consent = state
        .views
        .consent(&access.locker, &access.consent_id, state.clock.now())?
        .ok_or_else(unknown)?;
    if consent.requester != requester.as_str() {
        return Err(unknown());
    }
    // A retry of a logged fetch is not a new fetch: only a new one counts and is refused.
    let new = !state.writes.is_logged(&envelope.event.id).await?;
    match consent.state {
        ConsentState::Active | ConsentState::Paused => {}
        ConsentState::Expired => {
            return Err(refused(ErrorCode::ConsentExpired, "the consent has expired"));
        }
        ConsentState::Revoked => {
            return Err(refused(ErrorCode::ConsentRevoked, "the citizen revoked the consent"));
        }
        other => {
            return Err(refused(
                ErrorCode::ConsentState,
                format!("the consent is {}, not active", state_name(other)),
            ));
        }
    }
    if !consent.granted.contains(&access.document) {
        return Err(refused(
            ErrorCode::DocumentNotGranted,
            "the citizen did not grant this document",
        ));
    }
    let resolved = resolve(&state, &access.locker, &access.document)?;
    if resolved.hash != access.content_hash {
        return Err(AppError::new(
            ErrorCode::StaleDocument,
            format!("the document's content is now {}; sign an access to that", resolved.hash),
        ));
    }
    // Last: only a fetch that would otherwise be served is refused on the record.
    check_terms(&state, access, &consent, new).await?;
    let stored =
        state.files.contains(&resolved.hash).await.map_err(crate::app::lookup::file_error)?;
    let content = if stored {
        use base64::Engine;
        let bytes = crate::app::lookup::read_content(&state.files, resolved.hash).await?;
        Some(base64::engine::general_purpose::STANDARD.encode(bytes))
    } else {
        None
    };
    let accepted = append(&state, &envelope).await?;
    Ok(Json(FetchedDto { accepted, document: resolved.into(), content }).into_response())
}

/// A paused consent refuses every fetch (a retry of one logged before the pause too); a new
/// fetch is held to the terms.
async fn check_terms(
    state: &AppState,
    access: &DocumentAccessed,
    consent: &projections::views::ConsentView,
    new: bool,
) -> Result<(), AppError> {
    if consent.state == ConsentState::Paused {
        if !new {
            return Err(refused(ErrorCode::ConsentPaused, "the citizen paused this consent"));
        }
        let bucket_ms = crate::limits::PAUSED_REFUSALS_LOGGED_EVERY_MS;
        return Err(refuse_fetch(state, access, FetchRefusal::Paused, bucket_ms).await);
    }
    match &consent.terms {
        Some(terms) if new => within_terms(state, access, terms, &consent.recent_fetches_ms).await,
        _ => Ok(()),
    }
}

/// Refuses a fetch the terms do not allow now: before the access window opens, or past the
/// frequency (the refusal is logged and told to the requester's stream).
async fn within_terms(
    state: &AppState,
    access: &DocumentAccessed,
    terms: &projections::views::ConsentTerms,
    recent: &[TimestampMs],
) -> Result<(), AppError> {
    let now = state.clock.now();
    if now < terms.access_from_ms {
        return Err(refused(
            ErrorCode::ConsentState,
            format!("access under this consent starts at {} ms", terms.access_from_ms.0),
        ));
    }
    let window_start = now.0.saturating_sub(terms.frequency.per.window_ms());
    let in_window = recent.iter().filter(|at| at.0 > window_start).count();
    if in_window >= usize::try_from(terms.frequency.reads).unwrap_or(usize::MAX) {
        let window_ms = terms.frequency.per.window_ms();
        return Err(refuse_fetch(state, access, FetchRefusal::FrequencyExceeded, window_ms).await);
    }
    Ok(())
}

/// Logs the refusal as the platform (the citizen and the requester both see it), once per
/// consent, reason and `bucket_ms` of time (a requester that keeps asking does not fill the
/// citizen's partition: its id is derived from those), and the error that answers the fetch.
async fn refuse_fetch(
    state: &AppState,
    access: &DocumentAccessed,
    why: FetchRefusal,
    bucket_ms: i64,
) -> AppError {
    let bucket = state.clock.now().0.div_euclid(bucket_ms.max(1));
    let context = [&access.consent_id.0[..], why.code().as_bytes(), &bucket.to_le_bytes()].concat();
    let derived = blake3::derive_key("locker fetch refused v1", &context);
    let id = EventId(derived[..16].try_into().unwrap_or([0; 16]));
    let payload = Payload::ConsentFetchRefused(ConsentFetchRefused {
        consent_id: access.consent_id,
        requester: access.requester.clone(),
        locker: access.locker,
        document: access.document.clone(),
        reason: why,
    });
    let logged = match state.writes.is_logged(&id).await {
        Ok(true) => Ok(()),
        Ok(false) => crate::app::write::as_platform_with_id(state, id, payload).await.map(drop),
        Err(e) => Err(e),
    };
    if let Err(e) = logged {
        return e;
    }
    match why {
        FetchRefusal::Paused => refused(
            ErrorCode::ConsentPaused,
            "the citizen paused this consent; fetch after they resume it",
        ),
        FetchRefusal::FrequencyExceeded => AppError::new(
            ErrorCode::FrequencyExceeded,
            "this consent allows no more fetches in the current period",
        ),
    }
}

/// The stream position: for each citizen partition, the next offset to deliver.
fn encode_cursor(next: &[u64]) -> String {
    let offsets: Vec<String> = next.iter().map(u64::to_string).collect();
    format!("v1.{}", offsets.join("."))
}

fn decode_cursor(text: &str, partitions: u32) -> Result<Vec<u64>, AppError> {
    let bad = || {
        AppError::new(
            ErrorCode::InvalidLastEventId,
            format!("Last-Event-ID must be an id this stream sent (v1 and {partitions} offsets)"),
        )
    };
    let rest = text.strip_prefix("v1.").ok_or_else(bad)?;
    let next: Vec<u64> =
        rest.split('.').map(str::parse).collect::<Result<_, _>>().map_err(|_| bad())?;
    if next.len() != partitions as usize {
        return Err(bad());
    }
    Ok(next)
}

#[derive(Serialize, utoipa::ToSchema)]
struct StreamEventDto {
    consent_id: String,
    locker: String,
    at_ms: i64,
    documents: Vec<GrantedDto>,
    /// Why a fetch was refused (`fetch_refused` only): `frequency_exceeded` or
    /// `consent_paused`.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

fn kind_name(kind: RequesterEventKind) -> &'static str {
    match kind {
        RequesterEventKind::Requested => "consent_requested",
        RequesterEventKind::Granted => "consent_granted",
        RequesterEventKind::Denied => "consent_denied",
        RequesterEventKind::Revoked => "consent_revoked",
        RequesterEventKind::Expired => "consent_expired",
        RequesterEventKind::Accessed => "document_accessed",
        RequesterEventKind::Paused => "consent_paused",
        RequesterEventKind::Resumed => "consent_resumed",
        RequesterEventKind::Refused => "fetch_refused",
    }
}

struct Stream {
    state: AppState,
    /// Who opened the stream and with which key: checked again whenever the stream wakes, so
    /// a revoked key or a suspended requester stops receiving at once.
    who: Principal,
    key_id: KeyId,
    /// When the stream ends and the requester must sign again to go on.
    until: tokio::time::Instant,
    requester: String,
    next: Vec<u64>,
    pending: VecDeque<(u32, u64, RequesterEventView)>,
    changes: tokio::sync::watch::Receiver<u64>,
    _slot: crate::store::quota::StreamSlot,
}

impl Stream {
    fn refill(&mut self) -> Result<(), AppError> {
        for (partition, next) in (0u32..).zip(self.next.iter()) {
            let after = next.checked_sub(1);
            for (offset, view) in self.state.views.requester_events(
                &self.requester,
                partition,
                after,
                SSE_BATCH_EVENTS,
            )? {
                self.pending.push_back((partition, offset, view));
            }
        }
        Ok(())
    }

    /// The next event, waiting for the views to change when there is none.
    async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            if let Some((partition, offset, view)) = self.pending.pop_front() {
                if let Some(slot) = self.next.get_mut(partition as usize) {
                    *slot = offset + 1;
                }
                let documents = view
                    .documents
                    .iter()
                    .map(|doc| {
                        let (uri, upload_id) = doc_text(doc);
                        GrantedDto { uri, upload_id, content_hash: None }
                    })
                    .collect();
                let data = StreamEventDto {
                    consent_id: view.consent_id.to_hex(),
                    locker: view.locker.to_string(),
                    at_ms: view.at_ms.0,
                    documents,
                    reason: view.refusal.map(FetchRefusal::code),
                };
                let event = SseEvent::default()
                    .id(encode_cursor(&self.next))
                    .event(kind_name(view.kind))
                    .json_data(data)
                    .ok()?;
                return Some(event);
            }
            // Mark before reading, so a change between the read and the wait is not missed.
            self.changes.borrow_and_update();
            if let Err(e) = self.state.appender.active_key(&self.who, &self.key_id).await {
                tracing::info!(reason = %e, "event stream ended: its signer may no longer sign");
                return None;
            }
            if let Err(e) = self.refill() {
                tracing::warn!(code = e.code.code(), message = %e.message, "event stream stopped");
                return None;
            }
            if self.pending.is_empty() {
                match tokio::time::timeout_at(self.until, self.changes.changed()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) | Err(_) => return None,
                }
            }
            if tokio::time::Instant::now() >= self.until {
                return None;
            }
        }
    }
}

/// The key id a request's signature names (`keyid="<organisation>:<key id>"`).
fn signing_key_id(headers: &axum::http::HeaderMap) -> Option<KeyId> {
    let input = headers.get("signature-input")?.to_str().ok()?;
    let input = rfc9421::parse_signature_input(input).ok()?;
    let (_, key_hex) = input.keyid?.rsplit_once(':').map(|(a, b)| (a.to_owned(), b.to_owned()))?;
    KeyId::from_hex(&key_hex).ok()
}

/// `GET /v1/requester/events`: Server-Sent Events of the requester's consents.
#[utoipa::path(get, path = "/v1/requester/events", tag = "requester", security(("http_signature" = [])), params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event")), description = "Server-Sent Events of the requester's consents: consent_requested, consent_granted, consent_denied, consent_revoked, consent_expired, consent_paused, consent_resumed, document_accessed, fetch_refused (with its reason).", responses((status = 200, description = "An event stream", content_type = "text/event-stream", body = StreamEventDto), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "Missing, malformed, stale or forged HTTP message signature (`missing_signature`, `bad_signature`, `stale_signature`, `unknown_key`, `key_revoked`)", body = crate::openapi::ErrorDto), (status = 503, description = "`too_many_streams`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn events(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, AppError> {
    let last = request
        .headers()
        .get("last-event-id")
        .map(|v| v.to_str().map(str::to_owned))
        .transpose()
        .map_err(|_| AppError::new(ErrorCode::InvalidLastEventId, "Last-Event-ID is not text"))?;
    let signed_with = signing_key_id(request.headers());
    let (requester, _) = authenticate(&state, request).await?;
    let key_id = signed_with.ok_or_else(|| internal("a verified signature without a key id"))?;
    let partitions = state.writes.citizen_partitions();
    let next = match last {
        Some(text) => decode_cursor(&text, partitions)?,
        None => vec![0; partitions as usize],
    };
    let slot = state.streams.take(requester.as_str()).map_err(|e| match e {
        crate::store::quota::NoSlot::Full => {
            AppError::new(ErrorCode::TooManyStreams, "too many open event streams; retry later")
        }
        crate::store::quota::NoSlot::HolderFull => AppError::new(
            ErrorCode::TooManyStreamsAsTooManyRequests,
            format!(
                "a requester may hold {} event streams open at once; close one first",
                state.streams.per_holder()
            ),
        ),
    })?;
    let stream = Stream {
        changes: state.writes.changes(),
        who: Principal::Requester(requester.clone()),
        key_id,
        until: tokio::time::Instant::now() + Duration::from_millis(SSE_STREAM_MS),
        state,
        requester: requester.to_string(),
        next,
        pending: VecDeque::new(),
        _slot: slot,
    };
    let events = futures_util::stream::unfold(stream, |mut stream| async move {
        let event = stream.next_event().await?;
        Some((Ok::<_, Infallible>(event), stream))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_millis(SSE_KEEPALIVE_MS)))
        .into_response())
}
