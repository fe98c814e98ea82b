//! The answers of the locker service, as both sides read them: the server serializes them,
//! [`client`](../../client) and any other Rust caller deserializes them. Field names and
//! meanings are the published contract (the OpenAPI document at `/openapi.json` is derived from
//! these types with the `openapi` feature); adding a field is compatible, renaming one is not.

use schemas::{ConsentItem, PurposeCode};
use serde::{Deserialize, Serialize};

// Errors.
/// Every error: a stable machine-readable `code` and a message for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDto {
    /// Such as `invalid_uri`, `uri_exists`, `aadhaar_not_linked`, `invalid_filetype`,
    /// `invalid_filesize`, `quota_exceeded`, `consent_expired`, `bad_signature`.
    pub code: String,
    pub message: String,
}

// Signed events and batches.
/// The answer to a client whose signed event was logged (or already was).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Accepted {
    /// `accepted`, or `already_present` for a retry of a logged event.
    pub status: String,
    pub event_id: String,
    pub partition: u32,
    pub offset: u64,
}

/// A snapshot the service took of its views and key registry (`POST /v1/admin/snapshots`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotTaken {
    /// Its id: the time it was taken (ms since the epoch, 13 digits) and a random tag.
    pub id: String,
    pub created_ms: i64,
    /// Files of the views' checkpoint, plus the registry.
    pub files: usize,
    /// Their size before compression.
    pub size_bytes: u64,
    /// Their size in the object store.
    pub stored_bytes: u64,
    /// For each partition, `topic/partition@offset`: the first offset the views had not
    /// applied.
    pub marks: Vec<String>,
}

/// One row's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RowResult {
    /// The row's number in this batch, from 1.
    pub row: usize,
    /// `accepted`, `already_present` or `rejected`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchResult {
    pub rows: usize,
    pub accepted: usize,
    pub already_present: usize,
    pub rejected: usize,
    pub results: Vec<RowResult>,
}

// Aadhaar references for issuers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AadhaarReferenceDto {
    /// The platform-keyed BLAKE3 hash, in hex: put it in `recipient.aadhaar.keyed_hash`.
    pub keyed_hash: String,
    pub last4: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AadhaarBatchItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyed_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last4: Option<String>,
    /// Why this number has no reference (`invalid_aadhaar`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AadhaarBatchDto {
    /// One per number asked, in order.
    pub references: Vec<AadhaarBatchItem>,
}

// Lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListDto<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

// The ledger's public answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointDto {
    pub topic: String,
    pub partition: u32,
    pub size: u64,
    pub root: String,
    pub at_ms: i64,
    /// The signed note, exactly as logged.
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointsDto {
    /// The ledger's Ed25519 public key, hex (check it against one you trust).
    pub ledger_key: String,
    pub checkpoints: Vec<CheckpointDto>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsistencyDto {
    pub topic: String,
    pub partition: u32,
    pub first: u64,
    pub second: u64,
    /// RFC 9162 consistency proof, hex.
    pub proof: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentStatusDto {
    /// Issued documents: `active`, `updated`, `expired` or `revoked`. Uploads: `present` or
    /// `deleted`.
    pub status: String,
    /// Whether the bundle proves the document's current version (an update supersedes it).
    pub current: bool,
    pub uri: Option<String>,
    pub upload_id: Option<String>,
    /// Why the issuer revoked it, when it did.
    pub revoked_reason: Option<String>,
    /// The last day the current version is valid, if it has one.
    pub valid_to: Option<String>,
    /// When the service looked, by its clock.
    pub checked_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthDto {
    pub status: String,
    /// Records the views have not applied yet, over all partitions.
    pub projection_lag: u64,
    pub halted: Vec<HaltDto>,
    /// Events the views passed over instead of halting (contradictions an older log may
    /// hold, reported in the server's log as they are met).
    pub anomalies: i64,
    /// In a cluster, the partitions this node owns (`topic/partition`), which it alone appends
    /// to; absent on a node alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned: Option<Vec<String>>,
}

/// Where a partition stopped. Its reason names lockers, documents or consents, so it goes
/// to the server's log for the operator, never to this public answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HaltDto {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
}

// A citizen's answers.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionDto {
    /// The bearer token; absent for a cookie session (scripts must never see it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// For a cookie session: send it as `x-csrf-token` with every request that changes state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
    pub expires_at_ms: i64,
    pub locker: String,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CertificateDto {
    pub uri: String,
    pub name: String,
    pub issuer: String,
    pub issuer_name: Option<String>,
    pub doc_type: String,
    pub doc_type_name: Option<String>,
    pub issued_on: String,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    pub status: String,
    pub holder_name: Option<String>,
    pub media_type: String,
    pub size_bytes: u64,
    pub content_hash: String,
    /// When the citizen last e-signed this version, if she did.
    pub esigned_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadedDto {
    pub id: String,
    pub file_name: String,
    pub media_type: String,
    pub size_bytes: u64,
    pub content_hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareDto {
    pub id: String,
    pub uri: Option<String>,
    pub upload_id: Option<String>,
    /// The public page of the link (relative to the service).
    pub url: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub revoked: bool,
    pub live: bool,
    pub views: u64,
}

// A requester's answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequesterConsentDto {
    pub id: String,
    pub locker: String,
    pub state: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "account_opening"))]
    pub purpose: PurposeCode,
    pub purpose_text: String,
    /// {"doc_type": {issuer, doc_type}} or {"document": uri}
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub items: Vec<ConsentItem>,
    pub requested_at_ms: i64,
    pub request_expires_at_ms: i64,
    pub access_expires_at_ms: Option<i64>,
    pub granted: Vec<GrantedDto>,
    pub accesses: u64,
    /// The consent's terms, for a request made with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<TermsDto>,
    /// Fetches refused (`frequency_exceeded`, `consent_paused`).
    #[serde(default)]
    pub refusals: u64,
}

