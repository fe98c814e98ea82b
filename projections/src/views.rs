//! What the views store, and the key layouts. Values are bincode (fixed-int, little-endian);
//! keys are designed so one locker's items are one contiguous, ordered range.

use serde::{Deserialize, Serialize};

use schemas::{
    CivilDate, ConsentItem, Digest32, DocRef, Id16, LockerId, MediaType, Purpose, RequesterKind,
    RevocationReason, TimestampMs,
};

/// Column families. `meta` and `positions` are bookkeeping; the rest are views.
pub const CF_META: &str = "meta";
pub const CF_POSITIONS: &str = "positions";
pub const CF_DOCS: &str = "docs";
pub const CF_UPLOADS: &str = "uploads";
pub const CF_PROFILES: &str = "profiles";
pub const CF_AADHAAR: &str = "aadhaar_links";
pub const CF_CONSENTS: &str = "consents";
pub const CF_REQUESTER_CONSENTS: &str = "requester_consents";
pub const CF_SHARES: &str = "shares";
pub const CF_ACTIVITY: &str = "activity";
/// Each requester's consent events, keyed by requester, partition and offset: the source of
/// the requester's event stream, resumable per partition without gaps or duplicates.
pub const CF_REQUESTER_EVENTS: &str = "requester_events";
/// Live consents by the time they lapse: `expiry ms (BE) || locker || consent id`.
pub const CF_CONSENT_EXPIRY: &str = "consent_expiry";
pub const CF_ISSUERS: &str = "issuers";
pub const CF_REQUESTERS: &str = "requesters";
/// Where each registered key came from: `principal || key id` -> the `LogPoint` of the event
/// that registered it (what a proof bundle chains back to the platform).
pub const CF_KEY_ORIGINS: &str = "key_origins";
/// Integer counters updated with an associative add merge operator.
pub const CF_COUNTERS: &str = "counters";
/// Content a deleted upload named, by when: `deleted at ms (BE) || BLAKE3`. Whoever keeps
/// the bytes removes them once no upload names them any more (`counter::upload_refs`).
pub const CF_DELETED_CONTENT: &str = "deleted_content";
/// Events the views passed over instead of halting (`partition (BE) || offset (BE)` -> why).
pub const CF_ANOMALIES: &str = "anomalies";

pub const VIEW_CFS: [&str; 17] = [
    CF_POSITIONS,
    CF_DOCS,
    CF_UPLOADS,
    CF_PROFILES,
    CF_AADHAAR,
    CF_CONSENTS,
    CF_REQUESTER_CONSENTS,
    CF_SHARES,
    CF_ACTIVITY,
    CF_REQUESTER_EVENTS,
    CF_CONSENT_EXPIRY,
    CF_ISSUERS,
    CF_REQUESTERS,
    CF_KEY_ORIGINS,
    CF_COUNTERS,
    CF_DELETED_CONTENT,
    CF_ANOMALIES,
];

/// `keyed hash of the Aadhaar || locker` -> when it was linked: every locker that linked an
/// Aadhaar, the first of which holds it.
pub fn aadhaar_link_key(aadhaar: &Digest32, locker: &LockerId) -> Vec<u8> {
    [&aadhaar.0[..], &locker.0[..]].concat()
}

pub fn anomaly_key(at: LogPoint) -> Vec<u8> {
    [&at.partition.to_be_bytes()[..], &at.offset.to_be_bytes()[..]].concat()
}

pub fn deleted_content_key(at: TimestampMs, hash: &Digest32) -> Vec<u8> {
    [at.0.to_be_bytes().as_slice(), &hash.0].concat()
}

/// Where an event sits in its topic (which topic follows from the event's kind: documents and
/// citizen registrations in the citizen topic, organisations' keys in the directory).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPoint {
    pub partition: u32,
    pub offset: u64,
}

