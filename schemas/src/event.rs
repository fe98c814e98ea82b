//! The v1 event catalogue. Every fact about a citizen's documents is one of these.
//!
//! Encoding note: bincode writes an enum variant as its index, so the order of variants is part
//! of the format. New variants go at the end; nothing is reordered or removed. The golden
//! fixtures in `test_data/` catch any change.

use serde::{Deserialize, Serialize};

use crate::SchemaError;
use crate::bytes::{Digest32, EventId, Id16, KeyId, PublicKeyBytes, SignatureBytes};
pub use crate::doctype::{
    DocTypeDeclared, DocumentPulled, FieldKind, FieldProblem, FieldSpec, PullOutcome, PullRefusal,
    PullSpec, check_declared, check_document_fields,
};
use crate::ids::{
    CivilDate, DocTypeCode, DocUri, Endpoint, IssuerId, Label, Last4, LockerId, Reason,
    RequesterId, TimestampMs, Username,
};
use crate::limits;

/// Who caused an event, and so who signs it.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The locker platform itself (registrations, OTP-verified facts, expiry).
    Platform,
    Issuer(IssuerId),
    Requester(RequesterId),
    Citizen(LockerId),
}

impl Actor {
    pub fn kind(&self) -> ActorKind {
        match self {
            Actor::Platform => ActorKind::Platform,
            Actor::Issuer(_) => ActorKind::Issuer,
            Actor::Requester(_) => ActorKind::Requester,
            Actor::Citizen(_) => ActorKind::Citizen,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    Platform,
    Issuer,
    Requester,
    Citizen,
}

/// One event: the part an actor signs.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Idempotency key: the same id always means the same event.
    pub id: EventId,
    /// When the actor says it happened, from the actor's injected clock.
    pub occurred_at_ms: TimestampMs,
    pub actor: Actor,
    /// Which of the actor's registered keys signed this event.
    pub key_id: KeyId,
    pub payload: Payload,
}

/// The signed event with everything the log stores beside it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub event: Event,
    /// Ed25519 over `signing_bytes(event)`, by the key `event.key_id` of `event.actor`.
    pub signature: SignatureBytes,
    /// The personal fields behind `payload.personal_commitment()`, encrypted under the
    /// subject's key. Not covered by the signature, so erasing the key (crypto-shredding) leaves
    /// every signature verifiable.
    pub sealed: Option<Sealed>,
    /// Present when the actor signed a whole batch at once: `signature` is then over the
    /// batch's Merkle root (`BATCH_SIGNING_DOMAIN || size || root`), and this is the event's
    /// place in the batch. The record is envelope version 2; without it, version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchProof>,
}

/// Where an event sits in the batch its actor signed as one: leaf `index` of `size`, with
/// the RFC 9162 inclusion path (leaf `H(0x00 || signing bytes)`, BLAKE3) to the signed root.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchProof {
    pub index: u32,
    pub size: u32,
    pub path: Vec<crate::bytes::Digest32>,
}

/// Personal data encrypted under a per-subject key held outside the log.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    /// Whose key: deleting this subject's key erases the data.
    pub subject: SealSubject,
    /// XChaCha20-Poly1305 nonce.
    pub nonce: crate::bytes::Nonce24,
    /// Ciphertext of `salt (32 bytes) || canonical(PersonalData)`, with its 16-byte tag.
    #[serde(with = "crate::bytes::byte_vec")]
    pub ciphertext: Vec<u8>,
}

/// The person a sealed payload belongs to.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SealSubject {
    Locker(LockerId),
    /// A citizen known to an issuer only by Aadhaar, before a locker is linked to it.
    Aadhaar(Digest32),
}

/// The salted BLAKE3 hash of a sealed payload's personal fields, committed to by the signature.
pub type Commitment = Digest32;

/// Whether the directory topic or the citizen topic carries an event.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TopicKind {
    /// Issuers, requesters, keys, suspensions: one ordered stream the key registry follows.
    Directory,
    /// Everything about citizens and their documents, partitioned by citizen.
    Citizens,
}

