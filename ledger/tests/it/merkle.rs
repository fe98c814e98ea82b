use ledger::Log;
use ledger::merkle::{
    MerkleTree, TreeStore, catch_up, leaf_hash, verify_consistency, verify_inclusion,
};

use crate::setup;

/// Citizens and marksheets appended through the ledger.
async fn fill(s: &mut crate::Setup, citizens: usize, documents: usize) {
    let mut records = Vec::new();
    let mut people = Vec::new();
    for _ in 0..citizens {
        let (citizen, record) = s.world.register_citizen();
        records.push(record);
        people.push(citizen);
    }
    for verdict in s.ledger.append(records).await.expect("append") {
        verdict.expect("registered");
    }
    let mut records = Vec::new();
    for i in 0..documents {
        let citizen = &people[i % people.len()];
        records.push(s.world.issue_marksheet(citizen, &format!("M-{i}")));
    }
    for chunk in records.chunks(1000) {
        for verdict in s.ledger.append(chunk.to_vec()).await.expect("append") {
            verdict.expect("issued");
        }
    }
}

/// The tree of a partition, straight from the records, in memory.
async fn reference<L: Log>(log: &L, topic: &str, partition: u32) -> MerkleTree {
    let mut tree = MerkleTree::new();
    let mut offset = 0;
    loop {
        let records = log.read(topic, partition, offset, 1000).await.expect("read");
        let Some(last) = records.last() else { return tree };
        offset = last.position.offset + 1;
        for record in &records {
            tree.push(leaf_hash(&record.value));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_partition_tree_follows_the_log_survives_restarts_and_proves() {
    let mut s = setup().await;
    fill(&mut s, 20, 600).await;
    let topic = s.ledger.config().citizen_topic.clone();
    let partitions = s.ledger.log().partitions(&topic).expect("partitions");
    let path = s.dir.path().join("merkle");
    let mut checkpoints = Vec::new();
    {
        let store = TreeStore::open(&path).expect("open");
        for partition in 0..partitions {
            let mut tree = store.tree(&topic, partition).expect("tree");
            let added = catch_up(s.ledger.log().as_ref(), None, &topic, partition, &mut tree)
                .await
                .expect("catch up");
            let expected = reference(s.ledger.log().as_ref(), &topic, partition).await;
            assert_eq!(added, expected.len());
            assert_eq!(tree.root(tree.size()), expected.root(expected.len()));
            checkpoints.push((tree.size(), tree.root(tree.size()).expect("root")));
        }
    }
    // More records, then a restart: the stored trees carry on from where they stopped.
    fill(&mut s, 5, 300).await;
    let store = TreeStore::open(&path).expect("reopen");
    for partition in 0..partitions {
        let mut tree = store.tree(&topic, partition).expect("tree");
        let (old_size, old_root) = checkpoints[partition as usize];
        assert_eq!(tree.size(), old_size, "nothing is rehashed on open");
        let added = catch_up(s.ledger.log().as_ref(), None, &topic, partition, &mut tree)
            .await
            .expect("catch up");
        let expected = reference(s.ledger.log().as_ref(), &topic, partition).await;
        assert_eq!(old_size + added, expected.len());
        let new_root = tree.root(tree.size()).expect("root");
        assert_eq!(Ok(new_root), expected.root(expected.len()));
        // The grown tree proves it extends the old one, and proves each record in it.
        if old_size > 0 {
            let proof = tree.consistency_proof(old_size, tree.size()).expect("proof");
            verify_consistency(old_size, tree.size(), &old_root, &new_root, &proof)
                .expect("consistent");
        }
        let records = s.ledger.log().read(&topic, partition, 0, 10_000).await.expect("read");
        for (index, record) in records.iter().enumerate().step_by(37) {
            let index = index as u64;
            let proof = tree.inclusion_proof(index, tree.size()).expect("proof");
            verify_inclusion(&leaf_hash(&record.value), index, tree.size(), &proof, &new_root)
                .expect("included");
        }
        // Caught up: nothing more to add.
        let again = catch_up(s.ledger.log().as_ref(), None, &topic, partition, &mut tree)
            .await
            .expect("catch up");
        assert_eq!(again, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_are_signed_only_for_consistent_growth() {
    use ledger::merkle::{SignedCheckpoint, checkpoint};
    use schemas::TimestampMs;
    let mut s = setup().await;
    fill(&mut s, 4, 200).await;
    let topic = s.ledger.config().citizen_topic.clone();
    let log = s.ledger.log().as_ref();
    log.create_topic("locker.checkpoints", 1).await.expect("checkpoint topic");
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let store = TreeStore::open(s.dir.path().join("merkle")).expect("open");
    let mut partition = None;
    for candidate in 0..log.partitions(&topic).expect("partitions") {
        if log.end_offset(&topic, candidate).await.expect("end") > 0 {
            partition = Some(candidate);
            break;
        }
    }
    let partition = partition.expect("a partition with records");
    let mut tree = store.tree(&topic, partition).expect("tree");
    catch_up(log, None, &topic, partition, &mut tree).await.expect("catch up");
    let at = TimestampMs(1_715_600_000_000);
    let first = checkpoint(log, "locker.checkpoints", &tree, (&topic, partition), None, &key, at)
        .await
        .expect("sign")
        .expect("a first checkpoint");
    first.verify(&key.verifying_key()).expect("verifies");
    assert_eq!(first.checkpoint.size, tree.size());
    // Nothing new: nothing signed.
    let none =
        checkpoint(log, "locker.checkpoints", &tree, (&topic, partition), Some(&first), &key, at)
            .await
            .expect("no growth");
    assert!(none.is_none());
    // Growth: a second checkpoint, consistent with the first.
    fill(&mut s, 2, 100).await;
    let log = s.ledger.log().as_ref();
    catch_up(log, None, &topic, partition, &mut tree).await.expect("catch up");
    let second =
        checkpoint(log, "locker.checkpoints", &tree, (&topic, partition), Some(&first), &key, at)
            .await
            .expect("sign")
            .expect("a second checkpoint");
    assert!(second.checkpoint.size > first.checkpoint.size);
    let proof =
        tree.consistency_proof(first.checkpoint.size, second.checkpoint.size).expect("proof");
    verify_consistency(
        first.checkpoint.size,
        second.checkpoint.size,
        &first.checkpoint.root,
        &second.checkpoint.root,
        &proof,
    )
    .expect("consistent");
    // Both are in the checkpoint stream, as signed notes.
    let stored = log.read("locker.checkpoints", 0, 0, 10).await.expect("read");
    let notes: Vec<SignedCheckpoint> =
        stored.iter().map(|r| SignedCheckpoint::from_note(&r.value).expect("note")).collect();
    assert_eq!(notes, vec![first.clone(), second.clone()]);
    // A previous checkpoint the tree does not extend (another history) is refused, and
    // nothing is appended.
    let mut forged = first.checkpoint.clone();
    forged.root = leaf_hash(b"another history");
    let forged = forged.sign(&key);
    let refused =
        checkpoint(log, "locker.checkpoints", &tree, (&topic, partition), Some(&forged), &key, at)
            .await;
    assert!(
        matches!(
            refused,
            Err(ledger::LedgerError::Tree(ledger::merkle::ProofError::Inconsistent(_)))
        ),
        "{refused:?}"
    );
    assert_eq!(log.end_offset("locker.checkpoints", 0).await.expect("end"), 2);
}

/// The tail hands over exactly what the log holds: each partition's tree fed from it (after a
/// start from the log, and with a retry in between that writes nothing) has the root of the
/// tree built from the records read back, and its events are the records decoded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tail_gives_the_logs_own_leaves_and_events() {
    let mut s = setup().await;
    fill(&mut s, 10, 100).await;
    let tail = s.ledger.tail().expect("the embedded log's offsets are dense");
    let topic = s.ledger.config().citizen_topic.clone();
    let partitions = s.ledger.log().partitions(&topic).expect("partitions");
    let store = TreeStore::open(s.dir.path().join("merkle")).expect("open");
    // Before the tail: nothing held, the trees read the log.
    for partition in 0..partitions {
        let mut tree = store.tree(&topic, partition).expect("tree");
        catch_up(s.ledger.log().as_ref(), Some(&tail), &topic, partition, &mut tree)
            .await
            .expect("catch up");
    }
    let before = crate::total_records(&s.ledger).await;
    fill(&mut s, 5, 300).await;
    let (citizen, registration) = s.world.register_citizen();
    let marksheet = s.world.issue_marksheet(&citizen, "M-tail");
    for _ in 0..2 {
        // The second time a retry: the log holds it already and writes nothing.
        let verdicts = s.ledger.append(vec![registration.clone(), marksheet.clone()]).await;
        for verdict in verdicts.expect("append") {
            verdict.expect("accepted");
        }
    }
    let appended = usize::try_from(crate::total_records(&s.ledger).await - before).expect("fits");
    assert_eq!(tail.held(), (appended, appended), "each new record once, the retry not at all");
    let log = s.ledger.log().as_ref();
    for partition in 0..partitions {
        let from = store.tree(&topic, partition).expect("tree").next_offset();
        let kept = tail.take_events(&topic, partition, from, usize::MAX);
        let read = log.read(&topic, partition, from, usize::MAX).await.expect("read");
        assert_eq!(kept.len(), read.len(), "partition {partition}: the whole new run");
        for ((offset, envelope), record) in kept.iter().zip(&read) {
            assert_eq!(*offset, record.position.offset);
            let logged = ledger::decode_logged(&topic, record).expect("decode");
            let envelope = envelope.as_deref().expect("a marksheet's record is kept whole");
            assert_eq!(*envelope, logged, "partition {partition} offset {offset}");
        }
        let mut tree = store.tree(&topic, partition).expect("tree");
        catch_up(log, Some(&tail), &topic, partition, &mut tree).await.expect("catch up");
        let reference = reference(log, &topic, partition).await;
        assert_eq!(tree.size(), reference.len());
        assert_eq!(tree.root(tree.size()), reference.root(reference.len()), "{partition}");
    }
    assert_eq!(tail.held(), (0, 0), "everything taken");
}

/// One typed call (`append_envelopes`, the service's path) mixing new events, a retry (sealed
/// again, as a retry through the service is), a bad signature and an id conflict: the tail
/// keeps exactly the new ones, each at the offset the log gave it and equal to the record it
/// wrote there; the retry does not replace the first copy's kept event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tail_keeps_only_what_a_mixed_typed_call_wrote() {
    let mut s = setup().await;
    let tail = s.ledger.tail().expect("dense");
    let (citizen, registration) = s.world.register_citizen();
    let registered = s.ledger.append(vec![registration]).await.expect("append");
    assert!(registered.iter().all(Result::is_ok), "{registered:?}");
    let retried = s.world.marksheet_envelope(&citizen, "X-0");
    let mut first = s.ledger.append_envelopes(vec![retried.clone()]).await.expect("append");
    let topic = s.ledger.config().citizen_topic.clone();
    let ledger::Position { partition, offset: from } = crate::accepted(first.remove(0));
    let mut resealed = retried.clone();
    let subject = retried.sealed.as_ref().expect("sealed").subject.clone();
    let data = schemas::PersonalData::Upload(schemas::UploadPersonal {
        file_name: schemas::Label::parse("x").expect("label"),
    });
    resealed.sealed = Some(s.world.seal(subject, &data).1);
    let mut forged = s.world.marksheet_envelope(&citizen, "X-1");
    forged.signature.0[0] ^= 0x55;
    let mut conflict = s.world.marksheet_envelope(&citizen, "X-2");
    conflict.event.id = retried.event.id;
    let conflict = ledger::crypto::sign_event(conflict.event, &s.world.issuer.key, conflict.sealed)
        .expect("sign");
    let new =
        [s.world.marksheet_envelope(&citizen, "X-3"), s.world.marksheet_envelope(&citizen, "X-4")];
    let call = vec![new[0].clone(), resealed, forged, conflict, new[1].clone()];
    let mut verdicts = s.ledger.append_envelopes(call).await.expect("append");
    assert!(matches!(verdicts[1], Ok(ledger::Appended::Existing(_))), "{verdicts:?}");
    assert!(matches!(verdicts[2], Err(ledger::LedgerError::BadSignature { .. })), "{verdicts:?}");
    assert!(matches!(verdicts[3], Err(ledger::LedgerError::IdConflict { .. })), "{verdicts:?}");
    let kept = tail.take_events(&topic, partition, from, usize::MAX);
    let offsets: Vec<u64> = kept.iter().map(|(offset, _)| *offset).collect();
    let written = [crate::accepted(verdicts.remove(0)), crate::accepted(verdicts.remove(3))];
    let expected: Vec<u64> = std::iter::once(from).chain(written.map(|p| p.offset)).collect();
    assert_eq!(offsets, expected, "the first copy and the two new events");
    let records = s.ledger.log().read(&topic, partition, from, 10).await.expect("read");
    assert_eq!(records.len(), 3);
    let sent = [retried, new[0].clone(), new[1].clone()];
    for (((_, envelope), record), sent) in kept.iter().zip(&records).zip(&sent) {
        let envelope = envelope.as_deref().expect("kept whole");
        assert_eq!(envelope, &ledger::decode_logged(&topic, record).expect("decode"));
        assert_eq!(envelope, sent);
    }
}
