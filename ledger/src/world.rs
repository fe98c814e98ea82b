//! A deterministic world of actors with real keys, for tests, benchmarks and demo data: the
//! platform, an exam board (issuer), a bank (requester) and as many citizens as needed. Every
//! record it makes is really signed, and its personal fields really sealed. One seed fixes
//! every key, id, salt and nonce.

use ed25519_dalek::SigningKey;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use schemas::*;

use crate::LedgerConfig;
use crate::crypto::{public_key_entry, seal_personal, sign_event};

/// A citizen of the world.
#[derive(Debug, Clone)]
pub struct Citizen {
    pub locker: LockerId,
    pub key: SigningKey,
}

/// An organisation of the world.
#[derive(Debug, Clone)]
pub struct Org<Id> {
    pub id: Id,
    pub key: SigningKey,
}

#[derive(Debug)]
pub struct World {
    rng: ChaCha20Rng,
    pub platform: SigningKey,
    pub issuer: Org<IssuerId>,
    pub requester: Org<RequesterId>,
    /// Derives each subject's sealing key; stands in for the key vault.
    seal_secret: [u8; 32],
    /// Keys the platform's keyed hashes (Aadhaar and mobile references).
    pub platform_secret: [u8; 32],
    /// The injected clock: every event is one second after the previous one.
    pub now_ms: i64,
}

fn parse<T, E: std::fmt::Debug>(result: Result<T, E>) -> T {
    // The world's own constants are valid by construction.
    result.unwrap_or_else(|e| panic!("invalid world constant: {e:?}"))
}

impl World {
    pub fn new(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let platform = SigningKey::generate(&mut rng);
        let issuer =
            Org { id: parse(IssuerId::parse("in.gov.cbse")), key: SigningKey::generate(&mut rng) };
        let requester =
            Org { id: parse(RequesterId::parse("in.co.sbi")), key: SigningKey::generate(&mut rng) };
        let mut seal_secret = [0u8; 32];
        rng.fill_bytes(&mut seal_secret);
        let mut platform_secret = [0u8; 32];
        rng.fill_bytes(&mut platform_secret);
        World {
            rng,
            platform,
            issuer,
            requester,
            seal_secret,
            platform_secret,
            now_ms: 1_715_600_000_000,
        }
    }

    /// Switches the RNG to another stream: same keys, fresh ids, salts and nonces. Lets several
    /// runs over one log (restarts, rounds of a crash test) add new events without conflicts.
    pub fn reseed(&mut self, stream: u64) {
        self.rng.set_stream(stream);
    }

    pub fn config(&self) -> LedgerConfig {
        LedgerConfig::new(vec![public_key_entry(&self.platform.verifying_key())])
    }

