//! Replaying the whole log as an auditor does: every record decodes canonically, every event
//! was allowed (known actor, key valid at that point, permitted kind) and is signed by the
//! key it names, and every signed checkpoint matches the history: its signature verifies with
//! the ledger's key and its root is the root of the records as they are now.
//!
//! Order of history. Key changes live in the directory topic and citizens' events in their
//! partitions; the log has no order across partitions. The replay merges all partitions by the
//! time each event says it happened (ties by topic, partition, offset), applies key changes as
//! it meets them, and checks each event against the keys of that moment, as the ledger did at
//! append time. The ledger accepts events within a clock window (5 minutes), so an event signed
//! just before a revocation but dated just after it could be reported; the report names it.
//!
//! Signatures are verified in parallel batches on all cores (`verify_all`); before a key
//! change is applied, everything pending and the change itself are verified, so a forged key
//! change never lets later events pass.

use std::collections::{BTreeMap, VecDeque};

use ed25519_dalek::VerifyingKey;
use rayon::prelude::*;
use schemas::{Digest32, Envelope};

use crate::crypto::{VerifyItem, verify_all};
use crate::ledger::LedgerConfig;
use crate::log::{Log, Position};
use crate::merkle::{SignedCheckpoint, leaf_hash, node_hash};
use crate::registry::KeyRegistry;
use crate::{LedgerError, LogError};

use crate::limits::{
    AUDIT_READ_BATCH_RECORDS as READ_BATCH, AUDIT_VERIFY_BATCH_SIGNATURES as VERIFY_BATCH,
};

/// `progress` hears of the replay this often.
const PROGRESS_EVERY_RECORDS: u64 = 16_384;

/// Where the audit found the first problem, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub reason: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} offset {}: {}", self.topic, self.partition, self.offset, self.reason)
    }
}

/// One partition's tree as replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionRoot {
    pub topic: String,
    pub partition: u32,
    pub size: u64,
    pub root: Digest32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    pub records: u64,
    /// Records covered by a trusted root (`AuditOptions::trusted`): hashed and compared with
    /// it, their key changes applied, their signatures not checked again.
    pub trusted_records: u64,
    pub signatures_verified: u64,
    pub checkpoints_verified: u64,
    pub roots: Vec<PartitionRoot>,
    /// The first problem; `None` when the whole log checks out.
    pub failure: Option<Failure>,
}

/// What the auditor trusts: the platform keys (in `LedgerConfig`) and, for checkpoints, the
/// ledger's public key and the checkpoint topic.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    pub checkpoint_topic: Option<String>,
    pub ledger_key: Option<VerifyingKey>,
    /// Roots an earlier audit established (its report's `roots`): the audit resumes after
    /// them. The records they cover must still hash to the same roots, which proves they are
    /// the records already audited; only their key changes are replayed.
    pub trusted: Vec<PartitionRoot>,
}

/// A record read and prepared on all cores: decoded, its signed bytes, its leaf hash.
struct Replayed {
    position: Position,
    envelope: Envelope,
    message: Vec<u8>,
    leaf: Digest32,
}

struct Cursor {
    topic: String,
    topic_name: std::sync::Arc<str>,
    rank: usize,
    partition: u32,
    next_offset: u64,
    done: bool,
    buffer: VecDeque<Replayed>,
    /// Open subtrees of the replayed tree (RFC 9162 structure), and its size.
    frontier: Vec<Option<Digest32>>,
    size: u64,
    /// This partition's checkpoints by size.
    checkpoints: BTreeMap<u64, Vec<(u64, SignedCheckpoint)>>,
    /// A root an earlier audit established: (size, root).
    trusted: Option<(u64, Digest32)>,
}

impl Cursor {
    fn push_leaf(&mut self, leaf: Digest32) {
        let (mut height, mut at, mut hash) = (0usize, self.size, leaf);
        loop {
            if self.frontier.len() <= height {
                self.frontier.resize(height + 1, None);
            }
            if at % 2 == 0 {
                self.frontier[height] = Some(hash);
                break;
            }
            let left = self.frontier[height].take().unwrap_or_else(|| unreachable!("left sibling"));
            hash = node_hash(&left, &hash);
            at /= 2;
            height += 1;
        }
        self.size += 1;
    }

    /// The root of the tree so far, from its open subtrees (smallest first).
    fn root(&self) -> Digest32 {
        let mut root: Option<Digest32> = None;
        for (height, node) in self.frontier.iter().enumerate() {
            if self.size >> height & 1 == 1
                && let Some(node) = node
            {
                root = Some(match root {
                    None => *node,
                    Some(right) => node_hash(node, &right),
                });
            }
        }
        root.unwrap_or(crate::merkle::EMPTY_ROOT)
    }

