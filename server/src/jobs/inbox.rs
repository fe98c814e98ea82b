//! The issuers' inbox: an issuer inside the network may produce its signed documents straight
//! to the topic `<prefix>.inbox` (each record one bulk row: a single push's JSON body) instead
//! of calling HTTP. The service consumes it partition by partition and runs every batch
//! through the same path as `POST /v1/issuer/batches` (`bulk::process`): the same checks, the
//! same signatures verified, the same verdicts. A record the service refuses goes to
//! `<prefix>.dead-letter` with its inbox position and the reason, never silently dropped.
//!
//! Delivery is at least once and safe to repeat: a batch is processed, its refusals written
//! (each dead letter's id is derived from its inbox position, so a repeat adds none), and only
//! then is the partition's next offset saved (`DATA/inbox/<partition>`, written aside and
//! renamed). A crash in between processes the batch again: accepted rows answer
//! `already_present`, dead letters are not duplicated.
//!
//! The inbox carries personal fields in clear, as the HTTP body does, so on Kafka it is a
//! transient topic: created with `limits::INBOX_RETENTION_MS` (an operator may set another),
//! never indexed, read from its oldest kept record if the service was down longer than that (the
//! lost records are counted in the log, loudly). Restrict who may produce to it. Dead letters
//! are kept like the ledger, so they carry the refused record without its personal fields and
//! content, with the whole record's size and BLAKE3 for the issuer to find it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ledger::Log;
use ledger::log::AppendRequest;
use schemas::{Digest32, EventId};

use crate::AppState;

/// What the dead letter of a refused inbox record says.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct DeadLetter {
    pub inbox_partition: u32,
    pub inbox_offset: u64,
    pub code: String,
    pub message: String,
    /// The refused record without `personal` and `content` (set to null), when it is a JSON
    /// object; `None` when it is not, since then nothing in it can be told apart as personal.
    pub record: Option<String>,
    /// The whole record as produced: its size and BLAKE3 (hex).
    pub record_bytes: u64,
    pub record_blake3: String,
}

impl DeadLetter {
    fn of(partition: u32, offset: u64, code: &str, message: &str, record: &[u8]) -> Self {
        let redacted = serde_json::from_slice::<serde_json::Value>(record).ok().and_then(|value| {
            let serde_json::Value::Object(mut fields) = value else { return None };
            for withheld in ["personal", "content"] {
                if let Some(field) = fields.get_mut(withheld) {
                    *field = serde_json::Value::Null;
                }
            }
            Some(serde_json::Value::Object(fields).to_string())
        });
        DeadLetter {
            inbox_partition: partition,
            inbox_offset: offset,
            code: code.to_owned(),
            message: message.to_owned(),
            record: redacted,
            record_bytes: record.len() as u64,
            record_blake3: blake3::hash(record).to_hex().to_string(),
        }
    }
}

fn saved_offset(dir: &Path, partition: u32) -> u64 {
    std::fs::read_to_string(dir.join(partition.to_string()))
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0)
}

