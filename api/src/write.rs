//! Appending events the service signs itself: as a citizen (with the custodial key in the
//! vault) or as the platform. Callers hold their partition's write turn when the event depends
//! on state; the append waits until the views include the event, so the caller's next read
//! sees it.

use axum::http::StatusCode;
use ledger::Appended;
use ledger::crypto::{key_id_of, sign_event};
use schemas::{Actor, Event, EventId, LockerId, Payload, PersonalData, Sealed, encode_record};

use crate::push::ledger_error;
use crate::{ApiError, AppState};

pub(crate) fn internal(e: impl std::fmt::Debug) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("{e:?}"))
}

async fn append(
    state: &AppState,
    event: Event,
    key: &ed25519_dalek::SigningKey,
    sealed: Option<Sealed>,
) -> Result<ledger::Position, ApiError> {
    let envelope = sign_event(event, key, sealed).map_err(ledger_error)?;
    Ok(log(state, &envelope, true, ledger_error).await?.position())
}

/// Appends an envelope; with `settle`, waits until the views include a new event.
async fn log(
    state: &AppState,
    envelope: &schemas::Envelope,
    settle: bool,
    refusal: impl FnOnce(ledger::LedgerError) -> ApiError,
) -> Result<Appended, ApiError> {
    let record = encode_record(envelope).map_err(|e| ledger_error(e.into()))?;
    let appended = state.appender.append_record(record).await.map_err(refusal)?;
    if let Appended::New(position) = appended
        && settle
    {
        state.writes.settle(position).await?;
    }
    Ok(appended)
}

/// The answer to a client whose signed event was logged (or already was).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Accepted {
    /// `accepted`, or `already_present` for a retry of a logged event.
    status: &'static str,
    event_id: String,
    partition: u32,
    offset: u64,
}

/// Appends an event a client signed: 201 `accepted`, or 200 `already_present` for a retry.
/// With `settle` (citizen-topic events), waits until the views include it. `refusal` maps the
/// ledger's refusals to the caller's codes.
pub(crate) async fn submit(
    state: &AppState,
    envelope: &schemas::Envelope,
    settle: bool,
    refusal: impl FnOnce(ledger::LedgerError) -> ApiError,
) -> Result<(StatusCode, Accepted), ApiError> {
    let (status, word, position) = match log(state, envelope, settle, refusal).await? {
        Appended::New(position) => (StatusCode::CREATED, "accepted", position),
        Appended::Existing(position) => (StatusCode::OK, "already_present", position),
    };
    let accepted = Accepted {
        status: word,
        event_id: envelope.event.id.to_string(),
        partition: position.partition,
        offset: position.offset,
    };
    Ok((status, accepted))
}

/// A fresh random event id.
pub(crate) fn new_id(state: &AppState) -> Result<EventId, ApiError> {
    Ok(EventId(state.accounts.random().map_err(internal)?))
}

/// Signs `payload` as the citizen (custodial key) and appends it.
pub(crate) async fn as_citizen(
    state: &AppState,
    locker: &LockerId,
    payload: Payload,
    sealed: Option<Sealed>,
) -> Result<ledger::Position, ApiError> {
    let key = citizen_key(state, locker)?;
    let event = Event {
        id: new_id(state)?,
        occurred_at_ms: state.clock.now(),
        actor: Actor::Citizen(*locker),
        key_id: key_id_of(&key.verifying_key()),
        payload,
    };
    append(state, event, &key, sealed).await
}

/// The citizen's custodial signing key.
pub(crate) fn citizen_key(
    state: &AppState,
    locker: &LockerId,
) -> Result<ed25519_dalek::SigningKey, ApiError> {
    state
        .vault
        .signing_key(locker)
        .ok_or_else(|| internal("the citizen's signing key is missing from the vault"))
}

/// Signs `payload` as the platform and appends it.
pub(crate) async fn as_platform(
    state: &AppState,
    payload: Payload,
) -> Result<ledger::Position, ApiError> {
    as_platform_with_id(state, new_id(state)?, payload).await
}

/// Signs `payload` as the platform, with its sealed personal fields, and appends it.
pub(crate) async fn as_platform_sealed(
    state: &AppState,
    payload: Payload,
    sealed: Sealed,
) -> Result<ledger::Position, ApiError> {
    let event = Event {
        id: new_id(state)?,
        occurred_at_ms: state.clock.now(),
        actor: Actor::Platform,
        key_id: key_id_of(&state.platform.verifying_key()),
        payload,
    };
    append(state, event, &state.platform, Some(sealed)).await
}

/// The same, with an id the caller derived (so a repeat is recognised).
pub(crate) async fn as_platform_with_id(
    state: &AppState,
    id: EventId,
    payload: Payload,
) -> Result<ledger::Position, ApiError> {
    let event = Event {
        id,
        occurred_at_ms: state.clock.now(),
        actor: Actor::Platform,
        key_id: key_id_of(&state.platform.verifying_key()),
        payload,
    };
    append(state, event, &state.platform, None).await
}

/// Commits to and seals `data` for the locker; returns the commitment the event signs and
/// the sealed payload that travels beside it.
pub(crate) fn seal_for(
    state: &AppState,
    locker: &LockerId,
    data: &PersonalData,
) -> Result<(schemas::Commitment, Sealed), ApiError> {
    let subject = schemas::SealSubject::Locker(*locker);
    let key = state.vault.key_for(&subject).map_err(internal)?;
    let salt = state.accounts.random().map_err(internal)?;
    ledger::crypto::seal_personal(&key, subject, state.nonces.next(), salt, data)
        .map_err(ledger_error)
}