/// The partition key: all events with the same key land in one partition, in order.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum PartitionKey {
    Directory,
    Locker(LockerId),
    /// Documents issued to an Aadhaar that no locker has linked yet.
    Aadhaar(Digest32),
}

impl PartitionKey {
    pub fn topic(&self) -> TopicKind {
        match self {
            PartitionKey::Directory => TopicKind::Directory,
            PartitionKey::Locker(_) | PartitionKey::Aadhaar(_) => TopicKind::Citizens,
        }
    }
    /// The bytes handed to the partitioner (the same murmur2 hashing as Kafka's Java client).
    pub fn to_key_bytes(&self) -> Vec<u8> {
        match self {
            PartitionKey::Directory => b"directory".to_vec(),
            PartitionKey::Locker(id) => id.to_string().into_bytes(),
            PartitionKey::Aadhaar(hash) => format!("aadhaar:{hash}").into_bytes(),
        }
    }
}

/// A reference to an Aadhaar number without the number: a platform-keyed BLAKE3 hash (so equal
/// numbers match) and the last four digits (which the citizen is shown).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AadhaarRef {
    pub keyed_hash: Digest32,
    pub last4: Last4,
}

/// A registered public key.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyEntry {
    pub key_id: KeyId,
    pub public_key: PublicKeyBytes,
}

/// A principal that owns keys.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Principal {
    Platform,
    Issuer(IssuerId),
    Requester(RequesterId),
    Citizen(LockerId),
}

impl From<&Actor> for Principal {
    fn from(actor: &Actor) -> Principal {
        match actor {
            Actor::Platform => Principal::Platform,
            Actor::Issuer(id) => Principal::Issuer(id.clone()),
            Actor::Requester(id) => Principal::Requester(id.clone()),
            Actor::Citizen(id) => Principal::Citizen(*id),
        }
    }
}

/// How people read a principal in messages: "the platform", "issuer in.gov.cbse".
impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::Platform => f.write_str("the platform"),
            Principal::Issuer(id) => write!(f, "issuer {id}"),
            Principal::Requester(id) => write!(f, "requester {id}"),
            Principal::Citizen(id) => write!(f, "citizen {id}"),
        }
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Principal::from(self).fmt(f)
    }
}

/// An organisation that can be suspended.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Organisation {
    Issuer(IssuerId),
    Requester(RequesterId),
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocTypeEntry {
    pub code: DocTypeCode,
    pub name: Label,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequesterKind {
    GovernmentDepartment,
    Bank,
    Telco,
    Insurer,
    Employer,
    EducationalInstitution,
    Other,
}

/// The media types locker stores. Issued content is PDF, XML or JSON; uploads are PDF or images.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaType {
    Pdf,
    Jpeg,
    Png,
    Bmp,
    Gif,
    Xml,
    Json,
}

impl MediaType {
    /// Every media type, in declaration order.
    pub const ALL: [MediaType; 7] = [
        MediaType::Pdf,
        MediaType::Jpeg,
        MediaType::Png,
        MediaType::Bmp,
        MediaType::Gif,
        MediaType::Xml,
        MediaType::Json,
    ];

    pub fn mime(self) -> &'static str {
        match self {
            MediaType::Pdf => "application/pdf",
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
            MediaType::Bmp => "image/bmp",
            MediaType::Gif => "image/gif",
            MediaType::Xml => "application/xml",
            MediaType::Json => "application/json",
        }
    }
}

/// What a document's bytes are, without the bytes.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentRef {
    pub hash: Digest32,
    pub media_type: MediaType,
    pub size_bytes: u64,
}

/// Whose locker an issued document goes to.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    Locker(LockerId),
    /// Shown in the locker as soon as that Aadhaar is linked.
    Aadhaar(AadhaarRef),
}

