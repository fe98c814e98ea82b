//! The platform's expiry sweep: a consent request nobody answered, or a consent whose access
//! period ended, gets a `consent_expired` event signed by the platform, so the requester's
//! event stream and every replay of the log say when it ended. (Queries already treat such
//! consents as expired from the clock alone; the event makes it a fact in the log.)
//!
//! The views index live consents by the time they lapse. Each due consent is checked again in
//! its partition's write turn, so a decision racing the sweep (a grant, a revocation) wins
//! or loses cleanly and the partition never sees an expiry it cannot apply. The event id is
//! derived from the consent, so two sweepers (processes) cannot expire it twice.

use std::time::Duration;

use schemas::{ConsentExpired, EventId, Id16, LockerId, PartitionKey, Payload, RequesterId};

use crate::app::write::internal;
use crate::limits::{CONSENT_SWEEP_BATCH, CONSENT_SWEEP_MS};
use crate::{AppError, AppState};

fn expiry_event_id(locker: &LockerId, consent: &Id16) -> EventId {
    let hash = blake3::hash(format!("locker/consent-expired/v1\n{locker}/{consent}").as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&hash.as_bytes()[..16]);
    EventId(id)
}

/// Expires what is due now; returns how many consents it expired.
pub async fn sweep(state: &AppState) -> Result<usize, AppError> {
    let now = state.clock.now();
    let mut expired = 0;
    for (locker, consent_id) in state.views.due_consent_expiries(now, CONSENT_SWEEP_BATCH)? {
        // In a cluster each node expires the consents of the partitions it owns.
        if !state.writes.owns(&PartitionKey::Locker(locker)) {
            continue;
        }
        let _turn = state.writes.turn(&PartitionKey::Locker(locker)).await?;
        let Some(consent) = state.views.stored_consent(&locker, &consent_id)? else { continue };
        // Decided (or expired) since the index was read: nothing to do.
        if projections::views::live_until(&consent).is_none_or(|until| until > now) {
            continue;
        }
        let requester = RequesterId::parse(&consent.requester).map_err(internal)?;
        let payload = Payload::ConsentExpired(ConsentExpired { consent_id, requester, locker });
        match crate::app::write::as_platform_with_id(
            state,
            expiry_event_id(&locker, &consent_id),
            payload,
        )
        .await
        {
            Ok(_) => {
                expired += 1;
                state.metrics.add(crate::app::metrics::Job::ConsentsExpired, 1);
            }
            // Another sweeper logged this expiry first.
            Err(e) if e.code == wire::ErrorCode::IdConflict => {}
            Err(e) => return Err(e),
        }
    }
    Ok(expired)
}

/// Sweeps every `CONSENT_SWEEP_MS` until the task is dropped.
pub async fn run(state: AppState) {
    loop {
        loop {
            match sweep(&state).await {
                Ok(n) if n >= CONSENT_SWEEP_BATCH => continue,
                Ok(n) => {
                    if n > 0 {
                        tracing::info!(expired = n, "consents expired");
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(code = e.code.code(), message = %e.message, "consent expiry sweep failed; retrying later");
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(CONSENT_SWEEP_MS)).await;
    }
}
