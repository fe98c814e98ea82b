//! Applies an embedded log to its views one small batch at a time, printing `STEP <applied>`
//! after each committed batch and `DONE` at the end (first `FROM <offsets already applied>`). The crash test SIGKILLs it mid-way.
//!
//! Usage: projector-worker DATA_DIR SEED BATCH_RECORDS [MEMTABLES_BYTES]
//!
//! A small memtable budget makes the views flush many times during the run, so a kill lands
//! between flushes with some batches on disk and later ones lost.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, bail};
use ledger::world::World;
use ledger::{EmbeddedLog, Log};
use projections::{Projector, Views};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, seed, batch, memtables) = match args.as_slice() {
        [dir, seed, batch] => (dir, seed, batch, None),
        [dir, seed, batch, memtables] => (dir, seed, batch, Some(memtables)),
        _ => bail!("usage: projector-worker DATA_DIR SEED BATCH_RECORDS [MEMTABLES_BYTES]"),
    };
    let dir = std::path::Path::new(dir);
    let world = World::new(seed.parse().context("SEED")?);
    let config = world.config();
    let log = Arc::new(EmbeddedLog::open(dir.join("log")).context("open log")?);
    let (views, _) = match memtables {
        Some(bytes) => {
            Views::open_with_memtables(dir.join("views"), bytes.parse().context("MEMTABLES")?)
        }
        None => Views::open(dir.join("views")),
    }
    .context("open views")?;
    let projector = Projector::new(Arc::clone(&log), Arc::new(views), Arc::new(world), &config)
        .with_batch_records(batch.parse().context("BATCH_RECORDS")?);
    let mut partitions = vec![(config.directory_topic.clone(), 0)];
    for partition in 0..log.partitions(&config.citizen_topic)? {
        partitions.push((config.citizen_topic.clone(), partition));
    }
    let mut stdout = std::io::stdout();
    // Where the views stood when this run opened them: what the disk kept of earlier runs.
    let mut from = 0;
    for (topic, partition) in &partitions {
        from += projector.views().position(topic, *partition)?;
    }
    writeln!(stdout, "FROM {from}")?;
    let mut total = 0u64;
    loop {
        let mut progressed = false;
        for (topic, partition) in &partitions {
            let applied = projector.step(topic, *partition).await?;
            if applied > 0 {
                total += applied;
                progressed = true;
                writeln!(stdout, "STEP {total}")?;
                stdout.flush()?;
            }
        }
        if !progressed {
            writeln!(stdout, "DONE {total}")?;
            return Ok(());
        }
    }
}