/// A consent's terms as the Account Aggregator framework's artefact states them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TermsDto {
    /// At most this many fetches...
    pub fetches: u32,
    /// ...in any `hour`, `day`, `month` (30 days) or `year` (365 days).
    pub per: String,
    /// Days the requester may keep what it fetched.
    pub data_life_days: u32,
    pub access_from_ms: i64,
    pub access_until_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantedDto {
    pub uri: Option<String>,
    pub upload_id: Option<String>,
    /// What a `document_accessed` event must name; absent if the document left the locker.
    pub content_hash: Option<String>,
}

// A citizen's requests and answers, continued.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
    /// `cookie` (the web page): the session goes into an HttpOnly cookie and the answer
    /// carries a CSRF token instead of the session token. Default `token`.
    #[serde(default)]
    pub session: SessionKind,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    #[default]
    Token,
    Cookie,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OtpBody {
    /// Ten digits starting with 6 to 9, optionally after +91, 91 or 0 (spaces and dashes are
    /// also taken).
    #[cfg_attr(feature = "openapi", schema(pattern = r"^(?:\+91|91|0)?[6-9][0-9]{9}$"))]
    pub mobile: String,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignupBody {
    #[cfg_attr(feature = "openapi", schema(pattern = r"^(?:\+91|91|0)?[6-9][0-9]{9}$"))]
    pub mobile: String,
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{6}$"))]
    pub otp: String,
    /// 3 to 32 of a-z, 0-9, `.` and `_`, starting with a letter.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[a-z][a-z0-9._]{2,31}$"))]
    pub username: String,
    /// 8 to 128 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 8, max_length = 128))]
    pub password: String,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AadhaarOtpBody {
    /// Twelve digits, spaces allowed.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[2-9][0-9]{3} ?[0-9]{4} ?[0-9]{4}$"))]
    pub aadhaar: String,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AadhaarBody {
    /// From `POST /v1/citizen/aadhaar/otp`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{32}$"))]
    pub txn: String,
    /// The six digits the Aadhaar authority sent.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{6}$"))]
    pub otp: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ShareBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_minutes: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OtpSent {
    pub sent_to: String,
    pub expires_at_ms: i64,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedUp {
    pub locker: String,
    pub token: String,
    pub expires_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AadhaarOtpSent {
    /// Send it back with the code.
    pub txn: String,
    /// The mobile the authority holds for the Aadhaar, masked.
    pub sent_to: String,
    pub expires_at_ms: i64,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AadhaarLinkedDto {
    pub aadhaar_last4: String,
    /// The number was linked to another locker, and was taken from it with this proof.
    pub reclaimed: bool,
    pub kyc: KycDto,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MyIssuerDto {
    pub issuer: String,
    pub name: Option<String>,
    pub documents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MyRequesterDto {
    pub requester: String,
    pub name: Option<String>,
    pub requested: i64,
    pub accessed: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StorageDto {
    pub used_bytes: i64,
    pub quota_bytes: i64,
}

// The resident's e-KYC data.
/// The resident's data as the Aadhaar authority answered it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KycDto {
    pub name: String,
    /// YYYY-MM-DD.
    pub date_of_birth: String,
    /// `female`, `male`, `transgender` or `undisclosed`.
    pub gender: String,
    /// UIDAI's address elements (`co`, `house`, `street`, `lm`, `loc`, `vtc`, `subdist`,
    /// `dist`, `state`, `country`, `pc`, `po`), the empty ones left out.
    pub address: Vec<AddressElementDto>,
    pub verified_at_ms: i64,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddressElementDto {
    pub element: String,
    pub value: String,
}

// A document, as a share link's page and a requester's fetch show it.
/// A document as shown to someone other than its owner (a share link holder, a requester).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentDto {
    pub uri: Option<String>,
    pub upload_id: Option<String>,
    pub name: String,
    pub issuer: Option<String>,
    pub issued_on: Option<String>,
    pub holder_name: Option<String>,
    pub media_type: String,
    pub size_bytes: u64,
    pub content_hash: String,
    pub revoked_by_issuer: bool,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharedDto {
    #[serde(flatten)]
    pub document: DocumentDto,
    pub expires_at_ms: i64,
    /// The document's bytes, within this visit (not counted as another access).
    pub content_url: String,
    /// The document's proof bundle, within this visit.
    pub bundle_url: String,
    /// This visit, for the page's next requests (`?visit=`): the same viewer fetching the
    /// content and the bundle soon after is one access, not three.
    pub visit: String,
}

// A citizen's decision on a consent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decided {
    pub id: String,
    pub state: String,
    pub documents: Vec<String>,
}

/// `Debug` that shows only the named fields: the others carry a secret (a password, a code, a
/// session token) or personal data (a mobile, an Aadhaar, a name, an address), which no log
/// may hold.
macro_rules! debug_showing {
    ($($type:ident { $($field:ident),* })*) => {$(
        impl std::fmt::Debug for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($type))
                    $(.field(stringify!($field), &self.$field))*
                    .finish_non_exhaustive()
            }
        }
    )*};
}

debug_showing! {
    SessionDto { expires_at_ms, locker }
    PullRequestDto { request_id, locker, doc_type }
    SignedUp { locker, expires_at_ms }
    OtpBody {  }
    SignupBody { username }
    LoginBody { username, session }
    AadhaarOtpBody {  }
    AadhaarBody { txn }
    KycDto { verified_at_ms }
    AadhaarLinkedDto { aadhaar_last4, reclaimed }
    CertificateDto { uri, status }
    DocumentDto { uri, upload_id }
    SharedDto { expires_at_ms }
    AddressElementDto { element }
}

impl Accepted {
    /// Whether this append wrote the event (not a retry of one already logged).
    pub fn is_new(&self) -> bool {
        self.status == "accepted"
    }
}

impl RowResult {
    pub fn rejected(row: usize, code: &str, message: String) -> Self {
        RowResult {
            row,
            status: "rejected".to_owned(),
            code: Some(code.to_owned()),
            message: Some(message),
            partition: None,
            offset: None,
        }
    }
    pub fn present(row: usize) -> Self {
        RowResult {
            row,
            status: "already_present".to_owned(),
            code: None,
            message: None,
            partition: None,
            offset: None,
        }
    }
    pub fn accepted(row: usize, partition: u32, offset: u64) -> Self {
        RowResult {
            row,
            status: "accepted".to_owned(),
            code: None,
            message: None,
            partition: Some(partition),
            offset: Some(offset),
        }
    }
}

impl BatchResult {
    /// The batch's answer: its verdicts in order, counted.
    pub fn of(results: Vec<RowResult>) -> Self {
        let count = |status: &str| results.iter().filter(|r| r.status == status).count();
        BatchResult {
            rows: results.len(),
            accepted: count("accepted"),
            already_present: count("already_present"),
            rejected: count("rejected"),
            results,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaves_secrets_and_personal_data_out() {
        let session = SessionDto {
            token: Some("s3cr3t-token".to_owned()),
            csrf_token: Some("csrf-s3cr3t".to_owned()),
            expires_at_ms: 1,
            locker: "locker-id".to_owned(),
        };
        let signup = SignupBody {
            mobile: "9123456780".to_owned(),
            otp: "654321".to_owned(),
            username: "ravi".to_owned(),
            password: "correct horse battery".to_owned(),
        };
        let aadhaar = AadhaarOtpBody { aadhaar: "4991 1866 5246".to_owned() };
        let kyc = KycDto {
            name: "Ravi Kumar".to_owned(),
            date_of_birth: "2005-01-02".to_owned(),
            gender: "male".to_owned(),
            address: vec![AddressElementDto {
                element: "vtc".to_owned(),
                value: "Lucknow".to_owned(),
            }],
            verified_at_ms: 7,
        };
        let shown = format!("{session:?} {signup:?} {aadhaar:?} {kyc:?}");
        for secret in [
            "s3cr3t-token",
            "csrf-s3cr3t",
            "9123456780",
            "654321",
            "correct horse",
            "4991",
            "Ravi Kumar",
            "2005-01-02",
            "Lucknow",
        ] {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
        assert!(shown.contains("locker-id") && shown.contains("ravi"), "{shown}");
    }
}

// Pulling documents from issuers (issue 21).
/// What the platform sends an issuer's pull endpoint (`PullSpec::endpoint`), signed with
/// RFC 9421 by the platform's key (`keyid` `platform:<key id>`, covering `@method`,
/// `@authority`, `@path` and `content-digest`). The issuer answers 200 with the push body of a
/// signed `document_issued` for `locker` (`envelope`, `personal`, `content`), or an `ErrorDto`
/// whose code is `no_record` (404), `name_mismatch` (422) or `try_later` (503).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullRequestDto {
    /// Unique per attempt: the issuer may refuse one it has seen.
    pub request_id: String,
    /// The locker the document is for (its recipient).
    pub locker: String,
    pub doc_type: String,
    /// What the citizen gave, by the keys the doc type declared.
    pub identifiers: std::collections::BTreeMap<String, String>,
    /// The citizen's name (from Aadhaar e-KYC when linked, else the profile's).
    pub name: String,
    /// Where `name` comes from: `aadhaar_ekyc` (as UIDAI answered it) or `profile`; an issuer
    /// may take only the first.
    pub name_source: String,
}
