use ed25519_dalek::SigningKey;
use ledger::{Appended, LedgerError, Log};
use schemas::*;

use crate::{accepted, setup, total_records};

/// Appends one record that must be refused, and checks the log did not change.
async fn refused(setup: &crate::Setup, record: Vec<u8>) -> LedgerError {
    let before = total_records(&setup.ledger).await;
    let err = setup.ledger.append_one(record).await.expect_err("must be refused");
    assert_eq!(
        total_records(&setup.ledger).await,
        before,
        "a refused record changed the log: {err}"
    );
    err
}

#[tokio::test]
async fn a_citizens_journey_is_appended_in_order_in_one_partition() {
    let mut s = setup().await;
    let (citizen, registration) = s.world.register_citizen();
    let issued = s.world.issue_marksheet(&citizen, "2024-1234567");
    let (consent, requested) = s.world.request_consent(&citizen);
    let granted = s.world.grant_consent(&citizen, consent, "in.gov.cbse-HSCER-2024-1234567");
    let verdicts =
        s.ledger.append(vec![registration, issued, requested, granted]).await.expect("append");
    let positions: Vec<_> = verdicts.into_iter().map(accepted).collect();
    assert!(positions.iter().all(|p| p.partition == positions[0].partition));
    assert!(positions.windows(2).all(|w| w[0].offset + 1 == w[1].offset));
    let topic = s.ledger.config().citizen_topic.clone();
    let records = s.ledger.log().read(&topic, positions[0].partition, 0, 100).await.expect("read");
    let kinds: Vec<_> = records
        .iter()
        .map(|r| decode_record(&r.value).expect("decode").event.payload.kind_name())
        .collect();
    assert_eq!(
        kinds,
        ["citizen_registered", "document_issued", "consent_requested", "consent_granted"]
    );
    // The partition is the one Kafka's partitioner would choose for the locker id.
    let key = PartitionKey::Locker(citizen.locker).to_key_bytes();
    assert_eq!(positions[0].partition, ledger::partition::partition_for(&key, 8));
}

#[tokio::test]
async fn malformed_and_oversized_records_are_refused() {
    let s = setup().await;
    let err = refused(&s, vec![1, 0, 0xff, 0xff]).await;
    assert!(matches!(err, LedgerError::Schema(SchemaError::Malformed(_))), "{err}");
    let err = refused(&s, vec![7]).await;
    assert!(matches!(err, LedgerError::Schema(SchemaError::RecordTruncated { .. })), "{err}");
    let err = refused(&s, vec![0; limits::RECORD_SIZE_BYTES_MAX + 1]).await;
    assert!(matches!(err, LedgerError::Schema(SchemaError::RecordTooLarge { .. })), "{err}");
    assert!(err.to_string().contains("exceeds the limit"), "{err}");
}

#[tokio::test]
async fn a_forged_signature_is_refused() {
    let mut s = setup().await;
    let (citizen, registration) = s.world.register_citizen();
    accepted(s.ledger.append_one(registration).await);
    let mut envelope = s.world.marksheet_envelope(&citizen, "R-1");
    // Changing the document after signing: the signature no longer covers it.
    if let Payload::DocumentIssued(issued) = &mut envelope.event.payload {
        issued.name = Label::parse("Forged Degree").expect("label");
    }
    let err = refused(&s, encode_record(&envelope).expect("encode")).await;
    assert!(matches!(err, LedgerError::BadSignature { .. }), "{err}");
    assert!(err.to_string().starts_with("signature does not verify"), "{err}");
}

#[tokio::test]
async fn unknown_actors_and_keys_are_refused() {
    let mut s = setup().await;
    let (citizen, registration) = s.world.register_citizen();
    accepted(s.ledger.append_one(registration).await);
    // A stranger's key claiming to be the issuer.
    let stranger = SigningKey::from_bytes(&[9; 32]);
    let mut world_issuer = s.world.issuer.clone();
    world_issuer.key = stranger;
    let real = std::mem::replace(&mut s.world.issuer, world_issuer);
    let record = s.world.issue_marksheet(&citizen, "R-2");
    s.world.issuer = real;
    let err = refused(&s, record).await;
    assert!(matches!(err, LedgerError::UnknownKey { .. }), "{err}");
    // A citizen who never registered.
    let ghost = ledger::world::Citizen {
        locker: LockerId::from_random_bytes([5; 16]),
        key: SigningKey::from_bytes(&[6; 32]),
    };
    let (consent, _) = s.world.request_consent(&ghost);
    let record = s.world.grant_consent(&ghost, consent, "in.gov.cbse-HSCER-1");
    let err = refused(&s, record).await;
    assert!(matches!(err, LedgerError::UnknownActor { .. }), "{err}");
}

