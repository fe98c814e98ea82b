//! Demo data for `locker serve --demo`: a realistic directory (an exam board, a transport
//! department and the income tax department as issuers; a bank, a telco and a passport office
//! as requesters) and a demo citizen with documents and a pending consent request. Every event
//! is really signed and sealed. The events (and the issuers' and requesters' keys) are derived
//! from the data folder's own platform key and fixed times: seeding the same folder again adds
//! nothing (appends are idempotent), and no two deployments share a demo organisation's
//! private key (a key derived from a constant in the source would let anyone who reads it
//! sign as the demo exam board on any server started with `--demo`).

use ed25519_dalek::SigningKey;
use ledger::crypto::{key_id_of, public_key_entry, seal_personal, sign_event};
use ledger::{Appended, Ledger, Log};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use schemas::*;

use crate::store::vault::Vault;

/// What the demo's randomness is derived from, besides the platform key.
const SEED_CONTEXT: &str = "locker demo seed v1";
/// The demo citizen's password (printed at start-up; demo data only).
pub const DEMO_PASSWORD: &str = "asha-demo-2024";
/// 2024-05-13 10:00 UTC: the demo's events all happen on results day.
const DEMO_TIME_MS: i64 = 1_715_594_400_000;
/// 2100-01-01: fixed (so the seed stays byte-for-byte the same) and far enough ahead that the
/// demo's consent request is still pending on a real clock.
const DEMO_REQUEST_EXPIRES_MS: i64 = 4_102_444_800_000;

