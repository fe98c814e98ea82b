//! Closing a locker (the right to be forgotten). In order:
//!
//! 1. Under the write turns of the locker's partition and of its Aadhaar's (a node that does
//!    not own both refuses before doing anything), every live consent ends as the citizen's
//!    decision (a pending request denied, an active or paused consent revoked), so each
//!    requester's stream says so.
//! 2. The plan (the event id to come, the account's username, the mobile's and the Aadhaar's
//!    keyed hashes, the uploads' contents) is kept in the vault, synced: a crash from here on
//!    is finished at the next start (`finish_pending`).
//! 3. `LockerClosed` is appended, signed by the citizen: the point of no return. From then on
//!    the ledger refuses anything more for the locker and anything its keys sign; the views
//!    drop the locker, and every node's views erase their copy of its sealing keys
//!    (`SealKeys::forget`).
//! 4. Still in the Aadhaar's turn, its sealing key is destroyed, then `AadhaarForgotten`
//!    (its id derived from the closing's) drops the documents issued to it so far: one pushed
//!    after it is sealed under a new key, which nothing destroys.
//! 5. The turns are let go (removing files takes the sweep's lock, which an upload takes
//!    before its turn), then the rest goes: the locker's sealing and signing keys here, in
//!    the cluster's shared store and in the cache (crypto-shredding: every sealed field in the
//!    log is unreadable for good, every signature still verifies); the account's username,
//!    mobile and Aadhaar bindings and sessions; the locker's cached pages; the uploads'
//!    bytes no other upload names (pushed bytes are pinned: the issuer's record); and the
//!    views and the vault are compacted so the deleted rows leave the disk. The plan goes
//!    last.

use projections::views::ConsentState;
use schemas::*;
use serde::{Deserialize, Serialize};

use crate::app::write::{as_citizen, as_citizen_with_id, as_platform_with_id, internal, new_id};
use crate::{AppError, AppState};
use wire::ErrorCode;

/// What closing did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Closed {
    pub consents_ended: usize,
    pub at: TimestampMs,
}

/// A closing under way, kept in the vault until it is done (no personal data: keyed hashes,
/// ids and the username, a pseudonym the log holds anyway).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Plan {
    /// The `LockerClosed` event's id.
    pub closed_by: EventId,
    pub locker: LockerId,
    pub username: String,
    pub mobile_ref: Digest32,
    pub aadhaar: Option<Digest32>,
    pub uploads: Vec<Digest32>,
}

/// Closes the locker; the caller has checked the citizen's password.
pub(crate) async fn close(
    state: &AppState,
    locker: LockerId,
    username: &str,
) -> Result<Closed, AppError> {
    let (plan, consents_ended) = {
        let profile = state
            .views
            .profile(&locker)?
            .ok_or_else(|| AppError::new(ErrorCode::LockerClosed, "the locker is closed"))?;
        // The Aadhaar's key and documents go only if this locker holds the Aadhaar (a number
        // linked twice in an old log belongs to its first link).
        let aadhaar = match profile.aadhaar_hash {
            Some(hash) if state.views.aadhaar_holder(&hash)? == Some(locker) => Some(hash),
            _ => None,
        };
        let mut partitions = vec![PartitionKey::Locker(locker)];
        partitions.extend(aadhaar.map(PartitionKey::Aadhaar));
        let _turns = state.writes.turns(&partitions).await?;
        let consents_ended = end_consents(state, locker).await?;
        let plan = Plan {
            closed_by: new_id(state)?,
            locker,
            username: username.to_owned(),
            mobile_ref: profile.mobile_ref,
            aadhaar,
            uploads: upload_hashes(state, &locker)?,
        };
        let bytes = serde_json::to_vec(&plan).map_err(internal)?;
        state.vault.begin_closing(&plan.closed_by, &bytes).map_err(internal)?;
        let payload = Payload::LockerClosed(LockerClosed { locker, aadhaar });
        as_citizen_with_id(state, &locker, plan.closed_by, payload, None).await?;
        forget_aadhaar(state, &plan).await?;
        (plan, consents_ended)
    };
    let at = state.clock.now();
    finish(state, &plan).await?;
    tracing::info!(consents_ended, "a locker closed");
    Ok(Closed { consents_ended, at })
}

/// Step 4: the Aadhaar's key, then its documents (idempotent: the event's id is derived).
async fn forget_aadhaar(state: &AppState, plan: &Plan) -> Result<(), AppError> {
    let Some(aadhaar) = plan.aadhaar else { return Ok(()) };
    let subject = SealSubject::Aadhaar(aadhaar);
    state.vault.erase_subject(&subject, &plan.closed_by).map_err(internal)?;
    let derived = blake3::derive_key("locker aadhaar forgotten v1", &plan.closed_by.0);
    let mut id = [0u8; 16];
    id.copy_from_slice(&derived[..16]);
    let payload = Payload::AadhaarForgotten(AadhaarForgotten { aadhaar, locker: plan.locker });
    as_platform_with_id(state, EventId(id), payload).await.map(drop)
}

/// Step 5, and the plan's end.
async fn finish(state: &AppState, plan: &Plan) -> Result<(), AppError> {
    // The views' deletions first: they are written without a WAL, so after a crash the
    // projector applies `LockerClosed` again, and compacting before that would rewrite files
    // that still hold the rows, the deletions landing later beside them.
    state.writes.applied_everywhere().await?;
    forget(state, plan)?;
    let removed = remove_files(state, &plan.uploads).await?;
    state.vault.end_closing(&plan.closed_by).map_err(internal)?;
    tracing::info!(files_removed = removed, "a closed locker's keys, account and files are gone");
    Ok(())
}

/// Finishes the closings a crash interrupted: those whose `LockerClosed` is logged are taken
/// to their end; the others never happened, and their plans go.
pub(crate) async fn finish_pending(state: &AppState) -> Result<usize, AppError> {
    let mut finished = 0;
    for bytes in state.vault.pending_closings().map_err(internal)? {
        let plan: Plan = serde_json::from_slice(&bytes).map_err(internal)?;
        if state.writes.is_logged(&plan.closed_by).await? {
            forget_aadhaar(state, &plan).await?;
            finish(state, &plan).await?;
            finished += 1;
        } else {
            state.vault.end_closing(&plan.closed_by).map_err(internal)?;
        }
    }
    Ok(finished)
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

/// Keys, accounts, cached pages, and the files that held them.
fn forget(state: &AppState, plan: &Plan) -> Result<(), AppError> {
    let locker = plan.locker;
    state.vault.erase_locker(&locker, &plan.closed_by).map_err(internal)?;
    let accounts = &state.accounts;
    accounts.logout_everywhere(&locker).map_err(internal)?;
    accounts.remove_user(&plan.username).map_err(internal)?;
    accounts.release_mobile(&plan.mobile_ref).map_err(internal)?;
    if let Some(hash) = &plan.aadhaar {
        accounts.release_aadhaar(hash, locker).map_err(internal)?;
    }
    state.pages.forget(&locker);
    state.views.compact_locker(&locker, plan.aadhaar.as_ref())?;
    Ok(())
}
