//! Ownership on Kafka. A partition of an owned topic is appended only by the process that
//! claimed it, through a transactional producer with the partition's id; a later claim (another
//! node taking the partition over) fences the earlier owner, whose next append is refused and
//! leaves nothing a reader sees. Readers step over the transactions' markers and stand at the
//! partition's end when caught up.

use std::time::Duration;

use ledger::{AppendRequest, Appended, KafkaLog, KafkaSettings, Log, LogError};
use schemas::{Digest32, EventId};

use crate::conformance::{Backend, Kafka};

fn request(n: u8, key: &[u8]) -> AppendRequest {
    let value = vec![n; 16];
    AppendRequest {
        id: EventId([n; 16]),
        digest: Digest32(*blake3::hash(&value).as_bytes()),
        key: key.to_vec(),
        value,
    }
}

/// A partition key that lands in `partition` of a topic of `partitions`.
fn key_in(partition: u32, partitions: u32) -> Vec<u8> {
    (0u32..)
        .map(|n| format!("citizen-{n}").into_bytes())
        .find(|key| ledger::partition::partition_for(key, partitions) == partition)
        .expect("some key lands in every partition")
}

async fn owner(kafka: &Kafka, topic: &str) -> (KafkaLog, tempfile::TempDir) {
    let index = tempfile::tempdir().expect("tempdir");
    let mut settings = KafkaSettings::single_broker(&kafka.bootstrap, index.path());
    settings.owned_topics = vec![topic.to_owned()];
    let log = KafkaLog::open(settings).await.expect("open");
    log.create_topic(topic, 2).await.expect("topic");
    (log, index)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_fences_the_previous_owner_and_nothing_is_written_twice() {
    let Some(kafka) = Kafka::new() else { return };
    let topic = kafka.topic("owned");
    let (first, second) = (key_in(0, 2), key_in(1, 2));
    let (a, _a_index) = owner(&kafka, &topic).await;
    let (b, _b_index) = owner(&kafka, &topic).await;

    // Without a claim, nothing is appended.
    let refused = a.append(&topic, vec![request(1, &first)]).await.expect("call");
    assert!(matches!(refused[0], Err(LogError::NotOwner { partition: 0, .. })), "{refused:?}");
    a.claim(&topic, 0).await.expect("claim");
    let appended =
        a.append(&topic, vec![request(1, &first), request(2, &first)]).await.expect("append");
    let kept = appended[0].as_ref().expect("appended").position();
    assert!(appended.iter().all(|r| matches!(r, Ok(Appended::New(_)))), "{appended:?}");

    // B takes partition 0 over: A, which still believes it owns it, is fenced.
    b.claim(&topic, 0).await.expect("take over");
    let fenced = a.append(&topic, vec![request(3, &first)]).await.expect("call");
    assert!(matches!(fenced[0], Err(LogError::Fenced { partition: 0, .. })), "{fenced:?}");
    assert!(a.claimed().expect("claims").is_empty(), "a fenced owner gives the partition up");
    let again = a.append(&topic, vec![request(3, &first)]).await.expect("call");
    assert!(matches!(again[0], Err(LogError::NotOwner { .. })), "{again:?}");
    let elsewhere = a.append(&topic, vec![request(4, &second)]).await.expect("call");
    assert!(matches!(elsewhere[0], Err(LogError::NotOwner { partition: 1, .. })));

    // The new owner knows what the old one wrote (idempotency by id), and writes on.
    let retried = b.append(&topic, vec![request(1, &first)]).await.expect("call");
    assert_eq!(retried[0].as_ref().expect("known"), &Appended::Existing(kept));
    let on = b.append(&topic, vec![request(3, &first)]).await.expect("call");
    assert!(matches!(on[0], Ok(Appended::New(_))), "{on:?}");

    // Each event once, in order; the markers between them hold no record. A commit's marker
    // is written just after the commit returns: until then the stable end is before it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let end = loop {
        let end = b.end_offset(&topic, 0).await.expect("end");
        if end > 3 || std::time::Instant::now() > deadline {
            break end;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let batch = b.read_batch(&topic, 0, 0, 100).await.expect("read");
    let ids: Vec<u8> = batch.records.iter().map(|r| r.value[0]).collect();
    assert_eq!(ids, vec![1, 2, 3], "the fenced append left nothing to read");
    assert!(end > 3, "transactions leave markers: offsets {end} for 3 records");
    assert_eq!(batch.next_offset, end, "a reader that caught up stands at the end");
    let tail = b.read_batch(&topic, 0, batch.next_offset, 100).await.expect("read");
    assert!(tail.records.is_empty() && tail.next_offset == end);
    assert!(
        !b.wait_for(&topic, 0, end, Duration::from_millis(300)).await.expect("wait"),
        "nothing new at the end: the wait must not return at once"
    );
    // A reader from the middle steps over the marker after record 2 too.
    let from_two = b.read_batch(&topic, 0, batch.records[1].position.offset, 100).await;
    let from_two = from_two.expect("read");
    assert_eq!(from_two.records.len(), 2);
    assert_eq!(from_two.next_offset, end);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_partition_is_refused_and_claims_are_listed() {
    let Some(kafka) = Kafka::new() else { return };
    let topic = kafka.topic("released");
    let (a, _index) = owner(&kafka, &topic).await;
    a.claim(&topic, 1).await.expect("claim");
    a.claim(&topic, 0).await.expect("claim");
    assert_eq!(a.claimed().expect("claims"), vec![(topic.clone(), 0), (topic.clone(), 1)]);
    a.release(&topic, 1).expect("release");
    let refused = a.append(&topic, vec![request(9, &key_in(1, 2))]).await.expect("call");
    assert!(matches!(refused[0], Err(LogError::NotOwner { partition: 1, .. })));
    assert_eq!(a.end_offset(&topic, 1).await.expect("end"), 0, "nothing was written");
}

/// What a member was told it owns, gathered from its changes until `settled` holds.
async fn owned_until(
    changes: &mut tokio::sync::mpsc::UnboundedReceiver<ledger::log::group::Change>,
    owned: &mut std::collections::BTreeSet<(String, u32)>,
    settled: impl Fn(&std::collections::BTreeSet<(String, u32)>) -> bool,
) {
    use ledger::log::group::Change;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !settled(owned) {
        let change = tokio::time::timeout_at(deadline, changes.recv())
            .await
            .unwrap_or_else(|_| panic!("no rebalance settled; owning {owned:?}"))
            .expect("membership open");
        match change {
            Change::Assigned(partitions) => owned.extend(partitions),
            Change::Revoked(partitions) => partitions.iter().for_each(|p| {
                owned.remove(p);
            }),
        }
    }
}

/// Two nodes join one group: the partitions are split between them, the coordinator reports
/// each member's address and partitions as the members were told, and when one leaves the
/// other owns everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_splits_the_partitions_and_the_survivor_takes_them_all() {
    use ledger::log::group::Membership;
    let Some(kafka) = Kafka::new() else { return };
    let topic = kafka.topic("group");
    let (log, _index) = owner(&kafka, &topic).await;
    drop(log);
    let group = format!("{topic}.owners");
    let (one, mut one_changes) =
        Membership::join(&kafka.bootstrap, &group, &[&topic], "http://node-1").expect("join");
    let mut one_owns = std::collections::BTreeSet::new();
    owned_until(&mut one_changes, &mut one_owns, |owned| owned.len() == 2).await;
    let (two, mut two_changes) =
        Membership::join(&kafka.bootstrap, &group, &[&topic], "http://node-2").expect("join");
    let mut two_owns = std::collections::BTreeSet::new();
    owned_until(&mut two_changes, &mut two_owns, |owned| owned.len() == 1).await;
    owned_until(&mut one_changes, &mut one_owns, |owned| owned.len() == 1).await;
    assert!(one_owns.is_disjoint(&two_owns), "{one_owns:?} and {two_owns:?}");

    let members = two.members().expect("members");
    let addresses: Vec<&str> = members.iter().map(|m| m.address.as_str()).collect();
    assert_eq!(addresses, vec!["http://node-1", "http://node-2"]);
    assert_eq!(members[0].partitions, one_owns.iter().cloned().collect::<Vec<_>>());
    assert_eq!(members[1].partitions, two_owns.iter().cloned().collect::<Vec<_>>());
    let (topic_of, partition) = two_owns.iter().next().expect("one").clone();
    let owner = one.owner_of(&topic_of, partition).expect("owner").expect("owned");
    assert_eq!(owner.address, "http://node-2");

    drop(two);
    owned_until(&mut one_changes, &mut one_owns, |owned| owned.len() == 2).await;
}