/// Why the demo could not be seeded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo event: {0}")]
    Ledger(#[from] ledger::LedgerError),
    #[error("demo event: {0}")]
    Schema(#[from] schemas::SchemaError),
    #[error("{0}")]
    Vault(#[from] crate::store::vault::VaultError),
    #[error("demo keys: {0}")]
    Keys(#[from] ledger::keyfile::KeyFileError),
    #[error("demo keys: {0}")]
    Io(#[from] std::io::Error),
}

/// What `--demo` created, for the start-up message.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub appended: usize,
    pub already_present: usize,
    pub citizen_locker: LockerId,
    pub citizen_username: String,
    pub citizen_mobile: String,
    /// The demo documents' bytes (small PDFs), for the file store.
    pub contents: Vec<Vec<u8>>,
}

/// A one-page PDF with a title and lines of text: real enough for any viewer to open.
pub fn demo_pdf(title: &str, lines: &[String]) -> Vec<u8> {
    let escape = |text: &str| -> String {
        text.chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control())
            .flat_map(|c| match c {
                '(' | ')' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect()
    };
    let mut stream = format!("BT /F1 18 Tf 72 760 Td ({}) Tj ET\n", escape(title));
    for (index, line) in lines.iter().enumerate() {
        let y = 720 - 22 * index;
        stream.push_str(&format!("BT /F1 12 Tf 72 {y} Td ({}) Tj ET\n", escape(line)));
    }
    crate::app::paper::pdf_page((612, 792), &["Helvetica"], &stream)
}

struct Builder<'a> {
    rng: ChaCha20Rng,
    now_ms: i64,
    platform: &'a SigningKey,
    vault: &'a Vault,
    records: Vec<Vec<u8>>,
    contents: Vec<Vec<u8>>,
}

fn valid<T, E: std::fmt::Debug>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("demo constant: {e:?}"))
}

impl Builder<'_> {
    fn key(&mut self) -> SigningKey {
        SigningKey::generate(&mut self.rng)
    }

    fn push(
        &mut self,
        actor: Actor,
        key: &SigningKey,
        payload: Payload,
        sealed: Option<Sealed>,
    ) -> Result<(), DemoError> {
        self.now_ms += 60_000;
        let mut id = [0u8; 16];
        self.rng.fill_bytes(&mut id);
        let event = Event {
            id: EventId(id),
            occurred_at_ms: TimestampMs(self.now_ms),
            actor,
            key_id: key_id_of(&key.verifying_key()),
            payload,
        };
        self.records.push(encode_record(&sign_event(event, key, sealed)?)?);
        Ok(())
    }

    fn seal(
        &mut self,
        subject: SealSubject,
        data: &PersonalData,
    ) -> Result<(Commitment, Sealed), DemoError> {
        let key = self.vault.key_for(&subject)?;
        let mut nonce = [0u8; 24];
        self.rng.fill_bytes(&mut nonce);
        let mut salt = [0u8; 32];
        self.rng.fill_bytes(&mut salt);
        Ok(seal_personal(&key, subject, nonce, salt, data)?)
    }

    fn issuer(
        &mut self,
        id: &str,
        name: &str,
        doc_types: &[(&str, &str)],
    ) -> Result<(IssuerId, SigningKey), DemoError> {
        let key = self.key();
        let issuer = valid(IssuerId::parse(id));
        let payload = Payload::IssuerRegistered(IssuerRegistered {
            issuer: issuer.clone(),
            name: valid(Label::parse(name)),
            doc_types: doc_types
                .iter()
                .map(|(code, name)| DocTypeEntry {
                    code: valid(DocTypeCode::parse(code)),
                    name: valid(Label::parse(name)),
                })
                .collect(),
            keys: vec![public_key_entry(&key.verifying_key())],
            endpoint: Some(valid(Endpoint::parse(&format!(
                "https://{}.example/locker/pull",
                id.replace('.', "-")
            )))),
        });
        let platform = self.platform.clone();
        self.push(Actor::Platform, &platform, payload, None)?;
        Ok((issuer, key))
    }

    fn requester(
        &mut self,
        id: &str,
        name: &str,
        kind: RequesterKind,
    ) -> Result<(RequesterId, SigningKey), DemoError> {
        let key = self.key();
        let requester = valid(RequesterId::parse(id));
        let payload = Payload::RequesterRegistered(RequesterRegistered {
            requester: requester.clone(),
            name: valid(Label::parse(name)),
            kind,
            keys: vec![public_key_entry(&key.verifying_key())],
        });
        let platform = self.platform.clone();
        self.push(Actor::Platform, &platform, payload, None)?;
        Ok((requester, key))
    }

    #[allow(clippy::too_many_arguments)]
    fn issue(
        &mut self,
        issuer: &(IssuerId, SigningKey),
        locker: LockerId,
        doc_type: &str,
        doc_id: &str,
        name: &str,
        valid_to: Option<CivilDate>,
        fields: &[(&str, &str)],
    ) -> Result<(), DemoError> {
        let data = PersonalData::Document(DocumentPersonal {
            holder_name: valid(Label::parse("Asha Kumari")),
            date_of_birth: Some(valid(CivilDate::from_ymd(2006, 8, 15))),
            fields: fields
                .iter()
                .map(|(k, v)| DocumentField {
                    key: valid(FieldKey::parse(k)),
                    value: valid(FieldValue::parse(v)),
                })
                .collect(),
        });
        let (personal, sealed) = self.seal(SealSubject::Locker(locker), &data)?;
        let mut lines = vec![
            format!("Issued by {} to Asha Kumari on 13 May 2024", issuer.0),
            format!("Document {doc_type} {doc_id}"),
        ];
        lines.extend(fields.iter().map(|(k, v)| format!("{k}: {v}")));
        let pdf = demo_pdf(name, &lines);
        let content = ContentRef {
            hash: Digest32(*blake3::hash(&pdf).as_bytes()),
            media_type: MediaType::Pdf,
            size_bytes: pdf.len() as u64,
        };
        self.contents.push(pdf);
        let payload = Payload::DocumentIssued(DocumentIssued {
            uri: DocUri::new(
                issuer.0.clone(),
                valid(DocTypeCode::parse(doc_type)),
                valid(DocId::parse(doc_id)),
            ),
            recipient: Recipient::Locker(locker),
            name: valid(Label::parse(name)),
            issued_on: valid(CivilDate::from_ymd(2024, 5, 13)),
            valid_from: None,
            valid_to,
            content,
            personal: Some(personal),
        });
        self.push(Actor::Issuer(issuer.0.clone()), &issuer.1, payload, Some(sealed))
    }
}