/// A document in a locker: issued (by URI) or uploaded (by upload id).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocRef {
    Issued(DocUri),
    Uploaded(Id16),
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    IssuedInError,
    Superseded,
    Cancelled,
    Fraud,
    Other,
}

/// What a requester asks for: every document of a type, or one document.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentItem {
    DocType { issuer: IssuerId, doc_type: DocTypeCode },
    Document(DocUri),
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurposeCode {
    KnowYourCustomer,
    AccountOpening,
    Employment,
    Admission,
    PassportVerification,
    LoanApplication,
    Other,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    pub code: PurposeCode,
    pub text: Reason,
}

// ---- Payloads -------------------------------------------------------------------------------

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerRegistered {
    pub issuer: IssuerId,
    pub name: Label,
    pub doc_types: Vec<DocTypeEntry>,
    pub keys: Vec<PublicKeyEntry>,
    pub endpoint: Option<Endpoint>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequesterRegistered {
    pub requester: RequesterId,
    pub name: Label,
    pub kind: RequesterKind,
    pub keys: Vec<PublicKeyEntry>,
}

/// `owner` gains `new_key`; `retired_key_id`, if given, stops being valid for new events.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotated {
    pub owner: Principal,
    pub new_key: PublicKeyEntry,
    pub retired_key_id: Option<KeyId>,
}

/// The key is compromised or lost: no event signed with it is accepted from now on.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRevoked {
    pub owner: Principal,
    pub key_id: KeyId,
    pub reason: Reason,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganisationSuspended {
    pub organisation: Organisation,
    pub reason: Reason,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganisationReinstated {
    pub organisation: Organisation,
}

/// A locker came into being after the mobile number was verified by OTP. The number is sealed;
/// `mobile_ref` (a platform-keyed hash) lets the platform find a locker by mobile.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CitizenRegistered {
    pub locker: LockerId,
    pub username: Username,
    pub mobile_ref: Digest32,
    /// The citizen's signing key (for consents, shares, e-signatures).
    pub key: PublicKeyEntry,
    pub personal: Commitment,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AadhaarLinked {
    pub locker: LockerId,
    pub aadhaar: AadhaarRef,
}

/// The platform unlinks an Aadhaar from a locker: the Aadhaar's owner proved it with the
/// authority's one-time password and took it back (a number once linked without that proof).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AadhaarUnlinked {
    pub locker: LockerId,
    pub aadhaar: AadhaarRef,
    pub reason: UnlinkReason,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnlinkReason {
    /// The Aadhaar's owner proved it (OTP to the mobile the authority holds) from another
    /// locker.
    ReclaimedByOwner,
}

/// An Aadhaar proven the way UIDAI proves it (a one-time password the authority sent to the
/// mobile it holds), linked to the locker, with the e-KYC answer the authority signed: its
/// key and the hash of the answer here, the resident's data sealed (`PersonalData::Kyc`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AadhaarVerified {
    pub locker: LockerId,
    pub aadhaar: AadhaarRef,
    /// The key id of the authority's key that signed the answer.
    pub authority_key: KeyId,
    /// BLAKE3 of the signed answer's bytes (what the authority's signature covers).
    pub answer_hash: Digest32,
    pub personal: Commitment,
}

