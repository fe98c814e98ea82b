use ledger::{Appended, LedgerError};

use crate::{accepted, open, setup, total_records};

#[tokio::test]
async fn re_appending_an_event_returns_its_first_position() {
    let mut s = setup().await;
    let (citizen, registration) = s.world.register_citizen();
    accepted(s.ledger.append_one(registration).await);
    let envelope = s.world.marksheet_envelope(&citizen, "I-1");
    let record = schemas::encode_record(&envelope).expect("encode");
    let first = accepted(s.ledger.append_one(record.clone()).await);
    let before = total_records(&s.ledger).await;
    let again = s.ledger.append_one(record).await.expect("retry");
    assert_eq!(again, Appended::Existing(first));
    // The same signed event re-sealed (a retry through the service picks a new nonce) is
    // still the same event.
    let mut resealed = envelope.clone();
    let subject = envelope.sealed.as_ref().expect("sealed").subject.clone();
    let data = schemas::PersonalData::Upload(schemas::UploadPersonal {
        file_name: schemas::Label::parse("x").expect("label"),
    });
    resealed.sealed = Some(s.world.seal(subject, &data).1);
    let again = s.ledger.append_one(schemas::encode_record(&resealed).expect("encode")).await;
    assert_eq!(again.expect("retry"), Appended::Existing(first));
    // A different event under the same id is a conflict.
    let mut other = s.world.marksheet_envelope(&citizen, "I-2");
    other.event.id = envelope.event.id;
    let other =
        ledger::crypto::sign_event(other.event, &s.world.issuer.key, other.sealed).expect("sign");
    let err = s.ledger.append_one(schemas::encode_record(&other).expect("encode")).await;
    assert!(matches!(err, Err(LedgerError::IdConflict { .. })), "{err:?}");
    assert_eq!(total_records(&s.ledger).await, before);
}

#[tokio::test]
async fn the_ledger_reopens_on_its_own_log() {
    let mut s = setup().await;
    let (citizen, registration) = s.world.register_citizen();
    accepted(s.ledger.append_one(registration).await);
    accepted(s.ledger.append_one(s.world.issue_marksheet(&citizen, "O-1")).await);
    let before = total_records(&s.ledger).await;
    drop(s.ledger);
    let reopened = open(&s.dir, &s.world).await;
    assert_eq!(total_records(&reopened).await, before);
    // The citizen's key is known again after the restart.
    let (consent, requested) = s.world.request_consent(&citizen);
    accepted(reopened.append_one(requested).await);
    accepted(
        reopened
            .append_one(s.world.grant_consent(&citizen, consent, "in.gov.cbse-HSCER-O-1"))
            .await,
    );
}
