//! How each event changes the views. One partition's records are applied in order into one
//! `Tx` (a write batch plus an overlay, so later events in the batch see earlier ones), and the
//! partition's next position goes into the same batch: a crash applies all of it or none.
//!
//! Events whose preconditions do not hold (a grant for an unknown consent, deleting an upload
//! that is not there) return a reason; the projector stops the partition there.

use ledger::Position;
use schemas::{DocRef, Envelope, Payload, PersonalData, Principal, Recipient};

use crate::ProjectionError;
use crate::keys::SealKeys;
pub(crate) use crate::tx::{Refusal, Tx, refuse, reindex_expiry};
use crate::views::*;

/// An event the views pass over without halting, kept with its position and counted
/// (`counter::ANOMALIES`): for contradictions an older log may hold that the write path now
/// refuses, whose first fact can stand.
fn note(tx: &mut Tx<'_>, at: LogPoint, reason: &str) -> Result<(), Refusal> {
    tracing::warn!(partition = at.partition, offset = at.offset, reason, "event passed over");
    tx.put(CF_ANOMALIES, anomaly_key(at), &reason.to_owned())?;
    tx.add(counter::ANOMALIES, 1)?;
    Ok(())
}

fn personal(keys: &dyn SealKeys, envelope: &Envelope) -> Option<PersonalData> {
    SealedFields::of(envelope)?.open(keys)
}

fn owner_of(recipient: &Recipient) -> Owner {
    match recipient {
        Recipient::Locker(locker) => Owner::Locker(*locker),
        Recipient::Aadhaar(aadhaar) => Owner::Aadhaar(aadhaar.keyed_hash),
    }
}