/// Appends the demo directory and citizen through the ledger (so every check applies). With
/// `keys_dir`, the demo issuers' and requesters' keys are written there (`<id>.key`), for
/// `locker issue` and `locker requester`.
pub async fn seed<L: Log>(
    ledger: &Ledger<L>,
    platform: &SigningKey,
    vault: &Vault,
    keys_dir: Option<&std::path::Path>,
) -> Result<DemoSummary, DemoError> {
    let mut b = Builder {
        rng: ChaCha20Rng::from_seed(blake3::derive_key(SEED_CONTEXT, &platform.to_bytes())),
        now_ms: DEMO_TIME_MS,
        platform,
        vault,
        records: Vec::new(),
        contents: Vec::new(),
    };
    let directory = directory(&mut b, keys_dir)?;
    let (locker, username, mobile) = citizen(&mut b, vault, platform)?;
    documents(&mut b, &directory, locker)?;
    consent_request(&mut b, &directory, locker)?;
    // After everything else: the seed's earlier events keep the ids they had before it.
    profile(&mut b, locker)?;
    let mut summary = DemoSummary {
        appended: 0,
        already_present: 0,
        citizen_locker: locker,
        citizen_username: username.to_owned(),
        citizen_mobile: mobile.as_str().to_owned(),
        contents: std::mem::take(&mut b.contents),
    };
    for verdict in ledger.append(b.records).await? {
        match verdict? {
            Appended::New(_) => summary.appended += 1,
            Appended::Existing(_) => summary.already_present += 1,
        }
    }
    Ok(summary)
}

/// The demo's organisations and the keys they sign with.
struct Directory {
    cbse: (IssuerId, SigningKey),
    transport: (IssuerId, SigningKey),
    tax: (IssuerId, SigningKey),
    bank: (RequesterId, SigningKey),
}

/// Three issuers and three requesters, their keys written to `keys_dir` (for `locker issue`
/// and `locker requester`) when asked.
fn directory(
    b: &mut Builder<'_>,
    keys_dir: Option<&std::path::Path>,
) -> Result<Directory, DemoError> {
    let cbse = b.issuer(
        "in.gov.cbse",
        "Central Board of Secondary Education",
        &[("SSCER", "Class X Marksheet"), ("HSCER", "Class XII Marksheet")],
    )?;
    let transport = b.issuer(
        "in.gov.transport",
        "Ministry of Road Transport and Highways",
        &[("DRVLC", "Driving Licence"), ("RVCER", "Vehicle Registration Certificate")],
    )?;
    let tax = b.issuer("in.gov.incometax", "Income Tax Department", &[("PANCR", "PAN Card")])?;
    if let Some(dir) = keys_dir {
        std::fs::create_dir_all(dir)?;
        for (issuer, key) in [&cbse, &transport, &tax] {
            let path = dir.join(format!("{issuer}.key"));
            if !path.exists() {
                ledger::keyfile::write_new(&path, key)?;
            }
        }
    }
    let (bank, bank_key) = b.requester("in.co.sbi", "State Bank of India", RequesterKind::Bank)?;
    let telco = b.requester("in.co.airtel", "Bharti Airtel", RequesterKind::Telco)?;
    let passport =
        b.requester("in.gov.passport", "Passport Seva", RequesterKind::GovernmentDepartment)?;
    if let Some(dir) = keys_dir {
        for (requester, key) in
            [(&bank, &bank_key), (&telco.0, &telco.1), (&passport.0, &passport.1)]
        {
            let path = dir.join(format!("{requester}.key"));
            if !path.exists() {
                ledger::keyfile::write_new(&path, key)?;
            }
        }
    }

    Ok(Directory { cbse, transport, tax, bank: (bank, bank_key) })
}

