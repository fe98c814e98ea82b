//! One envelope of every event kind, built from a few parameters. The golden fixtures use fixed
//! parameters; property tests, ledger tests and benchmarks use random ones. Pure data: the
//! signature and sealed bytes here are placeholders that `ledger` replaces with real ones.

use crate::bytes::{Digest32, EventId, Id16, KeyId, Nonce24, PublicKeyBytes, SignatureBytes};
use crate::event::*;
use crate::ids::*;

/// The inputs that vary between samples.
#[derive(Clone, Debug)]
pub struct SampleParams {
    pub event_id: [u8; 16],
    pub locker: [u8; 16],
    pub other_id: [u8; 16],
    pub occurred_at_ms: i64,
    pub byte: u8,
    /// A document id; must satisfy `DocId` (letters, digits, - _ . /).
    pub doc_id: String,
    /// A free-text name; must satisfy `Label`.
    pub label: String,
    pub size_bytes: u64,
}

impl Default for SampleParams {
    fn default() -> Self {
        SampleParams {
            event_id: [0x11; 16],
            locker: [0x22; 16],
            other_id: [0x33; 16],
            occurred_at_ms: 1_715_600_000_000,
            byte: 0x44,
            doc_id: "2024-1234567".to_owned(),
            label: "Class XII Marksheet".to_owned(),
            size_bytes: 182_113,
        }
    }
}

/// How many payload kinds the catalogue has (24 in version 1, two of issue 15, six of 20, two
/// of 21).
pub const PAYLOAD_KINDS: usize = 34;

fn ok<T, E: std::fmt::Debug>(result: Result<T, E>) -> T {
    // Sample parameters are chosen valid by construction; an invalid one is a bug in the caller.
    result.unwrap_or_else(|e| panic!("invalid sample parameter: {e:?}"))
}

