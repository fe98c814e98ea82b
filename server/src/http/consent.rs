//! The citizen's decisions on consent requests: grant (choosing documents), deny, revoke,
//! pause and resume.
//! Each is an event signed with the citizen's custodial key, checked under the partition's
//! write turn against caught-up views, so no decision can contradict the consent's state.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use projections::views::{ConsentState, ConsentView, Owner};
use schemas::*;
use serde::Deserialize;

use crate::app::json::json;
use crate::app::write::internal;
use crate::http::session::Citizen;
use crate::limits::{CONSENT_ACCESS_DAYS_DEFAULT, CONSENT_ACCESS_DAYS_MAX};
use crate::{AppError, AppState};
use wire::ErrorCode;
use wire::dto::Decided;

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantBody {
    /// URIs of the documents to release; all matching documents when absent.
    #[schema(inline, value_type = Option<Vec<crate::openapi::event::UriString>>)]
    documents: Option<Vec<String>>,
    /// 1 to 365; 90 when absent.
    #[schema(minimum = 1, maximum = 365)]
    access_days: Option<u32>,
}

fn consent_id(text: &str) -> Result<Id16, AppError> {
    Id16::from_hex(text)
        .map_err(|_| AppError::new(ErrorCode::InvalidConsentId, "a consent id is 32 hex digits"))
}

fn matches(item: &ConsentItem, uri: &DocUri) -> bool {
    match item {
        ConsentItem::DocType { issuer, doc_type } => {
            uri.issuer() == issuer && uri.doc_type() == doc_type
        }
        ConsentItem::Document(wanted) => wanted == uri,
    }
}

/// The consent in the caller's locker, with its state as of now.
fn consent_of(state: &AppState, citizen: &Citizen, id: &Id16) -> Result<ConsentView, AppError> {
    state
        .views
        .consents(&citizen.locker, state.clock.now(), None)?
        .into_iter()
        .find(|c| c.consent_id == *id)
        .ok_or_else(|| {
            AppError::not_found(format!("no consent {id} in your locker"))
                .with_code(ErrorCode::UnknownConsent)
        })
}

fn require(consent: &ConsentView, wanted: &[ConsentState], action: &str) -> Result<(), AppError> {
    if wanted.contains(&consent.state) {
        return Ok(());
    }
    let code = if consent.state == ConsentState::Expired {
        ErrorCode::ConsentExpiredAsConflict
    } else {
        ErrorCode::ConsentStateAsConflict
    };
    Err(AppError::new(
        code,
        format!("cannot {action} a consent that is {:?}", consent.state).to_lowercase(),
    ))
}

/// Signs `payload` as the citizen and appends it in the partition's turn.
async fn decide(state: &AppState, citizen: &Citizen, payload: Payload) -> Result<(), AppError> {
    crate::app::write::as_citizen(state, &citizen.locker, payload, None).await.map(|_| ())
}

#[utoipa::path(post, path = "/v1/citizen/consents/{id}/grant", tag = "citizen", security(("session" = [])), params(("id" = String, Path, description = "The consent id, 32 hex digits", pattern = r"^[0-9a-fA-F]{32}$")), request_body(content = GrantBody, description = "Optional: the documents to release (default: every matching one) and the days of access"), responses((status = 200, body = Decided), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_consent`, `unknown_document`", body = crate::openapi::ErrorDto), (status = 409, description = "`consent_state`, `consent_expired`, `no_matching_documents`", body = crate::openapi::ErrorDto), (status = 422, description = "`document_not_requested`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn grant(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let id = consent_id(&id)?;
    // No body means the defaults: every matching document, for the default number of days.
    let body: GrantBody = if body.is_empty() { GrantBody::default() } else { json(&body)? };
    let days = body.access_days.unwrap_or(CONSENT_ACCESS_DAYS_DEFAULT);
    if body.access_days.is_some() && !(1..=CONSENT_ACCESS_DAYS_MAX).contains(&days) {
        return Err(AppError::new(
            ErrorCode::InvalidAccessDays,
            format!("1 to {CONSENT_ACCESS_DAYS_MAX} days"),
        ));
    }
    let _turn = state.writes.turn(&PartitionKey::Locker(citizen.locker)).await?;
    let consent = consent_of(&state, &citizen, &id)?;
    require(&consent, &[ConsentState::Pending], "grant")?;
    let owned = |uri: &DocUri| -> Result<bool, AppError> {
        Ok(state.views.document(&Owner::Locker(citizen.locker), &uri.to_string())?.is_some()
            || state
                .views
                .profile(&citizen.locker)?
                .and_then(|p| p.aadhaar_hash)
                .map(|hash| state.views.document(&Owner::Aadhaar(hash), &uri.to_string()))
                .transpose()?
                .flatten()
                .is_some())
    };
    let documents: Vec<DocUri> = match body.documents {
        Some(uris) => {
            let mut chosen = Vec::with_capacity(uris.len());
            for text in uris {
                let uri = crate::app::lookup::doc_uri(&text)?;
                if !owned(&uri)? {
                    return Err(AppError::not_found(format!("{uri} is not in your locker"))
                        .with_code(ErrorCode::UnknownDocument));
                }
                if !consent.items.iter().any(|item| matches(item, &uri)) {
                    return Err(AppError::new(
                        ErrorCode::DocumentNotRequested,
                        format!("{} did not ask for {uri}", consent.requester),
                    ));
                }
                chosen.push(uri);
            }
            chosen
        }
        None => state
            .views
            .certificates(&citizen.locker, state.clock.now(), None, crate::limits::LIST_ITEMS_MAX)?
            .items
            .into_iter()
            .filter_map(|c| DocUri::parse(&c.doc.uri).ok())
            .filter(|uri| consent.items.iter().any(|item| matches(item, uri)))
            .collect(),
    };
    if documents.is_empty() {
        return Err(AppError::new(
            ErrorCode::NoMatchingDocuments,
            "your locker has no document this consent asks for",
        ));
    }
    let requester = RequesterId::parse(&consent.requester).map_err(internal)?;
    let access_expires_at_ms = access_end(&consent, body.access_days, state.clock.now())?;
    let payload = Payload::ConsentGranted(ConsentGranted {
        consent_id: id,
        requester,
        locker: citizen.locker,
        documents: documents.iter().cloned().map(DocRef::Issued).collect(),
        access_expires_at_ms,
    });
    decide(&state, &citizen, payload).await?;
    let answer = Decided {
        id: id.to_hex(),
        state: "active".to_string(),
        documents: documents.iter().map(ToString::to_string).collect(),
    };
    Ok(Json(answer).into_response())
}

