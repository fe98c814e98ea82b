//! `locker audit verify` on a real deployment's data: the demo served and checkpointed by the
//! real binary, then a record's signature changed in the stopped store: the audit names it.

use std::time::Duration;

use ledger::{EmbeddedLog, Log};

use crate::journey::{gateway, locker, owned, serve};

/// The views' RocksDB opened raw, with the counters' merge operator as the views define it
/// (without it, recovering the write-ahead log loses data).
/// Flips a bit of a citizen record's signature on disk, as someone with the disk would: the
/// layout of `log/embedded.rs` and `log/segment.rs` (index entry: segment position and frame
/// length; the frame's CRC-32 made good again, since a checksum is no seal).
fn forge_signature_byte(log: &std::path::Path, partition: u32, offset: u64, signature: &[u8]) {
    use std::os::unix::fs::FileExt;
    let db = rocksdb::DB::open_cf(
        &rocksdb::Options::default(),
        log,
        ["records", "index", "ids", "meta"],
    )
    .expect("raw store");
    let index = db.cf_handle("index").expect("index");
    // Topic id (the citizen topic is 1), partition, offset.
    let key: Vec<u8> = [1u32.to_be_bytes(), partition.to_be_bytes()]
        .concat()
        .into_iter()
        .chain(offset.to_be_bytes())
        .collect();
    let entry = db.get_cf(index, &key).expect("get").expect("index entry");
    let position = u64::from_le_bytes(entry[..8].try_into().expect("position"));
    let len = u32::from_le_bytes(entry[8..12].try_into().expect("length")) as usize;
    let segment_bytes = ledger::limits::SEGMENT_BYTES;
    let base = position - position % segment_bytes;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(log.join("segments").join(format!("{base:020}.seg")))
        .expect("segment");
    let mut frame = vec![0u8; len];
    file.read_exact_at(&mut frame, position - base).expect("read");
    let at = frame.windows(64).position(|w| w == signature).expect("signature bytes");
    frame[at + 3] ^= 0x40;
    let crc = crc32fast::hash(&frame[8..]);
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
    file.write_all_at(&frame, position - base).expect("write");
}

pub(crate) fn raw_views(path: &std::path::Path) -> rocksdb::DB {
    fn add(
        _: &[u8],
        existing: Option<&[u8]>,
        operands: &rocksdb::MergeOperands,
    ) -> Option<Vec<u8>> {
        let value = |b: &[u8]| i64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
        let total =
            operands.into_iter().fold(existing.map_or(0, value), |t, o| t.wrapping_add(value(o)));
        Some(total.to_le_bytes().to_vec())
    }
    let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), path).expect("cfs");
    let descriptors = families.iter().map(|name| {
        let mut options = rocksdb::Options::default();
        if name == "counters" {
            options.set_merge_operator_associative("add_i64", add);
        }
        rocksdb::ColumnFamilyDescriptor::new(name, options)
    });
    rocksdb::DB::open_cf_descriptors(&rocksdb::Options::default(), path, descriptors)
        .expect("raw views")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_names_a_forged_record_in_a_served_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (gateway_url, _sms) = gateway().await;
    let server = serve(&data, &gateway_url, None);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    drop(server);
    let verify = owned(&["audit", "verify", "--data", data.to_str().expect("path")]);
    let (ok, out, err) = locker(verify.clone()).await;
    assert!(ok && out.contains("OK"), "{out} {err}");
    assert!(out.contains("views match a rebuild from the log"), "{out}");

    // A view changed behind the projector's back (the demo citizen's profile, here): the
    // views no longer match what the log says they are.
    {
        let path = data.join("views");
        let db = raw_views(&path);
        let profiles = db.cf_handle("profiles").expect("profiles");
        let (key, mut value) = db
            .iterator_cf(profiles, rocksdb::IteratorMode::Start)
            .next()
            .expect("a profile")
            .expect("read");
        let original = value.to_vec();
        let last = value.len() - 1;
        value[last] ^= 1;
        db.put_cf(profiles, &key, &value).expect("put");
        drop(db);
        let (ok, out, _) = locker(verify.clone()).await;
        assert!(!ok, "altered views must fail the audit: {out}");
        assert!(out.contains("the live views (digest"), "{out}");
        let db = raw_views(&path);
        let profiles = db.cf_handle("profiles").expect("profiles");
        db.put_cf(profiles, &key, &original).expect("restore");
    }
    let (ok, out, err) = locker(verify.clone()).await;
    assert!(ok, "restored: {out} {err}");

    // Change one signature byte of a citizen record, behind the log's back.
    let (partition, offset, signature) = {
        let log = EmbeddedLog::open(data.join("log")).expect("open");
        let mut found = None;
        for partition in 0..log.partitions("locker.events").expect("partitions") {
            if let Some(record) =
                log.read("locker.events", partition, 1, 1).await.expect("read").into_iter().next()
            {
                let signature = schemas::decode_record(&record.value).expect("decode").signature.0;
                found = Some((partition, 1u64, signature));
                break;
            }
        }
        found.expect("a partition with two records")
    };
    forge_signature_byte(&data.join("log"), partition, offset, &signature);
    let (ok, out, _) = locker(verify).await;
    assert!(!ok, "a forged record must fail the audit: {out}");
    assert!(out.contains(&format!("FAILED at locker.events/{partition} offset {offset}")), "{out}");
}