/// Name, date of birth, gender, email: all sealed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdated {
    pub locker: LockerId,
    pub personal: Commitment,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentIssued {
    pub uri: DocUri,
    pub recipient: Recipient,
    pub name: Label,
    pub issued_on: CivilDate,
    pub valid_from: Option<CivilDate>,
    pub valid_to: Option<CivilDate>,
    pub content: ContentRef,
    /// Holder name and structured fields (marks, classes of vehicle), sealed.
    pub personal: Option<Commitment>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentUpdated {
    pub uri: DocUri,
    pub recipient: Recipient,
    pub name: Label,
    pub valid_from: Option<CivilDate>,
    pub valid_to: Option<CivilDate>,
    pub content: ContentRef,
    pub personal: Option<Commitment>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentRevoked {
    pub uri: DocUri,
    pub recipient: Recipient,
    pub reason: RevocationReason,
    pub detail: Option<Reason>,
}

/// The file name is sealed; type, size and hash are not (quota and integrity need them).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentUploaded {
    pub locker: LockerId,
    pub upload_id: Id16,
    pub content: ContentRef,
    pub personal: Commitment,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadDeleted {
    pub locker: LockerId,
    pub upload_id: Id16,
}

/// The citizen e-signed a document: `esignature` is Ed25519 by the citizen's key over
/// `ESIGN_DOMAIN || content_hash`, verifiable on its own, without the log.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentESigned {
    pub locker: LockerId,
    pub document: DocRef,
    pub content_hash: Digest32,
    pub esignature: SignatureBytes,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentShared {
    pub locker: LockerId,
    pub share_id: Id16,
    pub document: DocRef,
    pub expires_at_ms: TimestampMs,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareRevoked {
    pub locker: LockerId,
    pub share_id: Id16,
}

/// Someone opened a share link; `viewer_ref` is a platform-keyed hash of the viewer's network
/// address, so views can be told apart without storing the address.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedDocumentViewed {
    pub locker: LockerId,
    pub share_id: Id16,
    pub viewer_ref: Digest32,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequested {
    pub consent_id: Id16,
    pub requester: RequesterId,
    pub locker: LockerId,
    pub items: Vec<ConsentItem>,
    pub purpose: Purpose,
    /// The request lapses if the citizen has not answered by then.
    pub expires_at_ms: TimestampMs,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentGranted {
    pub consent_id: Id16,
    pub requester: RequesterId,
    pub locker: LockerId,
    /// The documents the citizen chose to release.
    pub documents: Vec<DocRef>,
    /// Access ends then, unless revoked earlier.
    pub access_expires_at_ms: TimestampMs,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentDenied {
    pub consent_id: Id16,
    pub requester: RequesterId,
    pub locker: LockerId,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRevoked {
    pub consent_id: Id16,
    pub requester: RequesterId,
    pub locker: LockerId,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentExpired {
    pub consent_id: Id16,
    pub requester: RequesterId,
    pub locker: LockerId,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentAccessed {
    pub consent_id: Id16,
    pub requester: RequesterId,
    pub locker: LockerId,
    pub document: DocRef,
    pub content_hash: Digest32,
}

/// How often a requester may fetch under a consent, as the Account Aggregator framework's
/// consent artefact states it (`Frequency`): at most `reads` fetches in any `per`, counted
/// over a sliding window ending at the fetch.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchFrequency {
    pub reads: u32,
    pub per: FrequencyPeriod,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrequencyPeriod {
    Hour,
    Day,
    Month,
    Year,
}

impl FrequencyPeriod {
    /// The window's length: a month is 30 days and a year 365, as a sliding window needs one
    /// fixed length.
    pub fn window_ms(self) -> i64 {
        match self {
            FrequencyPeriod::Hour => limits::DAY_MS / 24,
            FrequencyPeriod::Day => limits::DAY_MS,
            FrequencyPeriod::Month => 30 * limits::DAY_MS,
            FrequencyPeriod::Year => 365 * limits::DAY_MS,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FrequencyPeriod::Hour => "hour",
            FrequencyPeriod::Day => "day",
            FrequencyPeriod::Month => "month",
            FrequencyPeriod::Year => "year",
        }
    }
}

/// A consent request with the terms of the Account Aggregator framework's artefact: purpose,
/// how often the requester may fetch, how long it may keep what it fetched, and the window in
/// which access may be granted. Appended beside `ConsentRequested` (whose encoding stays).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequestedWithTerms {
    pub consent_id: Id16,
    pub requester: RequesterId,
    pub locker: LockerId,
    pub items: Vec<ConsentItem>,
    pub purpose: Purpose,
    pub frequency: FetchFrequency,
    /// Days the requester may keep what it fetched (the artefact's `DataLife`).
    pub data_life_days: u32,
    /// Access may start no earlier than this...
    pub access_from_ms: TimestampMs,
    /// ...and ends by this at the latest, whatever the grant says.
    pub access_until_ms: TimestampMs,
    /// The request lapses if the citizen has not answered by then.
    pub expires_at_ms: TimestampMs,
}

/// The citizen paused an active consent: fetches are refused until it is resumed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentPaused {
    pub consent_id: Id16,
    pub requester: RequesterId,
    pub locker: LockerId,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentResumed {
    pub consent_id: Id16,
    pub requester: RequesterId,
    pub locker: LockerId,
}

/// Why the platform refused a fetch under a consent that is otherwise in force.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchRefusal {
    FrequencyExceeded,
    Paused,
}

impl FetchRefusal {
    pub fn code(self) -> &'static str {
        match self {
            FetchRefusal::FrequencyExceeded => "frequency_exceeded",
            FetchRefusal::Paused => "consent_paused",
        }
    }
}

/// A fetch the platform refused, on the record for the citizen and the requester alike.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentFetchRefused {
    pub consent_id: Id16,
    pub requester: RequesterId,
    pub locker: LockerId,
    pub document: DocRef,
    pub reason: FetchRefusal,
}

/// The citizen closed the locker. Their sealing keys (and the linked Aadhaar's, `aadhaar`)
/// are destroyed, so every sealed field of theirs is unreadable for good; every signature
/// still verifies. The citizen's keys sign nothing after this, and nothing more is appended
/// to the locker.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockerClosed {
    pub locker: LockerId,
    /// The keyed hash of the Aadhaar linked when it closed.
    pub aadhaar: Option<Digest32>,
}

/// The documents issued to an Aadhaar so far leave the views: the locker that held the
/// Aadhaar closed (`LockerClosed` names it). Appended by the platform in the Aadhaar's own
/// partition, so that partition's order alone decides which documents were issued before
/// (forgotten) and which after (they wait for a locker as for anyone).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AadhaarForgotten {
    /// The keyed hash of the Aadhaar.
    pub aadhaar: Digest32,
    /// The locker whose closing this follows.
    pub locker: LockerId,
}

/// Every kind of event. Append new variants at the end only (see the module note).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    IssuerRegistered(IssuerRegistered),
    RequesterRegistered(RequesterRegistered),
    KeyRotated(KeyRotated),
    KeyRevoked(KeyRevoked),
    OrganisationSuspended(OrganisationSuspended),
    OrganisationReinstated(OrganisationReinstated),
    CitizenRegistered(CitizenRegistered),
    AadhaarLinked(AadhaarLinked),
    ProfileUpdated(ProfileUpdated),
    DocumentIssued(DocumentIssued),
    DocumentUpdated(DocumentUpdated),
    DocumentRevoked(DocumentRevoked),
    DocumentUploaded(DocumentUploaded),
    UploadDeleted(UploadDeleted),
    DocumentESigned(DocumentESigned),
    DocumentShared(DocumentShared),
    ShareRevoked(ShareRevoked),
    SharedDocumentViewed(SharedDocumentViewed),
    ConsentRequested(ConsentRequested),
    ConsentGranted(ConsentGranted),
    ConsentDenied(ConsentDenied),
    ConsentRevoked(ConsentRevoked),
    ConsentExpired(ConsentExpired),
    DocumentAccessed(DocumentAccessed),
    // Appended after version 1's 24 kinds (bincode writes variant indexes): issue 15.
    AadhaarUnlinked(AadhaarUnlinked),
    AadhaarVerified(AadhaarVerified),
    // Appended for issue 20: the citizen's rights.
    ConsentRequestedWithTerms(ConsentRequestedWithTerms),
    ConsentPaused(ConsentPaused),
    ConsentResumed(ConsentResumed),
    ConsentFetchRefused(ConsentFetchRefused),
    LockerClosed(LockerClosed),
    AadhaarForgotten(AadhaarForgotten),
    // Appended for issue 21: pulling documents and declared fields.
    DocTypeDeclared(DocTypeDeclared),
    DocumentPulled(DocumentPulled),
}

impl Payload {
    /// A stable snake_case name, for errors and metrics.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Payload::IssuerRegistered(_) => "issuer_registered",
            Payload::RequesterRegistered(_) => "requester_registered",
            Payload::KeyRotated(_) => "key_rotated",
            Payload::KeyRevoked(_) => "key_revoked",
            Payload::OrganisationSuspended(_) => "organisation_suspended",
            Payload::OrganisationReinstated(_) => "organisation_reinstated",
            Payload::CitizenRegistered(_) => "citizen_registered",
            Payload::AadhaarLinked(_) => "aadhaar_linked",
            Payload::ProfileUpdated(_) => "profile_updated",
            Payload::DocumentIssued(_) => "document_issued",
            Payload::DocumentUpdated(_) => "document_updated",
            Payload::DocumentRevoked(_) => "document_revoked",
            Payload::DocumentUploaded(_) => "document_uploaded",
            Payload::UploadDeleted(_) => "upload_deleted",
            Payload::DocumentESigned(_) => "document_e_signed",
            Payload::DocumentShared(_) => "document_shared",
            Payload::ShareRevoked(_) => "share_revoked",
            Payload::SharedDocumentViewed(_) => "shared_document_viewed",
            Payload::ConsentRequested(_) => "consent_requested",
            Payload::ConsentGranted(_) => "consent_granted",
            Payload::ConsentDenied(_) => "consent_denied",
            Payload::ConsentRevoked(_) => "consent_revoked",
            Payload::ConsentExpired(_) => "consent_expired",
            Payload::DocumentAccessed(_) => "document_accessed",
            Payload::AadhaarUnlinked(_) => "aadhaar_unlinked",
            Payload::AadhaarVerified(_) => "aadhaar_verified",
            Payload::ConsentRequestedWithTerms(_) => "consent_requested_with_terms",
            Payload::ConsentPaused(_) => "consent_paused",
            Payload::ConsentResumed(_) => "consent_resumed",
            Payload::ConsentFetchRefused(_) => "consent_fetch_refused",
            Payload::LockerClosed(_) => "locker_closed",
            Payload::AadhaarForgotten(_) => "aadhaar_forgotten",
            Payload::DocTypeDeclared(_) => "doc_type_declared",
            Payload::DocumentPulled(_) => "document_pulled",
        }
    }

    /// Where the event lives: one citizen's events share a partition, in order.
    pub fn partition_key(&self) -> PartitionKey {
        let recipient_key = |recipient: &Recipient| match recipient {
            Recipient::Locker(locker) => PartitionKey::Locker(*locker),
            Recipient::Aadhaar(aadhaar) => PartitionKey::Aadhaar(aadhaar.keyed_hash),
        };
        match self {
            Payload::IssuerRegistered(_)
            | Payload::RequesterRegistered(_)
            | Payload::OrganisationSuspended(_)
            | Payload::OrganisationReinstated(_) => PartitionKey::Directory,
            // Key changes are directory facts even for a citizen's key: the key registry follows
            // one ordered stream.
            Payload::KeyRotated(_) | Payload::KeyRevoked(_) => PartitionKey::Directory,
            Payload::CitizenRegistered(e) => PartitionKey::Locker(e.locker),
            Payload::AadhaarLinked(e) => PartitionKey::Locker(e.locker),
            Payload::ProfileUpdated(e) => PartitionKey::Locker(e.locker),
            Payload::DocumentIssued(e) => recipient_key(&e.recipient),
            Payload::DocumentUpdated(e) => recipient_key(&e.recipient),
            Payload::DocumentRevoked(e) => recipient_key(&e.recipient),
            Payload::DocumentUploaded(e) => PartitionKey::Locker(e.locker),
            Payload::UploadDeleted(e) => PartitionKey::Locker(e.locker),
            Payload::DocumentESigned(e) => PartitionKey::Locker(e.locker),
            Payload::DocumentShared(e) => PartitionKey::Locker(e.locker),
            Payload::ShareRevoked(e) => PartitionKey::Locker(e.locker),
            Payload::SharedDocumentViewed(e) => PartitionKey::Locker(e.locker),
            Payload::ConsentRequested(e) => PartitionKey::Locker(e.locker),
            Payload::ConsentGranted(e) => PartitionKey::Locker(e.locker),
            Payload::ConsentDenied(e) => PartitionKey::Locker(e.locker),
            Payload::ConsentRevoked(e) => PartitionKey::Locker(e.locker),
            Payload::ConsentExpired(e) => PartitionKey::Locker(e.locker),
            Payload::DocumentAccessed(e) => PartitionKey::Locker(e.locker),
            Payload::AadhaarUnlinked(e) => PartitionKey::Locker(e.locker),
            Payload::AadhaarVerified(e) => PartitionKey::Locker(e.locker),
            Payload::ConsentRequestedWithTerms(e) => PartitionKey::Locker(e.locker),
            Payload::ConsentPaused(e) => PartitionKey::Locker(e.locker),
            Payload::ConsentResumed(e) => PartitionKey::Locker(e.locker),
            Payload::ConsentFetchRefused(e) => PartitionKey::Locker(e.locker),
            Payload::LockerClosed(e) => PartitionKey::Locker(e.locker),
            Payload::AadhaarForgotten(e) => PartitionKey::Aadhaar(e.aadhaar),
            Payload::DocTypeDeclared(_) => PartitionKey::Directory,
            Payload::DocumentPulled(e) => PartitionKey::Locker(e.locker),
        }
    }

    /// The commitment to sealed personal fields, if this event has any.
    pub fn personal_commitment(&self) -> Option<&Commitment> {
        match self {
            Payload::CitizenRegistered(e) => Some(&e.personal),
            Payload::ProfileUpdated(e) => Some(&e.personal),
            Payload::DocumentIssued(e) => e.personal.as_ref(),
            Payload::DocumentUpdated(e) => e.personal.as_ref(),
            Payload::DocumentUploaded(e) => Some(&e.personal),
            Payload::AadhaarVerified(e) => Some(&e.personal),
            _ => None,
        }
    }

    /// The subject whose key seals this event's personal fields.
    pub fn seal_subject(&self) -> Option<SealSubject> {
        self.personal_commitment()?;
        Some(match self.partition_key() {
            PartitionKey::Locker(locker) => SealSubject::Locker(locker),
            PartitionKey::Aadhaar(hash) => SealSubject::Aadhaar(hash),
            PartitionKey::Directory => return None,
        })
    }

    /// Rules that span fields and cannot live in a field's type.
    pub fn validate(&self) -> Result<(), SchemaError> {
        let bad = |reason: String| Err(SchemaError::InvalidEvent(reason));
        let check_keys = |keys: &[PublicKeyEntry]| {
            if keys.is_empty() || keys.len() > limits::PRINCIPAL_KEYS_MAX {
                return Err(SchemaError::InvalidEvent(format!(
                    "an organisation registers 1 to {} keys, not {}",
                    limits::PRINCIPAL_KEYS_MAX,
                    keys.len()
                )));
            }
            Ok(())
        };
        let check_validity = |from: &Option<CivilDate>, to: &Option<CivilDate>| match (from, to) {
            (Some(from), Some(to)) if from > to => {
                Err(SchemaError::InvalidEvent(format!("valid_from {from} is after valid_to {to}")))
            }
            _ => Ok(()),
        };
        let check_content = |content: &ContentRef| {
            if content.size_bytes > limits::DOCUMENT_SIZE_BYTES_MAX {
                return Err(SchemaError::InvalidEvent(format!(
                    "content size {} bytes is beyond any document",
                    content.size_bytes
                )));
            }
            Ok(())
        };
        match self {
            Payload::IssuerRegistered(e) => {
                check_keys(&e.keys)?;
                if e.doc_types.is_empty() || e.doc_types.len() > limits::ISSUER_DOC_TYPES_MAX {
                    return bad(format!(
                        "an issuer registers 1 to {} doc types, not {}",
                        limits::ISSUER_DOC_TYPES_MAX,
                        e.doc_types.len()
                    ));
                }
                let mut codes: Vec<_> = e.doc_types.iter().map(|t| &t.code).collect();
                codes.sort();
                if codes.windows(2).any(|pair| pair[0] == pair[1]) {
                    return bad("an issuer lists a doc type code twice".to_owned());
                }
            }
            Payload::RequesterRegistered(e) => check_keys(&e.keys)?,
            Payload::DocumentIssued(e) => {
                check_validity(&e.valid_from, &e.valid_to)?;
                check_content(&e.content)?;
            }
            Payload::DocumentUpdated(e) => {
                check_validity(&e.valid_from, &e.valid_to)?;
                check_content(&e.content)?;
            }
            Payload::DocumentUploaded(e) => check_content(&e.content)?,
            Payload::ConsentRequested(e)
                if e.items.is_empty() || e.items.len() > limits::CONSENT_ITEMS_MAX =>
            {
                return bad(format!(
                    "a consent request asks for 1 to {} items, not {}",
                    limits::CONSENT_ITEMS_MAX,
                    e.items.len()
                ));
            }
            Payload::ConsentRequestedWithTerms(e) => check_terms(e)?,
            Payload::DocTypeDeclared(e) => e.validate()?,
            Payload::DocumentPulled(DocumentPulled {
                outcome: PullOutcome::Issued(uri),
                issuer,
                doc_type,
                ..
            }) if uri.issuer() != issuer || uri.doc_type() != doc_type => {
                return bad(format!("a pull of {issuer} {doc_type} cannot issue {uri}"));
            }
            Payload::ConsentGranted(e)
                if e.documents.is_empty() || e.documents.len() > limits::CONSENT_ITEMS_MAX =>
            {
                return bad(format!(
                    "a grant releases 1 to {} documents, not {}",
                    limits::CONSENT_ITEMS_MAX,
                    e.documents.len()
                ));
            }
            _ => {}
        }
        Ok(())
    }
}