/// The demo citizen: a locker with its custodial key in the vault, registered by the platform.
fn citizen(
    b: &mut Builder<'_>,
    vault: &Vault,
    platform: &SigningKey,
) -> Result<(LockerId, &'static str, MobileNumber), DemoError> {
    let mut locker_bytes = [0u8; 16];
    b.rng.fill_bytes(&mut locker_bytes);
    let locker = LockerId::from_random_bytes(locker_bytes);
    let citizen_key = b.key();
    // Custodial: the service signs the citizen's consents and shares with it.
    vault.store_signing_key(&locker, &citizen_key)?;
    let mobile = valid(MobileNumber::parse("9876543210"));
    let username = "asha";
    let mut mobile_secret = [0u8; 32];
    b.rng.fill_bytes(&mut mobile_secret);
    let (personal, sealed) =
        b.seal(SealSubject::Locker(locker), &PersonalData::Mobile(mobile.clone()))?;
    let registered = Payload::CitizenRegistered(CitizenRegistered {
        locker,
        username: valid(Username::parse(username)),
        mobile_ref: ledger::crypto::mobile_ref(&mobile_secret, &mobile),
        key: public_key_entry(&citizen_key.verifying_key()),
        personal,
    });
    let platform_key = platform.clone();
    b.push(Actor::Platform, &platform_key, registered, Some(sealed))?;
    Ok((locker, username, mobile))
}

/// Four documents issued to the citizen.
fn documents(
    b: &mut Builder<'_>,
    directory: &Directory,
    locker: LockerId,
) -> Result<(), DemoError> {
    let Directory { cbse, transport, tax, .. } = directory;
    b.issue(
        cbse,
        locker,
        "SSCER",
        "2022-1234567",
        "Class X Marksheet 2022",
        None,
        &[("Mathematics", "95"), ("Science", "91"), ("English", "88")],
    )?;
    b.issue(
        cbse,
        locker,
        "HSCER",
        "2024-7654321",
        "Class XII Marksheet 2024",
        None,
        &[("Physics", "89"), ("Chemistry", "93"), ("Mathematics", "97")],
    )?;
    b.issue(
        transport,
        locker,
        "DRVLC",
        "MH01-2024-0012345",
        "Driving Licence",
        Some(valid(CivilDate::from_ymd(2044, 5, 12))),
        &[("Class", "LMV")],
    )?;
    b.issue(tax, locker, "PANCR", "ABCPK1234Q", "PAN Card", None, &[])?;
    Ok(())
}

/// The bank's pending request for the Class XII marksheet, on an Account Aggregator
/// consent's terms: three reads a day, kept 30 days, within five years of results day.
fn consent_request(
    b: &mut Builder<'_>,
    directory: &Directory,
    locker: LockerId,
) -> Result<(), DemoError> {
    let (cbse, (bank, bank_key)) = (&directory.cbse, &directory.bank);
    let mut consent = [0u8; 16];
    b.rng.fill_bytes(&mut consent);
    let request = Payload::ConsentRequestedWithTerms(ConsentRequestedWithTerms {
        consent_id: Id16(consent),
        requester: bank.clone(),
        locker,
        items: vec![ConsentItem::DocType {
            issuer: cbse.0.clone(),
            doc_type: valid(DocTypeCode::parse("HSCER")),
        }],
        purpose: Purpose {
            code: PurposeCode::AccountOpening,
            text: valid(Reason::parse("Opening a savings account")),
        },
        frequency: FetchFrequency { reads: 3, per: FrequencyPeriod::Day },
        data_life_days: 30,
        access_from_ms: TimestampMs(DEMO_TIME_MS),
        access_until_ms: TimestampMs(DEMO_TIME_MS + 5 * 365 * schemas::limits::DAY_MS),
        expires_at_ms: TimestampMs(DEMO_REQUEST_EXPIRES_MS),
    });
    b.push(Actor::Requester(bank.clone()), bank_key, request, None)?;

    Ok(())
}

