//! Closing a locker (the right to be forgotten). In order:
//!
//! 1. Under the locker's write turn, every live consent ends as the citizen's decision (a
//!    pending request denied, an active or paused consent revoked), so each requester's
//!    stream says so.
//! 2. `LockerClosed` is appended, signed by the citizen: the point of no return. From then on
//!    the ledger refuses anything more for the locker and anything its keys sign; the views
//!    drop the locker, and every node's views erase their copy of its sealing keys
//!    (`SealKeys::forget`). `AadhaarForgotten` follows in the linked Aadhaar's partition: the
//!    documents issued to it so far leave the views.
//! 3. The keys go everywhere: the locker's and the linked Aadhaar's sealing keys and the
//!    citizen's signing key, here, in the cluster's shared store and in the cache
//!    (crypto-shredding: every sealed field in the log is unreadable for good, every signature
//!    still verifies).
//! 4. The accounts drop the username, the mobile number's binding, the Aadhaar's binding and
//!    every session; the page cache drops the locker's pages; the views and the vault are
//!    compacted so the deleted rows leave the disk.
//! 5. The uploads' bytes no other upload names are removed now, as the sweep would remove
//!    them a minute or two later. Bytes an issuer pushed stay (pinned: the issuer's record,
//!    named by an event the ledger keeps; ARCHITECTURE.md's known limits).
//!
//! A crash between steps 2 and 4 leaves this node's sealing keys to the views (which erase
//! them as they apply the event after the restart); the shared store's copies, the signing
//! key and the account records then stay until an operator removes them (ARCHITECTURE.md's
//! known limits). No session can act for the locker meanwhile: the ledger refuses it all.

use projections::views::ConsentState;
use schemas::*;

use crate::app::write::{as_citizen, as_citizen_with_id, internal, new_id};
use crate::{AppError, AppState};
use wire::ErrorCode;

/// What closing did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Closed {
    pub consents_ended: usize,
    pub at: TimestampMs,
}

/// Closes the locker; the caller has checked the citizen's password.
pub(crate) async fn close(
    state: &AppState,
    locker: LockerId,
    username: &str,
) -> Result<Closed, AppError> {
    let _turn = state.writes.turn(&PartitionKey::Locker(locker)).await?;
    let profile = state
        .views
        .profile(&locker)?
        .ok_or_else(|| AppError::new(ErrorCode::LockerClosed, "the locker is closed"))?;
    let consents_ended = end_consents(state, locker).await?;
    let uploads = upload_hashes(state, &locker)?;
    // The Aadhaar's key and documents go only if this locker holds the Aadhaar (a number
    // linked twice in an old log belongs to its first link).
    let aadhaar = match profile.aadhaar_hash {
        Some(hash) if state.views.aadhaar_holder(&hash)? == Some(locker) => Some(hash),
        _ => None,
    };
    let id = new_id(state)?;
    let payload = Payload::LockerClosed(LockerClosed { locker, aadhaar });
    as_citizen_with_id(state, &locker, id, payload, None).await?;
    if let Some(aadhaar) = aadhaar {
        let payload = Payload::AadhaarForgotten(AadhaarForgotten { aadhaar, locker });
        crate::app::write::as_platform(state, payload).await?;
    }
    let at = state.clock.now();
    forget(state, locker, username, &profile.mobile_ref, aadhaar, &id)?;
    let removed = remove_files(state, &uploads).await?;
    tracing::info!(consents_ended, files_removed = removed, "a locker closed");
    Ok(Closed { consents_ended, at })
}

/// The contents of the locker's uploads.
fn upload_hashes(state: &AppState, locker: &LockerId) -> Result<Vec<Digest32>, AppError> {
    let mut hashes = Vec::new();
    let mut cursor = None;
    loop {
        let page = state.views.uploads(locker, cursor.as_deref(), crate::limits::LIST_ITEMS_MAX)?;
        hashes.extend(page.items.iter().map(|u| u.content_hash));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(hashes),
        }
    }
}

/// Removes the bytes of `hashes` no live upload names any more, as the sweep does (under its
/// lock, with every partition applied: a count of 0 is then not lag); how many went.
async fn remove_files(state: &AppState, hashes: &[Digest32]) -> Result<usize, AppError> {
    let _sweeping = state.files.sweeping().await;
    state.writes.applied_everywhere().await?;
    let mut removed = 0;
    for hash in hashes {
        if state.views.upload_refs(hash)? <= 0 {
            removed += usize::from(state.files.remove(hash).await.map_err(internal)?);
        }
    }
    Ok(removed)
}

/// Every live consent ends as the citizen's decision; how many did.
async fn end_consents(state: &AppState, locker: LockerId) -> Result<usize, AppError> {
    let mut ended = 0;
    for consent in state.views.consents(&locker, state.clock.now(), None)? {
        let requester = RequesterId::parse(&consent.requester).map_err(internal)?;
        let (consent_id, requester) = (consent.consent_id, requester);
        let payload = match consent.state {
            ConsentState::Pending => {
                Payload::ConsentDenied(ConsentDenied { consent_id, requester, locker })
            }
            ConsentState::Active | ConsentState::Paused => {
                Payload::ConsentRevoked(ConsentRevoked { consent_id, requester, locker })
            }
            ConsentState::Denied | ConsentState::Revoked | ConsentState::Expired => continue,
        };
        as_citizen(state, &locker, payload, None).await?;
        ended += 1;
    }
    Ok(ended)
}

/// Steps 3 and 4: keys, accounts, cached pages, and the files that held them.
fn forget(
    state: &AppState,
    locker: LockerId,
    username: &str,
    mobile_ref: &Digest32,
    aadhaar: Option<Digest32>,
    by: &EventId,
) -> Result<(), AppError> {
    state.vault.erase_locker(&locker, aadhaar.as_ref(), by).map_err(internal)?;
    let accounts = &state.accounts;
    accounts.logout_everywhere(&locker).map_err(internal)?;
    accounts.remove_user(username).map_err(internal)?;
    accounts.release_mobile(mobile_ref).map_err(internal)?;
    if let Some(hash) = &aadhaar {
        accounts.release_aadhaar(hash, locker).map_err(internal)?;
    }
    state.pages.forget(&locker);
    state.views.compact_locker(&locker, aadhaar.as_ref())?;
    Ok(())
}