/// The rules of a consent's terms (items, frequency, data life, window).
fn check_terms(e: &ConsentRequestedWithTerms) -> Result<(), SchemaError> {
    let bad = |reason: String| Err(SchemaError::InvalidEvent(reason));
    if e.items.is_empty() || e.items.len() > limits::CONSENT_ITEMS_MAX {
        return bad(format!(
            "a consent request asks for 1 to {} items, not {}",
            limits::CONSENT_ITEMS_MAX,
            e.items.len()
        ));
    }
    if !(1..=limits::CONSENT_FETCHES_PER_PERIOD_MAX).contains(&e.frequency.reads) {
        return bad(format!(
            "a frequency allows 1 to {} fetches a period, not {}",
            limits::CONSENT_FETCHES_PER_PERIOD_MAX,
            e.frequency.reads
        ));
    }
    if e.data_life_days > limits::CONSENT_DATA_LIFE_DAYS_MAX {
        return bad(format!(
            "data life is at most {} days, not {}",
            limits::CONSENT_DATA_LIFE_DAYS_MAX,
            e.data_life_days
        ));
    }
    let window_ms = e.access_until_ms.0.saturating_sub(e.access_from_ms.0);
    if window_ms <= 0 || window_ms > limits::CONSENT_WINDOW_MS_MAX {
        return bad(format!(
            "the access window must end after it starts and last at most {} days",
            limits::CONSENT_WINDOW_MS_MAX / limits::DAY_MS
        ));
    }
    Ok(())
}
