//! Snapshots of this node's derived state (`store::snapshots`): taking one (on a schedule and
//! by an operator's signed request), and starting from the latest: the ledger's key registry
//! from it, and the views from it when this node has none (a new node, or one that lost its
//! disk), each then replaying only the log after the snapshot. A snapshot that does not check
//! out is refused, said so in the log, and the log replayed instead.

use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use futures_util::future::BoxFuture;
use ledger::snapshot::{Mark, check_mark, mark_at};
use ledger::{Ledger, LedgerConfig, Log};
use projections::Views;

use crate::store::snapshots::{Manifest, SnapshotError, Snapshots};

/// Takes a snapshot of this node's state (the service's view of a `NodeSnapshots`).
pub trait Snapshotter: Send + Sync {
    fn take(&self) -> BoxFuture<'_, Result<Manifest, SnapshotError>>;
}

/// The partitions a ledger's state covers, in the order marks are listed.
fn partitions(config: &LedgerConfig) -> Vec<(String, u32)> {
    let citizen = (0..config.citizen_partitions).map(|p| (config.citizen_topic.clone(), p));
    std::iter::once((config.directory_topic.clone(), 0)).chain(citizen).collect()
}

/// The marks of views at their positions in `log`.
async fn marks_of<L: Log>(
    views: &Views,
    log: &L,
    config: &LedgerConfig,
) -> Result<Vec<Mark>, SnapshotError> {
    let mut marks = Vec::new();
    for (topic, partition) in partitions(config) {
        let next =
            views.position(&topic, partition).map_err(|e| SnapshotError::Other(e.to_string()))?;
        let mark = mark_at(log, &topic, partition, next)
            .await
            .map_err(|e| SnapshotError::Other(e.to_string()))?;
        marks.push(mark);
    }
    Ok(marks)
}

/// Snapshots of one node's views and registry.
pub struct NodeSnapshots<L: Log> {
    pub snapshots: Arc<Snapshots>,
    pub ledger: Arc<Ledger<L>>,
    pub views: Arc<Views>,
    pub platform: SigningKey,
    pub clock: Arc<dyn ledger::clock::Clock>,
    /// One snapshot at a time.
    pub taking: tokio::sync::Mutex<()>,
}

impl<L: Log> std::fmt::Debug for NodeSnapshots<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSnapshots").field("snapshots", &self.snapshots).finish_non_exhaustive()
    }
}

impl<L: Log> NodeSnapshots<L> {
    async fn take_now(&self) -> Result<Manifest, SnapshotError> {
        let _one = self.taking.lock().await;
        let now_ms = self.clock.now().0;
        let mut tag = [0u8; 4];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut tag);
        let id = format!("{now_ms:013}-{}", schemas::to_hex(&tag));
        let registry =
            self.ledger.snapshot().await.map_err(|e| SnapshotError::Other(e.to_string()))?;
        let work = self.snapshots.scratch("take")?;
        let result = async {
            let checkpoint = work.join("views");
            let (views, at) = (Arc::clone(&self.views), checkpoint.clone());
            tokio::task::spawn_blocking(move || views.checkpoint(&at))
                .await
                .map_err(|e| SnapshotError::Other(e.to_string()))?
                .map_err(|e| SnapshotError::Other(format!("checkpoint the views: {e}")))?;
            let marks = {
                let copy = Views::open_read_only(&checkpoint)
                    .map_err(|e| SnapshotError::Other(format!("read the checkpoint: {e}")))?;
                marks_of(&copy, self.ledger.log().as_ref(), self.ledger.config()).await?
            };
            self.snapshots.store(&id, now_ms, marks, &checkpoint, &registry, &self.platform).await
        }
        .await;
        let _ = std::fs::remove_dir_all(&work);
        let manifest = result?;
        // The snapshot is stored; failing to remove old ones does not undo it.
        let pruned = match self.snapshots.prune(crate::limits::SNAPSHOTS_KEPT).await {
            Ok(pruned) => pruned,
            Err(e) => {
                tracing::warn!(error = %e, "old snapshots were not removed");
                0
            }
        };
        tracing::info!(
            id = %manifest.id,
            stored_bytes = manifest.stored_bytes(),
            pruned,
            "snapshot taken"
        );
        Ok(manifest)
    }
}

