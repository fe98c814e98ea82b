use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use ledger::crypto::{VerifyItem, key_id_of, verify_one};
use ledger::world::World;
use ledger::{EmbeddedLog, Ledger, Log, Position};
use schemas::{EventId, KeyId};

const ROUNDS: u64 = 3;
const ACKS_BEFORE_KILL_MIN: usize = 1500;

/// Runs the writer until it has acknowledged enough events, kills it with SIGKILL, and returns
/// every acknowledgement it printed before dying.
fn run_and_kill(
    dir: &std::path::Path,
    round: u64,
    index_memtables_bytes: Option<usize>,
) -> Vec<(EventId, Position)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash-writer"))
        .arg(dir)
        .arg(round.to_string())
        .args(index_memtables_bytes.map(|bytes| bytes.to_string()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start crash-writer");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut acks = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acks.len() < ACKS_BEFORE_KILL_MIN {
        assert!(Instant::now() < deadline, "writer too slow: {} acks", acks.len());
        match lines_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => acks.push(line),
            Err(e) => panic!("writer stopped after {} acks: {e}", acks.len()),
        }
    }
    // SIGKILL: no destructor, no flush, no chance to finish a write batch cleanly.
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    reader.join().expect("reader");
    acks.extend(lines_rx.try_iter());
    acks.iter().map(|line| parse_ack(line)).collect()
}

fn parse_ack(line: &str) -> (EventId, Position) {
    let parts: Vec<&str> = line.split(' ').collect();
    assert_eq!(parts.len(), 4, "torn ack line {line:?}");
    assert_eq!(parts[0], "ACK");
    let id = EventId::from_hex(parts[1]).expect("id");
    let position = Position {
        partition: parts[2].parse().expect("partition"),
        offset: parts[3].parse().expect("offset"),
    };
    (id, position)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_survives_sigkill() {
    kill_and_check(None).await;
}

/// The log's index is written without RocksDB's WAL and flushed many times a round here: a
/// kill finds some of it on disk and loses the rest, and the index must come back whole, its
/// `segments/indexed` mark never ahead of the entries (else they would never be rewritten).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_survives_sigkill_between_index_flushes() {
    kill_and_check(Some(64 * 1024)).await;
}

/// Kills the writer `ROUNDS` times, each time reopening the log and checking every ack.
async fn kill_and_check(index_memtables_bytes: Option<usize>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = World::new(1);
    let keys: HashMap<KeyId, VerifyingKey> =
        [world.platform.verifying_key(), world.issuer.key.verifying_key()]
            .into_iter()
            .map(|key| (key_id_of(&key), key))
            .collect();
    let mut acknowledged: HashMap<EventId, Position> = HashMap::new();
    for round in 1..=ROUNDS {
        let acks = run_and_kill(dir.path(), round, index_memtables_bytes);
        assert!(acks.len() >= ACKS_BEFORE_KILL_MIN);
        for (id, position) in acks {
            assert!(acknowledged.insert(id, position).is_none(), "event {id} acknowledged twice");
        }

        // Reopen: the ledger must start on whatever the kill left, and hold every ack.
        let log = match index_memtables_bytes {
            Some(bytes) => EmbeddedLog::open_with_index_memtables(dir.path(), bytes),
            None => EmbeddedLog::open(dir.path()),
        };
        let log = Arc::new(log.expect("reopen after SIGKILL"));
        let ledger = Ledger::open(Arc::clone(&log), world.config()).await.expect("ledger reopens");
        let topic = ledger.config().citizen_topic.clone();
        let ids: Vec<EventId> = acknowledged.keys().copied().collect();
        let entries = log.lookup(&ids).await.expect("lookup");
        for (id, entry) in ids.iter().zip(entries) {
            let entry = entry.unwrap_or_else(|| panic!("acknowledged event {id} lost"));
            assert_eq!(entry.position, acknowledged[id], "event {id} moved");
        }

        // Every stored record is whole: it decodes, and its signature verifies. The partitions
        // have no holes (read refuses a missing offset).
        let mut stored = 0usize;
        let mut found = 0usize;
        ledger::scan_topic(log.as_ref(), &topic, |record| {
            let envelope = ledger::decode_logged(&topic, record).expect("no partial record");
            let message = schemas::signing_bytes(&envelope.event).expect("encode");
            let key = &keys[&envelope.event.key_id];
            let item = VerifyItem { message: &message, signature: &envelope.signature, key };
            assert!(verify_one(&item), "record at {:?} fails its signature", record.position);
            if acknowledged.get(&envelope.event.id) == Some(&record.position) {
                found += 1;
            }
            stored += 1;
            Ok::<(), ledger::LogError>(())
        })
        .await
        .expect("read every partition whole");
        assert_eq!(found, acknowledged.len(), "every ack found at its position by a full scan");
        assert!(stored >= acknowledged.len());
        eprintln!(
            "round {round}: {} acknowledged, {stored} stored, all intact",
            acknowledged.len()
        );
    }
}