/// Applies one event read at `position`.
pub(crate) fn apply(
    tx: &mut Tx<'_>,
    keys: &dyn SealKeys,
    envelope: &Envelope,
    position: Position,
) -> Result<(), Refusal> {
    type Family = fn(&mut Tx<'_>, &dyn SealKeys, &Envelope, Position) -> Result<(), Refusal>;
    let family: Family = match &envelope.event.payload {
        Payload::IssuerRegistered(_)
        | Payload::RequesterRegistered(_)
        | Payload::KeyRotated(_)
        | Payload::KeyRevoked(_)
        | Payload::OrganisationSuspended(_)
        | Payload::OrganisationReinstated(_) => directory,
        Payload::CitizenRegistered(_)
        | Payload::AadhaarLinked(_)
        | Payload::AadhaarVerified(_)
        | Payload::AadhaarUnlinked(_)
        | Payload::ProfileUpdated(_) => profile,
        Payload::DocumentIssued(_) | Payload::DocumentUpdated(_) | Payload::DocumentRevoked(_) => {
            issued
        }
        Payload::DocumentUploaded(_)
        | Payload::UploadDeleted(_)
        | Payload::DocumentESigned(_)
        | Payload::DocumentShared(_)
        | Payload::ShareRevoked(_)
        | Payload::SharedDocumentViewed(_) => own,
        Payload::ConsentRequested(_)
        | Payload::ConsentGranted(_)
        | Payload::ConsentDenied(_)
        | Payload::ConsentRevoked(_)
        | Payload::ConsentExpired(_)
        | Payload::DocumentAccessed(_)
        | Payload::ConsentRequestedWithTerms(_)
        | Payload::ConsentPaused(_)
        | Payload::ConsentResumed(_)
        | Payload::ConsentFetchRefused(_) => consent,
        Payload::LockerClosed(_) => crate::closing::closed,
        Payload::AadhaarForgotten(_) => crate::closing::aadhaar_forgotten,
        Payload::DocTypeDeclared(_) => declared,
        Payload::DocumentPulled(_) => pulled,
    };
    family(tx, keys, envelope, position)
}

/// `DocTypeDeclared`: the issuer's declaration of one doc type replaces any earlier one.
fn declared(
    tx: &mut Tx<'_>,
    _keys: &dyn SealKeys,
    envelope: &Envelope,
    _position: Position,
) -> Result<(), Refusal> {
    let Payload::DocTypeDeclared(e) = &envelope.event.payload else {
        return wrong_family(&envelope.event.payload, "declared");
    };
    let key = e.issuer.as_str().as_bytes().to_vec();
    let Some(mut view) = tx.get::<IssuerView>(CF_ISSUERS, &key)? else {
        return refuse(format!("a declaration of unknown issuer {}", e.issuer));
    };
    view.declared.retain(|d| d.doc_type != e.doc_type);
    view.declared.push(e.clone());
    tx.put(CF_ISSUERS, key, &view)?;
    Ok(())
}

/// `DocumentPulled`: in the citizen's activity, with what became of it.
fn pulled(
    tx: &mut Tx<'_>,
    _keys: &dyn SealKeys,
    envelope: &Envelope,
    position: Position,
) -> Result<(), Refusal> {
    let Payload::DocumentPulled(e) = &envelope.event.payload else {
        return wrong_family(&envelope.event.payload, "pulled");
    };
    let activity = ActivityView {
        at_ms: envelope.event.occurred_at_ms,
        accessor: Accessor::Pull {
            issuer: e.issuer.to_string(),
            doc_type: e.doc_type.to_string(),
            outcome: e.outcome.clone(),
        },
        document: match &e.outcome {
            schemas::PullOutcome::Issued(uri) => Some(DocRef::Issued(uri.clone())),
            schemas::PullOutcome::Refused(_) => None,
        },
    };
    tx.put(CF_ACTIVITY, activity_key(&e.locker, position.partition, position.offset), &activity)?;
    Ok(())
}

/// Events of the directory: organisations, their keys, suspensions.
fn directory(
    tx: &mut Tx<'_>,
    _keys: &dyn SealKeys,
    envelope: &Envelope,
    position: Position,
) -> Result<(), Refusal> {
    let origin = LogPoint { partition: position.partition, offset: position.offset };
    match &envelope.event.payload {
        Payload::IssuerRegistered(e) => {
            let view = IssuerView {
                issuer: e.issuer.to_string(),
                name: e.name.to_string(),
                doc_types: e
                    .doc_types
                    .iter()
                    .map(|t| (t.code.to_string(), t.name.to_string()))
                    .collect(),
                endpoint: e.endpoint.as_ref().map(ToString::to_string),
                suspended: false,
                declared: Vec::new(),
            };
            tx.put(CF_ISSUERS, e.issuer.as_str().as_bytes().to_vec(), &view)?;
            tx.add(counter::ISSUERS, 1)?;
            let owner = Principal::Issuer(e.issuer.clone());
            for key in &e.keys {
                tx.put(CF_KEY_ORIGINS, key_origin_key(&owner, &key.key_id), &origin)?;
            }
        }
        Payload::RequesterRegistered(e) => {
            let view = RequesterView {
                requester: e.requester.to_string(),
                name: e.name.to_string(),
                kind: e.kind,
                suspended: false,
            };
            tx.put(CF_REQUESTERS, e.requester.as_str().as_bytes().to_vec(), &view)?;
            tx.add(counter::REQUESTERS, 1)?;
            let owner = Principal::Requester(e.requester.clone());
            for key in &e.keys {
                tx.put(CF_KEY_ORIGINS, key_origin_key(&owner, &key.key_id), &origin)?;
            }
        }
        Payload::KeyRotated(e) => {
            tx.put(CF_KEY_ORIGINS, key_origin_key(&e.owner, &e.new_key.key_id), &origin)?;
        }
        Payload::KeyRevoked(_) => {}
        Payload::OrganisationSuspended(e) => set_suspended(tx, &e.organisation, true)?,
        Payload::OrganisationReinstated(e) => set_suspended(tx, &e.organisation, false)?,
        other => return wrong_family(other, "directory"),
    }
    Ok(())
}

/// Events of a citizen's registration, Aadhaar and profile.
fn profile(
    tx: &mut Tx<'_>,
    keys: &dyn SealKeys,
    envelope: &Envelope,
    position: Position,
) -> Result<(), Refusal> {
    let at = envelope.event.occurred_at_ms;
    let origin = LogPoint { partition: position.partition, offset: position.offset };
    match &envelope.event.payload {
        Payload::CitizenRegistered(e) => {
            let key = e.locker.0.to_vec();
            if tx.get::<ProfileView>(CF_PROFILES, &key)?.is_some() {
                return refuse(format!("locker {} registered twice", e.locker));
            }
            let mobile_masked = match personal(keys, envelope) {
                Some(PersonalData::Mobile(mobile)) => Some(mobile.masked()),
                _ => None,
            };
            let view = ProfileView {
                locker: e.locker,
                username: e.username.to_string(),
                mobile_ref: e.mobile_ref,
                mobile_masked,
                aadhaar_last4: None,
                aadhaar_hash: None,
                full_name: None,
                date_of_birth: None,
                email: None,
                registered_at_ms: at,
                kyc: None,
            };
            tx.put(CF_PROFILES, key, &view)?;
            tx.add(counter::USERS, 1)?;
            let owner = Principal::Citizen(e.locker);
            tx.put(CF_KEY_ORIGINS, key_origin_key(&owner, &e.key.key_id), &origin)?;
        }
        Payload::AadhaarLinked(e) => {
            let key = e.locker.0.to_vec();
            let Some(mut profile) = tx.get::<ProfileView>(CF_PROFILES, &key)? else {
                return refuse(format!("Aadhaar linked to unknown locker {}", e.locker));
            };
            if profile.aadhaar_hash.is_some() {
                // A log written before links took the partition's turn may hold two links for
                // one locker: the first stands, the second is reported, and the partition goes
                // on (halting would freeze every citizen on it, for good).
                return note(tx, origin, "a second Aadhaar link for one locker: the first stands");
            }
            profile.aadhaar_last4 = Some(e.aadhaar.last4.to_string());
            profile.aadhaar_hash = Some(e.aadhaar.keyed_hash);
            tx.put(CF_PROFILES, key, &profile)?;
            // Keyed by Aadhaar and locker, never read here: which locker holds an Aadhaar
            // linked twice is decided at query time (the first link), so no partition's
            // apply depends on another's.
            tx.put(CF_AADHAAR, aadhaar_link_key(&e.aadhaar.keyed_hash, &e.locker), &at)?;
        }
        Payload::AadhaarVerified(e) => aadhaar_verified(tx, keys, envelope, at, origin, e)?,
        Payload::AadhaarUnlinked(e) => {
            let key = e.locker.0.to_vec();
            let Some(mut profile) = tx.get::<ProfileView>(CF_PROFILES, &key)? else {
                return refuse(format!("Aadhaar unlinked from unknown locker {}", e.locker));
            };
            if profile.aadhaar_hash != Some(e.aadhaar.keyed_hash) {
                return note(tx, origin, "an Aadhaar unlinked from a locker it was not linked to");
            }
            profile.aadhaar_hash = None;
            profile.aadhaar_last4 = None;
            profile.kyc = None;
            tx.put(CF_PROFILES, key, &profile)?;
            tx.delete(CF_AADHAAR, aadhaar_link_key(&e.aadhaar.keyed_hash, &e.locker))?;
        }
        Payload::ProfileUpdated(e) => {
            let key = e.locker.0.to_vec();
            let Some(mut profile) = tx.get::<ProfileView>(CF_PROFILES, &key)? else {
                return refuse(format!("profile update for unknown locker {}", e.locker));
            };
            if let Some(PersonalData::Profile(p)) = personal(keys, envelope) {
                profile.full_name = p.full_name.map(|n| n.to_string());
                profile.date_of_birth = p.date_of_birth;
                profile.email = p.email.map(|e| e.to_string());
            }
            tx.put(CF_PROFILES, key, &profile)?;
        }
        other => return wrong_family(other, "profile"),
    }
    Ok(())
}

/// Events of documents issuers push, update and revoke.
fn issued(
    tx: &mut Tx<'_>,
    _keys: &dyn SealKeys,
    envelope: &Envelope,
    position: Position,
) -> Result<(), Refusal> {
    let at = envelope.event.occurred_at_ms;
    let origin = LogPoint { partition: position.partition, offset: position.offset };
    match &envelope.event.payload {
        Payload::DocumentIssued(e) => {
            let owner = owner_of(&e.recipient);
            // Formatted once: it is the key and the view's field (0.8% of a bulk load's CPU).
            let uri = e.uri.to_string();
            let key = doc_key(&owner, &uri);
            if tx.get::<DocView>(CF_DOCS, &key)?.is_some() {
                return refuse(format!("document {uri} issued twice"));
            }
            let issuer = e.uri.issuer().to_string();
            let view = DocView {
                uri,
                issuer: issuer.clone(),
                doc_type: e.uri.doc_type().to_string(),
                name: e.name.to_string(),
                issued_on: e.issued_on,
                valid_from: e.valid_from,
                valid_to: e.valid_to,
                content_hash: e.content.hash,
                media_type: e.content.media_type,
                size_bytes: e.content.size_bytes,
                status: DocStatus::Issued,
                version: 1,
                issued_at_ms: at,
                esigned_at_ms: None,
                // Copied sealed: opening it here cost more than anything else per document.
                personal: SealedFields::of(envelope),
                origin,
            };
            tx.put(CF_DOCS, key, &view)?;
            tx.add(counter::ISSUED, 1)?;
            tx.add(&counter::issued_by(&issuer), 1)?;
        }
        Payload::DocumentUpdated(e) => {
            let key = doc_key(&owner_of(&e.recipient), &e.uri.to_string());
            let Some(mut view) = tx.get::<DocView>(CF_DOCS, &key)? else {
                return refuse(format!("update of document {} that was never issued", e.uri));
            };
            if matches!(view.status, DocStatus::Revoked(_)) {
                return refuse(format!("update of revoked document {}", e.uri));
            }
            view.name = e.name.to_string();
            view.valid_from = e.valid_from;
            view.valid_to = e.valid_to;
            view.content_hash = e.content.hash;
            view.media_type = e.content.media_type;
            view.size_bytes = e.content.size_bytes;
            view.status = DocStatus::Updated;
            view.version += 1;
            view.origin = origin;
            if let Some(fields) = SealedFields::of(envelope) {
                view.personal = Some(fields);
            }
            tx.put(CF_DOCS, key, &view)?;
        }
        Payload::DocumentRevoked(e) => {
            let key = doc_key(&owner_of(&e.recipient), &e.uri.to_string());
            let Some(mut view) = tx.get::<DocView>(CF_DOCS, &key)? else {
                return refuse(format!("revocation of document {} that was never issued", e.uri));
            };
            view.status = DocStatus::Revoked(e.reason);
            tx.put(CF_DOCS, key, &view)?;
        }
        other => return wrong_family(other, "issued"),
    }
    Ok(())
}

/// Events of what a citizen does with their documents: uploads, e-signatures, share links.
fn own(
    tx: &mut Tx<'_>,
    keys: &dyn SealKeys,
    envelope: &Envelope,
    position: Position,
) -> Result<(), Refusal> {
    let at = envelope.event.occurred_at_ms;
    let origin = LogPoint { partition: position.partition, offset: position.offset };
    match &envelope.event.payload {
        Payload::DocumentUploaded(e) => document_uploaded(tx, keys, envelope, at, origin, e)?,
        Payload::UploadDeleted(e) => {
            let key = locker_item_key(&e.locker, &e.upload_id);
            let Some(view) = tx.get::<UploadView>(CF_UPLOADS, &key)? else {
                return refuse(format!(
                    "deletion of upload {} that is not in the locker",
                    e.upload_id
                ));
            };
            tx.delete(CF_UPLOADS, key)?;
            tx.add(&counter::quota(&e.locker), -size_delta(view.size_bytes))?;
            tx.add(&counter::upload_refs(&view.content_hash), -1)?;
            tx.put(CF_DELETED_CONTENT, deleted_content_key(at, &view.content_hash), &())?;
        }
        Payload::DocumentESigned(e) => match &e.document {
            DocRef::Uploaded(id) => {
                let key = locker_item_key(&e.locker, id);
                let Some(mut view) = tx.get::<UploadView>(CF_UPLOADS, &key)? else {
                    return refuse(format!("e-signature of upload {id} that is not in the locker"));
                };
                view.esigned_at_ms = Some(at);
                tx.put(CF_UPLOADS, key, &view)?;
            }
            DocRef::Issued(uri) => {
                let key = doc_key(&Owner::Locker(e.locker), &uri.to_string());
                let Some(mut view) = tx.get::<DocView>(CF_DOCS, &key)? else {
                    return refuse(format!(
                        "e-signature of document {uri} that is not in the locker"
                    ));
                };
                view.esigned_at_ms = Some(at);
                tx.put(CF_DOCS, key, &view)?;
            }
        },
        Payload::DocumentShared(e) => {
            let key = locker_item_key(&e.locker, &e.share_id);
            if tx.get::<ShareView>(CF_SHARES, &key)?.is_some() {
                return refuse(format!("share {} created twice", e.share_id));
            }
            let view = ShareView {
                share_id: e.share_id,
                document: e.document.clone(),
                created_at_ms: at,
                expires_at_ms: e.expires_at_ms,
                revoked: false,
                views: 0,
            };
            tx.put(CF_SHARES, key, &view)?;
        }
        Payload::ShareRevoked(e) => {
            let key = locker_item_key(&e.locker, &e.share_id);
            let Some(mut view) = tx.get::<ShareView>(CF_SHARES, &key)? else {
                return refuse(format!("revocation of unknown share {}", e.share_id));
            };
            view.revoked = true;
            tx.put(CF_SHARES, key, &view)?;
        }
        Payload::SharedDocumentViewed(e) => {
            let key = locker_item_key(&e.locker, &e.share_id);
            let Some(mut view) = tx.get::<ShareView>(CF_SHARES, &key)? else {
                return refuse(format!("view of unknown share {}", e.share_id));
            };
            view.views += 1;
            let document = view.document.clone();
            tx.put(CF_SHARES, key, &view)?;
            let activity = ActivityView {
                at_ms: at,
                accessor: Accessor::ShareLink { share_id: e.share_id },
                document: Some(document),
            };
            tx.put(
                CF_ACTIVITY,
                activity_key(&e.locker, position.partition, position.offset),
                &activity,
            )?;
        }
        other => return wrong_family(other, "own"),
    }
    Ok(())
}

/// Events of consents and the reads they allow.
fn consent(
    tx: &mut Tx<'_>,
    _keys: &dyn SealKeys,
    envelope: &Envelope,
    position: Position,
) -> Result<(), Refusal> {
    let at = envelope.event.occurred_at_ms;
    match &envelope.event.payload {
        Payload::ConsentRequested(e) => consent_requested(tx, at, position, &requested(e))?,
        Payload::ConsentRequestedWithTerms(e) => {
            consent_requested(tx, at, position, &requested_with_terms(e))?;
        }
        Payload::ConsentPaused(e) => {
            let decision = Decision {
                locker: &e.locker,
                consent: &e.consent_id,
                from: &[ConsentState::Active],
                what: "pause",
                kind: RequesterEventKind::Paused,
                documents: vec![],
            };
            decide(tx, decision, position, at, |view| view.state = ConsentState::Paused)?;
        }
        Payload::ConsentResumed(e) => {
            let decision = Decision {
                locker: &e.locker,
                consent: &e.consent_id,
                from: &[ConsentState::Paused],
                what: "resumption",
                kind: RequesterEventKind::Resumed,
                documents: vec![],
            };
            decide(tx, decision, position, at, |view| view.state = ConsentState::Active)?;
        }
        Payload::ConsentFetchRefused(e) => fetch_refused(tx, at, position, e)?,
        Payload::ConsentGranted(e) => {
            let decision = Decision {
                locker: &e.locker,
                consent: &e.consent_id,
                from: &[ConsentState::Pending],
                what: "grant",
                kind: RequesterEventKind::Granted,
                documents: e.documents.clone(),
            };
            decide(tx, decision, position, at, |view| {
                view.state = ConsentState::Active;
                view.granted = e.documents.clone();
                view.access_expires_at_ms = Some(e.access_expires_at_ms);
            })?;
        }
        Payload::ConsentDenied(e) => {
            let decision = Decision {
                locker: &e.locker,
                consent: &e.consent_id,
                from: &[ConsentState::Pending],
                what: "denial",
                kind: RequesterEventKind::Denied,
                documents: vec![],
            };
            decide(tx, decision, position, at, |view| view.state = ConsentState::Denied)?;
        }
        Payload::ConsentRevoked(e) => {
            let decision = Decision {
                locker: &e.locker,
                consent: &e.consent_id,
                from: &[ConsentState::Active, ConsentState::Paused],
                what: "revocation",
                kind: RequesterEventKind::Revoked,
                documents: vec![],
            };
            decide(tx, decision, position, at, |view| view.state = ConsentState::Revoked)?;
        }
        Payload::ConsentExpired(e) => {
            let decision = Decision {
                locker: &e.locker,
                consent: &e.consent_id,
                from: &[ConsentState::Pending, ConsentState::Active, ConsentState::Paused],
                what: "expiry",
                kind: RequesterEventKind::Expired,
                documents: vec![],
            };
            decide(tx, decision, position, at, |view| view.state = ConsentState::Expired)?;
        }
        Payload::DocumentAccessed(e) => document_accessed(tx, at, position, e)?,
        other => return wrong_family(other, "consent"),
    }
    Ok(())
}

/// A dispatch error in `apply`, never an event's fault: refused, so the partition stops
/// where it is instead of skipping an event.
fn wrong_family(payload: &Payload, family: &str) -> Result<(), Refusal> {
    refuse(format!("{} is not a {family} event", payload.kind_name()))
}

/// A change of a consent's state by one of its events.
struct Decision<'a> {
    locker: &'a schemas::LockerId,
    consent: &'a schemas::Id16,
    /// The states the consent may be in for this event.
    from: &'a [ConsentState],
    what: &'a str,
    kind: RequesterEventKind,
    documents: Vec<DocRef>,
}

