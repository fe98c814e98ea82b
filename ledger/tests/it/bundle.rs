use ledger::Log;
use ledger::merkle::{
    BundleError, CheckpointPolicy, ProofBundle, Proven, TreeStore, checkpoint_partitions, prove,
    verify_bundle,
};
use schemas::{Digest32, Payload, TimestampMs};

use crate::setup;

const CHECKPOINTS: &str = "locker.checkpoints";

/// Where a record with this payload kind sits: (topic, partition, offset).
async fn find<L: Log>(
    log: &L,
    topics: &[&str],
    matches: impl Fn(&Payload) -> bool,
) -> Vec<(String, u32, u64)> {
    let mut found = Vec::new();
    for topic in topics {
        for partition in 0..log.partitions(topic).expect("partitions") {
            for record in log.read(topic, partition, 0, 100_000).await.expect("read") {
                let envelope = schemas::decode_record(&record.value).expect("decodes");
                if matches(&envelope.event.payload) {
                    found.push((topic.to_string(), partition, record.position.offset));
                }
            }
        }
    }
    found
}

struct Bundles {
    s: crate::Setup,
    store: TreeStore,
    last: std::collections::HashMap<(String, u32), ledger::merkle::SignedCheckpoint>,
}

impl Bundles {
    async fn prove(&self, (topic, partition, offset): &(String, u32, u64)) -> Proven {
        let tree = self.store.tree(topic, *partition).expect("tree");
        let checkpoint = &self.last[&(topic.clone(), *partition)];
        prove(self.s.ledger.log().as_ref(), &tree, (topic, *partition, *offset), checkpoint)
            .await
            .expect("prove")
    }
}