    pub fn random16(&mut self) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        bytes
    }

    pub fn new_key(&mut self) -> SigningKey {
        SigningKey::generate(&mut self.rng)
    }

    /// The sealing key of a subject (what the key vault would hold).
    pub fn seal_key(&self, subject: &SealSubject) -> [u8; 32] {
        let label = match subject {
            SealSubject::Locker(locker) => format!("locker:{locker}"),
            SealSubject::Aadhaar(hash) => format!("aadhaar:{hash}"),
        };
        *blake3::keyed_hash(&self.seal_secret, label.as_bytes()).as_bytes()
    }

    /// Signs `payload` as `actor` with `key` into an envelope.
    pub fn envelope(
        &mut self,
        actor: Actor,
        key: &SigningKey,
        payload: Payload,
        sealed: Option<Sealed>,
    ) -> Envelope {
        self.now_ms += 1000;
        let event = Event {
            id: EventId(self.random16()),
            occurred_at_ms: TimestampMs(self.now_ms),
            actor,
            key_id: crate::crypto::key_id_of(&key.verifying_key()),
            payload,
        };
        parse(sign_event(event, key, sealed))
    }

    /// Signs and encodes.
    pub fn record(
        &mut self,
        actor: Actor,
        key: &SigningKey,
        payload: Payload,
        sealed: Option<Sealed>,
    ) -> Vec<u8> {
        parse(encode_record(&self.envelope(actor, key, payload, sealed)))
    }

    /// Seals personal data for `subject`, returning the commitment to sign and the sealed part.
    pub fn seal(&mut self, subject: SealSubject, data: &PersonalData) -> (Commitment, Sealed) {
        let key = self.seal_key(&subject);
        let mut nonce = [0u8; 24];
        self.rng.fill_bytes(&mut nonce);
        let mut salt = [0u8; 32];
        self.rng.fill_bytes(&mut salt);
        parse(seal_personal(&key, subject, nonce, salt, data))
    }

    pub fn register_issuer(&mut self) -> Vec<u8> {
        let payload = Payload::IssuerRegistered(IssuerRegistered {
            issuer: self.issuer.id.clone(),
            name: parse(Label::parse("Central Board of Secondary Education")),
            doc_types: vec![
                DocTypeEntry {
                    code: parse(DocTypeCode::parse("SSCER")),
                    name: parse(Label::parse("Class X Marksheet")),
                },
                DocTypeEntry {
                    code: parse(DocTypeCode::parse("HSCER")),
                    name: parse(Label::parse("Class XII Marksheet")),
                },
            ],
            keys: vec![public_key_entry(&self.issuer.key.verifying_key())],
            endpoint: Some(parse(Endpoint::parse("https://cbse.gov.in/locker/pull"))),
        });
        let platform = self.platform.clone();
        self.record(Actor::Platform, &platform, payload, None)
    }

    pub fn register_requester(&mut self) -> Vec<u8> {
        let payload = Payload::RequesterRegistered(RequesterRegistered {
            requester: self.requester.id.clone(),
            name: parse(Label::parse("State Bank of India")),
            kind: RequesterKind::Bank,
            keys: vec![public_key_entry(&self.requester.key.verifying_key())],
        });
        let platform = self.platform.clone();
        self.record(Actor::Platform, &platform, payload, None)
    }

    /// A new citizen and the record that registers it.
    pub fn register_citizen(&mut self) -> (Citizen, Vec<u8>) {
        let locker = LockerId::from_random_bytes(self.random16());
        let key = self.new_key();
        let number = 9_000_000_000u64 + u64::from(self.rng.next_u32() % 999_999_999);
        let mobile = parse(MobileNumber::parse(&number.to_string()));
        let mobile_ref = crate::crypto::mobile_ref(&self.platform_secret, &mobile);
        let (personal, sealed) =
            self.seal(SealSubject::Locker(locker), &PersonalData::Mobile(mobile));
        let username = parse(Username::parse(&format!("citizen{}", self.rng.next_u32())));
        let payload = Payload::CitizenRegistered(CitizenRegistered {
            locker,
            username,
            mobile_ref,
            key: public_key_entry(&key.verifying_key()),
            personal,
        });
        let platform = self.platform.clone();
        let record = self.record(Actor::Platform, &platform, payload, Some(sealed));
        (Citizen { locker, key }, record)
    }

    /// A Class XII marksheet for `citizen`, with the holder's name and marks sealed.
    pub fn issue_marksheet(&mut self, citizen: &Citizen, doc_id: &str) -> Vec<u8> {
        let envelope = self.marksheet_envelope(citizen, doc_id);
        parse(encode_record(&envelope))
    }

    pub fn marksheet_envelope(&mut self, citizen: &Citizen, doc_id: &str) -> Envelope {
        let uri = DocUri::new(
            self.issuer.id.clone(),
            parse(DocTypeCode::parse("HSCER")),
            parse(DocId::parse(doc_id)),
        );
        let subjects = ["Mathematics", "Physics", "Chemistry", "English", "Hindi"];
        let fields = subjects
            .iter()
            .map(|subject| DocumentField {
                key: parse(FieldKey::parse(subject)),
                value: parse(FieldValue::parse(&(50 + self.rng.next_u32() % 50).to_string())),
            })
            .collect();
        let data = PersonalData::Document(DocumentPersonal {
            holder_name: parse(Label::parse("Asha Kumari")),
            date_of_birth: Some(parse(CivilDate::from_ymd(2006, 8, 15))),
            fields,
        });
        let (personal, sealed) = self.seal(SealSubject::Locker(citizen.locker), &data);
        let mut hash = [0u8; 32];
        self.rng.fill_bytes(&mut hash);
        let payload = Payload::DocumentIssued(DocumentIssued {
            uri,
            recipient: Recipient::Locker(citizen.locker),
            name: parse(Label::parse("Class XII Marksheet")),
            issued_on: parse(CivilDate::from_ymd(2024, 5, 13)),
            valid_from: None,
            valid_to: None,
            content: ContentRef {
                hash: Digest32(hash),
                media_type: MediaType::Pdf,
                size_bytes: 182_113,
            },
            personal: Some(personal),
        });
        let issuer = self.issuer.clone();
        self.envelope(Actor::Issuer(issuer.id), &issuer.key, payload, Some(sealed))
    }

    /// The bank asks `citizen` for their Class XII marksheet.
    pub fn request_consent(&mut self, citizen: &Citizen) -> (Id16, Vec<u8>) {
        let consent_id = Id16(self.random16());
        let payload = Payload::ConsentRequested(ConsentRequested {
            consent_id,
            requester: self.requester.id.clone(),
            locker: citizen.locker,
            items: vec![ConsentItem::DocType {
                issuer: self.issuer.id.clone(),
                doc_type: parse(DocTypeCode::parse("HSCER")),
            }],
            purpose: Purpose {
                code: PurposeCode::AccountOpening,
                text: parse(Reason::parse("Opening a savings account")),
            },
            expires_at_ms: TimestampMs(self.now_ms + 86_400_000),
        });
        let requester = self.requester.clone();
        (consent_id, self.record(Actor::Requester(requester.id), &requester.key, payload, None))
    }

    /// `citizen` grants consent `consent_id` for the document `uri`.
    pub fn grant_consent(&mut self, citizen: &Citizen, consent_id: Id16, uri: &str) -> Vec<u8> {
        let payload = Payload::ConsentGranted(ConsentGranted {
            consent_id,
            requester: self.requester.id.clone(),
            locker: citizen.locker,
            documents: vec![DocRef::Issued(parse(DocUri::parse(uri)))],
            access_expires_at_ms: TimestampMs(self.now_ms + 86_400_000),
        });
        self.record(Actor::Citizen(citizen.locker), &citizen.key, payload, None)
    }

    /// A key rotation for the issuer: returns the new key and the record.
    pub fn rotate_issuer_key(&mut self) -> (SigningKey, Vec<u8>) {
        let new_key = self.new_key();
        let payload = Payload::KeyRotated(KeyRotated {
            owner: Principal::Issuer(self.issuer.id.clone()),
            new_key: public_key_entry(&new_key.verifying_key()),
            retired_key_id: Some(crate::crypto::key_id_of(&self.issuer.key.verifying_key())),
        });
        let issuer = self.issuer.clone();
        let record = self.record(Actor::Issuer(issuer.id), &issuer.key, payload, None);
        (new_key, record)
    }
}