/// Applies a decision: checks the state, changes the view, reindexes its expiry, and records
/// the event in the requester's stream.
fn decide(
    tx: &mut Tx<'_>,
    decision: Decision<'_>,
    position: Position,
    at: schemas::TimestampMs,
    change: impl FnOnce(&mut ConsentView),
) -> Result<(), Refusal> {
    let Decision { locker, consent, from, what, kind, documents } = decision;
    let mut view = consent_in(tx, locker, consent, from, what)?;
    let before = view.clone();
    change(&mut view);
    tx.put(CF_CONSENTS, locker_item_key(locker, consent), &view)?;
    reindex_expiry(tx, Some(&before), &view)?;
    let event = RequesterEventView {
        kind,
        consent_id: *consent,
        locker: *locker,
        at_ms: at,
        documents,
        refusal: None,
    };
    requester_event(tx, &view.requester, position, &event)?;
    Ok(())
}

/// Records a consent event in the requester's stream, at the event's own log position.
fn requester_event(
    tx: &mut Tx<'_>,
    requester: &str,
    position: Position,
    event: &RequesterEventView,
) -> Result<(), ProjectionError> {
    tx.put(
        CF_REQUESTER_EVENTS,
        requester_event_key(requester, position.partition, position.offset),
        event,
    )
}

