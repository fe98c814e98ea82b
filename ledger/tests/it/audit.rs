//! The auditor's replay against the real embedded store, intact and tampered with behind the
//! log's back: each tampering is found at its exact position.

use std::path::Path;

use ledger::audit::{AuditOptions, audit};
use ledger::merkle::{TreeStore, catch_up, checkpoint};
use ledger::{EmbeddedLog, Log};

const CHECKPOINTS: &str = "locker.checkpoints";

fn ledger_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[9; 32])
}

fn options() -> AuditOptions {
    AuditOptions {
        checkpoint_topic: Some(CHECKPOINTS.to_owned()),
        ledger_key: Some(ledger_key().verifying_key()),
        trusted: Vec::new(),
    }
}

/// A log of registrations, citizens and marksheets, with a checkpoint of every partition.
async fn history() -> (crate::Setup, String) {
    let mut s = crate::setup().await;
    let mut records = Vec::new();
    let mut people = Vec::new();
    for _ in 0..6 {
        let (citizen, record) = s.world.register_citizen();
        records.push(record);
        people.push(citizen);
    }
    for i in 0..120 {
        records.push(s.world.issue_marksheet(&people[i % people.len()], &format!("A-{i}")));
    }
    for verdict in s.ledger.append(records).await.expect("append") {
        verdict.expect("accepted");
    }
    let log = s.ledger.log().as_ref();
    log.create_topic(CHECKPOINTS, 1).await.expect("checkpoint topic");
    let store = TreeStore::open(s.dir.path().join("merkle")).expect("trees");
    let config = s.ledger.config().clone();
    for topic in [&config.directory_topic, &config.citizen_topic] {
        for partition in 0..log.partitions(topic).expect("partitions") {
            let mut tree = store.tree(topic, partition).expect("tree");
            catch_up(log, None, topic, partition, &mut tree).await.expect("catch up");
            checkpoint(
                log,
                CHECKPOINTS,
                &tree,
                (topic, partition),
                None,
                &ledger_key(),
                schemas::TimestampMs(1_715_700_000_000),
            )
            .await
            .expect("checkpoint");
        }
    }
    let topic = config.citizen_topic.clone();
    (s, topic)
}

/// The busiest citizen partition.
async fn busiest(log: &EmbeddedLog, topic: &str) -> u32 {
    let mut best = (0, 0);
    for partition in 0..log.partitions(topic).expect("partitions") {
        let end = log.end_offset(topic, partition).await.expect("end");
        if end > best.1 {
            best = (partition, end);
        }
    }
    best.0
}

async fn audit_of(dir: &Path, world: &ledger::world::World) -> ledger::audit::AuditReport {
    let log = EmbeddedLog::open(dir.join("log")).expect("reopen");
    audit(&log, &world.config(), &options(), |_, _| {}).await.expect("audit runs")
}

