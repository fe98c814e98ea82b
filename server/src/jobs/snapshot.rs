//! Snapshots the node's views and key registry every `SNAPSHOT_EVERY_MS`, so that a start or a
//! takeover replays at most that much log. A failed snapshot is logged and tried again at the
//! next turn; the previous snapshots stay.

use std::sync::Arc;
use std::time::Duration;

use crate::app::snapshot::Snapshotter;
use crate::limits::SNAPSHOT_EVERY_MS;

/// Takes a snapshot every `SNAPSHOT_EVERY_MS` until the task is dropped.
pub async fn run(snapshots: Arc<dyn Snapshotter>, writes: Arc<crate::app::guard::WriteGuard>) {
    loop {
        tokio::time::sleep(Duration::from_millis(SNAPSHOT_EVERY_MS)).await;
        // One node of a cluster takes the snapshots every node restores from.
        if !writes.leads() {
            continue;
        }
        if let Err(e) = snapshots.take().await {
            tracing::warn!(error = %e, "snapshot failed; trying again at the next turn");
        }
    }
}