/// The sample of payload kind `kind` (0-based, in catalogue order).
pub fn sample_envelope(kind: usize, p: &SampleParams) -> Envelope {
    let issuer = ok(IssuerId::parse("in.gov.cbse"));
    let requester = ok(RequesterId::parse("in.co.sbi"));
    let locker = LockerId::from_random_bytes(p.locker);
    let uri =
        DocUri::new(issuer.clone(), ok(DocTypeCode::parse("HSCER")), ok(DocId::parse(&p.doc_id)));
    let label = ok(Label::parse(&p.label));
    let reason = ok(Reason::parse("requested by the holder"));
    let digest = |salt: u8| Digest32([p.byte ^ salt; 32]);
    let key = |salt: u8| PublicKeyEntry {
        key_id: KeyId([p.byte ^ salt; 16]),
        public_key: PublicKeyBytes([p.byte.wrapping_add(salt); 32]),
    };
    let other = Id16(p.other_id);
    let content =
        ContentRef { hash: digest(1), media_type: MediaType::Pdf, size_bytes: p.size_bytes };
    let aadhaar = AadhaarRef { keyed_hash: digest(2), last4: ok(Last4::parse("0127")) };
    let date = |y, m, d| ok(CivilDate::from_ymd(y, m, d));
    let at = TimestampMs(p.occurred_at_ms);
    let later = TimestampMs(p.occurred_at_ms.saturating_add(30 * 24 * 3_600_000));

    let (actor, payload) = match kind {
        0 => (
            Actor::Platform,
            Payload::IssuerRegistered(IssuerRegistered {
                issuer: issuer.clone(),
                name: ok(Label::parse("Central Board of Secondary Education")),
                doc_types: vec![
                    DocTypeEntry {
                        code: ok(DocTypeCode::parse("SSCER")),
                        name: ok(Label::parse("Class X Marksheet")),
                    },
                    DocTypeEntry { code: ok(DocTypeCode::parse("HSCER")), name: label.clone() },
                ],
                keys: vec![key(3)],
                endpoint: Some(ok(Endpoint::parse("https://cbse.gov.in/locker/pull"))),
            }),
        ),
        1 => (
            Actor::Platform,
            Payload::RequesterRegistered(RequesterRegistered {
                requester: requester.clone(),
                name: ok(Label::parse("State Bank of India")),
                kind: RequesterKind::Bank,
                keys: vec![key(4), key(5)],
            }),
        ),
        2 => (
            Actor::Issuer(issuer.clone()),
            Payload::KeyRotated(KeyRotated {
                owner: Principal::Issuer(issuer.clone()),
                new_key: key(6),
                retired_key_id: Some(KeyId([p.byte ^ 3; 16])),
            }),
        ),
        3 => (
            Actor::Platform,
            Payload::KeyRevoked(KeyRevoked {
                owner: Principal::Requester(requester.clone()),
                key_id: KeyId([p.byte ^ 4; 16]),
                reason: reason.clone(),
            }),
        ),
        4 => (
            Actor::Platform,
            Payload::OrganisationSuspended(OrganisationSuspended {
                organisation: Organisation::Requester(requester.clone()),
                reason: reason.clone(),
            }),
        ),
        5 => (
            Actor::Platform,
            Payload::OrganisationReinstated(OrganisationReinstated {
                organisation: Organisation::Requester(requester.clone()),
            }),
        ),
        6 => (
            Actor::Platform,
            Payload::CitizenRegistered(CitizenRegistered {
                locker,
                username: ok(Username::parse("asha.k")),
                mobile_ref: digest(7),
                key: key(8),
                personal: digest(9),
            }),
        ),
        7 => (Actor::Platform, Payload::AadhaarLinked(AadhaarLinked { locker, aadhaar })),
        8 => (
            Actor::Citizen(locker),
            Payload::ProfileUpdated(ProfileUpdated { locker, personal: digest(10) }),
        ),
        9 => (
            Actor::Issuer(issuer.clone()),
            Payload::DocumentIssued(DocumentIssued {
                uri: uri.clone(),
                recipient: Recipient::Locker(locker),
                name: label.clone(),
                issued_on: date(2024, 5, 13),
                valid_from: Some(date(2024, 5, 13)),
                valid_to: None,
                content: content.clone(),
                personal: Some(digest(11)),
            }),
        ),
        10 => (
            Actor::Issuer(issuer.clone()),
            Payload::DocumentUpdated(DocumentUpdated {
                uri: uri.clone(),
                recipient: Recipient::Aadhaar(aadhaar),
                name: label.clone(),
                valid_from: None,
                valid_to: Some(date(2034, 5, 12)),
                content: ContentRef { media_type: MediaType::Json, ..content.clone() },
                personal: Some(digest(12)),
            }),
        ),
        11 => (
            Actor::Issuer(issuer.clone()),
            Payload::DocumentRevoked(DocumentRevoked {
                uri: uri.clone(),
                recipient: Recipient::Locker(locker),
                reason: RevocationReason::IssuedInError,
                detail: Some(reason.clone()),
            }),
        ),
        12 => (
            Actor::Citizen(locker),
            Payload::DocumentUploaded(DocumentUploaded {
                locker,
                upload_id: other,
                content: ContentRef { media_type: MediaType::Png, ..content.clone() },
                personal: digest(13),
            }),
        ),
        13 => (
            Actor::Citizen(locker),
            Payload::UploadDeleted(UploadDeleted { locker, upload_id: other }),
        ),
        14 => (
            Actor::Citizen(locker),
            Payload::DocumentESigned(DocumentESigned {
                locker,
                document: DocRef::Uploaded(other),
                content_hash: digest(14),
                esignature: SignatureBytes([p.byte ^ 15; 64]),
            }),
        ),
        15 => (
            Actor::Citizen(locker),
            Payload::DocumentShared(DocumentShared {
                locker,
                share_id: other,
                document: DocRef::Issued(uri.clone()),
                expires_at_ms: later,
            }),
        ),
        16 => (
            Actor::Citizen(locker),
            Payload::ShareRevoked(ShareRevoked { locker, share_id: other }),
        ),
        17 => (
            Actor::Platform,
            Payload::SharedDocumentViewed(SharedDocumentViewed {
                locker,
                share_id: other,
                viewer_ref: digest(16),
            }),
        ),
        18 => (
            Actor::Requester(requester.clone()),
            Payload::ConsentRequested(ConsentRequested {
                consent_id: other,
                requester: requester.clone(),
                locker,
                items: vec![
                    ConsentItem::DocType {
                        issuer: issuer.clone(),
                        doc_type: ok(DocTypeCode::parse("HSCER")),
                    },
                    ConsentItem::Document(uri.clone()),
                ],
                purpose: Purpose {
                    code: PurposeCode::KnowYourCustomer,
                    text: ok(Reason::parse("Opening a savings account")),
                },
                expires_at_ms: later,
            }),
        ),
        19 => (
            Actor::Citizen(locker),
            Payload::ConsentGranted(ConsentGranted {
                consent_id: other,
                requester: requester.clone(),
                locker,
                documents: vec![DocRef::Issued(uri.clone())],
                access_expires_at_ms: later,
            }),
        ),
        20 => (
            Actor::Citizen(locker),
            Payload::ConsentDenied(ConsentDenied {
                consent_id: other,
                requester: requester.clone(),
                locker,
            }),
        ),
        21 => (
            Actor::Citizen(locker),
            Payload::ConsentRevoked(ConsentRevoked {
                consent_id: other,
                requester: requester.clone(),
                locker,
            }),
        ),
        22 => (
            Actor::Platform,
            Payload::ConsentExpired(ConsentExpired {
                consent_id: other,
                requester: requester.clone(),
                locker,
            }),
        ),
        23 => (
            Actor::Requester(requester.clone()),
            Payload::DocumentAccessed(DocumentAccessed {
                consent_id: other,
                requester,
                locker,
                document: DocRef::Issued(uri),
                content_hash: digest(17),
            }),
        ),
        24 => (
            Actor::Platform,
            Payload::AadhaarUnlinked(AadhaarUnlinked {
                locker,
                aadhaar,
                reason: UnlinkReason::ReclaimedByOwner,
            }),
        ),
        25 => (
            Actor::Platform,
            Payload::AadhaarVerified(AadhaarVerified {
                locker,
                aadhaar,
                authority_key: KeyId([p.byte ^ 22; 16]),
                answer_hash: digest(23),
                personal: digest(24),
            }),
        ),
        26..=31 => rights_sample(kind, p, locker, other, requester, issuer, uri, later),
        32 => (Actor::Issuer(issuer.clone()), Payload::DocTypeDeclared(declared_sample(issuer, p))),
        33 => (
            Actor::Citizen(locker),
            Payload::DocumentPulled(DocumentPulled {
                locker,
                issuer,
                doc_type: ok(DocTypeCode::parse("HSCER")),
                outcome: PullOutcome::Issued(uri),
            }),
        ),
        _ => panic!("the catalogue has {PAYLOAD_KINDS} payload kinds, not {}", kind + 1),
    };
    let sealed = payload.seal_subject().map(|subject| Sealed {
        subject,
        nonce: Nonce24([p.byte ^ 18; 24]),
        ciphertext: vec![p.byte ^ 19; 80],
    });
    let event = Event {
        id: EventId(p.event_id),
        occurred_at_ms: at,
        actor,
        key_id: KeyId([p.byte ^ 20; 16]),
        payload,
    };
    Envelope { event, signature: SignatureBytes([p.byte ^ 21; 64]), sealed, batch: None }
}

