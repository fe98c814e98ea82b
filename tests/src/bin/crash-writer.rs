//! Appends signed marksheets to an embedded ledger as fast as it can, from several concurrent
//! tasks, and prints `ACK <event id> <partition> <offset>` for each event only after the ledger
//! acknowledged it as durable. The crash test kills it with SIGKILL mid-stream.
//!
//! Usage: crash-writer DATA_DIR ROUND [INDEX_MEMTABLES_BYTES]
//!
//! A small index memtable budget flushes the log's index many times during a round, so the
//! kill lands between flushes.

use std::io::Write;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use ledger::world::World;
use ledger::{Appended, EmbeddedLog, Ledger};

const WRITERS: usize = 4;
const CITIZENS_PER_WRITER: usize = 8;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(round)) = (args.next(), args.next()) else {
        bail!("usage: crash-writer DATA_DIR ROUND");
    };
    let round: u64 = round.parse().context("ROUND must be a number")?;
    let mut world = World::new(1);
    let log = match args.next() {
        Some(bytes) => {
            let bytes = bytes.parse().context("INDEX_MEMTABLES_BYTES must be a number")?;
            EmbeddedLog::open_with_index_memtables(&dir, bytes)
        }
        None => EmbeddedLog::open(&dir),
    };
    let log = Arc::new(log.context("open log")?);
    let ledger = Arc::new(Ledger::open(log, world.config()).await.context("open ledger")?);
    // Identical bytes in every round, so later rounds see them as already present.
    for verdict in ledger.append(vec![world.register_issuer(), world.register_requester()]).await? {
        verdict.context("registration")?;
    }
    world.reseed(round);
    let stdout = Arc::new(Mutex::new(std::io::stdout()));
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let mut citizens = Vec::new();
        let mut registrations = Vec::new();
        for _ in 0..CITIZENS_PER_WRITER {
            let (citizen, record) = world.register_citizen();
            citizens.push(citizen);
            registrations.push(record);
        }
        for verdict in ledger.append(registrations).await? {
            verdict.context("citizen registration")?;
        }
        let mut writer_world = World::new(1);
        writer_world.reseed(round * 1000 + writer as u64 + 1);
        let ledger = Arc::clone(&ledger);
        let stdout = Arc::clone(&stdout);
        let prefix = format!("R{round}-W{writer}");
        tasks.push(tokio::spawn(write_forever(ledger, writer_world, citizens, prefix, stdout)));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Appends marksheets in batches of 1 to 48 until killed, printing each acknowledged event.
async fn write_forever(
    ledger: Arc<Ledger<EmbeddedLog>>,
    mut world: World,
    citizens: Vec<ledger::world::Citizen>,
    prefix: String,
    stdout: Arc<Mutex<std::io::Stdout>>,
) -> anyhow::Result<()> {
    let mut n = 0usize;
    loop {
        let batch_len = 1 + n % 48;
        let mut records = Vec::with_capacity(batch_len);
        let mut ids = Vec::with_capacity(batch_len);
        for _ in 0..batch_len {
            let citizen = &citizens[n % citizens.len()];
            let envelope = world.marksheet_envelope(citizen, &format!("{prefix}-{n}"));
            ids.push(envelope.event.id);
            records.push(schemas::encode_record(&envelope)?);
            n += 1;
        }
        let verdicts = ledger.append(records).await?;
        let mut out = stdout.lock().map_err(|_| anyhow::anyhow!("stdout lock"))?;
        for (id, verdict) in ids.iter().zip(verdicts) {
            match verdict? {
                Appended::New(p) => writeln!(out, "ACK {id} {} {}", p.partition, p.offset)?,
                Appended::Existing(_) => bail!("event {id} unexpectedly present"),
            }
        }
        out.flush()?;
    }
}