/// A record forged by someone with write access to the Kafka topic, produced by a plain Kafka
/// client (no ledger, no headers): it claims to be the exam board's, under the board's key id,
/// but is signed with another key. The audit names its partition and offset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_names_a_record_forged_straight_into_kafka() {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let Some(brokers) = crate::kafka_bootstrap() else { return };
    let prefix = format!("forged{}", std::process::id());
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (gateway_url, _sms) = gateway().await;
    let server = serve(&data, &gateway_url, Some((&brokers, &prefix)));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    drop(server);
    let verify = owned(&[
        "audit",
        "verify",
        "--data",
        data.to_str().expect("path"),
        "--kafka",
        &brokers,
        "--topic-prefix",
        &prefix,
    ]);
    let (ok, out, err) = locker(verify.clone()).await;
    assert!(ok && out.contains("OK"), "{out} {err}");

    // The board's real key id, a stranger's signature.
    let board = ledger::keyfile::read(&data.join("demo-keys/in.gov.cbse.key")).expect("board key");
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[77; 32]);
    // Whose locker does not matter: the signature gives the record away.
    let locker_id = schemas::LockerId([6; 16]);
    let uri = schemas::DocUri::parse("in.gov.cbse-HSCER-2024-6666666").expect("uri");
    let event = schemas::Event {
        id: ledger::crypto::issue_event_id(&uri),
        occurred_at_ms: ledger::clock::Clock::now(&ledger::clock::SystemClock),
        actor: schemas::Actor::Issuer(schemas::IssuerId::parse("in.gov.cbse").expect("issuer")),
        key_id: ledger::crypto::key_id_of(&board.verifying_key()),
        payload: schemas::Payload::DocumentIssued(schemas::DocumentIssued {
            uri,
            recipient: schemas::Recipient::Locker(locker_id),
            name: schemas::Label::parse("Class XII Marksheet").expect("label"),
            issued_on: schemas::CivilDate::from_ymd(2024, 5, 13).expect("date"),
            valid_from: None,
            valid_to: None,
            content: schemas::ContentRef {
                hash: schemas::Digest32([6; 32]),
                media_type: schemas::MediaType::Pdf,
                size_bytes: 1000,
            },
            personal: None,
        }),
    };
    let signature = ed25519_dalek::Signer::sign(
        &stranger,
        &schemas::signing_bytes(&event).expect("signing bytes"),
    );
    let forged = schemas::encode_record(&schemas::Envelope {
        event,
        signature: schemas::SignatureBytes(signature.to_bytes()),
        sealed: None,
        batch: None,
    })
    .expect("encode");
    let topic = format!("{prefix}.events");
    let partition = 1u32;
    let offset = {
        let log = ledger::KafkaLog::open(ledger::KafkaSettings::single_broker(
            &brokers,
            dir.path().join("index"),
        ))
        .await
        .expect("kafka");
        log.create_topic(&topic, ledger::LedgerConfig::new(vec![]).citizen_partitions)
            .await
            .expect("topic");
        log.end_offset(&topic, partition).await.expect("end offset")
    };
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .expect("a plain producer");
    let delivery = producer
        .send(
            FutureRecord::<[u8], [u8]>::to(&topic)
                .partition(i32::try_from(partition).expect("partition"))
                .payload(&forged),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .expect("the broker took the forged record");
    assert_eq!(u64::try_from(delivery.offset).expect("offset"), offset);

    let (ok, out, _) = locker(verify).await;
    assert!(!ok, "a forged record must fail the audit: {out}");
    assert!(out.contains(&format!("FAILED at {topic}/{partition} offset {offset}")), "{out}");
}

