//! Removes the bytes of deleted uploads once no upload names them any more, so a citizen's
//! "delete" deletes the file, not just the entry.
//!
//! The views count live uploads per content hash (`upload_refs`) and list, by time, the content
//! each deleted upload named (`deleted_contents`). A sweep takes the deletions that are at least
//! `FILE_SWEEP_AFTER_MS` old past its cursor (`DATA/files-swept`), and, under
//! `Files::sweeping` (no upload is between storing its bytes and the views counting it) and
//! with every citizen partition applied up to the log's end (a count of 0 is not lag), removes
//! each content no upload names. Bytes an issuer pushed are pinned and stay (`files.rs`). The
//! cursor moves only after a batch is done, so a crash repeats a batch (removing is
//! idempotent); the age keeps a deletion logged a moment late, on another writer's clock,
//! from falling behind the cursor.

use std::path::Path;
use std::time::Duration;

use schemas::TimestampMs;

use crate::app::write::internal;
use crate::limits::{FILE_SWEEP_AFTER_MS, FILE_SWEEP_BATCH, FILE_SWEEP_MS};
use crate::{AppError, AppState};

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Deletions looked at.
    pub checked: usize,
    /// Files removed (content still named by another upload, or pinned, stays).
    pub removed: usize,
}

/// The cursor is the last swept key of `deleted_contents`, as its bytes.
fn read_cursor(path: &Path) -> Result<Option<Vec<u8>>, AppError> {
    match std::fs::read(path) {
        Ok(key) => Ok(Some(key)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(internal(format!("{}: {e}", path.display()))),
    }
}

fn save_cursor(path: &Path, key: &[u8]) -> Result<(), AppError> {
    let temporary = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        std::fs::write(&temporary, key)?;
        std::fs::File::open(&temporary)?.sync_all()?;
        std::fs::rename(&temporary, path)
    };
    write().map_err(|e| internal(format!("{}: {e}", path.display())))
}

/// One batch: removes what deletions old enough no longer leave named.
pub async fn sweep(state: &AppState, cursor: &Path) -> Result<Swept, AppError> {
    let until = TimestampMs(state.clock.now().0.saturating_sub(FILE_SWEEP_AFTER_MS));
    let after = read_cursor(cursor)?;
    let due = state.views.deleted_contents(after.as_deref(), until, FILE_SWEEP_BATCH)?;
    let Some(last) = due.last() else { return Ok(Swept::default()) };
    let _sweeping = state.files.sweeping().await;
    state.writes.applied_everywhere().await?;
    let mut unnamed = Vec::new();
    for content in &due {
        if state.views.upload_refs(&content.hash)? <= 0 {
            unnamed.push(content.hash);
        }
    }
    let mut removed = 0;
    for hash in &unnamed {
        removed += usize::from(state.files.remove(hash).await.map_err(internal)?);
    }
    save_cursor(cursor, &last.key)?;
    state.metrics.add(crate::app::metrics::Job::FilesRemoved, removed as u64);
    Ok(Swept { checked: due.len(), removed })
}

/// Sweeps every `FILE_SWEEP_MS` until the task is dropped.
pub async fn run(state: AppState, cursor: std::path::PathBuf) {
    loop {
        // One node of a cluster sweeps the shared store; its views may trail another's
        // new uploads by moments, which `FILE_SWEEP_AFTER_MS` covers.
        while state.writes.leads() {
            match sweep(&state, &cursor).await {
                Ok(swept) => {
                    if swept.removed > 0 {
                        tracing::info!(removed = swept.removed, "deleted uploads' files removed");
                    }
                    if swept.checked < FILE_SWEEP_BATCH {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(code = e.code.code(), message = %e.message, "file sweep failed; retrying later");
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(FILE_SWEEP_MS)).await;
    }
}