fn size_delta(size_bytes: u64) -> i64 {
    i64::try_from(size_bytes).unwrap_or(i64::MAX)
}

fn consent_in(
    tx: &Tx<'_>,
    locker: &schemas::LockerId,
    consent: &schemas::Id16,
    states: &[ConsentState],
    what: &str,
) -> Result<ConsentView, Refusal> {
    let Some(view) = tx.get::<ConsentView>(CF_CONSENTS, &locker_item_key(locker, consent))? else {
        return refuse(format!("{what} of unknown consent {consent}"));
    };
    if !states.contains(&view.state) {
        return refuse(format!("{what} of consent {consent} in state {:?}", view.state));
    }
    Ok(view)
}

fn set_suspended(
    tx: &mut Tx<'_>,
    organisation: &schemas::Organisation,
    suspended: bool,
) -> Result<(), Refusal> {
    match organisation {
        schemas::Organisation::Issuer(id) => {
            let key = id.as_str().as_bytes().to_vec();
            let Some(mut view) = tx.get::<IssuerView>(CF_ISSUERS, &key)? else {
                return refuse(format!("suspension of unknown issuer {id}"));
            };
            view.suspended = suspended;
            tx.put(CF_ISSUERS, key, &view)?;
        }
        schemas::Organisation::Requester(id) => {
            let key = id.as_str().as_bytes().to_vec();
            let Some(mut view) = tx.get::<RequesterView>(CF_REQUESTERS, &key)? else {
                return refuse(format!("suspension of unknown requester {id}"));
            };
            view.suspended = suspended;
            tx.put(CF_REQUESTERS, key, &view)?;
        }
    }
    Ok(())
}

