use std::sync::Arc;
use std::time::Duration;

use ledger::{AppendRequest, Appended, EmbeddedLog, LedgerError, Log, LogError, Position};
use schemas::{Digest32, EventId};

use crate::{accepted, open, setup, total_records};

fn request(id: u8, key: &str, value: &[u8]) -> AppendRequest {
    AppendRequest {
        id: EventId([id; 16]),
        digest: Digest32(*blake3::hash(value).as_bytes()),
        key: key.as_bytes().to_vec(),
        value: value.to_vec(),
    }
}

#[tokio::test]
async fn re_appending_an_event_returns_its_first_position() {
    let mut s = setup().await;
    let (citizen, registration) = s.world.register_citizen();
    accepted(s.ledger.append_one(registration).await);
    let envelope = s.world.marksheet_envelope(&citizen, "I-1");
    let record = schemas::encode_record(&envelope).expect("encode");
    let first = accepted(s.ledger.append_one(record.clone()).await);
    let before = total_records(&s.ledger);
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
    assert_eq!(total_records(&s.ledger), before);
}

#[tokio::test]
async fn duplicates_inside_one_call_are_written_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = EmbeddedLog::open(dir.path()).expect("open");
    log.create_topic("t", 4).await.expect("topic");
    let results = log
        .append("t", vec![request(1, "k", b"v"), request(1, "k", b"v"), request(1, "k", b"w")])
        .await
        .expect("append");
    let first = match results[0] {
        Ok(Appended::New(p)) => p,
        ref other => panic!("{other:?}"),
    };
    assert_eq!(results[1].as_ref().expect("dup"), &Appended::Existing(first));
    assert!(matches!(results[2], Err(LogError::IdConflict { .. })));
    let partition = first.partition;
    assert_eq!(log.end_offset("t", partition).expect("end"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_commits_and_every_offset_is_used_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(EmbeddedLog::open(dir.path()).expect("open"));
    log.create_topic("t", 3).await.expect("topic");
    let mut tasks = Vec::new();
    for writer in 0..16u8 {
        let log = Arc::clone(&log);
        tasks.push(tokio::spawn(async move {
            let mut positions = Vec::new();
            for n in 0..50u8 {
                let mut id = [writer; 16];
                id[1] = n;
                let value = [writer, n];
                let req = AppendRequest {
                    id: EventId(id),
                    digest: Digest32(*blake3::hash(&value).as_bytes()),
                    key: format!("writer-{writer}").into_bytes(),
                    value: value.to_vec(),
                };
                let result = log.append("t", vec![req]).await.expect("append");
                positions.push(result[0].as_ref().expect("new").position());
            }
            positions
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let positions = task.await.expect("task");
        // One writer's records keep their order inside its partition.
        assert!(
            positions
                .windows(2)
                .all(|w| w[0].partition == w[1].partition && w[0].offset < w[1].offset)
        );
        all.extend(positions);
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 16 * 50, "two appends got the same position");
    let mut total = 0;
    for partition in 0..3 {
        let end = log.end_offset("t", partition).expect("end");
        let records = log.read("t", partition, 0, 10_000).await.expect("read");
        assert_eq!(records.len() as u64, end, "no holes");
        total += end;
    }
    assert_eq!(total, 16 * 50);
}

#[tokio::test]
async fn a_waiting_reader_wakes_on_append_and_times_out_otherwise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(EmbeddedLog::open(dir.path()).expect("open"));
    log.create_topic("t", 1).await.expect("topic");
    assert!(!log.wait_for("t", 0, 0, Duration::from_millis(20)).await.expect("wait"));
    let waiter = {
        let log = Arc::clone(&log);
        tokio::spawn(async move { log.wait_for("t", 0, 0, Duration::from_secs(30)).await })
    };
    tokio::task::yield_now().await;
    log.append("t", vec![request(9, "k", b"hello")]).await.expect("append");
    assert!(waiter.await.expect("join").expect("wait"));
    let records = log.read("t", 0, 0, 10).await.expect("read");
    assert_eq!(records[0].value, b"hello");
    assert_eq!(records[0].position, Position { partition: 0, offset: 0 });
}

#[tokio::test]
async fn records_and_topics_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let log = EmbeddedLog::open(dir.path()).expect("open");
        log.create_topic("t", 2).await.expect("topic");
        log.append("t", vec![request(1, "a", b"one"), request(2, "a", b"two")])
            .await
            .expect("append");
    }
    let log = EmbeddedLog::open(dir.path()).expect("reopen");
    assert_eq!(log.partitions("t").expect("topic kept"), 2);
    let partition = ledger::partition::partition_for(b"a", 2);
    assert_eq!(log.end_offset("t", partition).expect("end"), 2);
    let results = log.append("t", vec![request(1, "a", b"one"), request(3, "a", b"three")]).await;
    let results = results.expect("append");
    assert_eq!(results[0].as_ref().expect("dup").position().offset, 0);
    assert_eq!(
        results[1].as_ref().expect("new"),
        &Appended::New(Position { partition, offset: 2 })
    );
    let values: Vec<_> =
        log.read("t", partition, 1, 10).await.expect("read").into_iter().map(|r| r.value).collect();
    assert_eq!(values, [b"two".to_vec(), b"three".to_vec()]);
}

#[tokio::test]
async fn topic_and_request_errors_are_typed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = EmbeddedLog::open(dir.path()).expect("open");
    log.create_topic("t", 2).await.expect("topic");
    assert!(log.create_topic("t", 2).await.is_ok(), "re-creating the same topic is fine");
    let err = log.create_topic("t", 3).await.expect_err("partition mismatch");
    assert_eq!(err.to_string(), "topic \"t\" exists with 2 partitions, not 3");
    assert!(matches!(log.create_topic("bad topic", 1).await, Err(LogError::InvalidTopic { .. })));
    assert!(matches!(log.create_topic("t0", 0).await, Err(LogError::InvalidTopic { .. })));
    assert!(matches!(log.append("nope", vec![]).await, Err(LogError::UnknownTopic { .. })));
    assert!(matches!(log.read("t", 2, 0, 1).await, Err(LogError::NoSuchPartition { .. })));
    let huge = request(1, "k", &vec![0; ledger::limits::RECORD_SIZE_BYTES_MAX + 1]);
    assert!(matches!(log.append("t", vec![huge]).await, Err(LogError::RecordTooLarge { .. })));
    let long_key = request(1, &"k".repeat(300), b"v");
    assert!(matches!(log.append("t", vec![long_key]).await, Err(LogError::KeyTooLarge { .. })));
    assert_eq!(log.end_offset("t", 0).expect("end") + log.end_offset("t", 1).expect("end"), 0);
}

#[tokio::test]
async fn the_ledger_reopens_on_its_own_log() {
    let mut s = setup().await;
    let (citizen, registration) = s.world.register_citizen();
    accepted(s.ledger.append_one(registration).await);
    accepted(s.ledger.append_one(s.world.issue_marksheet(&citizen, "O-1")).await);
    let before = total_records(&s.ledger);
    drop(s.ledger);
    let reopened = open(&s.dir, &s.world).await;
    assert_eq!(total_records(&reopened), before);
    // The citizen's key is known again after the restart.
    let (consent, requested) = s.world.request_consent(&citizen);
    accepted(reopened.append_one(requested).await);
    accepted(
        reopened
            .append_one(s.world.grant_consent(&citizen, consent, "in.gov.cbse-HSCER-O-1"))
            .await,
    );
}
