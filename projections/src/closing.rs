//! `LockerClosed`: the views drop the locker. Its profile, documents, uploads, shares,
//! consents, activity and counters go, and its link with its Aadhaar. The documents issued
//! to the Aadhaar go with `AadhaarForgotten`, in the Aadhaar's partition: applying them here
//! would make the result depend on which partition a rebuild applies first. What stays is what others own: issuers' and requesters'
//! directories, a requester's own event stream (which says each live consent ended: the
//! service revokes them before it closes the locker), and the key origins proof bundles chain
//! back to.
//!
//! Deleted rows stay in RocksDB's files until compaction rewrites them; the service compacts
//! the closed locker's ranges once the views include the event (`Views::compact_locker`).

use ledger::Position;
use schemas::{Envelope, LockerClosed, Payload, SealSubject};

use crate::keys::SealKeys;
use crate::store::decode;
use crate::tx::{Refusal, Tx, refuse, reindex_expiry};
use crate::views::*;

/// Applies `LockerClosed`.
pub(crate) fn closed(
    tx: &mut Tx<'_>,
    keys: &dyn SealKeys,
    envelope: &Envelope,
    _position: Position,
) -> Result<(), Refusal> {
    let Payload::LockerClosed(e) = &envelope.event.payload else {
        return refuse(format!(
            "{} is not a locker_closed event",
            envelope.event.payload.kind_name()
        ));
    };
    let at = envelope.event.occurred_at_ms;
    let profile_key = e.locker.0.to_vec();
    if tx.get::<ProfileView>(CF_PROFILES, &profile_key)?.is_none() {
        return refuse(format!("closing of unknown locker {}", e.locker));
    }
    tx.delete(CF_PROFILES, profile_key)?;
    tx.add(counter::USERS, -1)?;
    drop_documents(tx, e)?;
    drop_uploads(tx, e, at)?;
    drop_consents(tx, e)?;
    for cf in [CF_SHARES, CF_ACTIVITY] {
        for (key, _) in tx.items_under(cf, &e.locker.0)? {
            tx.delete(cf, key)?;
        }
    }
    drop_counters(tx, e)?;
    // Every node's copy of the keys goes, once per event (a replay must not destroy a key the
    // Aadhaar was given after the locker closed).
    keys.forget(&SealSubject::Locker(e.locker), &envelope.event.id);
    if let Some(aadhaar) = e.aadhaar {
        keys.forget(&SealSubject::Aadhaar(aadhaar), &envelope.event.id);
    }
    Ok(())
}

/// The locker's documents, and its link with its Aadhaar.
fn drop_documents(tx: &mut Tx<'_>, e: &LockerClosed) -> Result<(), Refusal> {
    for (key, _) in tx.items_under(CF_DOCS, &Owner::Locker(e.locker).key())? {
        tx.delete(CF_DOCS, key)?;
    }
    if let Some(aadhaar) = e.aadhaar {
        tx.delete(CF_AADHAAR, aadhaar_link_key(&aadhaar, &e.locker))?;
    }
    Ok(())
}

/// Applies `AadhaarForgotten`: every document issued to the Aadhaar so far, in its partition's
/// order (what comes after waits for a locker as for anyone).
pub(crate) fn aadhaar_forgotten(
    tx: &mut Tx<'_>,
    _keys: &dyn SealKeys,
    envelope: &Envelope,
    _position: Position,
) -> Result<(), Refusal> {
    let Payload::AadhaarForgotten(e) = &envelope.event.payload else {
        return refuse(format!(
            "{} is not an aadhaar_forgotten event",
            envelope.event.payload.kind_name()
        ));
    };
    for (key, _) in tx.items_under(CF_DOCS, &Owner::Aadhaar(e.aadhaar).key())? {
        tx.delete(CF_DOCS, key)?;
    }
    Ok(())
}

/// Uploads go as if each were deleted: the sweep removes bytes no other upload names.
fn drop_uploads(
    tx: &mut Tx<'_>,
    e: &LockerClosed,
    at: schemas::TimestampMs,
) -> Result<(), Refusal> {
    for (key, value) in tx.items_under(CF_UPLOADS, &e.locker.0)? {
        let upload: UploadView = decode(&value, CF_UPLOADS)?;
        tx.delete(CF_UPLOADS, key)?;
        tx.add(&counter::upload_refs(&upload.content_hash), -1)?;
        tx.put(CF_DELETED_CONTENT, deleted_content_key(at, &upload.content_hash), &())?;
    }
    Ok(())
}

fn drop_consents(tx: &mut Tx<'_>, e: &LockerClosed) -> Result<(), Refusal> {
    for (key, value) in tx.items_under(CF_CONSENTS, &e.locker.0)? {
        let consent: ConsentView = decode(&value, CF_CONSENTS)?;
        let mut ended = consent.clone();
        ended.state = ConsentState::Revoked;
        reindex_expiry(tx, Some(&consent), &ended)?;
        tx.delete(CF_CONSENTS, key)?;
        tx.delete(
            CF_REQUESTER_CONSENTS,
            requester_consent_key(&consent.requester, &consent.consent_id),
        )?;
    }
    Ok(())
}

/// Storage used, and what each requester asked for and read.
fn drop_counters(tx: &mut Tx<'_>, e: &LockerClosed) -> Result<(), Refusal> {
    let prefixes = [
        counter::quota(&e.locker),
        counter::requested_prefix(&e.locker),
        counter::accessed_prefix(&e.locker),
    ];
    for prefix in prefixes {
        tx.clear_counters_under(&prefix)?;
    }
    Ok(())
}