#[tokio::test]
async fn actors_may_emit_only_their_own_kinds_of_event() {
    let mut s = setup().await;
    let (asha, registration) = s.world.register_citizen();
    accepted(s.ledger.append_one(registration).await);
    let (ravi, registration) = s.world.register_citizen();
    accepted(s.ledger.append_one(registration).await);
    let issuer = s.world.issuer.clone();
    let requester = s.world.requester.clone();

    // An issuer cannot grant consent.
    let grant = Payload::ConsentGranted(ConsentGranted {
        consent_id: Id16([1; 16]),
        requester: requester.id.clone(),
        locker: asha.locker,
        documents: vec![DocRef::Uploaded(Id16([2; 16]))],
        access_expires_at_ms: TimestampMs(1),
    });
    let record = s.world.record(Actor::Issuer(issuer.id.clone()), &issuer.key, grant.clone(), None);
    let err = refused(&s, record).await;
    assert!(
        matches!(err, LedgerError::NotPermitted { actor_kind: ActorKind::Issuer, .. }),
        "{err}"
    );

    // A requester cannot issue documents.
    let envelope = s.world.marksheet_envelope(&asha, "R-3");
    let mut event = envelope.event.clone();
    event.actor = Actor::Requester(requester.id.clone());
    event.key_id = ledger::crypto::key_id_of(&requester.key.verifying_key());
    let forged = ledger::crypto::sign_event(event, &requester.key, envelope.sealed).expect("sign");
    let err = refused(&s, encode_record(&forged).expect("encode")).await;
    assert!(
        matches!(err, LedgerError::NotPermitted { actor_kind: ActorKind::Requester, .. }),
        "{err}"
    );

    // A citizen cannot act on another citizen's locker.
    let record = s.world.record(Actor::Citizen(ravi.locker), &ravi.key, grant, None);
    let err = refused(&s, record).await;
    assert!(err.to_string().contains("cannot act on locker"), "{err}");

    // An issuer cannot issue under another issuer's URI, nor a doc type it never registered.
    for uri in ["in.gov.transport-DRVLC-MH01-2020", "in.gov.cbse-DRVLC-1"] {
        let mut envelope = s.world.marksheet_envelope(&asha, "R-4");
        if let Payload::DocumentIssued(issued) = &mut envelope.event.payload {
            issued.uri = DocUri::parse(uri).expect("uri");
        }
        let resigned =
            ledger::crypto::sign_event(envelope.event, &issuer.key, envelope.sealed).expect("sign");
        let err = refused(&s, encode_record(&resigned).expect("encode")).await;
        assert!(matches!(err, LedgerError::NotPermitted { .. }), "{uri}: {err}");
    }

    // Only the platform registers issuers.
    let mut other = ledger::world::World::new(7);
    let registration = other.register_issuer();
    let err = refused(&s, registration).await;
    assert!(matches!(err, LedgerError::UnknownKey { .. }), "{err}");
}

#[tokio::test]
async fn a_mixed_batch_gets_a_verdict_per_record() {
    let mut s = setup().await;
    let (citizen, registration) = s.world.register_citizen();
    let good = s.world.issue_marksheet(&citizen, "B-1");
    let mut damaged = s.world.marksheet_envelope(&citizen, "B-2");
    damaged.signature.0[0] ^= 0x55;
    let bad = encode_record(&damaged).expect("encode");
    let also_good = s.world.issue_marksheet(&citizen, "B-3");
    let verdicts = s
        .ledger
        .append(vec![registration, good, bad, vec![1, 2, 3], also_good])
        .await
        .expect("append");
    assert!(matches!(verdicts[0], Ok(Appended::New(_))));
    assert!(matches!(verdicts[1], Ok(Appended::New(_))));
    assert!(matches!(verdicts[2], Err(LedgerError::BadSignature { .. })), "{:?}", verdicts[2]);
    assert!(matches!(verdicts[3], Err(LedgerError::Schema(_))), "{:?}", verdicts[3]);
    assert!(matches!(verdicts[4], Ok(Appended::New(_))));
    assert_eq!(total_records(&s.ledger).await, 2 + 3);
}

