use ledger::audit::{AuditOptions, audit};
use ledger::crypto::sign_batch;
use ledger::{LedgerError, Log};
use schemas::{Envelope, Payload, SignedEnvelope, encode_record};

use crate::{accepted, setup, total_records};

/// `count` marksheets for fresh citizens (registered first), signed by the board as one batch.
async fn signed_batch(s: &mut crate::Setup, count: usize) -> Vec<Envelope> {
    let mut events = Vec::new();
    for i in 0..count {
        let (citizen, record) = s.world.register_citizen();
        s.ledger.append_one(record).await.expect("registered");
        let envelope = s.world.marksheet_envelope(&citizen, &format!("B-{i}"));
        events.push((envelope.event, envelope.sealed));
    }
    sign_batch(events, &s.world.issuer.key).expect("batch signed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_signed_once_is_accepted_and_audited_event_by_event() {
    let mut s = setup().await;
    let batch = signed_batch(&mut s, 100).await;
    assert!(batch.iter().all(|e| e.signature == batch[0].signature), "one signature");
    let records: Vec<Vec<u8>> = batch.iter().map(|e| encode_record(e).expect("encode")).collect();
    assert_eq!(&records[0][..2], &[2, 0], "envelope version 2");
    for verdict in s.ledger.append(records.clone()).await.expect("append") {
        verdict.expect("accepted");
    }
    // The same records again are the same events.
    for verdict in s.ledger.append(records).await.expect("append") {
        assert!(matches!(verdict, Ok(ledger::Appended::Existing(_))), "{verdict:?}");
    }
    // Each decodes back with its place in the batch.
    let topic = s.ledger.config().citizen_topic.clone();
    let mut seen = 0;
    for partition in 0..s.ledger.log().partitions(&topic).expect("partitions") {
        for record in s.ledger.log().read(&topic, partition, 0, 10_000).await.expect("read") {
            let envelope = schemas::decode_record(&record.value).expect("decodes");
            if let Some(batch) = envelope.batch {
                assert_eq!(batch.size, 100);
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 100);
    let options = AuditOptions { checkpoint_topic: None, ledger_key: None, trusted: Vec::new() };
    let report = audit(s.ledger.log().as_ref(), s.ledger.config(), &options, |_, _| {})
        .await
        .expect("audit");
    assert_eq!(report.failure, None, "{report:?}");
}

/// Spoils two members of a signed batch: event 3 is changed after signing (its leaf no longer
/// leads to the signed root), and event 5 keeps a real path but claims place 4.
fn spoil_3_and_5(batch: &mut [Envelope]) {
    if let Payload::DocumentIssued(issued) = &mut batch[3].event.payload {
        issued.name = schemas::Label::parse("Forged Marksheet").expect("label");
    }
    if let Some(proof) = &mut batch[5].batch {
        proof.index = 4;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_or_foreign_event_in_a_batch_is_refused_alone() {
    let mut s = setup().await;
    let mut batch = signed_batch(&mut s, 8).await;
    spoil_3_and_5(&mut batch);
    let records: Vec<Vec<u8>> = batch.iter().map(|e| encode_record(e).expect("encode")).collect();
    let verdicts = s.ledger.append(records).await.expect("append");
    for (index, verdict) in verdicts.iter().enumerate() {
        if index == 3 || index == 5 {
            assert!(
                matches!(verdict, Err(LedgerError::BadSignature { .. })),
                "{index}: {verdict:?}"
            );
        } else {
            assert!(verdict.is_ok(), "{index}: {verdict:?}");
        }
    }
}

/// Authentication checks as an append would and appends nothing; each envelope comes back
/// with its verdict, in order: batch-signed events by their path to the signed root, an event
/// signed alone by its own bytes. A pass is remembered for the append that follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_gives_each_envelope_back_with_an_appends_verdict() {
    let mut s = setup().await;
    let mut sent = signed_batch(&mut s, 8).await;
    spoil_3_and_5(&mut sent);
    let (citizen, record) = s.world.register_citizen();
    s.ledger.append_one(record).await.expect("registered");
    let alone = s.world.marksheet_envelope(&citizen, "A-1");
    let mut forged = s.world.marksheet_envelope(&citizen, "A-2");
    forged.signature.0[7] ^= 1;
    // A stranger's key claiming to be the issuer: the registry refuses it before any hashing.
    let real = s.world.issuer.key.clone();
    s.world.issuer.key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let stranger = s.world.marksheet_envelope(&citizen, "A-3");
    s.world.issuer.key = real;
    sent.insert(2, stranger);
    sent.extend([forged, alone.clone()]);
    let signed: Vec<SignedEnvelope> =
        sent.iter().map(|e| SignedEnvelope::new(e.clone()).expect("signing bytes")).collect();
    let before = total_records(&s.ledger).await;
    let answers = s.ledger.authenticate(signed).await.expect("authenticated");
    assert_eq!(total_records(&s.ledger).await, before, "authentication appends nothing");
    assert_eq!(answers.len(), sent.len());
    for (index, ((back, verdict), envelope)) in answers.into_iter().zip(&sent).enumerate() {
        assert_eq!(back.envelope(), envelope, "{index}: given back as sent");
        if index == 2 {
            assert!(matches!(verdict, Err(LedgerError::UnknownKey { .. })), "{verdict:?}");
        } else if [4, 6, 9].contains(&index) {
            assert!(
                matches!(verdict, Err(LedgerError::BadSignature { .. })),
                "{index}: {verdict:?}"
            );
        } else {
            assert!(verdict.is_ok(), "{index}: {verdict:?}");
        }
    }
    accepted(s.ledger.append_envelopes(vec![alone]).await.expect("append").remove(0));
}