/// Changes the stored records directly on disk (the citizen topic is topic id 1).
fn tamper(dir: &Path, change: impl FnOnce(&crate::raw::Raw)) {
    change(&crate::raw::Raw::open(&dir.join("log")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intact_log_checks_out_with_its_checkpoints() {
    let (s, _) = history().await;
    let report = audit(s.ledger.log().as_ref(), s.ledger.config(), &options(), |_, _| {})
        .await
        .expect("audit");
    assert_eq!(report.failure, None, "{report:?}");
    assert_eq!(report.records, crate::total_records(&s.ledger).await);
    assert_eq!(report.signatures_verified, report.records);
    let partitions_with_records = report.roots.iter().filter(|r| r.size > 0).count() as u64;
    assert_eq!(report.checkpoints_verified, partitions_with_records);
    // Without the ledger's key, checkpoints cannot be trusted: said, not skipped.
    let blind = AuditOptions { ledger_key: None, ..options() };
    let report =
        audit(s.ledger.log().as_ref(), s.ledger.config(), &blind, |_, _| {}).await.expect("audit");
    assert!(report.failure.expect("a failure").reason.contains("no ledger key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_signature_is_named_at_its_position() {
    let (s, topic) = history().await;
    let partition = busiest(s.ledger.log(), &topic).await;
    let stored = s.ledger.log().read(&topic, partition, 5, 1).await.expect("read");
    let signature = schemas::decode_record(&stored[0].value).expect("decodes").signature.0;
    let (dir, world) = (s.dir, s.world);
    drop(s.ledger);
    tamper(dir.path(), |raw| {
        let mut value = raw.stored(1, partition, 5);
        let at = value.windows(64).position(|w| w == signature).expect("signature bytes");
        value[at + 10] ^= 0x01;
        raw.put_stored(1, partition, 5, &value);
    });
    let failure = audit_of(dir.path(), &world).await.failure.expect("found");
    assert_eq!(
        (failure.topic.as_str(), failure.partition, failure.offset),
        (topic.as_str(), partition, 5),
        "{failure}"
    );
    assert!(failure.reason.contains("signature"), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_data_changed_outside_the_signature_breaks_the_checkpoint() {
    let (s, topic) = history().await;
    let partition = busiest(s.ledger.log(), &topic).await;
    let (dir, world) = (s.dir, s.world);
    drop(s.ledger);
    tamper(dir.path(), |raw| {
        let mut value = raw.stored(1, partition, 7);
        // The last byte is the end of the sealed ciphertext: not signed, but in the tree.
        let last = value.len() - 1;
        value[last] ^= 0x01;
        raw.put_stored(1, partition, 7, &value);
    });
    let failure = audit_of(dir.path(), &world).await.failure.expect("found");
    assert_eq!(
        (failure.topic.as_str(), failure.partition),
        (topic.as_str(), partition),
        "{failure}"
    );
    assert!(failure.reason.contains("checkpoint"), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_record_is_named_at_its_position() {
    let (s, topic) = history().await;
    let partition = busiest(s.ledger.log(), &topic).await;
    let (dir, world) = (s.dir, s.world);
    drop(s.ledger);
    tamper(dir.path(), |raw| raw.delete(1, partition, 4));
    let failure = audit_of(dir.path(), &world).await.failure.expect("found");
    assert_eq!(
        (failure.topic.as_str(), failure.partition, failure.offset),
        (topic.as_str(), partition, 4),
        "{failure}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_swapped_records_are_caught() {
    let (s, topic) = history().await;
    let partition = busiest(s.ledger.log(), &topic).await;
    let (dir, world) = (s.dir, s.world);
    drop(s.ledger);
    tamper(dir.path(), |raw| raw.swap(1, partition, 3, 8));
    let failure = audit_of(dir.path(), &world).await.failure.expect("found");
    assert_eq!(
        (failure.topic.as_str(), failure.partition),
        (topic.as_str(), partition),
        "{failure}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_resumes_from_the_roots_of_the_last_one() {
    let (mut s, topic) = history().await;
    let first = audit(s.ledger.log().as_ref(), s.ledger.config(), &options(), |_, _| {})
        .await
        .expect("audit");
    assert_eq!(first.failure, None);
    // More history, including a key rotation: later events need the registry as it is now.
    let (new_key, rotation) = s.world.rotate_issuer_key();
    s.ledger.append_one(rotation).await.expect("rotated");
    s.world.issuer.key = new_key;
    let (citizen, record) = s.world.register_citizen();
    s.ledger.append_one(record).await.expect("registered");
    for i in 0..30 {
        let record = s.world.issue_marksheet(&citizen, &format!("B-{i}"));
        s.ledger.append_one(record).await.expect("issued");
    }
    let resume = AuditOptions { trusted: first.roots.clone(), ..options() };
    let report =
        audit(s.ledger.log().as_ref(), s.ledger.config(), &resume, |_, _| {}).await.expect("audit");
    assert_eq!(report.failure, None, "{report:?}");
    assert_eq!(report.trusted_records, first.records);
    assert_eq!(report.signatures_verified, 32, "only what came after the trusted roots");
    assert_eq!(report.records, first.records + 32);

    // A record changed inside the trusted part: the roots no longer match, and the audit says
    // so instead of trusting it.
    let partition = busiest(s.ledger.log(), &topic).await;
    let (dir, world) = (s.dir, s.world);
    drop(s.ledger);
    tamper(dir.path(), |raw| {
        let mut value = raw.stored(1, partition, 2);
        let last = value.len() - 1;
        value[last] ^= 0x01;
        raw.put_stored(1, partition, 2, &value);
    });
    let log = EmbeddedLog::open(dir.path().join("log")).expect("reopen");
    let blind = AuditOptions { checkpoint_topic: None, ..resume };
    let report = audit(&log, &world.config(), &blind, |_, _| {}).await.expect("audit");
    let failure = report.failure.expect("found");
    assert_eq!((failure.topic.as_str(), failure.partition), (topic.as_str(), partition));
    assert!(failure.reason.contains("not those the trusted audit saw"), "{failure}");
}
