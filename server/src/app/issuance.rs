//! Issuers' signed documents as push and bulk take them: the body, the clock window, the
//! authentication that comes before anything is looked up or stored, and the personal fields
//! checked against the commitment the issuer signed.

use ledger::LedgerError;
use schemas::{Envelope, PersonalData};
use serde::Deserialize;

use crate::app::error::invalid_event;
use crate::app::error::ledger_error;
use crate::limits::PUSH_CLOCK_SKEW_MS;
use crate::store::accounts::Claim;
use crate::{AppError, AppState};
use wire::ErrorCode;

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

/// Refuses events whose time is far from the server's clock: with the event-id idempotency,
/// this bounds how long a captured request can be replayed.
pub(crate) fn check_window(state: &AppState, event: &schemas::Event) -> Result<(), AppError> {
    check_window_at(state.clock.now(), event)
}

pub(crate) fn check_window_at(
    now: schemas::TimestampMs,
    event: &schemas::Event,
) -> Result<(), AppError> {
    // As u64: the time is the caller's, and any i64 must not overflow a subtraction.
    let skew = event.occurred_at_ms.0.abs_diff(now.0);
    if skew > PUSH_CLOCK_SKEW_MS.unsigned_abs() {
        return Err(AppError::new(
            ErrorCode::StaleEvent,
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
pub(crate) async fn authenticate(state: &AppState, envelope: &Envelope) -> Result<(), AppError> {
    let signed =
        schemas::SignedEnvelope::new(envelope.clone()).map_err(|e| ledger_error(e.into()))?;
    let mut verdicts = state.appender.authenticate(vec![signed]).await.map_err(ledger_error)?;
    let closed = LedgerError::Log(ledger::LogError::Closed);
    let verdict = verdicts.pop().map_or(Err(closed), |(_, verdict)| verdict);
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

/// The personal fields sent with a document event, checked against the commitment the event
/// signs: both or neither, `document` fields, and the salt and fields hash to the commitment.
pub(crate) fn committed_personal(
    commitment: Option<schemas::Commitment>,
    sent: Option<PersonalBody>,
) -> Result<Option<([u8; 32], PersonalData)>, AppError> {
    committed(commitment, sent.map(|p| (p.salt, p.data)), |salt: String| salt_of(&salt))
}

/// `committed_personal` for fields sent with their salt in any form (`salt` reads it).
pub(crate) fn committed<S>(
    commitment: Option<schemas::Commitment>,
    sent: Option<(S, PersonalData)>,
    salt: impl FnOnce(S) -> Result<[u8; 32], AppError>,
) -> Result<Option<([u8; 32], PersonalData)>, AppError> {
    match (commitment, sent) {
        (None, None) => Ok(None),
        (None, Some(_)) => {
            Err(invalid_event("personal fields sent for an event that commits to none"))
        }
        (Some(_), None) => {
            Err(invalid_event("the event commits to personal fields; send them under `personal`"))
        }
        (Some(commitment), Some((sent_salt, data))) => {
            if !matches!(data, PersonalData::Document(_)) {
                return Err(invalid_event("a document's personal fields are `document` fields"));
            }
            let salt = salt(sent_salt)?;
            let bytes =
                schemas::encode_personal(&data).map_err(|e| invalid_event(e.to_string()))?;
            if ledger::crypto::commitment(&salt, &bytes) != commitment {
                return Err(AppError::new(
                    ErrorCode::CommitmentMismatch,
                    "the personal fields and salt do not match the signed commitment",
                ));
            }
            Ok(Some((salt, data)))
        }
    }
}

pub(crate) fn salt_of(text: &str) -> Result<[u8; 32], AppError> {
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect();
    bytes
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| AppError::new(ErrorCode::InvalidSalt, "salt must be 64 hex digits"))
}

/// Claims an issuance's URI for its recipient across a cluster before it is appended
/// (`Accounts::claim_uris`): the claim this call made (to give back if the push then fails),
/// or a refusal if another recipient holds the URI. Other events claim nothing.
pub(crate) async fn claim_uri(
    state: &AppState,
    envelope: &Envelope,
) -> Result<Vec<UriClaim>, AppError> {
    let payload = &envelope.event.payload;
    if !state.accounts.is_shared() || !matches!(payload, schemas::Payload::DocumentIssued(_)) {
        return Ok(Vec::new());
    }
    let (id, recipient) = (envelope.event.id, payload.partition_key().to_key_bytes());
    let found = claim_uris(state, vec![(id, recipient.clone())]).await?;
    match found.as_slice() {
        [Claim::Created] => Ok(vec![UriClaim { index: 0, id, recipient, created: true }]),
        [Claim::Held] => Ok(vec![UriClaim { index: 0, id, recipient, created: false }]),
        _ => Err(AppError::new(
            ErrorCode::UriExists,
            "this URI is already issued (a URI belongs to exactly one locker)",
        )),
    }
}

/// A URI claimed for an issuance (by its row in a batch, 0 for a push).
#[derive(Debug, Clone)]
pub(crate) struct UriClaim {
    pub index: usize,
    pub id: schemas::EventId,
    pub recipient: Vec<u8>,
    /// This request made it (rather than finding it its recipient's already).
    pub created: bool,
}

/// `Accounts::claim_uris` off the async workers.
pub(crate) async fn claim_uris(
    state: &AppState,
    claims: Vec<(schemas::EventId, Vec<u8>)>,
) -> Result<Vec<Claim>, AppError> {
    let accounts = std::sync::Arc::clone(&state.accounts);
    tokio::task::spawn_blocking(move || accounts.claim_uris(&claims))
        .await
        .map_err(crate::app::write::internal)?
        .map_err(crate::app::write::internal)
}

/// Ends what `claim_uri` (or a batch's claims) started, once the issuances are done. A
/// claim this request made is given back if its issuance failed and is surely not logged
/// (one whose outcome is unknown may have landed, so its claim stays). A claim it found
/// made (by a request for the same recipient still in flight, which may yet fail and give
/// it back) is made again if gone, once its own issuance is logged.
pub(crate) async fn settle_uri_claims(
    state: &AppState,
    claims: &[UriClaim],
    failed: impl Fn(usize) -> bool,
) {
    let mut again = Vec::new();
    for claim in claims {
        match (claim.created, failed(claim.index)) {
            (true, true) => give_back_uri(state, claim.id).await,
            (false, false) => again.push((claim.id, claim.recipient.clone())),
            _ => {}
        }
    }
    if !again.is_empty() && claim_uris(state, again).await.is_err() {
        tracing::error!("issued URIs whose claims could not be made again");
    }
}

async fn give_back_uri(state: &AppState, id: schemas::EventId) {
    if state.writes.is_logged(&id).await.unwrap_or(true) {
        tracing::warn!("a failed issuance may have been logged: its URI stays claimed");
        return;
    }
    let accounts = std::sync::Arc::clone(&state.accounts);
    let released = tokio::task::spawn_blocking(move || accounts.release_uri(&id)).await;
    if !matches!(released, Ok(Ok(()))) {
        tracing::error!("a failed issuance's URI stays claimed");
    }
}

/// The issuer's latest declaration of a doc type (`DocTypeDeclared`), if it made one.
pub(crate) fn declaration(
    state: &AppState,
    issuer: &schemas::IssuerId,
    doc_type: &schemas::DocTypeCode,
) -> Result<Option<schemas::DocTypeDeclared>, AppError> {
    let view = state.views.issuer(issuer.as_str())?;
    Ok(view.and_then(|v| v.declared.into_iter().find(|d| &d.doc_type == doc_type)))
}

/// A document event's fields checked against its doc type's declaration: `invalid_field`,
/// naming the field, when one breaks it. Revocations and undeclared types pass.
pub(crate) fn check_fields(
    declared: Option<&schemas::DocTypeDeclared>,
    payload: &schemas::Payload,
    personal: Option<&PersonalData>,
) -> Result<(), AppError> {
    let (Some(declared), true) = (
        declared,
        matches!(
            payload,
            schemas::Payload::DocumentIssued(_) | schemas::Payload::DocumentUpdated(_)
        ),
    ) else {
        return Ok(());
    };
    let fields = match personal {
        Some(PersonalData::Document(document)) => document.fields.as_slice(),
        _ => &[],
    };
    schemas::check_document_fields(declared, fields).map_err(|problem| {
        AppError::new(
            ErrorCode::InvalidField,
            format!("{problem}, as {} declared {}", declared.issuer, declared.doc_type),
        )
    })
}

/// The doc type of a document event (its URI's), and whose it is.
pub(crate) fn doc_type_of(
    payload: &schemas::Payload,
) -> Option<(&schemas::IssuerId, &schemas::DocTypeCode)> {
    let uri = match payload {
        schemas::Payload::DocumentIssued(e) => &e.uri,
        schemas::Payload::DocumentUpdated(e) => &e.uri,
        schemas::Payload::DocumentRevoked(e) => &e.uri,
        _ => return None,
    };
    Some((uri.issuer(), uri.doc_type()))
}
