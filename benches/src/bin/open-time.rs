//! How long `Ledger::open` takes as history grows (issue 17's "before"): the ledger rebuilds
//! its key registry by decoding the citizen topic from the start, so a node's start grows with
//! the log. Measured beside the embedded log's own open (RocksDB) in the same run.
//!
//! Usage: open-time [EVENTS]   (default 1,000,000)

use std::sync::Arc;
use std::time::Instant;

use ledger::world::World;
use ledger::{EmbeddedLog, Ledger};
use locker_benches::{MixedEvents, SEED};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let events: usize =
        std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("log");
    eprintln!("signing {events} mixed events...");
    let mut source = MixedEvents::new(1000);
    let mut records = source.registrations();
    records.extend(source.take(events.saturating_sub(records.len())));
    let total = records.len();
    drop(locker_benches::logged(&path, &records).await?);
    drop(records);

    let start = Instant::now();
    let log = Arc::new(EmbeddedLog::open(&path)?);
    let log_open_ms = start.elapsed().as_secs_f64() * 1e3;
    let start = Instant::now();
    let ledger = Ledger::open(Arc::clone(&log), World::new(SEED).config()).await?;
    let ledger_open_ms = start.elapsed().as_secs_f64() * 1e3;
    drop(ledger);
    println!("open-time: {total} events in the log (embedded)");
    println!("  the log's own open (RocksDB): {log_open_ms:8.1} ms");
    println!(
        "  Ledger::open (registry from history): {ledger_open_ms:8.1} ms = {:.2} us an event",
        ledger_open_ms * 1e3 / total as f64
    );
    Ok(())
}