pub fn key_origin_key(principal: &schemas::Principal, key_id: &schemas::KeyId) -> Vec<u8> {
    let owner = match principal {
        schemas::Principal::Platform => vec![b'P'],
        schemas::Principal::Issuer(id) => [b"I", id.as_str().as_bytes()].concat(),
        schemas::Principal::Requester(id) => [b"R", id.as_str().as_bytes()].concat(),
        schemas::Principal::Citizen(id) => [&b"C"[..], &id.0[..]].concat(),
    };
    // The owner's length first, so no owner's key is a prefix of another's.
    let length = u16::try_from(owner.len()).unwrap_or(u16::MAX);
    [&length.to_be_bytes()[..], &owner, &key_id.0[..]].concat()
}

/// Whose an issued document is: a locker, or an Aadhaar no locker has linked yet. Documents
/// issued to an Aadhaar stay under it and join the locker at query time once it is linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    Locker(LockerId),
    Aadhaar(Digest32),
}

impl Owner {
    pub fn key(&self) -> Vec<u8> {
        match self {
            Owner::Locker(locker) => [&[b'L'][..], &locker.0[..]].concat(),
            Owner::Aadhaar(hash) => [&[b'A'][..], &hash.0[..]].concat(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DocStatus {
    Issued,
    Updated,
    Revoked(RevocationReason),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocView {
    pub uri: String,
    pub issuer: String,
    pub doc_type: String,
    pub name: String,
    pub issued_on: CivilDate,
    pub valid_from: Option<CivilDate>,
    pub valid_to: Option<CivilDate>,
    pub content_hash: Digest32,
    pub media_type: MediaType,
    pub size_bytes: u64,
    pub status: DocStatus,
    pub version: u32,
    pub issued_at_ms: TimestampMs,
    pub esigned_at_ms: Option<TimestampMs>,
    /// The personal fields (the holder's name among them) as the event carried them: sealed
    /// under the holder's key, beside the commitment the issuer signed. Kept sealed, so that
    /// projecting a board's results decrypts nothing, and erasing the key makes them unreadable
    /// here at once; a reader opens them (`DocView::holder_name`).
    pub personal: Option<SealedFields>,
    /// The event behind the current version (issued or updated).
    pub origin: LogPoint,
}

/// Personal fields sealed under their subject's key, and the commitment the event signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedFields {
    pub sealed: schemas::Sealed,
    pub commitment: schemas::Commitment,
}

impl SealedFields {
    /// The fields of `envelope`'s event, if it carries sealed ones.
    pub(crate) fn of(envelope: &schemas::Envelope) -> Option<SealedFields> {
        let commitment = *envelope.event.payload.personal_commitment()?;
        Some(SealedFields { sealed: envelope.sealed.clone()?, commitment })
    }

    /// The fields opened with their subject's key: `None` when the key is gone (erased, or
    /// never known here) or the seal does not match the commitment.
    pub fn open(&self, keys: &dyn crate::keys::SealKeys) -> Option<schemas::PersonalData> {
        let key = keys.key(&self.sealed.subject)?;
        ledger::crypto::open_sealed(&key, &self.sealed, &self.commitment).ok()
    }
}

impl DocView {
    /// The holder's name, opened with the holder's key (`None` once the key is erased).
    pub fn holder_name(&self, keys: &dyn crate::keys::SealKeys) -> Option<String> {
        match self.personal.as_ref()?.open(keys)? {
            schemas::PersonalData::Document(d) => Some(d.holder_name.to_string()),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadView {
    pub upload_id: Id16,
    /// `None` once the citizen's key is erased.
    pub file_name: Option<String>,
    pub media_type: MediaType,
    pub size_bytes: u64,
    pub content_hash: Digest32,
    pub uploaded_at_ms: TimestampMs,
    pub esigned_at_ms: Option<TimestampMs>,
    /// The `document_uploaded` event.
    pub origin: LogPoint,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileView {
    pub locker: LockerId,
    pub username: String,
    /// The platform-keyed hash of the mobile number (what closing the locker unbinds).
    pub mobile_ref: Digest32,
    pub mobile_masked: Option<String>,
    pub aadhaar_last4: Option<String>,
    pub aadhaar_hash: Option<Digest32>,
    pub full_name: Option<String>,
    pub date_of_birth: Option<CivilDate>,
    pub email: Option<String>,
    pub registered_at_ms: TimestampMs,
    /// The linked Aadhaar's e-KYC data, as the authority answered it (`AadhaarVerified`);
    /// none for a link made before links were proven, or whose sealed data is erased.
    pub kyc: Option<KycView>,
}

/// A gender as the views and the API name it.
pub fn gender_name(gender: schemas::Gender) -> &'static str {
    match gender {
        schemas::Gender::Female => "female",
        schemas::Gender::Male => "male",
        schemas::Gender::Transgender => "transgender",
        schemas::Gender::Undisclosed => "undisclosed",
    }
}

/// What the Aadhaar authority holds of the citizen, and when and by which key it said so.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KycView {
    pub name: String,
    pub date_of_birth: CivilDate,
    /// `female`, `male`, `transgender` or `undisclosed`.
    pub gender: String,
    /// UIDAI's address elements (`co`, `house`, ..., `pc`), the empty ones left out.
    pub address: Vec<(String, String)>,
    pub verified_at_ms: TimestampMs,
    pub authority_key: schemas::KeyId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsentState {
    Pending,
    Active,
    Denied,
    Revoked,
    Expired,
    /// Granted, and paused by the citizen: fetches are refused until it is resumed.
    Paused,
}

/// A consent's terms as the Account Aggregator framework's artefact states them
/// (`ConsentRequestedWithTerms`); none for a request made without them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentTerms {
    pub frequency: schemas::FetchFrequency,
    pub data_life_days: u32,
    pub access_from_ms: TimestampMs,
    pub access_until_ms: TimestampMs,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentView {
    pub consent_id: Id16,
    pub requester: String,
    pub locker: LockerId,
    pub items: Vec<ConsentItem>,
    pub purpose: Purpose,
    pub requested_at_ms: TimestampMs,
    pub request_expires_at_ms: TimestampMs,
    pub state: ConsentState,
    pub granted: Vec<DocRef>,
    pub access_expires_at_ms: Option<TimestampMs>,
    pub accesses: u64,
    pub terms: Option<ConsentTerms>,
    /// The latest fetches, at most the frequency's `reads` of them: a fetch is refused while
    /// that many fall within the frequency's window.
    pub recent_fetches_ms: Vec<TimestampMs>,
    /// Fetches the platform refused (`ConsentFetchRefused`).
    pub refusals: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareView {
    pub share_id: Id16,
    pub document: DocRef,
    pub created_at_ms: TimestampMs,
    pub expires_at_ms: TimestampMs,
    pub revoked: bool,
    pub views: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Accessor {
    Requester {
        requester: String,
        consent_id: Id16,
    },
    ShareLink {
        share_id: Id16,
    },
    /// The citizen pulled (or tried to pull) a document from its issuer.
    Pull {
        issuer: String,
        doc_type: String,
        outcome: schemas::PullOutcome,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityView {
    pub at_ms: TimestampMs,
    pub accessor: Accessor,
    pub document: Option<DocRef>,
}

/// What happened to one of a requester's consents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequesterEventKind {
    Requested,
    Granted,
    Denied,
    Revoked,
    Expired,
    Accessed,
    Paused,
    Resumed,
    /// A fetch refused: `RequesterEventView::refusal` says why.
    Refused,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequesterEventView {
    pub kind: RequesterEventKind,
    pub consent_id: Id16,
    pub locker: LockerId,
    pub at_ms: TimestampMs,
    /// Granted documents (for `Granted`), the document read (for `Accessed`, `Refused`).
    pub documents: Vec<DocRef>,
    pub refusal: Option<schemas::FetchRefusal>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerView {
    pub issuer: String,
    pub name: String,
    pub doc_types: Vec<(String, String)>,
    pub endpoint: Option<String>,
    pub suspended: bool,
    /// The doc types the issuer declared (fields, pull), the latest of each.
    pub declared: Vec<schemas::DocTypeDeclared>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequesterView {
    pub requester: String,
    pub name: String,
    pub kind: RequesterKind,
    pub suspended: bool,
}

/// Keys of the counters column family.
pub mod counter {
    use schemas::LockerId;

    pub const USERS: &[u8] = b"stat/users";
    pub const ISSUED: &[u8] = b"stat/issued";
    pub const ISSUERS: &[u8] = b"stat/issuers";
    pub const REQUESTERS: &[u8] = b"stat/requesters";
    /// Events passed over instead of halting (`CF_ANOMALIES`).
    pub const ANOMALIES: &[u8] = b"stat/anomalies";

    pub fn issued_by(issuer: &str) -> Vec<u8> {
        [b"stat/issued_by/".as_slice(), issuer.as_bytes()].concat()
    }
    pub fn quota(locker: &LockerId) -> Vec<u8> {
        [b"quota/".as_slice(), &locker.0].concat()
    }
    /// Live uploads whose content has this BLAKE3, in every locker.
    pub fn upload_refs(hash: &schemas::Digest32) -> Vec<u8> {
        [b"upload_refs/".as_slice(), &hash.0].concat()
    }
    /// Documents a requester asked for / accessed in a locker (`My Requester`).
    pub fn requested_prefix(locker: &LockerId) -> Vec<u8> {
        [b"rq/".as_slice(), &locker.0, b"/"].concat()
    }
    pub fn requested(locker: &LockerId, requester: &str) -> Vec<u8> {
        [requested_prefix(locker), requester.as_bytes().to_vec()].concat()
    }
    pub fn accessed_prefix(locker: &LockerId) -> Vec<u8> {
        [b"ra/".as_slice(), &locker.0, b"/"].concat()
    }
    pub fn accessed(locker: &LockerId, requester: &str) -> Vec<u8> {
        [accessed_prefix(locker), requester.as_bytes().to_vec()].concat()
    }
}

pub fn doc_key(owner: &Owner, uri: &str) -> Vec<u8> {
    [owner.key(), uri.as_bytes().to_vec()].concat()
}

pub fn locker_item_key(locker: &LockerId, id: &Id16) -> Vec<u8> {
    [&locker.0[..], &id.0[..]].concat()
}

pub fn activity_key(locker: &LockerId, partition: u32, offset: u64) -> Vec<u8> {
    [&locker.0[..], &partition.to_be_bytes()[..], &offset.to_be_bytes()[..]].concat()
}

/// When a consent stops being live by itself: a pending request at its answer deadline, an
/// active consent at the end of its access. Other states never lapse.
pub fn live_until(view: &ConsentView) -> Option<TimestampMs> {
    match view.state {
        ConsentState::Pending => Some(view.request_expires_at_ms),
        ConsentState::Active | ConsentState::Paused => view.access_expires_at_ms,
        _ => None,
    }
}

pub fn consent_expiry_key(at: TimestampMs, locker: &LockerId, consent: &Id16) -> Vec<u8> {
    // Times before the epoch sort first, as already due.
    let at = u64::try_from(at.0).unwrap_or(0);
    [&at.to_be_bytes()[..], &locker.0[..], &consent.0[..]].concat()
}

pub fn requester_events_prefix(requester: &str, partition: u32) -> Vec<u8> {
    [requester.as_bytes(), &[0u8], &partition.to_be_bytes()[..]].concat()
}

pub fn requester_event_key(requester: &str, partition: u32, offset: u64) -> Vec<u8> {
    [requester_events_prefix(requester, partition), offset.to_be_bytes().to_vec()].concat()
}

pub fn requester_consent_key(requester: &str, consent: &Id16) -> Vec<u8> {
    [requester.as_bytes(), &[0u8], &consent.0[..]].concat()
}

pub fn position_key(topic: &str, partition: u32) -> Vec<u8> {
    format!("{topic}/{partition}").into_bytes()
}
