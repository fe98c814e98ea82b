//! Projection speed against raw RocksDB on the same machine in the same run: a one-shot
//! rebuild of every view from the embedded log (events/s vs raw batched puts/s), and My
//! Certificates queries (queries/s vs raw point gets/s), including a locker with 10,000
//! documents beside ordinary ones.
//!
//! Usage: projection-ratio [EVENTS]   (default 1,000,000)

use std::sync::Arc;
use std::time::Instant;

use ledger::world::World;
use locker_benches::{MixedEvents, SEED};
use projections::{Projector, Views};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use rocksdb::{DB, WriteBatch};

const RAW_OPS: usize = 1_000_000;
const QUERIES: usize = 20_000;

fn raw_baseline(dir: &std::path::Path) -> anyhow::Result<(f64, f64)> {
    let db = DB::open_default(dir)?;
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut keys = Vec::with_capacity(RAW_OPS);
    let value = vec![7u8; 200];
    let start = Instant::now();
    for _ in 0..RAW_OPS / 1000 {
        let mut batch = WriteBatch::default();
        for _ in 0..1000 {
            let mut key = [0u8; 16];
            rng.fill_bytes(&mut key);
            batch.put(key, &value);
            keys.push(key);
        }
        db.write(batch)?;
    }
    let puts = RAW_OPS as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut found = 0usize;
    for _ in 0..QUERIES * 5 {
        let key = &keys[rng.next_u32() as usize % keys.len()];
        found += usize::from(db.get(key)?.is_some());
    }
    anyhow::ensure!(found == QUERIES * 5);
    let gets = (QUERIES * 5) as f64 / start.elapsed().as_secs_f64();
    Ok((puts, gets))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let events: usize =
        std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    eprintln!("signing {events} mixed events...");
    let mut source = MixedEvents::new(1000);
    let heavy = source.heavy_citizen();
    let mut records = source.registrations();
    records.extend(source.marksheets_for_heavy(10_000));
    records.extend(source.take(events.saturating_sub(records.len())));
    let world = World::new(SEED);
    let log = locker_benches::logged(&dir.path().join("log"), &records).await?;
    let total = records.len();
    drop(records);

    let (raw_puts, raw_gets) = raw_baseline(&dir.path().join("raw"))?;
    let (views, _) = Views::open(dir.path().join("views"))?;
    let projector = Projector::new(
        Arc::clone(&log),
        Arc::new(views),
        Arc::new(World::new(SEED)),
        &world.config(),
    );
    let start = Instant::now();
    let applied = projector.catch_up().await?;
    let rebuild_s = start.elapsed().as_secs_f64();
    anyhow::ensure!(applied == total as u64, "applied {applied} of {total}");
    let rebuild = applied as f64 / rebuild_s;
    println!("raw RocksDB: {raw_puts:.0} batched puts/s, {raw_gets:.0} point gets/s (same run)");
    println!(
        "rebuild: {applied} events in {rebuild_s:.1} s = {rebuild:.0} events/s = {:.0}% of raw puts/s",
        100.0 * rebuild / raw_puts
    );

    let views = projector.views();
    let citizens = source.citizens();
    let now = schemas::TimestampMs(0);
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    for (label, page) in [("first page of 10", 10usize), ("one document", 1)] {
        let start = Instant::now();
        for _ in 0..QUERIES {
            let citizen = &citizens[rng.next_u32() as usize % citizens.len()];
            let result = views.certificates(&citizen.locker, now, None, page)?;
            anyhow::ensure!(!result.items.is_empty());
        }
        let rate = QUERIES as f64 / start.elapsed().as_secs_f64();
        println!(
            "My Certificates, {label}: {rate:.0} queries/s = {:.0}% of raw gets/s",
            100.0 * rate / raw_gets
        );
    }
    let latency = |locker: &schemas::LockerId| -> anyhow::Result<f64> {
        let start = Instant::now();
        for _ in 0..2000 {
            views.certificates(locker, now, None, 10)?;
        }
        Ok(start.elapsed().as_secs_f64() / 2000.0 * 1e6)
    };
    let heavy_us = latency(&heavy.locker)?;
    let light = &citizens[0];
    let light_us = latency(&light.locker)?;
    let heavy_docs = views.my_issuers(&heavy.locker)?.iter().map(|i| i.documents).sum::<i64>();
    let light_docs = views.my_issuers(&light.locker)?.iter().map(|i| i.documents).sum::<i64>();
    println!(
        "first page latency: locker with {heavy_docs} documents {heavy_us:.1} us, with {light_docs} documents {light_us:.1} us"
    );
    Ok(())
}
