//! One conformance suite for every `Log` backend: the same test functions run against the
//! embedded RocksDB log and against a real Kafka broker.
//!
//! Kafka tests need `KAFKA_BOOTSTRAP` (scripts/test starts a broker and sets it). Without it a
//! local run skips them and says so in one line; under `CI=true` a missing broker fails.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ledger::{AppendRequest, Appended, EmbeddedLog, KafkaLog, KafkaSettings, Log, LogError};
use rand_core::RngCore;
use schemas::{Digest32, EventId};

/// Opens (and reopens, after the previous instance is dropped) one log.
pub trait Backend: Send + Sync {
    type L: Log;
    fn open(&self) -> impl Future<Output = Self::L> + Send;
    /// A topic name no other test (or earlier run on the same broker) uses.
    fn topic(&self, name: &str) -> String;
}

pub struct Embedded {
    dir: tempfile::TempDir,
}

impl Embedded {
    pub fn new() -> Self {
        Embedded { dir: tempfile::tempdir().expect("tempdir") }
    }
}

impl Backend for Embedded {
    type L = EmbeddedLog;
    async fn open(&self) -> EmbeddedLog {
        EmbeddedLog::open(self.dir.path()).expect("open embedded log")
    }
    fn topic(&self, name: &str) -> String {
        name.to_owned()
    }
}

pub struct Kafka {
    pub bootstrap: String,
    pub index_dir: tempfile::TempDir,
    suffix: u32,
}

pub use ledger::log::kafka::test_bootstrap as kafka_bootstrap;

impl Kafka {
    pub fn new() -> Option<Self> {
        Some(Kafka {
            bootstrap: kafka_bootstrap()?,
            index_dir: tempfile::tempdir().expect("tempdir"),
            suffix: rand_core::OsRng.next_u32(),
        })
    }

    pub fn settings(&self) -> KafkaSettings {
        KafkaSettings::single_broker(&self.bootstrap, self.index_dir.path())
    }
}

impl Backend for Kafka {
    type L = KafkaLog;
    async fn open(&self) -> KafkaLog {
        KafkaLog::open(self.settings()).await.expect("connect to Kafka")
    }
    fn topic(&self, name: &str) -> String {
        format!("{name}-{:08x}", self.suffix)
    }
}

fn request(id: u32, key: &str, value: &[u8]) -> AppendRequest {
    let mut event_id = [0u8; 16];
    event_id[..4].copy_from_slice(&id.to_le_bytes());
    AppendRequest {
        id: EventId(event_id),
        digest: Digest32(*blake3::hash(value).as_bytes()),
        key: key.as_bytes().to_vec(),
        value: value.to_vec(),
    }
}

fn new_position(result: &Result<Appended, LogError>) -> ledger::Position {
    match result {
        Ok(Appended::New(position)) => *position,
        other => panic!("expected a new record, got {other:?}"),
    }
}

async fn read_all<L: Log>(log: &L, topic: &str, partition: u32) -> Vec<ledger::LogRecord> {
    let mut out = Vec::new();
    loop {
        let from = out.last().map_or(0, |r: &ledger::LogRecord| r.position.offset + 1);
        let batch = log.read(topic, partition, from, 1000).await.expect("read");
        if batch.is_empty() {
            return out;
        }
        out.extend(batch);
    }
}

pub async fn keys_keep_their_partition_and_order<B: Backend>(backend: &B) {
    let log = backend.open().await;
    let topic = backend.topic("order");
    log.create_topic(&topic, 3).await.expect("topic");
    let mut requests = Vec::new();
    for n in 0..60u32 {
        let key = format!("citizen-{}", n % 5);
        requests.push(request(n, &key, format!("{key}:{n}").as_bytes()));
    }
    let results = log.append(&topic, requests.clone()).await.expect("append");
    for (request, result) in requests.iter().zip(&results) {
        let position = new_position(result);
        assert_eq!(position.partition, ledger::partition::partition_for(&request.key, 3));
    }
    for partition in 0..3 {
        let records = read_all(&log, &topic, partition).await;
        assert_eq!(log.end_offset(&topic, partition).await.expect("end"), records.len() as u64);
        for key in 0..5 {
            let key = format!("citizen-{key}");
            let values: Vec<_> = records.iter().filter(|r| r.key == key.as_bytes()).collect();
            let numbers: Vec<u32> = values
                .iter()
                .map(|r| {
                    let text = String::from_utf8(r.value.clone()).expect("utf8");
                    text.rsplit(':').next().expect("n").parse().expect("number")
                })
                .collect();
            assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{key} out of order: {numbers:?}");
        }
    }
}

pub async fn re_appends_are_idempotent<B: Backend>(backend: &B) {
    let log = backend.open().await;
    let topic = backend.topic("idem");
    log.create_topic(&topic, 2).await.expect("topic");
    let first = log.append(&topic, vec![request(1, "k", b"one")]).await.expect("append");
    let position = new_position(&first[0]);
    let again = log
        .append(
            &topic,
            vec![
                request(1, "k", b"one"),
                request(1, "k", b"other"),
                request(2, "k", b"two"),
                request(2, "k", b"two"),
            ],
        )
        .await
        .expect("append");
    assert_eq!(again[0].as_ref().expect("dup"), &Appended::Existing(position));
    assert!(matches!(again[1], Err(LogError::IdConflict { .. })), "{:?}", again[1]);
    let second = new_position(&again[2]);
    assert_eq!(again[3].as_ref().expect("dup in call"), &Appended::Existing(second));
    let partition = position.partition;
    assert_eq!(log.end_offset(&topic, partition).await.expect("end"), 2, "nothing written twice");
    let found = log.lookup(&[EventId([1; 16]), request(2, "k", b"").id]).await.expect("lookup");
    assert_eq!(found[0], None);
    assert_eq!(found[1].as_ref().expect("known").position, second);
}

