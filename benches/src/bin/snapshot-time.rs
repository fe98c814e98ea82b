//! Snapshots of a node's derived state at scale (issue 17): the time and size of a snapshot of
//! views that projected EVENTS events, the time to restore it, and a takeover (restore, then
//! the `TAIL_EVENTS` events logged after the snapshot) beside a full replay of the same log
//! into empty views, in the same run. The restored-then-caught-up views must equal the rebuilt
//! ones, digest for digest (the audit's comparison).
//!
//! Snapshots go to a folder, and also to a real S3 server when LOCKER_S3_ENDPOINT is set
//! (scripts/bench starts one).
//!
//! Usage: snapshot-time [EVENTS]   (default 1,000,000)

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use ledger::world::World;
use ledger::{EmbeddedLog, Ledger};
use locker_benches::{MixedEvents, SEED};
use projections::{Projector, Views};
use server::store::blobs::{BlobSettings, Blobs, S3Settings};
use server::store::snapshots::{Manifest, Snapshots};

/// Events logged after the snapshot: the tail a takeover replays.
const TAIL_EVENTS: usize = 10_000;

/// Views over `log` at `path`, caught up; with the time it took.
async fn caught_up(
    log: &Arc<EmbeddedLog>,
    path: &Path,
) -> anyhow::Result<(Projector<EmbeddedLog>, f64)> {
    let (views, _) = Views::open(path)?;
    let world = World::new(SEED);
    let projector = Projector::new(
        Arc::clone(log),
        Arc::new(views),
        Arc::new(World::new(SEED)),
        &world.config(),
    );
    let start = Instant::now();
    projector.catch_up().await?;
    Ok((projector, start.elapsed().as_secs_f64()))
}

/// A snapshot of `projector`'s views and the ledger's registry into `blobs`; prints its time
/// and size.
async fn take(
    label: &str,
    blobs: Blobs,
    ledger: &Arc<Ledger<EmbeddedLog>>,
    projector: &Projector<EmbeddedLog>,
    scratch: &Path,
) -> anyhow::Result<(Arc<Snapshots>, Manifest)> {
    let platform = World::new(SEED).platform.clone();
    let snapshots = Arc::new(Snapshots::for_platform(blobs, &platform, scratch.to_owned()));
    let node = server::app::snapshot::NodeSnapshots {
        snapshots: Arc::clone(&snapshots),
        ledger: Arc::clone(ledger),
        views: Arc::clone(projector.views()),
        platform,
        clock: Arc::new(ledger::clock::SystemClock),
        taking: tokio::sync::Mutex::new(()),
    };
    let start = Instant::now();
    let manifest = server::app::snapshot::Snapshotter::take(&node).await?;
    println!(
        "  {label}: snapshot {:.1} s, {} files, {:.0} MB of views and registry stored as {:.0} MB",
        start.elapsed().as_secs_f64(),
        manifest.views.len() + 1,
        manifest.size_bytes() as f64 / 1e6,
        manifest.stored_bytes() as f64 / 1e6
    );
    Ok((snapshots, manifest))
}

/// A takeover: the snapshot restored into `target`, then the log after it; prints the times.
async fn takeover(
    label: &str,
    (snapshots, manifest): &(Arc<Snapshots>, Manifest),
    ledger: &Arc<Ledger<EmbeddedLog>>,
    target: &Path,
) -> anyhow::Result<Projector<EmbeddedLog>> {
    let start = Instant::now();
    server::app::snapshot::restore_views(
        snapshots,
        manifest,
        ledger.log().as_ref(),
        ledger.config(),
        target,
    )
    .await?;
    let restore_s = start.elapsed().as_secs_f64();
    let (projector, tail_s) = caught_up(ledger.log(), target).await?;
    println!(
        "  {label}: takeover {:.1} s = restore {restore_s:.1} s + tail {tail_s:.2} s",
        restore_s + tail_s
    );
    Ok(projector)
}

fn bucket() -> anyhow::Result<Option<Blobs>> {
    if std::env::var_os("LOCKER_S3_ENDPOINT").is_none() {
        return Ok(None);
    }
    let settings = S3Settings::from_env(
        std::env::var("LOCKER_S3_BUCKET").unwrap_or("locker-test".to_owned()),
        Some("snapshot-time".to_owned()),
        |name| std::env::var(name).ok(),
    )?;
    Ok(Some(Blobs::open(&BlobSettings::S3(settings))?))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let events: usize =
        std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    eprintln!("signing {events} mixed events...");
    let mut source = MixedEvents::new(1000);
    let mut records = source.registrations();
    records.extend(source.take(events.saturating_sub(records.len() + TAIL_EVENTS)));
    let log = locker_benches::logged(&dir.path().join("log"), &records).await?;
    drop(records);
    let ledger = Arc::new(Ledger::open(Arc::clone(&log), World::new(SEED).config()).await?);
    eprintln!("projecting...");
    let (projector, _) = caught_up(&log, &dir.path().join("views")).await?;
    println!(
        "snapshot-time: {events} events (embedded log), {TAIL_EVENTS} of them after the snapshot"
    );

    let folder = Blobs::open(&BlobSettings::Local(dir.path().join("objects")))?;
    let mut stores = vec![(
        "folder",
        take("folder", folder, &ledger, &projector, &dir.path().join("w1")).await?,
    )];
    match bucket()? {
        Some(bucket) => stores.push((
            "S3 bucket",
            take("S3 bucket", bucket, &ledger, &projector, &dir.path().join("w2")).await?,
        )),
        None => {
            println!("  S3 bucket: not measured (set LOCKER_S3_ENDPOINT; scripts/bench starts one)")
        }
    }
    drop(projector);
    for chunk in source.take(TAIL_EVENTS).chunks(1000) {
        for verdict in ledger.append(chunk.to_vec()).await? {
            verdict?;
        }
    }
    let (rebuilt, full_s) = caught_up(&log, &dir.path().join("rebuilt")).await?;
    println!("  full replay of the same log into empty views: {full_s:.1} s");
    for (index, (label, snapshot)) in stores.iter().enumerate() {
        let target = dir.path().join(format!("restored-{index}"));
        let restored = takeover(label, snapshot, &ledger, &target).await?;
        anyhow::ensure!(
            restored.views().digest()? == rebuilt.views().digest()?,
            "{label}: the restored views differ from a rebuild"
        );
    }
    println!("  every restored-then-caught-up store equals the rebuild (views digest)");
    Ok(())
}
