//! An issuer's signed document event taken in (a push, or an issuer's answer to a pull):
//! authenticated before anything is looked up or stored, checked against the locker, the
//! commitment, the declared fields and the bytes, sealed under the citizen's key, and logged.
//! Nothing is written for a refused one.

use ledger::LedgerError;
use schemas::{Actor, Payload};

use crate::app::error::invalid_event;
use crate::app::error::ledger_error;
use crate::app::issuance::PushBody;
use crate::app::issuance::authenticate;
use crate::app::issuance::check_window;
use crate::app::issuance::committed_personal;
use crate::{AppError, AppState};
use wire::ErrorCode;

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