/// `AadhaarVerified`.
fn aadhaar_verified(
    tx: &mut Tx<'_>,
    keys: &dyn SealKeys,
    envelope: &Envelope,
    at: schemas::TimestampMs,
    origin: LogPoint,
    e: &schemas::AadhaarVerified,
) -> Result<(), Refusal> {
    let key = e.locker.0.to_vec();
    let Some(mut profile) = tx.get::<ProfileView>(CF_PROFILES, &key)? else {
        return refuse(format!("Aadhaar verified for unknown locker {}", e.locker));
    };
    match profile.aadhaar_hash {
        Some(linked) if linked != e.aadhaar.keyed_hash => {
            return note(tx, origin, "a second Aadhaar for one locker: the first stands");
        }
        Some(_) => {}
        None => {
            profile.aadhaar_last4 = Some(e.aadhaar.last4.to_string());
            profile.aadhaar_hash = Some(e.aadhaar.keyed_hash);
            tx.put(CF_AADHAAR, aadhaar_link_key(&e.aadhaar.keyed_hash, &e.locker), &at)?;
        }
    }
    profile.kyc = match personal(keys, envelope) {
        Some(PersonalData::Kyc(kyc)) => Some(KycView {
            name: kyc.name.to_string(),
            date_of_birth: kyc.date_of_birth,
            gender: gender_name(kyc.gender).to_owned(),
            address: kyc.address.iter().map(|f| (f.key.to_string(), f.value.to_string())).collect(),
            verified_at_ms: at,
            authority_key: e.authority_key,
        }),
        _ => None,
    };
    tx.put(CF_PROFILES, key, &profile)?;
    Ok(())
}