#[tokio::test]
async fn e_signatures_must_verify_with_the_citizens_key() {
    let mut s = setup().await;
    let (citizen, registration) = s.world.register_citizen();
    accepted(s.ledger.append_one(registration).await);
    let hash = Digest32([3; 32]);
    let sign = |esignature| {
        Payload::DocumentESigned(DocumentESigned {
            locker: citizen.locker,
            document: DocRef::Uploaded(Id16([4; 16])),
            content_hash: hash,
            esignature,
        })
    };
    let good = sign(ledger::crypto::esign(&citizen.key, &hash));
    let record = s.world.record(Actor::Citizen(citizen.locker), &citizen.key, good, None);
    accepted(s.ledger.append_one(record).await);
    let wrong = sign(ledger::crypto::esign(&citizen.key, &Digest32([4; 32])));
    let record = s.world.record(Actor::Citizen(citizen.locker), &citizen.key, wrong, None);
    let err = refused(&s, record).await;
    assert!(matches!(err, LedgerError::BadESignature), "{err}");
}

#[tokio::test]
async fn sealed_personal_data_is_not_in_the_clear_and_opens_with_the_key() {
    let mut s = setup().await;
    let (citizen, registration) = s.world.register_citizen();
    accepted(s.ledger.append_one(registration).await);
    let envelope = s.world.marksheet_envelope(&citizen, "P-1");
    let record = encode_record(&envelope).expect("encode");
    let text = String::from_utf8_lossy(&record);
    assert!(!text.contains("Asha Kumari"), "the holder's name is in the clear");
    assert!(!text.contains("Mathematics"), "structured fields are in the clear");
    let sealed = envelope.sealed.as_ref().expect("sealed");
    let key = s.world.seal_key(&sealed.subject);
    let commitment = envelope.event.payload.personal_commitment().expect("commitment");
    let opened = ledger::crypto::open_sealed(&key, sealed, commitment).expect("opens");
    assert!(matches!(opened, PersonalData::Document(d) if d.holder_name.as_str() == "Asha Kumari"));
    // A sealed part swapped in from another event breaks the commitment.
    let other = s.world.marksheet_envelope(&citizen, "P-2");
    let swapped = other.sealed.as_ref().expect("sealed");
    assert!(ledger::crypto::open_sealed(&key, swapped, commitment).is_err());
}

#[tokio::test]
async fn batches_over_the_limit_are_refused_whole() {
    let s = setup().await;
    let records = vec![vec![0u8; 4]; ledger::limits::APPEND_BATCH_RECORDS_MAX + 1];
    let err = s.ledger.append(records).await.expect_err("too many");
    assert!(matches!(err, LedgerError::BatchTooLarge { .. }), "{err}");
}

/// Envelopes handed over typed (`append_envelopes`) are checked as their records are: the
/// same verdicts (a forged signature, a field rule broken, a retry), and the log holds exactly
/// the record `encode_record` makes of each.
#[tokio::test]
async fn typed_envelopes_get_the_verdicts_of_their_records() {
    let mut s = setup().await;
    let (citizen, registration) = s.world.register_citizen();
    accepted(s.ledger.append_one(registration).await);
    let good = s.world.marksheet_envelope(&citizen, "T-1");
    let mut forged = s.world.marksheet_envelope(&citizen, "T-2");
    forged.signature.0[5] ^= 1;
    let mut unsealed = s.world.marksheet_envelope(&citizen, "T-3");
    unsealed.sealed = None;
    let before = total_records(&s.ledger).await;
    let verdicts = s
        .ledger
        .append_envelopes(vec![good.clone(), forged, unsealed, good.clone()])
        .await
        .expect("append");
    let mut verdicts = verdicts.into_iter();
    let position = accepted(verdicts.next().expect("good"));
    let err = verdicts.next().expect("forged").expect_err("forged");
    assert!(matches!(err, LedgerError::BadSignature { .. }), "{err}");
    let err = verdicts.next().expect("unsealed").expect_err("unsealed");
    assert!(matches!(err, LedgerError::Schema(SchemaError::InvalidEvent(_))), "{err}");
    assert_eq!(verdicts.next().expect("again").expect("again"), Appended::Existing(position));
    assert_eq!(total_records(&s.ledger).await, before + 1);
    let topic = s.ledger.config().citizen_topic.clone();
    let stored = s.ledger.log().read(&topic, position.partition, position.offset, 1).await;
    assert_eq!(stored.expect("read")[0].value, encode_record(&good).expect("encode"));
    // The record of the same event, appended as bytes later, is the same event.
    let again = s.ledger.append_one(encode_record(&good).expect("encode")).await;
    assert_eq!(again.expect("retry"), Appended::Existing(position));
}
