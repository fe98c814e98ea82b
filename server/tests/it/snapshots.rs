//! Snapshots of the views and the registry in a folder and in a real S3 bucket: one taken from
//! a real ledger and projector restores to views with the same digest; a manifest whose
//! signature was altered, one signed by another key, one copied under another id, and one
//! restored against another log are each refused (an older one that checks out is taken
//! instead); the stored files are sealed.

use std::sync::Arc;

use bytes::Bytes;
use ledger::world::World;
use ledger::{EmbeddedLog, Ledger};
use projections::{Projector, Views};
use server::app::snapshot::{NodeSnapshots, Snapshotter, latest, restore_views};
use server::store::blobs::{BlobSettings, Blobs};
use server::store::snapshots::{SnapshotError, Snapshots};

/// A ledger with a few events and its views caught up.
async fn node(dir: &std::path::Path) -> (Arc<Ledger<EmbeddedLog>>, Projector<EmbeddedLog>) {
    let mut world = World::new(3);
    let log = Arc::new(EmbeddedLog::open(dir.join("log")).expect("log"));
    let ledger = Arc::new(Ledger::open(Arc::clone(&log), world.config()).await.expect("ledger"));
    let (citizen, registration) = world.register_citizen();
    let records = vec![
        world.register_issuer(),
        world.register_requester(),
        registration,
        world.issue_marksheet(&citizen, "S-1"),
    ];
    for verdict in ledger.append(records).await.expect("append") {
        verdict.expect("accepted");
    }
    let (views, _) = Views::open(dir.join("views")).expect("views");
    let projector = Projector::new(log, Arc::new(views), Arc::new(World::new(3)), &world.config());
    projector.catch_up().await.expect("catch up");
    (ledger, projector)
}

fn snapshotter(
    blobs: Blobs,
    ledger: &Arc<Ledger<EmbeddedLog>>,
    projector: &Projector<EmbeddedLog>,
    platform: ed25519_dalek::SigningKey,
    scratch: &std::path::Path,
) -> NodeSnapshots<EmbeddedLog> {
    NodeSnapshots {
        snapshots: Arc::new(Snapshots::for_platform(
            blobs,
            &World::new(3).platform,
            scratch.to_owned(),
        )),
        ledger: Arc::clone(ledger),
        views: Arc::clone(projector.views()),
        platform,
        clock: Arc::new(ledger::clock::SystemClock),
        taking: tokio::sync::Mutex::new(()),
    }
}

fn refused(result: Result<impl std::fmt::Debug, SnapshotError>, why: &str) -> String {
    match result {
        Err(SnapshotError::Refused { reason, .. }) => reason,
        other => panic!("{why}: must be refused, got {other:?}"),
    }
}

async fn conformance(blobs: Blobs) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ledger, projector) = node(dir.path()).await;
    let node = snapshotter(blobs.clone(), &ledger, &projector, World::new(3).platform, dir.path());
    let manifest = node.take().await.expect("take");
    let snapshots = &node.snapshots;
    assert_eq!(latest(snapshots).await.as_ref(), Some(&manifest));
    // Sealed before they leave: no stored file is even a zstd frame any more, so no byte of
    // the views (names, e-KYC data opened for their owners) is readable in the bucket.
    let stored = blobs.list_objects(&format!("snapshots/{}", manifest.id)).await.expect("ls");
    for (name, _) in stored.iter().filter(|(name, _)| name.ends_with(".zst")) {
        let bytes = blobs.get_object(name).await.expect("get").expect("there");
        assert!(zstd::decode_all(&bytes[..]).is_err(), "{name} is stored in clear");
    }
    let target = dir.path().join("restored");
    restore_views(snapshots, &manifest, ledger.log().as_ref(), ledger.config(), &target)
        .await
        .expect("restore");
    let restored = Views::open_read_only(&target).expect("open restored");
    assert_eq!(restored.digest().expect("digest"), projector.views().digest().expect("digest"));

    // Restored against another log: its marks do not hold there.
    let other = EmbeddedLog::open(dir.path().join("other-log")).expect("other log");
    let config = ledger.config();
    ledger::Log::create_topic(&other, &config.directory_topic, 1).await.expect("topic");
    ledger::Log::create_topic(&other, &config.citizen_topic, config.citizen_partitions)
        .await
        .expect("topic");
    let elsewhere = dir.path().join("elsewhere");
    let reason = refused(
        restore_views(snapshots, &manifest, &other, ledger.config(), &elsewhere).await,
        "another log",
    );
    assert!(reason.contains("past the log's end"), "{reason}");
    assert!(!elsewhere.exists(), "a refused restore leaves nothing");

    // Copied under another (newer) id: the signed manifest names its own id.
    let copy = format!("{}-copy", manifest.id);
    for (name, _) in blobs.list_objects(&format!("snapshots/{}", manifest.id)).await.expect("ls") {
        let bytes = blobs.get_object(&name).await.expect("get").expect("there");
        let renamed = name.replacen(&manifest.id, &copy, 1);
        blobs.put_object(&renamed, bytes).await.expect("copy");
    }
    refused(snapshots.manifest(&copy).await, "a copy under another id");

    // The signature altered: refused, and the latest is then none (the log is replayed).
    let signature = format!("snapshots/{copy}/manifest.sig");
    let mut bytes = blobs.get_object(&signature).await.expect("get").expect("sig").to_vec();
    bytes[0] = if bytes[0] == b'0' { b'1' } else { b'0' };
    blobs.put_object(&signature, Bytes::from(bytes)).await.expect("tamper");
    let reason = refused(snapshots.manifest(&copy).await, "an altered signature");
    assert!(reason.contains("does not verify"), "{reason}");
    assert_eq!(latest(snapshots).await, Some(manifest.clone()), "past the refused newest");

    // Signed by a key that is not the platform's.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let forger = snapshotter(blobs.clone(), &ledger, &projector, stranger, dir.path());
    let forged = forger.take().await.expect("a stranger can write to the bucket");
    refused(snapshots.manifest(&forged.id).await, "signed by a stranger");
    assert_eq!(latest(snapshots).await, Some(manifest.clone()), "past the stranger's");
    // Pruning keeps the newest snapshots that verify: the stranger's do not push ours out.
    assert_eq!(snapshots.prune(1).await.expect("prune"), 0);
    assert_eq!(latest(snapshots).await, Some(manifest), "still there after pruning");
}

#[tokio::test]
async fn snapshots_in_a_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    conformance(Blobs::open(&BlobSettings::Local(dir.path().to_owned())).expect("open")).await;
}

#[tokio::test]
async fn snapshots_in_an_s3_bucket() {
    let Some(settings) = crate::blobs::test_bucket(&crate::blobs::fresh_prefix("snapshots")) else {
        return;
    };
    conformance(Blobs::open(&BlobSettings::S3(settings)).expect("open")).await;
}
