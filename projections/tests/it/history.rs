//! Random valid event histories, really signed, with a plain in-memory model of what the
//! views must answer for them.

use std::collections::BTreeMap;

use ledger::world::{Citizen, World};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use schemas::*;

use projections::views::ConsentState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocState {
    Issued,
    Updated,
    Revoked,
}

/// What the views must say.
#[derive(Debug, Default)]
pub struct Model {
    pub docs: BTreeMap<(LockerId, String), DocState>,
    pub uploads: BTreeMap<(LockerId, Id16), u64>,
    /// Uploads deleted (all uploads of the history have the same content).
    pub uploads_deleted: usize,
    pub consents: BTreeMap<(LockerId, Id16), ConsentState>,
    pub requested: BTreeMap<LockerId, i64>,
    pub accessed: BTreeMap<LockerId, i64>,
    pub users: i64,
    pub issued: i64,
}

pub struct History {
    pub world: World,
    pub citizens: Vec<Citizen>,
    /// Encoded, signed records in the order they must be appended.
    pub records: Vec<Vec<u8>>,
    pub model: Model,
}

fn parse<T, E: std::fmt::Debug>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("history constant: {e:?}"))
}

pub fn generate(seed: u64, citizens: usize, events: usize) -> History {
    let mut world = World::new(seed);
    let mut rng = ChaCha20Rng::seed_from_u64(seed ^ 0x5eed);
    let mut records = vec![world.register_issuer(), world.register_requester()];
    let mut people = Vec::new();
    let mut model = Model::default();
    for _ in 0..citizens {
        let (citizen, record) = world.register_citizen();
        records.push(record);
        people.push(citizen);
        model.users += 1;
    }
    let requester = world.requester.clone();
    let issuer = world.issuer.clone();
    for n in 0..events {
        let citizen = people[rng.next_u32() as usize % people.len()].clone();
        let locker = citizen.locker;
        let citizen_actor = Actor::Citizen(locker);
        let record = match rng.next_u32() % 10 {
            0..=2 => {
                let doc_id = format!("H-{n}");
                let uri = format!("in.gov.cbse-HSCER-{doc_id}");
                model.docs.insert((locker, uri), DocState::Issued);
                model.issued += 1;
                world.issue_marksheet(&citizen, &doc_id)
            }
            3 => {
                let live: Vec<_> = model
                    .docs
                    .iter()
                    .filter(|((l, _), s)| *l == locker && **s != DocState::Revoked)
                    .map(|((_, uri), _)| uri.clone())
                    .collect();
                let Some(uri) = live.first().cloned() else { continue };
                let revoke = rng.next_u32() % 2 == 0;
                let parsed = parse(DocUri::parse(&uri));
                let payload = if revoke {
                    model.docs.insert((locker, uri), DocState::Revoked);
                    Payload::DocumentRevoked(DocumentRevoked {
                        uri: parsed,
                        recipient: Recipient::Locker(locker),
                        reason: RevocationReason::Superseded,
                        detail: None,
                    })
                } else {
                    model.docs.insert((locker, uri), DocState::Updated);
                    Payload::DocumentUpdated(DocumentUpdated {
                        uri: parsed,
                        recipient: Recipient::Locker(locker),
                        name: parse(Label::parse("Class XII Marksheet (revised)")),
                        valid_from: None,
                        valid_to: None,
                        content: ContentRef {
                            hash: Digest32(*blake3::hash(&n.to_le_bytes()).as_bytes()),
                            media_type: MediaType::Pdf,
                            size_bytes: 1000,
                        },
                        personal: None,
                    })
                };
                world.record(Actor::Issuer(issuer.id.clone()), &issuer.key, payload, None)
            }
            4 | 5 => {
                let upload_id = Id16(world.random16());
                let size = u64::from(rng.next_u32() % 5_000_000);
                let data = PersonalData::Upload(UploadPersonal {
                    file_name: parse(Label::parse("scan.pdf")),
                });
                let (personal, sealed) = world.seal(SealSubject::Locker(locker), &data);
                model.uploads.insert((locker, upload_id), size);
                let payload = Payload::DocumentUploaded(DocumentUploaded {
                    locker,
                    upload_id,
                    content: ContentRef {
                        hash: Digest32([7; 32]),
                        media_type: MediaType::Pdf,
                        size_bytes: size,
                    },
                    personal,
                });
                world.record(citizen_actor, &citizen.key, payload, Some(sealed))
            }
            6 => {
                let Some(upload_id) =
                    model.uploads.keys().find(|(l, _)| *l == locker).map(|(_, id)| *id)
                else {
                    continue;
                };
                model.uploads.remove(&(locker, upload_id));
                model.uploads_deleted += 1;
                let payload = Payload::UploadDeleted(UploadDeleted { locker, upload_id });
                world.record(citizen_actor, &citizen.key, payload, None)
            }
            7 => {
                let (consent, record) = world.request_consent(&citizen);
                model.consents.insert((locker, consent), ConsentState::Pending);
                *model.requested.entry(locker).or_default() += 1;
                record
            }
            8 => {
                let pending = model
                    .consents
                    .iter()
                    .find(|((l, _), s)| *l == locker && **s == ConsentState::Pending)
                    .map(|((_, c), _)| *c);
                let Some(consent) = pending else { continue };
                if rng.next_u32() % 4 == 0 {
                    model.consents.insert((locker, consent), ConsentState::Denied);
                    let payload = Payload::ConsentDenied(ConsentDenied {
                        consent_id: consent,
                        requester: requester.id.clone(),
                        locker,
                    });
                    world.record(citizen_actor, &citizen.key, payload, None)
                } else {
                    model.consents.insert((locker, consent), ConsentState::Active);
                    world.grant_consent(&citizen, consent, "in.gov.cbse-HSCER-any")
                }
            }
            _ => {
                let active = model
                    .consents
                    .iter()
                    .find(|((l, _), s)| *l == locker && **s == ConsentState::Active)
                    .map(|((_, c), _)| *c);
                let Some(consent) = active else { continue };
                if rng.next_u32() % 3 == 0 {
                    model.consents.insert((locker, consent), ConsentState::Revoked);
                    let payload = Payload::ConsentRevoked(ConsentRevoked {
                        consent_id: consent,
                        requester: requester.id.clone(),
                        locker,
                    });
                    world.record(citizen_actor, &citizen.key, payload, None)
                } else {
                    *model.accessed.entry(locker).or_default() += 1;
                    let payload = Payload::DocumentAccessed(DocumentAccessed {
                        consent_id: consent,
                        requester: requester.id.clone(),
                        locker,
                        document: DocRef::Issued(parse(DocUri::parse("in.gov.cbse-HSCER-any"))),
                        content_hash: Digest32([1; 32]),
                    });
                    world.record(
                        Actor::Requester(requester.id.clone()),
                        &requester.key,
                        payload,
                        None,
                    )
                }
            }
        };
        records.push(record);
    }
    History { world, citizens: people, records, model }
}