/// What both kinds of consent request say.
struct Request<'a> {
    consent_id: schemas::Id16,
    requester: &'a schemas::RequesterId,
    locker: schemas::LockerId,
    items: &'a [schemas::ConsentItem],
    purpose: &'a schemas::Purpose,
    expires_at_ms: schemas::TimestampMs,
    terms: Option<ConsentTerms>,
}

fn requested(e: &schemas::ConsentRequested) -> Request<'_> {
    Request {
        consent_id: e.consent_id,
        requester: &e.requester,
        locker: e.locker,
        items: &e.items,
        purpose: &e.purpose,
        expires_at_ms: e.expires_at_ms,
        terms: None,
    }
}

fn requested_with_terms(e: &schemas::ConsentRequestedWithTerms) -> Request<'_> {
    let terms = ConsentTerms {
        frequency: e.frequency,
        data_life_days: e.data_life_days,
        access_from_ms: e.access_from_ms,
        access_until_ms: e.access_until_ms,
    };
    Request {
        consent_id: e.consent_id,
        requester: &e.requester,
        locker: e.locker,
        items: &e.items,
        purpose: &e.purpose,
        expires_at_ms: e.expires_at_ms,
        terms: Some(terms),
    }
}

/// `ConsentRequested` and `ConsentRequestedWithTerms`.
fn consent_requested(
    tx: &mut Tx<'_>,
    at: schemas::TimestampMs,
    position: Position,
    e: &Request<'_>,
) -> Result<(), Refusal> {
    let key = locker_item_key(&e.locker, &e.consent_id);
    if tx.get::<ConsentView>(CF_CONSENTS, &key)?.is_some() {
        return refuse(format!("consent {} requested twice", e.consent_id));
    }
    let requester = e.requester.to_string();
    let view = ConsentView {
        consent_id: e.consent_id,
        requester: requester.clone(),
        locker: e.locker,
        items: e.items.to_vec(),
        purpose: e.purpose.clone(),
        requested_at_ms: at,
        request_expires_at_ms: e.expires_at_ms,
        state: ConsentState::Pending,
        granted: Vec::new(),
        access_expires_at_ms: None,
        accesses: 0,
        terms: e.terms.clone(),
        recent_fetches_ms: Vec::new(),
        refusals: 0,
    };
    tx.put(CF_CONSENTS, key, &view)?;
    reindex_expiry(tx, None, &view)?;
    tx.put(CF_REQUESTER_CONSENTS, requester_consent_key(&requester, &e.consent_id), &e.locker)?;
    let items = i64::try_from(e.items.len()).unwrap_or(i64::MAX);
    tx.add(&counter::requested(&e.locker, &requester), items)?;
    let event = RequesterEventView {
        kind: RequesterEventKind::Requested,
        consent_id: e.consent_id,
        locker: e.locker,
        at_ms: at,
        documents: vec![],
        refusal: None,
    };
    requester_event(tx, &requester, position, &event)?;
    Ok(())
}