impl<L: Log> Snapshotter for NodeSnapshots<L> {
    fn take(&self) -> BoxFuture<'_, Result<Manifest, SnapshotError>> {
        Box::pin(self.take_now())
    }
}

/// The newest snapshot whose signature verifies, if any, looking back past refused ones (at
/// most `SNAPSHOTS_KEPT` and as many again, so junk in the bucket costs a bounded look); each
/// refused one is reported.
pub async fn latest(snapshots: &Snapshots) -> Option<Manifest> {
    let ids = match snapshots.ids().await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list snapshots; replaying the log");
            return None;
        }
    };
    for id in ids.iter().rev().take(2 * crate::limits::SNAPSHOTS_KEPT) {
        match snapshots.manifest(id).await {
            Ok(manifest) => return Some(manifest),
            Err(e) => tracing::warn!(error = %e, "a snapshot is refused; trying an older one"),
        }
    }
    None
}

/// The registry bytes of `manifest` (checked against it), or none if they cannot be had.
pub async fn registry_of(snapshots: &Snapshots, manifest: &Manifest) -> Option<Vec<u8>> {
    let fetched = async {
        let work = snapshots.scratch("registry")?;
        let file = work.join("registry");
        let result = snapshots.fetch(manifest, &manifest.registry, &file).await;
        let bytes = result.and_then(|()| Ok(std::fs::read(&file)?));
        let _ = std::fs::remove_dir_all(&work);
        bytes
    };
    match fetched.await {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            tracing::warn!(error = %e, "the snapshot's registry is refused; replaying the log");
            None
        }
    }
}

/// Restores the views of `manifest` into `target` (which must not exist): every file checked
/// against the manifest, the marks checked against `log`, and the restored views standing
/// exactly at the marks. On any failure nothing is left at `target`.
pub async fn restore_views<L: Log>(
    snapshots: &Snapshots,
    manifest: &Manifest,
    log: &L,
    config: &LedgerConfig,
    target: &Path,
) -> Result<(), SnapshotError> {
    let refuse = |reason: String| SnapshotError::Refused { id: manifest.id.clone(), reason };
    let covered: Vec<(String, u32)> =
        manifest.marks.iter().map(|m| (m.topic.clone(), m.partition)).collect();
    if covered != partitions(config) {
        return Err(refuse(format!("it covers {covered:?}, not this ledger's partitions")));
    }
    for mark in &manifest.marks {
        check_mark(log, mark).await.map_err(refuse)?;
    }
    let work = snapshots.scratch("restore")?;
    let result = async {
        let views = work.join("views");
        std::fs::create_dir_all(&views)?;
        for entry in &manifest.views {
            let name = entry
                .name
                .strip_prefix("views/")
                .filter(|n| !n.is_empty() && !n.contains('/') && !n.starts_with('.'))
                .ok_or_else(|| refuse(format!("{:?} is not a views file", entry.name)))?;
            snapshots.fetch(manifest, entry, &views.join(name)).await?;
        }
        {
            let restored = Views::open_read_only(&views)
                .map_err(|e| refuse(format!("the restored views do not open: {e}")))?;
            for mark in &manifest.marks {
                let at = restored
                    .position(&mark.topic, mark.partition)
                    .map_err(|e| refuse(e.to_string()))?;
                if at != mark.next {
                    return Err(refuse(format!(
                        "the views stand at {at}, the manifest says {mark}"
                    )));
                }
            }
        }
        // Each file was synced as it was written; the folder and its new name are too, so a
        // crash leaves whole views or none.
        std::fs::File::open(&views)?.sync_all()?;
        std::fs::rename(&views, target)?;
        if let Some(parent) = target.parent() {
            std::fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    }
    .await;
    let _ = std::fs::remove_dir_all(&work);
    result
}