fn save_offset(dir: &Path, partition: u32, next: u64) -> std::io::Result<()> {
    let path = dir.join(partition.to_string());
    let temporary = dir.join(format!("{partition}.tmp"));
    std::fs::write(&temporary, next.to_string())?;
    std::fs::File::open(&temporary)?.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Creates (or checks) the inbox and dead-letter topics and the positions folder: done before
/// the service says it listens, so producers find the topics as the service expects them.
pub async fn open<L: Log>(
    log: &L,
    inbox: &str,
    dead_letters: &str,
    dir: &Path,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let partitions = crate::limits::INBOX_PARTITIONS;
    log.create_transient_topic(inbox, partitions, crate::limits::INBOX_RETENTION_MS)
        .await
        .map_err(|e| format!("topic {inbox}: {e}"))?;
    log.create_topic(dead_letters, partitions)
        .await
        .map_err(|e| format!("topic {dead_letters}: {e}"))?;
    Ok(())
}

/// Consumes every partition of the inbox until the task is dropped (`open` it first).
pub async fn run<L: Log>(
    state: AppState,
    log: Arc<L>,
    inbox: String,
    dead_letters: String,
    dir: PathBuf,
) {
    let partitions = crate::limits::INBOX_PARTITIONS;
    let mut tasks = tokio::task::JoinSet::new();
    for partition in 0..partitions {
        let (state, log, inbox, dead_letters, dir) =
            (state.clone(), Arc::clone(&log), inbox.clone(), dead_letters.clone(), dir.clone());
        tasks.spawn(async move {
            consume(&state, log.as_ref(), &inbox, &dead_letters, partition, &dir).await;
        });
    }
    while tasks.join_next().await.is_some() {}
}

async fn consume<L: Log>(
    state: &AppState,
    log: &L,
    inbox: &str,
    dead_letters: &str,
    partition: u32,
    dir: &Path,
) {
    let mut next = saved_offset(dir, partition);
    loop {
        match step(state, log, inbox, dead_letters, partition, next).await {
            Ok(Some(after)) => {
                if let Err(e) = save_offset(dir, partition, after) {
                    tracing::error!(error = %e, partition, "cannot save the inbox position");
                }
                next = after;
            }
            Ok(None) => {
                // Nothing new: park until a record arrives (the log's own wait, no polling).
                let _ = log
                    .wait_for(
                        inbox,
                        partition,
                        next,
                        Duration::from_millis(crate::limits::INBOX_WAIT_MS),
                    )
                    .await;
            }
            Err(e) => {
                tracing::warn!(error = %e, partition, "inbox batch failed; retrying");
                tokio::time::sleep(Duration::from_millis(crate::limits::INBOX_RETRY_MS)).await;
            }
        }
    }
}

/// Processes the next batch of a partition; returns the offset after it, or `None` when
/// there was nothing to read.
async fn step<L: Log>(
    state: &AppState,
    log: &L,
    inbox: &str,
    dead_letters: &str,
    partition: u32,
    next: u64,
) -> Result<Option<u64>, String> {
    let records = log
        .read(inbox, partition, next, crate::limits::BULK_BATCH_ROWS_MAX)
        .await
        .map_err(|e| e.to_string())?;
    let Some(last) = records.last() else { return Ok(None) };
    let after = last.position.offset + 1;
    if let Some(first) = records.first()
        && first.position.offset > next
    {
        // Retention deleted them before they were read: nothing can be done but say so.
        state.metrics.add(crate::app::metrics::Job::InboxExpired, first.position.offset - next);
        tracing::error!(
            partition,
            lost = first.position.offset - next,
            from_offset = next,
            "inbox records expired before the service read them; their issuers must send them again"
        );
    }
    let lines: Vec<Vec<u8>> = records.iter().map(|r| r.value.clone()).collect();
    let results = crate::app::bulk::process(state, lines, crate::app::bulk::RowFormat::Ndjson)
        .await
        .map_err(|e| e.message)?;
    let mut letters = Vec::new();
    for (record, result) in records.iter().zip(&results) {
        if result.status != "rejected" {
            continue;
        }
        let letter = DeadLetter::of(
            partition,
            record.position.offset,
            result.code.as_deref().unwrap_or("rejected"),
            result.message.as_deref().unwrap_or_default(),
            &record.value,
        );
        let value = serde_json::to_vec(&letter).map_err(|e| e.to_string())?;
        let hash = blake3::hash(
            format!("dead-letter {inbox}/{partition}/{}", record.position.offset).as_bytes(),
        );
        let mut id = [0u8; 16];
        id.copy_from_slice(&hash.as_bytes()[..16]);
        letters.push(AppendRequest {
            id: EventId(id),
            digest: Digest32(*hash.as_bytes()),
            key: format!("{partition}").into_bytes(),
            value,
        });
    }
    if !letters.is_empty() {
        let mut count = 0;
        for verdict in log.append(dead_letters, letters).await.map_err(|e| e.to_string())? {
            // A batch processed again finds its letters written: they count once.
            if let ledger::Appended::New(_) = verdict.map_err(|e| e.to_string())? {
                count += 1;
            }
        }
        state.metrics.add(crate::app::metrics::Job::InboxRefused, count);
        tracing::info!(count, partition, "inbox records refused; see the dead-letter topic");
    }
    Ok(Some(after))
}