    fn failure(&self, offset: u64, reason: impl Into<String>) -> Failure {
        Failure {
            topic: self.topic.clone(),
            partition: self.partition,
            offset,
            reason: reason.into(),
        }
    }
}

/// A registry event changes which keys may sign what: the signatures queued before it, checked
/// against the registry as it was, are verified first; then the event is applied.
async fn apply_to_registry(
    verifier: &mut Verifier,
    registry: &mut KeyRegistry,
    event: &schemas::Event,
    report: &mut AuditReport,
    cursor: &Cursor,
    offset: u64,
) -> Option<Failure> {
    if let Some(failure) = verifier.drain(report).await {
        return Some(failure);
    }
    registry.apply(event).err().map(|e| cursor.failure(offset, e.to_string()))
}

struct Pending {
    /// The topic is shared, not copied per record.
    position: (std::sync::Arc<str>, Position),
    message: Vec<u8>,
    signature: schemas::SignatureBytes,
    key: VerifyingKey,
}

type Verified = tokio::sync::oneshot::Receiver<(Vec<Pending>, Vec<bool>)>;

/// Signatures waiting to be verified, and one batch being verified on the rayon pool while
/// the replay goes on: the sequential replay and verification overlap.
#[derive(Default)]
struct Verifier {
    pending: Vec<Pending>,
    in_flight: Option<Verified>,
}

fn verify_batch(batch: Vec<Pending>) -> Verified {
    let (done, verified) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let items: Vec<VerifyItem<'_>> = batch
            .iter()
            .map(|p| VerifyItem { message: &p.message, signature: &p.signature, key: &p.key })
            .collect();
        let verdicts = verify_all(&items);
        let _ = done.send((batch, verdicts));
    });
    verified
}

/// The first bad signature of a verified batch, in replay order.
fn first_bad(batch: &[Pending], verdicts: &[bool]) -> Option<Failure> {
    batch.iter().zip(verdicts).find(|(_, ok)| !**ok).map(|(p, _)| Failure {
        topic: p.position.0.to_string(),
        partition: p.position.1.partition,
        offset: p.position.1.offset,
        reason: "the signature does not verify with the key the event names".to_owned(),
    })
}

impl Verifier {
    /// Waits for the batch in flight.
    async fn collect(&mut self, report: &mut AuditReport) -> Option<Failure> {
        let in_flight = self.in_flight.take()?;
        let Ok((batch, verdicts)) = in_flight.await else {
            return Some(Failure {
                topic: String::new(),
                partition: 0,
                offset: 0,
                reason: "the verification worker stopped".to_owned(),
            });
        };
        report.signatures_verified += batch.len() as u64;
        first_bad(&batch, &verdicts)
    }

    /// Once enough signatures wait, collects the batch in flight and sends these off.
    async fn maybe_start(&mut self, report: &mut AuditReport) -> Option<Failure> {
        if self.pending.len() < VERIFY_BATCH {
            return None;
        }
        let failure = self.collect(report).await;
        if failure.is_some() {
            return failure;
        }
        self.in_flight = Some(verify_batch(std::mem::take(&mut self.pending)));
        None
    }

    /// Verifies everything so far (before a key change, at the end, at a failure).
    async fn drain(&mut self, report: &mut AuditReport) -> Option<Failure> {
        if let Some(failure) = self.collect(report).await {
            return Some(failure);
        }
        if self.pending.is_empty() {
            return None;
        }
        self.in_flight = Some(verify_batch(std::mem::take(&mut self.pending)));
        self.collect(report).await
    }
}

