//! The ledger integration tests: one binary, against the real embedded RocksDB log.

/// The validated append path: every kind of bad input, each with its own error.
mod append;
/// The auditor's replay: intact, and tampered with in each way, found at its position.
mod audit;
/// Batch-signed issuance: one signature over a Merkle root, each event verified alone.
mod batch;
/// Proof bundles: made from the log and trees, verified offline, refused when altered.
mod bundle;
/// The `Log` conformance suite, run against the embedded log and a real Kafka broker.
mod conformance;
/// Ownership on Kafka: a claim fences the previous owner; nothing is written twice.
mod fencing;
/// What only Kafka has: index rebuilt from headers, foreign topics and records, no cluster.
mod kafka;
/// The ledger over its log: retries, conflicts, reopening.
mod log;
/// Each partition's Merkle tree fed from the log, persisted, and proving.
mod merkle;
/// The embedded log changed behind its back, as with the disk in hand.
mod raw;
/// Key lifecycle: rotation, revocation, suspension, and the registry after a restart.
mod registry;
/// The embedded log's segments: torn tails, lost index entries, logs from before segments.
mod segments;
/// Records changed behind the log's back: holes and undecodable records are named.
mod tamper;

use std::sync::Arc;

use ledger::world::World;
use ledger::{EmbeddedLog, Ledger, Log, Verdict};

#[derive(Debug)]
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub world: World,
    pub ledger: Ledger<EmbeddedLog>,
}

/// A fresh log with the world's issuer and requester registered.
pub async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut world = World::new(42);
    let ledger = open(&dir, &world).await;
    let registrations = vec![world.register_issuer(), world.register_requester()];
    for verdict in ledger.append(registrations).await.expect("append") {
        verdict.expect("registration accepted");
    }
    Setup { dir, world, ledger }
}

pub async fn open(dir: &tempfile::TempDir, world: &World) -> Ledger<EmbeddedLog> {
    let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).expect("open log"));
    Ledger::open(log, world.config()).await.expect("open ledger")
}

/// How many records the ledger's topics hold in all.
pub async fn total_records<L: Log>(ledger: &Ledger<L>) -> u64 {
    let config = ledger.config();
    let mut total = 0;
    for topic in [&config.directory_topic, &config.citizen_topic] {
        for partition in 0..ledger.log().partitions(topic).expect("partitions") {
            total += ledger.log().end_offset(topic, partition).await.expect("end");
        }
    }
    total
}

pub fn accepted(verdict: Verdict) -> ledger::Position {
    match verdict {
        Ok(ledger::Appended::New(position)) => position,
        other => panic!("expected a new append, got {other:?}"),
    }
}