/// Every kind once, with the default parameters.
pub fn all_kinds() -> Vec<Envelope> {
    let params = SampleParams::default();
    (0..PAYLOAD_KINDS).map(|kind| sample_envelope(kind, &params)).collect()
}

/// The kinds of issue 20 (the citizen's rights), apart to keep `sample_envelope` short.
#[allow(clippy::too_many_arguments)]
fn rights_sample(
    kind: usize,
    p: &SampleParams,
    locker: LockerId,
    other: Id16,
    requester: RequesterId,
    issuer: IssuerId,
    uri: DocUri,
    later: TimestampMs,
) -> (Actor, Payload) {
    match kind {
        26 => (
            Actor::Requester(requester.clone()),
            Payload::ConsentRequestedWithTerms(ConsentRequestedWithTerms {
                consent_id: other,
                requester: requester.clone(),
                locker,
                items: vec![ConsentItem::DocType {
                    issuer,
                    doc_type: ok(DocTypeCode::parse("HSCER")),
                }],
                purpose: Purpose {
                    code: PurposeCode::LoanApplication,
                    text: ok(Reason::parse("Education loan: proof of marks")),
                },
                frequency: FetchFrequency { reads: 3, per: FrequencyPeriod::Day },
                data_life_days: 30,
                access_from_ms: TimestampMs(p.occurred_at_ms),
                access_until_ms: later,
                expires_at_ms: later,
            }),
        ),
        27 => (
            Actor::Citizen(locker),
            Payload::ConsentPaused(ConsentPaused { consent_id: other, requester, locker }),
        ),
        28 => (
            Actor::Citizen(locker),
            Payload::ConsentResumed(ConsentResumed { consent_id: other, requester, locker }),
        ),
        29 => (
            Actor::Platform,
            Payload::ConsentFetchRefused(ConsentFetchRefused {
                consent_id: other,
                requester,
                locker,
                document: DocRef::Issued(uri),
                reason: FetchRefusal::FrequencyExceeded,
            }),
        ),
        30 => (
            Actor::Citizen(locker),
            Payload::LockerClosed(LockerClosed {
                locker,
                aadhaar: Some(Digest32([p.byte ^ 25; 32])),
            }),
        ),
        _ => (
            Actor::Platform,
            Payload::AadhaarForgotten(AadhaarForgotten {
                aadhaar: Digest32([p.byte ^ 25; 32]),
                locker,
            }),
        ),
    }
}

/// A marksheet's declaration: two marks, a result, and a pull by roll number and year.
fn declared_sample(issuer: IssuerId, p: &SampleParams) -> DocTypeDeclared {
    let spec = |key: &str, kind: FieldKind, required: bool| FieldSpec {
        key: ok(FieldKey::parse(key)),
        label: ok(Label::parse(key)),
        kind,
        required,
    };
    let marks = || FieldKind::Integer { min: 0, max: 100 };
    let result = FieldKind::Choice {
        values: vec![ok(FieldValue::parse("PASS")), ok(FieldValue::parse("FAIL"))],
    };
    DocTypeDeclared {
        issuer,
        doc_type: ok(DocTypeCode::parse("HSCER")),
        fields: vec![
            spec("Mathematics", marks(), true),
            spec("Physics", marks(), false),
            spec("Result", result, true),
        ],
        pull: Some(PullSpec {
            endpoint: ok(Endpoint::parse("https://results.cbse.gov.in/locker/pull")),
            identifiers: vec![
                spec("roll_no", FieldKind::Text { max_chars: 1 + u32::from(p.byte) }, true),
                spec("year", FieldKind::Integer { min: 2000, max: 2030 }, true),
                spec("date_of_birth", FieldKind::Date, false),
            ],
        }),
    }
}