/// The citizen's name on her profile (as the Aadhaar authority has it): an issuer matches its
/// records against it when she pulls a document.
fn profile(b: &mut Builder<'_>, locker: LockerId) -> Result<(), DemoError> {
    let data = PersonalData::Profile(Profile {
        full_name: Some(valid(Label::parse("Asha Kumari"))),
        date_of_birth: Some(valid(CivilDate::from_ymd(2006, 8, 15))),
        gender: Some(Gender::Female),
        email: None,
    });
    let (personal, sealed) = b.seal(SealSubject::Locker(locker), &data)?;
    let missing = || std::io::Error::other("the demo citizen's signing key is not in the vault");
    let key = b.vault.signing_key(&locker).ok_or_else(missing)?;
    let payload = Payload::ProfileUpdated(ProfileUpdated { locker, personal });
    b.push(Actor::Citizen(locker), &key, payload, Some(sealed))
}

/// The demo exam board declares its Class X marksheet pulled by roll number and year from
/// `endpoint` (the box the demo started), once per endpoint (its id is the endpoint's): a
/// restart on the same port adds nothing, one on another port declares that one. Whether it
/// declared.
pub async fn declare_pull<L: Log>(
    ledger: &Ledger<L>,
    keys_dir: &std::path::Path,
    endpoint: &str,
    now: TimestampMs,
) -> Result<bool, DemoError> {
    let id = blake3::hash(format!("locker demo pull {endpoint}").as_bytes());
    let id = EventId(valid(<[u8; 16]>::try_from(&id.as_bytes()[..16])));
    if ledger.log().lookup(&[id]).await.map_err(ledger::LedgerError::from)?[0].is_some() {
        return Ok(false);
    }
    let key = ledger::keyfile::read(&keys_dir.join("in.gov.cbse.key"))?;
    let spec = |key: &str, label: &str, kind: FieldKind| FieldSpec {
        key: valid(FieldKey::parse(key)),
        label: valid(Label::parse(label)),
        kind,
        required: true,
    };
    let declared = DocTypeDeclared {
        issuer: valid(IssuerId::parse("in.gov.cbse")),
        doc_type: valid(DocTypeCode::parse("SSCER")),
        // No fields declared: the demo's other documents of this type (the README's, the
        // tests') carry whatever marks they like. The e2e tests declare fields of their own.
        fields: vec![],
        pull: Some(PullSpec {
            endpoint: valid(Endpoint::parse(endpoint)),
            identifiers: vec![
                spec("roll_no", "Roll number", FieldKind::Text { max_chars: 20 }),
                spec(
                    "year",
                    "Year of the examination",
                    FieldKind::Integer { min: 2000, max: 2030 },
                ),
            ],
        }),
    };
    let event = Event {
        id,
        occurred_at_ms: now,
        actor: Actor::Issuer(declared.issuer.clone()),
        key_id: key_id_of(&key.verifying_key()),
        payload: Payload::DocTypeDeclared(declared),
    };
    for verdict in ledger.append(vec![encode_record(&sign_event(event, &key, None)?)?]).await? {
        verdict?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cross-reference table points at each object, so strict PDF readers open the file.
    #[test]
    fn demo_pdfs_are_well_formed() {
        let pdf = demo_pdf("Class X (2022)", &["Maths: 95".to_owned(), "back\\slash".to_owned()]);
        assert_eq!(wire::media::sniff(&pdf), Some(MediaType::Pdf));
        let text = String::from_utf8(pdf.clone()).expect("ascii");
        let xref_at: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|tail| tail.lines().next())
            .and_then(|n| n.parse().ok())
            .expect("startxref");
        assert!(text[xref_at..].starts_with("xref\n0 6\n"));
        for (index, line) in text[xref_at..].lines().skip(3).take(5).enumerate() {
            let offset: usize = line[..10].parse().expect("offset");
            assert!(
                text[offset..].starts_with(&format!("{} 0 obj", index + 1)),
                "object {}",
                index + 1
            );
        }
        assert!(text.contains("(Class X \\(2022\\)) Tj"));
        assert!(text.contains("(back\\\\slash) Tj"));
    }
}