/// `locker monitor` against a running service: a first round remembers the checkpoints, a
/// later one proves the growth consistent, and a remembered checkpoint the log does not extend
/// (a fork, signed with the real key) fails the round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_watches_the_log_grow_and_catches_a_fork() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (gateway_url, _sms) = gateway().await;
    let server = serve(&data, &gateway_url, None);
    let url = format!("http://{}", server.address);
    let platform = ledger::keyfile::read(&data.join("platform.key")).expect("platform key");
    let key_hex: String =
        platform.verifying_key().to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let state = dir.path().join("monitor.json");
    let monitor = owned(&[
        "monitor",
        "--server",
        &url,
        "--ledger-key",
        &key_hex,
        "--state",
        state.to_str().expect("path"),
    ]);
    // The first checkpoints come within a second of the demo being logged.
    let mut out = String::new();
    for _ in 0..50 {
        let (ok, printed, err) = locker(monitor.clone()).await;
        assert!(ok, "{printed} {err}");
        if printed.contains("first seen") {
            out = printed;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(out.contains("first seen"), "the first round remembers the checkpoints: {out}");

    // The citizen uploads; asking for the upload's bundle makes the service checkpoint it.
    let asha = client::citizen::Public::new(&url)
        .expect("server url")
        .log_in("asha", server::app::demo::DEMO_PASSWORD)
        .await
        .expect("login");
    let uploaded = asha.upload("a.pdf", b"%PDF-1.7\n% monitor\n".to_vec()).await.expect("upload");
    asha.upload_bundle(&uploaded.id).await.expect("bundle");
    let (ok, out, err) = locker(monitor.clone()).await;
    assert!(ok, "{out} {err}");
    assert!(out.contains("consistently"), "{out}");

    // A fork: the state remembers a checkpoint of the same partition whose root the log does
    // not extend, signed with the real ledger key (as a misbehaving operator could).
    let notes: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("state")).expect("notes");
    let grown = notes
        .iter()
        .map(|n| ledger::merkle::SignedCheckpoint::from_note(n.as_bytes()).expect("note"))
        .find(|c| c.checkpoint.topic == "locker.events" && c.checkpoint.size > 1)
        .expect("a citizen partition with records");
    let forked = ledger::merkle::Checkpoint {
        size: grown.checkpoint.size - 1,
        root: schemas::Digest32([7; 32]),
        ..grown.checkpoint.clone()
    }
    .sign(&platform);
    let mut notes: Vec<String> = notes
        .into_iter()
        .filter(|n| {
            let c = ledger::merkle::SignedCheckpoint::from_note(n.as_bytes()).expect("note");
            c.checkpoint.topic != forked.checkpoint.topic
                || c.checkpoint.partition != forked.checkpoint.partition
        })
        .collect();
    notes.push(String::from_utf8(forked.to_note()).expect("text"));
    std::fs::write(&state, serde_json::to_string(&notes).expect("json")).expect("state");
    let (ok, out, _) = locker(monitor).await;
    assert!(!ok, "a fork must fail the round: {out}");
    assert!(out.contains("does not extend the one of"), "{out}");
    drop(server);
}