pub async fn records_survive_a_restart<B: Backend>(backend: &B) {
    let topic = backend.topic("restart");
    let position = {
        let log = backend.open().await;
        log.create_topic(&topic, 2).await.expect("topic");
        let results = log.append(&topic, vec![request(7, "a", b"kept")]).await.expect("append");
        new_position(&results[0])
    };
    let log = backend.open().await;
    log.create_topic(&topic, 2).await.expect("existing topic");
    let records = log.read(&topic, position.partition, position.offset, 10).await.expect("read");
    assert_eq!(records[0].value, b"kept");
    let again = log.append(&topic, vec![request(7, "a", b"kept")]).await.expect("append");
    assert_eq!(again[0].as_ref().expect("dup"), &Appended::Existing(position));
}

pub async fn concurrent_writers_get_distinct_positions<B: Backend>(backend: &B) {
    let log = Arc::new(backend.open().await);
    let topic = backend.topic("concurrent");
    log.create_topic(&topic, 3).await.expect("topic");
    let mut tasks = Vec::new();
    for writer in 0..8u32 {
        let log = Arc::clone(&log);
        let topic = topic.clone();
        tasks.push(tokio::spawn(async move {
            let mut positions = Vec::new();
            for n in 0..25u32 {
                let value = (writer * 1000 + n).to_le_bytes();
                let req = request(writer * 1000 + n, &format!("writer-{writer}"), &value);
                let result = log.append(&topic, vec![req]).await.expect("append");
                positions.push(new_position(&result[0]));
            }
            positions
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let positions = task.await.expect("writer");
        assert!(
            positions
                .windows(2)
                .all(|w| w[0].partition == w[1].partition && w[0].offset < w[1].offset)
        );
        all.extend(positions);
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 200, "two appends got one position");
    let mut total = 0;
    for partition in 0..3 {
        total += read_all(log.as_ref(), &topic, partition).await.len();
    }
    assert_eq!(total, 200);
}

pub async fn a_waiting_reader_wakes_on_append<B: Backend>(backend: &B) {
    let log = Arc::new(backend.open().await);
    let topic = backend.topic("wait");
    log.create_topic(&topic, 1).await.expect("topic");
    assert!(!log.wait_for(&topic, 0, 0, Duration::from_millis(300)).await.expect("wait"));
    let waiter = {
        let log = Arc::clone(&log);
        let topic = topic.clone();
        tokio::spawn(async move { log.wait_for(&topic, 0, 0, Duration::from_secs(20)).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    log.append(&topic, vec![request(1, "k", b"hello")]).await.expect("append");
    assert!(waiter.await.expect("join").expect("wait"), "the reader was not woken");
    // A waiter used before (Kafka keeps idle ones) wakes only for its own partition's records.
    assert!(!log.wait_for(&topic, 0, 1, Duration::from_millis(300)).await.expect("wait"));
    let other = backend.topic("wait-other");
    log.create_topic(&other, 2).await.expect("topic");
    assert!(!log.wait_for(&other, 1, 0, Duration::from_millis(300)).await.expect("wait"));
    log.append(&topic, vec![request(2, "k", b"again")]).await.expect("append");
    assert!(log.wait_for(&topic, 0, 1, Duration::from_secs(20)).await.expect("wait"));
}

pub async fn topic_errors_are_typed<B: Backend>(backend: &B) {
    let log = backend.open().await;
    let topic = backend.topic("errors");
    log.create_topic(&topic, 2).await.expect("topic");
    log.create_topic(&topic, 2).await.expect("same topic again");
    let err = log.create_topic(&topic, 3).await.expect_err("mismatch");
    assert!(matches!(err, LogError::PartitionMismatch { existing: 2, requested: 3, .. }), "{err}");
    assert!(matches!(
        log.create_topic(&backend.topic("zero"), 0).await,
        Err(LogError::InvalidTopic { .. })
    ));
    assert!(matches!(
        log.append(&backend.topic("nope"), vec![]).await,
        Err(LogError::UnknownTopic { .. })
    ));
    assert!(matches!(log.read(&topic, 2, 0, 1).await, Err(LogError::NoSuchPartition { .. })));
    let huge = request(1, "k", &vec![0; ledger::limits::RECORD_SIZE_BYTES_MAX + 1]);
    assert!(matches!(log.append(&topic, vec![huge]).await, Err(LogError::RecordTooLarge { .. })));
    let long_key = request(1, &"k".repeat(300), b"v");
    assert!(matches!(log.append(&topic, vec![long_key]).await, Err(LogError::KeyTooLarge { .. })));
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(&super::Embedded::new()).await;
                }
            )*
        }
        mod kafka {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(backend) = super::Kafka::new() else { return };
                    super::$name(&backend).await;
                }
            )*
        }
    };
}

conformance!(
    keys_keep_their_partition_and_order,
    re_appends_are_idempotent,
    records_survive_a_restart,
    concurrent_writers_get_distinct_positions,
    a_waiting_reader_wakes_on_append,
    topic_errors_are_typed,
);