/// When a grant's access ends: after the days the citizen chose (90 by default), and never
/// after the window the requester's terms asked for (its end, at most a year away, when the
/// citizen chose none).
fn access_end(
    consent: &ConsentView,
    days: Option<u32>,
    now: TimestampMs,
) -> Result<TimestampMs, AppError> {
    let chosen = |days: u32| TimestampMs(now.0 + i64::from(days) * schemas::limits::DAY_MS);
    let Some(terms) = &consent.terms else {
        return Ok(chosen(days.unwrap_or(CONSENT_ACCESS_DAYS_DEFAULT)));
    };
    if terms.access_until_ms <= now {
        return Err(AppError::new(
            ErrorCode::ConsentStateAsConflict,
            "the access window this consent asked for has ended",
        ));
    }
    // Never past the longest access a citizen may give, whatever the window asked.
    let days = days.unwrap_or(CONSENT_ACCESS_DAYS_MAX);
    Ok(chosen(days).min(terms.access_until_ms))
}

/// Deny, revoke, pause and resume: the consent must be in one of `from`; the event is made
/// by `event`.
async fn close(
    state: &AppState,
    citizen: &Citizen,
    id: &str,
    from: &[ConsentState],
    action: &str,
    state_after: &'static str,
    event: fn(Id16, RequesterId, LockerId) -> Payload,
) -> Result<Response, AppError> {
    let id = consent_id(id)?;
    let _turn = state.writes.turn(&PartitionKey::Locker(citizen.locker)).await?;
    let consent = consent_of(state, citizen, &id)?;
    require(&consent, from, action)?;
    let requester = RequesterId::parse(&consent.requester).map_err(internal)?;
    decide(state, citizen, event(id, requester, citizen.locker)).await?;
    Ok(Json(Decided { id: id.to_hex(), state: state_after.to_owned(), documents: vec![] })
        .into_response())
}

#[utoipa::path(post, path = "/v1/citizen/consents/{id}/deny", tag = "citizen", security(("session" = [])), params(("id" = String, Path, description = "The consent id, 32 hex digits", pattern = r"^[0-9a-fA-F]{32}$")), responses((status = 200, body = Decided), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_consent`", body = crate::openapi::ErrorDto), (status = 409, description = "`consent_state`, `consent_expired`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn deny(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    close(
        &state,
        &citizen,
        &id,
        &[ConsentState::Pending],
        "deny",
        "denied",
        |consent_id, requester, locker| {
            Payload::ConsentDenied(ConsentDenied { consent_id, requester, locker })
        },
    )
    .await
}

#[utoipa::path(post, path = "/v1/citizen/consents/{id}/revoke", tag = "citizen", security(("session" = [])), params(("id" = String, Path, description = "The consent id, 32 hex digits", pattern = r"^[0-9a-fA-F]{32}$")), responses((status = 200, body = Decided), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_consent`", body = crate::openapi::ErrorDto), (status = 409, description = "`consent_state`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    close(
        &state,
        &citizen,
        &id,
        &[ConsentState::Active, ConsentState::Paused],
        "revoke",
        "revoked",
        |consent_id, requester, locker| {
            Payload::ConsentRevoked(ConsentRevoked { consent_id, requester, locker })
        },
    )
    .await
}

#[utoipa::path(post, path = "/v1/citizen/consents/{id}/pause", tag = "citizen", security(("session" = [])), params(("id" = String, Path, description = "The consent id, 32 hex digits", pattern = r"^[0-9a-fA-F]{32}$")), description = "Pauses an active consent: the requester's fetches are refused (`consent_paused`) until it is resumed; access still ends when it would have.", responses((status = 200, body = Decided), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_consent`", body = crate::openapi::ErrorDto), (status = 409, description = "`consent_state`, `consent_expired`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn pause(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    close(
        &state,
        &citizen,
        &id,
        &[ConsentState::Active],
        "pause",
        "paused",
        |consent_id, requester, locker| {
            Payload::ConsentPaused(ConsentPaused { consent_id, requester, locker })
        },
    )
    .await
}

#[utoipa::path(post, path = "/v1/citizen/consents/{id}/resume", tag = "citizen", security(("session" = [])), params(("id" = String, Path, description = "The consent id, 32 hex digits", pattern = r"^[0-9a-fA-F]{32}$")), description = "Resumes a paused consent.", responses((status = 200, body = Decided), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_consent`", body = crate::openapi::ErrorDto), (status = 409, description = "`consent_state`, `consent_expired`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn resume(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    close(
        &state,
        &citizen,
        &id,
        &[ConsentState::Paused],
        "resume",
        "active",
        |consent_id, requester, locker| {
            Payload::ConsentResumed(ConsentResumed { consent_id, requester, locker })
        },
    )
    .await
}
