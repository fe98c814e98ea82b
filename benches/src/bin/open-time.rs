//! How long `Ledger::open` takes as history grows: without a snapshot the ledger rebuilds its
//! key registry by decoding both topics from the start, so a start grows with the log; from a
//! registry snapshot it reads the snapshot and only the tail after it (here the last
//! `TAIL_EVENTS` events). Measured beside the embedded log's own open (RocksDB) in the same run.
//!
//! Usage: open-time [EVENTS]   (default 1,000,000)

use std::sync::Arc;
use std::time::Instant;

use ledger::world::World;
use ledger::{EmbeddedLog, Ledger};
use locker_benches::{MixedEvents, SEED};

/// Events appended after the snapshot: the tail a start from it replays.
const TAIL_EVENTS: usize = 10_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let events: usize =
        std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("log");
    eprintln!("signing {events} mixed events...");
    let mut source = MixedEvents::new(1000);
    let mut records = source.registrations();
    records.extend(source.take(events.saturating_sub(records.len() + TAIL_EVENTS)));
    let total = records.len() + TAIL_EVENTS;
    drop(locker_benches::logged(&path, &records).await?);
    drop(records);
    let snapshot = {
        let log = Arc::new(EmbeddedLog::open(&path)?);
        let ledger = Ledger::open(Arc::clone(&log), World::new(SEED).config()).await?;
        let snapshot = ledger.snapshot().await?;
        for _ in 0..TAIL_EVENTS / 1000 {
            for verdict in ledger.append(source.take(1000)).await? {
                verdict?;
            }
        }
        snapshot
    };

    let start = Instant::now();
    let log = Arc::new(EmbeddedLog::open(&path)?);
    let log_open_ms = start.elapsed().as_secs_f64() * 1e3;
    let start = Instant::now();
    let ledger = Ledger::open(Arc::clone(&log), World::new(SEED).config()).await?;
    let ledger_open_ms = start.elapsed().as_secs_f64() * 1e3;
    drop(ledger);
    drop(log);
    let log = Arc::new(EmbeddedLog::open(&path)?);
    let start = Instant::now();
    let (ledger, how) =
        Ledger::open_from(Arc::clone(&log), World::new(SEED).config(), Some(&snapshot)).await?;
    let snapshot_open_ms = start.elapsed().as_secs_f64() * 1e3;
    anyhow::ensure!(
        matches!(how, ledger::Start::Snapshot { .. }),
        "the snapshot was not used: {how:?}"
    );
    drop(ledger);
    println!("open-time: {total} events in the log (embedded)");
    println!("  the log's own open (RocksDB): {log_open_ms:8.1} ms");
    println!(
        "  Ledger::open (registry from history): {ledger_open_ms:8.1} ms = {:.2} us an event",
        ledger_open_ms * 1e3 / total as f64
    );
    println!(
        "  Ledger::open_from (registry snapshot of {} bytes + {TAIL_EVENTS} events' tail): {snapshot_open_ms:8.1} ms ({how:?})",
        snapshot.len()
    );
    Ok(())
}
