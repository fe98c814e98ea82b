//! The auditor's replay (`ledger::audit`, what `locker audit verify` runs) against the raw
//! parallel Ed25519 batch-verify rate measured in the same run: signatures are the physical
//! limit of an audit.
//!
//! Usage: audit-ratio [EVENTS]   (default 1,000,000)

use std::time::Instant;

use ledger::audit::{AuditOptions, audit};
use ledger::world::World;
use locker_benches::{MixedEvents, SEED};

const RAW_SIGNATURES: usize = 200_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let events: usize =
        std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    eprintln!("signing {events} mixed events...");
    let mut source = MixedEvents::new(1000);
    let mut records = source.registrations();
    records.extend(source.take(events.saturating_sub(records.len())));
    let world = World::new(SEED);
    let log = locker_benches::logged(&dir.path().join("log"), &records).await?;
    let total = records.len() as u64;
    drop(records);

    let raw = locker_benches::raw_verify_rate(RAW_SIGNATURES)?;

    let options = AuditOptions { checkpoint_topic: None, ledger_key: None, trusted: Vec::new() };
    let start = Instant::now();
    let report = audit(log.as_ref(), &world.config(), &options, |n, _| {
        if n.is_multiple_of(1 << 18) {
            eprintln!("  {n} replayed");
        }
    })
    .await?;
    let seconds = start.elapsed().as_secs_f64();
    anyhow::ensure!(report.failure.is_none(), "{:?}", report.failure);
    anyhow::ensure!(report.records == total, "{} of {total}", report.records);
    let rate = total as f64 / seconds;
    println!("audit-ratio: {total} events");
    println!("  raw parallel batch verify: {raw:.0} signatures/s (same run)");
    println!(
        "  audit replay: {seconds:.1} s = {rate:.0} events/s = {:.0}% of raw; 10 million would take about {:.0} s",
        100.0 * rate / raw,
        1e7 / rate
    );
    // The next audit resumes after this one's roots: everything is rehashed and compared,
    // nothing re-verified.
    let resume = AuditOptions { trusted: report.roots.clone(), ..options };
    let start = Instant::now();
    let resumed = audit(log.as_ref(), &world.config(), &resume, |_, _| {}).await?;
    let seconds = start.elapsed().as_secs_f64();
    anyhow::ensure!(resumed.failure.is_none(), "{:?}", resumed.failure);
    anyhow::ensure!(resumed.trusted_records == total, "{} of {total}", resumed.trusted_records);
    println!(
        "  resumed after the first audit's roots: {seconds:.1} s = {:.0} events/s = {:.1}x raw verify",
        total as f64 / seconds,
        total as f64 / seconds / raw
    );
    Ok(())
}