async fn load_checkpoints<L: Log>(
    log: &L,
    options: &AuditOptions,
    cursors: &mut [Cursor],
) -> Result<Option<Failure>, LedgerError> {
    let Some(topic) = &options.checkpoint_topic else { return Ok(None) };
    let partitions = match log.partitions(topic) {
        Ok(n) => n,
        Err(LogError::UnknownTopic { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    for partition in 0..partitions {
        let mut offset = 0;
        loop {
            let records = log.read(topic, partition, offset, READ_BATCH).await?;
            let Some(last) = records.last() else { break };
            offset = last.position.offset + 1;
            for record in records {
                let at = |reason: String| Failure {
                    topic: topic.clone(),
                    partition,
                    offset: record.position.offset,
                    reason,
                };
                let signed = match SignedCheckpoint::from_note(&record.value) {
                    Ok(signed) => signed,
                    Err(e) => return Ok(Some(at(e.to_string()))),
                };
                let Some(key) = &options.ledger_key else {
                    return Ok(Some(at(
                        "checkpoints exist, but no ledger key was given to check them".to_owned(),
                    )));
                };
                if let Err(e) = signed.verify(key) {
                    return Ok(Some(at(format!("checkpoint: {e}"))));
                }
                let c = &signed.checkpoint;
                let Some(cursor) =
                    cursors.iter_mut().find(|k| k.topic == c.topic && k.partition == c.partition)
                else {
                    return Ok(Some(at(format!(
                        "checkpoint of unknown partition {}/{}",
                        c.topic, c.partition
                    ))));
                };
                cursor
                    .checkpoints
                    .entry(c.size)
                    .or_default()
                    .push((record.position.offset, signed));
            }
        }
    }
    Ok(None)
}

/// Replays the log and checks it; see the module note. Errors are failures to read; what
/// is wrong with the log itself is `report.failure`.
pub async fn audit<L: Log>(
    log: &L,
    config: &LedgerConfig,
    options: &AuditOptions,
    mut progress: impl FnMut(u64, u64),
) -> Result<AuditReport, LedgerError> {
    let mut report = AuditReport::default();
    let mut cursors = open_cursors(log, config, options)?;
    let mut total = 0;
    for cursor in &cursors {
        total += log.end_offset(&cursor.topic, cursor.partition).await?;
    }
    if let Some(failure) = load_checkpoints(log, options, &mut cursors).await? {
        report.failure = Some(failure);
        return Ok(report);
    }
    let mut registry = KeyRegistry::new(&config.platform_keys)?;
    let mut verifier = Verifier::default();
    loop {
        if let Some(failure) = refill(log, &mut cursors).await? {
            return Ok(stop(&mut verifier, report, Stop::Found(failure)).await);
        }
        // The next event in time.
        let next = cursors
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                c.buffer.front().map(|r| {
                    ((r.envelope.event.occurred_at_ms, c.rank, c.partition, r.position.offset), i)
                })
            })
            .min();
        let Some((_, index)) = next else { break };
        let cursor = &mut cursors[index];
        let Some(replayed) = cursor.buffer.pop_front() else { break };
        report.records += 1;
        if report.records.is_multiple_of(PROGRESS_EVERY_RECORDS) {
            progress(report.records, total);
        }
        if let Some(why) = replay(cursor, replayed, &mut registry, &mut verifier, &mut report).await
        {
            return Ok(stop(&mut verifier, report, why).await);
        }
    }
    if let Some(failure) = verifier.drain(&mut report).await {
        report.failure = Some(failure);
        return Ok(report);
    }
    // A checkpoint (or a trusted root) of more records than the partition holds: records were
    // cut from the end.
    if let Some(failure) = truncated(&cursors) {
        report.failure = Some(failure);
        return Ok(report);
    }
    report.roots = cursors
        .iter()
        .map(|c| PartitionRoot {
            topic: c.topic.clone(),
            partition: c.partition,
            size: c.size,
            root: c.root(),
        })
        .collect();
    Ok(report)
}

/// Why the replay stopped before the end.
enum Stop {
    /// A failure in the records: the signatures still pending are checked first, since one of
    /// them may be an earlier failure.
    Found(Failure),
    /// A failure found by a check that settled the pending signatures itself.
    Settled(Failure),
}

async fn stop(verifier: &mut Verifier, mut report: AuditReport, why: Stop) -> AuditReport {
    report.failure = match why {
        Stop::Found(failure) => verifier.drain(&mut report).await.or(Some(failure)),
        Stop::Settled(failure) => Some(failure),
    };
    report
}

/// One cursor per partition of the directory and citizen topics, in replay rank.
fn open_cursors<L: Log>(
    log: &L,
    config: &LedgerConfig,
    options: &AuditOptions,
) -> Result<Vec<Cursor>, LedgerError> {
    let mut cursors = Vec::new();
    for (rank, topic) in [&config.directory_topic, &config.citizen_topic].into_iter().enumerate() {
        for partition in 0..log.partitions(topic)? {
            cursors.push(Cursor {
                topic: topic.clone(),
                topic_name: std::sync::Arc::from(topic.as_str()),
                rank,
                partition,
                next_offset: 0,
                done: false,
                buffer: VecDeque::new(),
                frontier: Vec::new(),
                size: 0,
                checkpoints: BTreeMap::new(),
                trusted: options
                    .trusted
                    .iter()
                    .find(|t| t.topic == *topic && t.partition == partition && t.size > 0)
                    .map(|t| (t.size, t.root)),
            });
        }
    }
    Ok(cursors)
}

/// Refills the cursors whose buffers are empty; a record that does not decode, or a gap, is
/// the failure.
async fn refill<L: Log>(log: &L, cursors: &mut [Cursor]) -> Result<Option<Failure>, LedgerError> {
    for cursor in cursors.iter_mut().filter(|c| c.buffer.is_empty() && !c.done) {
        let records =
            match log.read(&cursor.topic, cursor.partition, cursor.next_offset, READ_BATCH).await {
                Ok(records) => records,
                Err(LogError::Corrupt { reason, .. }) => {
                    // Find the exact offset: read one record at a time up to the damage.
                    let mut offset = cursor.next_offset;
                    while let Ok(one) = log.read(&cursor.topic, cursor.partition, offset, 1).await
                        && one.first().is_some_and(|r| r.position.offset == offset)
                    {
                        offset += 1;
                    }
                    return Ok(Some(cursor.failure(offset, reason)));
                }
                Err(e) => return Err(e.into()),
            };
        if records.is_empty() {
            cursor.done = true;
            continue;
        }
        // Decoding (which also yields the signed bytes, taken from the record itself) and
        // leaf hashing run on all cores.
        let prepared: Vec<Result<Replayed, String>> = records
            .par_iter()
            .map(|record| {
                let (envelope, message) = schemas::decode_signed_record(&record.value)
                    .map_err(|e| format!("undecodable: {e}"))?;
                let message = crate::crypto::signed_message(&envelope, message).map_err(|_| {
                    "the batch path of a batch-signed event leads nowhere".to_owned()
                })?;
                let leaf = leaf_hash(&record.value);
                Ok(Replayed { position: record.position, envelope, message, leaf })
            })
            .collect();
        let dense = log.dense_offsets();
        for (record, prepared) in records.iter().zip(prepared) {
            let offset = record.position.offset;
            if offset < cursor.next_offset || (dense && offset != cursor.next_offset) {
                return Ok(Some(cursor.failure(cursor.next_offset, "a record is missing here")));
            }
            cursor.next_offset = offset + 1;
            match prepared {
                Ok(replayed) => cursor.buffer.push_back(replayed),
                Err(reason) => return Ok(Some(cursor.failure(record.position.offset, reason))),
            }
        }
    }
    Ok(None)
}

/// Replays one event: its leaf against the checkpoints and trusted roots, its key against the
/// registry, its signature into the pending batch.
async fn replay(
    cursor: &mut Cursor,
    replayed: Replayed,
    registry: &mut KeyRegistry,
    verifier: &mut Verifier,
    report: &mut AuditReport,
) -> Option<Stop> {
    let Replayed { position, envelope, message, leaf } = replayed;
    cursor.push_leaf(leaf);
    if let Some(signed) = cursor.checkpoints.remove(&cursor.size) {
        let root = cursor.root();
        for (checkpoint_offset, checkpoint) in signed {
            if checkpoint.checkpoint.root != root {
                let failure = cursor.failure(
                    position.offset,
                    format!(
                        "the checkpoint at offset {checkpoint_offset} of the checkpoint topic signed root {} for {} records; these records give {root}",
                        checkpoint.checkpoint.root, cursor.size
                    ),
                );
                return Some(Stop::Found(failure));
            }
            report.checkpoints_verified += 1;
        }
    }
    let event = &envelope.event;
    if let Some((size, root)) = cursor.trusted
        && cursor.size <= size
    {
        if cursor.size == size && cursor.root() != root {
            let failure = cursor.failure(
                position.offset,
                format!(
                    "the first {size} records are not those the trusted audit saw: it found root {root}, they give {}",
                    cursor.root()
                ),
            );
            return Some(Stop::Found(failure));
        }
        report.trusted_records += 1;
        if KeyRegistry::affects_registry(&event.payload)
            && let Some(failure) =
                apply_to_registry(verifier, registry, event, report, cursor, position.offset).await
        {
            return Some(Stop::Settled(failure));
        }
        return None;
    }
    let key = match registry.check(event) {
        Ok(key) => key,
        Err(e) => {
            let failure = cursor.failure(position.offset, e.to_string());
            return Some(Stop::Found(failure));
        }
    };
    verifier.pending.push(Pending {
        position: (std::sync::Arc::clone(&cursor.topic_name), position),
        message,
        signature: envelope.signature,
        key,
    });
    if KeyRegistry::affects_registry(&event.payload) {
        if let Some(failure) =
            apply_to_registry(verifier, registry, event, report, cursor, position.offset).await
        {
            return Some(Stop::Settled(failure));
        }
    } else if let Some(failure) = verifier.maybe_start(report).await {
        return Some(Stop::Settled(failure));
    }
    None
}

/// A checkpoint or a trusted root of more records than a partition holds.
fn truncated(cursors: &[Cursor]) -> Option<Failure> {
    for cursor in cursors {
        if let Some((size, _)) = cursor.trusted
            && size > cursor.size
        {
            return Some(cursor.failure(
                cursor.next_offset,
                format!(
                    "the trusted audit saw {size} records here, but the partition holds {}",
                    cursor.size
                ),
            ));
        }
        if let Some((size, signed)) = cursor.checkpoints.iter().next() {
            let (offset, _) = &signed[0];
            return Some(cursor.failure(
                cursor.next_offset,
                format!(
                    "the checkpoint at offset {offset} of the checkpoint topic covers {size} records, but the partition holds {}",
                    cursor.size
                ),
            ));
        }
    }
    None
}
