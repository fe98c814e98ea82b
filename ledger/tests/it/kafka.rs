//! What only the Kafka backend has: an id index rebuilt from record headers, checks of topics
//! made by someone else, an unreachable cluster, and records produced straight into the topic.

use std::sync::Arc;
use std::time::Duration;

use ledger::{Appended, KafkaLog, KafkaSettings, Ledger, LedgerError, Log, LogError};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::conformance::{Backend, Kafka};

fn plain_client(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_index_is_rebuilt_from_the_topic() {
    let Some(kafka) = Kafka::new() else { return };
    let topic = kafka.topic("rebuild");
    let request = ledger::AppendRequest {
        id: schemas::EventId([7; 16]),
        digest: schemas::Digest32([8; 32]),
        key: b"k".to_vec(),
        value: b"v".to_vec(),
    };
    let position = {
        let log = kafka.open().await;
        log.create_topic(&topic, 2).await.expect("topic");
        log.append(&topic, vec![request.clone()]).await.expect("append")[0]
            .as_ref()
            .expect("new")
            .position()
    };
    // Another process, with an empty index of its own.
    let fresh = tempfile::tempdir().expect("tempdir");
    let log = KafkaLog::open(KafkaSettings::single_broker(&kafka.bootstrap, fresh.path()))
        .await
        .expect("open");
    log.create_topic(&topic, 2).await.expect("existing topic");
    let again = log.append(&topic, vec![request]).await.expect("append");
    assert_eq!(again[0].as_ref().expect("known"), &Appended::Existing(position));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_that_would_lose_events_are_refused() {
    let Some(kafka) = Kafka::new() else { return };
    let admin: AdminClient<DefaultClientContext> =
        plain_client(&kafka.bootstrap).create().expect("admin");
    let compacted = kafka.topic("compacted");
    let short = kafka.topic("short-retention");
    let topics = [
        NewTopic::new(&compacted, 1, TopicReplication::Fixed(1)).set("cleanup.policy", "compact"),
        NewTopic::new(&short, 1, TopicReplication::Fixed(1)).set("retention.ms", "3600000"),
    ];
    admin.create_topics(&topics, &AdminOptions::new()).await.expect("create");
    let log = kafka.open().await;
    let err = log.create_topic(&compacted, 1).await.expect_err("compaction");
    assert!(err.to_string().contains("must never be compacted"), "{err}");
    let err = log.create_topic(&short, 1).await.expect_err("retention");
    assert!(err.to_string().contains("retention.ms=3600000"), "{err}");
}

/// The issuers' inbox kind of topic: created with a retention, accepted with the one its
/// operator set, never indexed, and read from what retention left. A ledger topic beside it
/// keeps appending although the transient one lost its first records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_topics_keep_records_for_a_while_and_are_read_from_what_is_left() {
    use rdkafka::admin::ResourceSpecifier;
    let Some(kafka) = Kafka::new() else { return };
    let admin: AdminClient<DefaultClientContext> =
        plain_client(&kafka.bootstrap).create().expect("admin");
    let inbox = kafka.topic("transient-inbox");
    let log = kafka.open().await;
    log.create_transient_topic(&inbox, 1, 3_600_000).await.expect("transient topic");
    let configs = admin
        .describe_configs([&ResourceSpecifier::Topic(&inbox)], &AdminOptions::new())
        .await
        .expect("describe");
    let config = configs.into_iter().next().expect("one").expect("config");
    let retention = config.get("retention.ms").and_then(|e| e.value.clone());
    assert_eq!(retention.as_deref(), Some("3600000"));
    // A ledger topic refuses it; asked for as transient again, it is accepted as it is.
    let err = log.create_topic(&inbox, 1).await.expect_err("not a ledger topic");
    assert!(err.to_string().contains("retention.ms=3600000"), "{err}");
    // Another process, with an index of its own.
    let fresh = tempfile::tempdir().expect("tempdir");
    let again = KafkaLog::open(KafkaSettings::single_broker(&kafka.bootstrap, fresh.path()))
        .await
        .expect("open");
    again.create_transient_topic(&inbox, 1, 60_000).await.expect("an existing transient topic");

    // Five records from a plain producer (no id headers); retention takes the first three.
    let producer: FutureProducer = plain_client(&kafka.bootstrap).create().expect("producer");
    for i in 0..5u8 {
        producer
            .send(
                FutureRecord::<[u8], [u8]>::to(&inbox).partition(0).payload(&[i][..]),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("produced");
    }
    let mut deleted = rdkafka::TopicPartitionList::new();
    deleted.add_partition_offset(&inbox, 0, rdkafka::Offset::Offset(3)).expect("offset");
    admin.delete_records(&deleted, &AdminOptions::new()).await.expect("delete records");
    let records = again.read(&inbox, 0, 0, 100).await.expect("read from what is left");
    let offsets: Vec<u64> = records.iter().map(|r| r.position.offset).collect();
    assert_eq!(offsets, vec![3, 4]);
    assert_eq!(records[0].value, vec![3]);

    // Appends through the log are not indexed: the same id twice is two records.
    let request = ledger::AppendRequest {
        id: schemas::EventId([5; 16]),
        digest: schemas::Digest32([6; 32]),
        key: b"k".to_vec(),
        value: b"v".to_vec(),
    };
    for _ in 0..2 {
        let appended = again.append(&inbox, vec![request.clone()]).await.expect("append");
        assert!(matches!(appended[0], Ok(Appended::New(_))), "{appended:?}");
    }
    assert_eq!(again.lookup(&[request.id]).await.expect("lookup"), vec![None]);

    // A ledger topic of the same log catches its index up without reading the inbox.
    let events = kafka.topic("transient-beside");
    again.create_topic(&events, 1).await.expect("ledger topic");
    let request = ledger::AppendRequest { id: schemas::EventId([7; 16]), ..request };
    let appended = again.append(&events, vec![request]).await.expect("append beside");
    assert!(matches!(appended[0], Ok(Appended::New(_))), "{appended:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_cluster_is_a_clear_error() {
    if crate::conformance::kafka_bootstrap().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let started = std::time::Instant::now();
    let err = KafkaLog::open(KafkaSettings::single_broker("127.0.0.1:1", dir.path()))
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(err, LogError::Unavailable { .. }), "{err}");
    assert!(err.to_string().contains("no Kafka broker answers at 127.0.0.1:1"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// A ledger on Kafka; topic names are unique to the test.
async fn kafka_ledger(
    kafka: &Kafka,
    world: &ledger::world::World,
) -> Result<Ledger<KafkaLog>, LedgerError> {
    let mut config = world.config();
    config.directory_topic = kafka.topic("directory");
    config.citizen_topic = kafka.topic("events");
    Ledger::open(Arc::new(kafka.open().await), config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_produced_around_the_ledger_are_named_by_position() {
    let Some(kafka) = Kafka::new() else { return };
    let mut world = ledger::world::World::new(5);
    let ledger = kafka_ledger(&kafka, &world).await.expect("ledger on Kafka");
    let (citizen, registration) = world.register_citizen();
    let records =
        vec![world.register_issuer(), registration, world.issue_marksheet(&citizen, "K-1")];
    for verdict in ledger.append(records).await.expect("append") {
        assert!(matches!(verdict, Ok(Appended::New(_))), "{verdict:?}");
    }
    // Someone with plain Kafka access writes garbage into the citizen topic.
    let producer: FutureProducer = plain_client(&kafka.bootstrap).create().expect("producer");
    let topic = ledger.config().citizen_topic.clone();
    let delivered = producer
        .send(
            FutureRecord::to(&topic).partition(0).key("x").payload(&[1u8, 0, 0xde, 0xad][..]),
            Duration::from_secs(10),
        )
        .await
        .expect("produced");
    drop(ledger);
    // The reader stops with the position and the reason, instead of skipping or crashing.
    let err = kafka_ledger(&kafka, &world).await.expect_err("a garbage record in the topic");
    let expected = format!("partition 0 offset {}", delivered.offset);
    assert!(matches!(err, LedgerError::Log(LogError::Corrupt { .. })), "{err}");
    assert!(err.to_string().contains(&expected), "{err}");
    assert!(err.to_string().contains("does not decode"), "{err}");
}