/// `ConsentFetchRefused`: counted on the consent, and told to the requester.
fn fetch_refused(
    tx: &mut Tx<'_>,
    at: schemas::TimestampMs,
    position: Position,
    e: &schemas::ConsentFetchRefused,
) -> Result<(), Refusal> {
    let states = [ConsentState::Active, ConsentState::Paused];
    let mut view = consent_in(tx, &e.locker, &e.consent_id, &states, "refused fetch")?;
    view.refusals += 1;
    tx.put(CF_CONSENTS, locker_item_key(&e.locker, &e.consent_id), &view)?;
    let event = RequesterEventView {
        kind: RequesterEventKind::Refused,
        consent_id: e.consent_id,
        locker: e.locker,
        at_ms: at,
        documents: vec![e.document.clone()],
        refusal: Some(e.reason),
    };
    requester_event(tx, e.requester.as_str(), position, &event)?;
    Ok(())
}

/// `DocumentAccessed`.
fn document_accessed(
    tx: &mut Tx<'_>,
    at: schemas::TimestampMs,
    position: Position,
    e: &schemas::DocumentAccessed,
) -> Result<(), Refusal> {
    let mut view = consent_in(tx, &e.locker, &e.consent_id, &[ConsentState::Active], "access")?;
    if view.requester != e.requester.as_str() {
        return refuse(format!("access by {} under a consent of {}", e.requester, view.requester));
    }
    view.accesses += 1;
    if let Some(terms) = &view.terms {
        // Only the latest `reads` fetches decide whether the next one is within frequency.
        let kept = usize::try_from(terms.frequency.reads).unwrap_or(usize::MAX);
        view.recent_fetches_ms.push(at);
        let excess = view.recent_fetches_ms.len().saturating_sub(kept);
        view.recent_fetches_ms.drain(..excess);
    }
    tx.put(CF_CONSENTS, locker_item_key(&e.locker, &e.consent_id), &view)?;
    tx.add(&counter::accessed(&e.locker, e.requester.as_str()), 1)?;
    let event = RequesterEventView {
        kind: RequesterEventKind::Accessed,
        consent_id: e.consent_id,
        locker: e.locker,
        at_ms: at,
        documents: vec![e.document.clone()],
        refusal: None,
    };
    requester_event(tx, e.requester.as_str(), position, &event)?;
    let activity = ActivityView {
        at_ms: at,
        accessor: Accessor::Requester {
            requester: e.requester.to_string(),
            consent_id: e.consent_id,
        },
        document: Some(e.document.clone()),
    };
    tx.put(CF_ACTIVITY, activity_key(&e.locker, position.partition, position.offset), &activity)?;
    Ok(())
}

/// `DocumentUploaded`.
fn document_uploaded(
    tx: &mut Tx<'_>,
    keys: &dyn SealKeys,
    envelope: &Envelope,
    at: schemas::TimestampMs,
    origin: LogPoint,
    e: &schemas::DocumentUploaded,
) -> Result<(), Refusal> {
    let key = locker_item_key(&e.locker, &e.upload_id);
    if tx.get::<UploadView>(CF_UPLOADS, &key)?.is_some() {
        return refuse(format!("upload {} recorded twice", e.upload_id));
    }
    let file_name = match personal(keys, envelope) {
        Some(PersonalData::Upload(u)) => Some(u.file_name.to_string()),
        _ => None,
    };
    let view = UploadView {
        upload_id: e.upload_id,
        file_name,
        media_type: e.content.media_type,
        size_bytes: e.content.size_bytes,
        content_hash: e.content.hash,
        uploaded_at_ms: at,
        esigned_at_ms: None,
        origin,
    };
    tx.put(CF_UPLOADS, key, &view)?;
    tx.add(&counter::quota(&e.locker), size_delta(e.content.size_bytes))?;
    tx.add(&counter::upload_refs(&e.content.hash), 1)?;
    Ok(())
}