/// An issuer registered, a citizen with two marksheets, one signed after a key rotation,
/// everything checkpointed by the platform key.
async fn bundles() -> (Bundles, ProofBundle, ProofBundle) {
    let mut s = setup().await;
    let (citizen, record) = s.world.register_citizen();
    let mut records = vec![record, s.world.issue_marksheet(&citizen, "M-1")];
    let (new_key, rotation) = s.world.rotate_issuer_key();
    records.push(rotation);
    for record in records {
        s.ledger.append_one(record).await.expect("appended");
    }
    s.world.issuer.key = new_key;
    let record = s.world.issue_marksheet(&citizen, "M-2");
    s.ledger.append_one(record).await.expect("appended");
    // Others in the same partitions, so the proofs are not trivial.
    for i in 0..40 {
        let (other, record) = s.world.register_citizen();
        s.ledger.append_one(record).await.expect("appended");
        let record = s.world.issue_marksheet(&other, &format!("O-{i}"));
        s.ledger.append_one(record).await.expect("appended");
    }
    let config = s.ledger.config().clone();
    let log = s.ledger.log().as_ref();
    log.create_topic(CHECKPOINTS, 1).await.expect("checkpoint topic");
    let store = TreeStore::open(s.dir.path().join("merkle")).expect("trees");
    let mut partitions = vec![(config.directory_topic.clone(), 0)];
    partitions.extend((0..config.citizen_partitions).map(|p| (config.citizen_topic.clone(), p)));
    let mut last = std::collections::HashMap::new();
    let policy = CheckpointPolicy { every_records: 1, every_ms: 0 };
    checkpoint_partitions(
        log,
        None,
        &store,
        &partitions,
        CHECKPOINTS,
        &s.world.platform,
        &mut last,
        TimestampMs(1_715_600_000_000),
        policy,
    )
    .await
    .expect("checkpoints");
    let topics = [config.directory_topic.as_str(), config.citizen_topic.as_str()];
    let registration = find(log, &topics, |p| matches!(p, Payload::IssuerRegistered(_))).await;
    let rotation = find(log, &topics, |p| matches!(p, Payload::KeyRotated(_))).await;
    let first = find(
        log,
        &topics,
        |p| matches!(p, Payload::DocumentIssued(e) if e.uri.to_string().ends_with("M-1")),
    )
    .await;
    let second = find(
        log,
        &topics,
        |p| matches!(p, Payload::DocumentIssued(e) if e.uri.to_string().ends_with("M-2")),
    )
    .await;
    let b = Bundles { s, store, last };
    let one = ProofBundle {
        document: b.prove(&first[0]).await,
        keys: vec![b.prove(&registration[0]).await],
    };
    let two = ProofBundle {
        document: b.prove(&second[0]).await,
        keys: vec![b.prove(&registration[0]).await, b.prove(&rotation[0]).await],
    };
    (b, one, two)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_verify_offline_with_only_the_ledger_key() {
    let (b, one, two) = bundles().await;
    let key = b.s.world.platform.verifying_key();
    let facts = verify_bundle(&one, &key).expect("the first marksheet verifies");
    let Payload::DocumentIssued(issued) = &facts.envelope.event.payload else {
        panic!("a document_issued event")
    };
    assert!(issued.uri.to_string().ends_with("M-1"));
    assert_eq!(facts.key_records.len(), 1);
    assert!(facts.leaf_index < facts.checkpoint.size);
    // After a rotation the chain runs platform -> issuer's first key -> its new key.
    let facts = verify_bundle(&two, &key).expect("the second marksheet verifies");
    assert_eq!(facts.key_records.len(), 2);
    // A proof made against a later checkpoint of the same partition verifies too.
    assert!(one.document.inclusion.len() > 1, "a real path, not a one-leaf tree");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_or_mismatched_bundles_are_refused_with_their_reason() {
    let (b, one, two) = bundles().await;
    let key = b.s.world.platform.verifying_key();
    let refused = |bundle: &ProofBundle| verify_bundle(bundle, &key).expect_err("refused");

    // Not the ledger's key.
    let other = ed25519_dalek::SigningKey::from_bytes(&[3; 32]).verifying_key();
    assert!(matches!(verify_bundle(&one, &other), Err(BundleError::Checkpoint { .. })));

    // One byte of the document record changed: its leaf is not in the tree any more.
    let mut altered = one.clone();
    let last = altered.document.record.len() - 1;
    altered.document.record[last] ^= 1;
    assert!(
        matches!(refused(&altered), BundleError::NotIncluded { .. }),
        "{:?}",
        refused(&altered)
    );

    // Wrong index, truncated, extended and reordered paths.
    let mut wrong = one.clone();
    wrong.document.leaf_index ^= 1;
    assert!(matches!(refused(&wrong), BundleError::NotIncluded { .. }));
    let mut short = one.clone();
    short.document.inclusion.pop();
    assert!(matches!(refused(&short), BundleError::NotIncluded { .. }));
    let mut long = one.clone();
    long.document.inclusion.push(Digest32([0; 32]));
    assert!(matches!(refused(&long), BundleError::NotIncluded { .. }));
    let mut beyond = one.clone();
    beyond.document.leaf_index = beyond.document.checkpoint.checkpoint.size;
    assert!(matches!(refused(&beyond), BundleError::NotIncluded { .. }));

    // The checkpoint of another partition, or a checkpoint whose size was changed.
    let mut elsewhere = one.clone();
    elsewhere.document.checkpoint = one.keys[0].checkpoint.clone();
    assert!(matches!(refused(&elsewhere), BundleError::WrongCheckpoint { .. }));
    let mut resized = one.clone();
    resized.document.checkpoint.checkpoint.size += 1;
    assert!(matches!(refused(&resized), BundleError::Checkpoint { .. }));

    // The key chain: missing, too short after a rotation, out of order, not a key record.
    let mut keyless = one.clone();
    keyless.keys.clear();
    assert!(matches!(refused(&keyless), BundleError::KeyChain { .. }));
    let mut half = two.clone();
    half.keys.pop();
    assert!(matches!(refused(&half), BundleError::KeyChain { .. }));
    let mut swapped = two.clone();
    swapped.keys.reverse();
    assert!(matches!(refused(&swapped), BundleError::KeyChain { .. }));
    let mut not_key = one.clone();
    not_key.keys = vec![one.document.clone()];
    assert!(matches!(refused(&not_key), BundleError::KeyChain { .. }));
    let mut endless = one.clone();
    endless.keys = vec![one.keys[0].clone(); ledger::merkle::BUNDLE_KEY_CHAIN_MAX + 1];
    assert!(matches!(refused(&endless), BundleError::KeyChainTooLong { .. }));

    // A key record presented as the document.
    let mut registration = one.clone();
    registration.document = one.keys[0].clone();
    assert!(matches!(refused(&registration), BundleError::NotADocument { .. }));
}

/// Whatever is done to a good bundle, the verifier answers (never panics), and only the
/// untouched bundle verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verifier_never_panics_and_accepts_only_the_original() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let (b, one, _) = bundles().await;
    let key = b.s.world.platform.verifying_key();
    verify_bundle(&one, &key).expect("the original verifies");
    let mut runner = TestRunner::new(Config { cases: 512, ..Config::default() });
    let mutation = (0usize..6, any::<u64>(), any::<usize>(), any::<u8>(), 0usize..70);
    runner
        .run(&mutation, |(what, number, index, byte, length)| {
            let mut bundle = one.clone();
            let doc = &mut bundle.document;
            match what {
                0 => {
                    let at = index % doc.record.len();
                    doc.record[at] ^= byte.max(1);
                }
                1 => doc.record.truncate(index % doc.record.len()),
                2 => doc.leaf_index = number,
                3 => doc.inclusion = vec![Digest32([byte; 32]); length],
                4 => doc.checkpoint.checkpoint.size = number,
                _ => {
                    let record = &mut bundle.keys[0].record;
                    let at = index % record.len();
                    record[at] ^= byte.max(1);
                }
            }
            let changed = bundle != one;
            let verdict = verify_bundle(&bundle, &key);
            prop_assert!(!changed || verdict.is_err(), "a changed bundle verified: {what}");
            Ok(())
        })
        .expect("no mutation verifies");
}
