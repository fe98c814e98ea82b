//! The validated append path: the only way events reach the log.
//!
//! For each call: decode every record (size, version, canonical form, field rules) on all
//! cores, check each event against the key registry (known, active key; actor allowed to emit
//! it), verify all signatures in parallel Ed25519 batches, and append what passed; the log
//! answers a retry of a logged event with its first position. Each record gets its own
//! verdict; a refused record never changes the log.

use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use rayon::prelude::*;
use schemas::{
    Actor, Envelope, Principal, PublicKeyEntry, SignatureBytes, SignedEnvelope, TopicKind,
    decode_record,
};
use tokio::sync::{RwLock, oneshot};

use crate::crypto::{VerifyItem, event_hash, verify_all};
use crate::limits::{APPEND_BATCH_RECORDS_MAX, PIPELINE_CHUNK_RECORDS, VERIFIED_EVENTS_MAX};
use crate::log::{AppendRequest, Appended, Log, LogRecord};
use crate::registry::KeyRegistry;
use crate::tail::Tail;
use crate::{LedgerError, LogError};

/// Topic names and the trust anchor.
#[derive(Clone, Debug)]
pub struct LedgerConfig {
    pub directory_topic: String,
    pub citizen_topic: String,
    /// Fixed for the life of the log: the partition of a citizen depends on it.
    pub citizen_partitions: u32,
    /// The platform's public keys, which sign registrations; everything else is trusted
    /// through events signed by them.
    pub platform_keys: Vec<PublicKeyEntry>,
}

impl LedgerConfig {
    pub fn new(platform_keys: Vec<PublicKeyEntry>) -> Self {
        LedgerConfig {
            directory_topic: "locker.directory".to_owned(),
            citizen_topic: "locker.events".to_owned(),
            citizen_partitions: 8,
            platform_keys,
        }
    }
}

/// How `Ledger::open_from` built the key registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// From the snapshot, replaying the events after it.
    Snapshot { replayed: u64 },
    /// From the whole log (no snapshot was given).
    Replayed { replayed: u64 },
    /// From the whole log, because the snapshot did not check out.
    Refused { reason: String, replayed: u64 },
}

/// A registry snapshot's registry and marks, if it checks out against `log` and `config`: the
/// same topics and partitions, every mark in this log, the same platform keys.
async fn resume<L: Log>(
    log: &L,
    config: &LedgerConfig,
    bytes: &[u8],
) -> Result<(KeyRegistry, Vec<crate::snapshot::Mark>), String> {
    let (marks, registry) = crate::snapshot::decode_registry(bytes).map_err(|e| e.to_string())?;
    let mut expected = vec![(config.citizen_topic.as_str(), config.citizen_partitions)];
    expected.push((config.directory_topic.as_str(), 1));
    let covered: Vec<(&str, u32)> = expected
        .iter()
        .flat_map(|(topic, partitions)| (0..*partitions).map(move |p| (*topic, p)))
        .collect();
    let marked: Vec<(&str, u32)> = marks.iter().map(|m| (m.topic.as_str(), m.partition)).collect();
    if covered != marked {
        return Err(format!("it covers {marked:?}, this ledger has {covered:?}"));
    }
    for mark in &marks {
        crate::snapshot::check_mark(log, mark).await?;
    }
    for key in &config.platform_keys {
        let configured = crate::crypto::parse_public_key(key).map_err(|e| e.to_string())?;
        let held = registry.active_key(&Principal::Platform, &key.key_id).ok();
        if held.map(|k| k.to_bytes()) != Some(configured.to_bytes()) {
            return Err(format!("it does not hold the platform key {}", key.key_id));
        }
    }
    Ok((registry, marks))
}

/// Applies the registry events of both topics to `registry`, from `marks` (or the start):
/// citizen registrations first, since key events in the directory may name citizens. Returns
/// how many records it read.
async fn replay<L: Log>(
    log: &L,
    config: &LedgerConfig,
    registry: &mut KeyRegistry,
    marks: Option<&[crate::snapshot::Mark]>,
    next: &mut Cursors,
) -> Result<u64, LedgerError> {
    let mut replayed = 0u64;
    for topic in [&config.citizen_topic, &config.directory_topic] {
        let from = |partition: u32| {
            marks
                .and_then(|marks| {
                    marks.iter().find(|m| &m.topic == topic && m.partition == partition)
                })
                .map_or(0, |m| m.next)
        };
        for partition in 0..log.partitions(topic)? {
            next.insert((topic.clone(), partition), from(partition));
        }
        crate::log::scan_topic_from(log, topic, from, |record| {
            replayed += 1;
            next.insert((topic.clone(), record.position.partition), record.position.offset + 1);
            let envelope = decode_logged(topic, record)?;
            if KeyRegistry::affects_registry(&envelope.event.payload) {
                // The trust anchor must be the one this log was written under.
                let event = &envelope.event;
                if marks.is_some() && registry.registers_known(&event.payload) {
                    return Err(LedgerError::Snapshot(format!(
                        "topic {topic} partition {} offset {} registers someone the snapshot already knows",
                        record.position.partition, record.position.offset
                    )));
                }
                if event.actor == Actor::Platform
                    && !registry.knows_key(&Principal::Platform, &event.key_id)
                {
                    return Err(LedgerError::ForeignLog {
                        location: format!(
                            "topic {topic} partition {} offset {}",
                            record.position.partition, record.position.offset
                        ),
                        key_id: event.key_id,
                    });
                }
                registry.apply(event)?;
            }
            Ok::<(), LedgerError>(())
        })
        .await?;
    }
    Ok(replayed)
}

/// The verdict on one record of an append call.
pub type Verdict = Result<Appended, LedgerError>;

/// The ledger over a log backend.
pub struct Ledger<L: Log> {
    log: Arc<L>,
    config: LedgerConfig,
    /// Appends hold it shared; events that change keys hold it exclusively, so no event is
    /// checked against keys that change before it is written.
    registry: RwLock<KeyRegistry>,
    /// Set when a registry event's append failed without a verdict: the registry may then lack
    /// an event the log holds, and `snapshot` refuses.
    registry_uncertain: std::sync::atomic::AtomicBool,
    /// Events `authenticate` verified and `append` has not taken yet: their signatures are
    /// not verified twice.
    verified: std::sync::Mutex<VerifiedEvents>,
    /// Where `follow_registry` reads each partition next.
    registry_next: tokio::sync::Mutex<Cursors>,
    /// Registry events this ledger appended and applied itself, which `follow_registry` will
    /// meet in the log and must not apply twice (kept only while following).
    own_registry_events: std::sync::Mutex<std::collections::HashSet<schemas::EventId>>,
    following: std::sync::atomic::AtomicBool,
    /// What this ledger appended lately, for the readers right behind it; set by `tail`.
    tail: std::sync::OnceLock<Arc<Tail>>,
}

/// The next offset to read of each (topic, partition).
type Cursors = std::collections::HashMap<(String, u32), u64>;

/// Event hashes whose signatures passed, with the key and the exact message (a batch-signed
/// event's message is its batch root, reached through a path outside the event hash) they
/// passed under; bounded, oldest forgotten first (a forgotten event is verified again).
#[derive(Default)]
struct VerifiedEvents {
    keys: std::collections::HashMap<schemas::Digest32, ([u8; 32], blake3::Hash)>,
    order: std::collections::VecDeque<schemas::Digest32>,
}

impl VerifiedEvents {
    /// Remembers a pass by the message's BLAKE3 hash (taken on the pool, not under the lock).
    fn remember(&mut self, digest: schemas::Digest32, key: &VerifyingKey, message: blake3::Hash) {
        let passed = (key.to_bytes(), message);
        if self.keys.insert(digest, passed).is_none() {
            self.order.push_back(digest);
        }
        while self.order.len() > VERIFIED_EVENTS_MAX {
            if let Some(oldest) = self.order.pop_front() {
                self.keys.remove(&oldest);
            }
        }
    }

    /// Whether `digest` passed under exactly `key` and `message`; forgets it either way.
    fn take(&mut self, digest: &schemas::Digest32, key: &VerifyingKey, message: &[u8]) -> bool {
        self.keys
            .remove(digest)
            .is_some_and(|(bytes, hash)| bytes == key.to_bytes() && hash == blake3::hash(message))
    }
}

impl<L: Log> std::fmt::Debug for Ledger<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("config", &self.config).finish_non_exhaustive()
    }
}

struct Candidate {
    index: usize,
    /// The key the signature must verify with, once the registry has named it.
    key: Option<VerifyingKey>,
    /// `authenticate` verified this very event under that key.
    preverified: bool,
    envelope: Envelope,
    signing_bytes: Vec<u8>,
    digest: schemas::Digest32,
    raw: Vec<u8>,
    /// The record's Merkle leaf hash, when a tail is kept.
    leaf: Option<schemas::Digest32>,
}

impl Candidate {
    /// A candidate no registry has looked at yet.
    fn fresh(
        index: usize,
        envelope: Envelope,
        signing_bytes: Vec<u8>,
        digest: schemas::Digest32,
        raw: Vec<u8>,
    ) -> Self {
        let (key, preverified, leaf) = (None, false, None);
        Candidate { index, key, preverified, envelope, signing_bytes, digest, raw, leaf }
    }
}

impl<L: Log> Ledger<L> {
    /// Opens the ledger: creates its topics if needed and rebuilds the key registry by
    /// replaying the registrations and key events already in the log.
    pub async fn open(log: Arc<L>, config: LedgerConfig) -> Result<Self, LedgerError> {
        Ok(Self::open_from(log, config, None).await?.0)
    }

    /// Opens the ledger from a registry snapshot (`snapshot`'s bytes), replaying only the
    /// log after it; a snapshot that does not check out against this log and configuration is
    /// refused, and the whole log replayed instead. Says which happened.
    pub async fn open_from(
        log: Arc<L>,
        config: LedgerConfig,
        snapshot: Option<&[u8]>,
    ) -> Result<(Self, Start), LedgerError> {
        log.create_topic(&config.directory_topic, 1).await?;
        log.create_topic(&config.citizen_topic, config.citizen_partitions).await?;
        let resumed = match snapshot {
            Some(bytes) => match resume(log.as_ref(), &config, bytes).await {
                Ok(resumed) => Some(resumed),
                Err(refused) => {
                    let (mut registry, start) = (KeyRegistry::new(&config.platform_keys)?, None);
                    let mut next = Cursors::new();
                    let replayed =
                        replay(log.as_ref(), &config, &mut registry, start, &mut next).await?;
                    let start = Start::Refused { reason: refused, replayed };
                    return Ok((Self::with(log, config, registry, next), start));
                }
            },
            None => None,
        };
        let (mut registry, marks) = match resumed {
            Some((registry, marks)) => (registry, Some(marks)),
            None => (KeyRegistry::new(&config.platform_keys)?, None),
        };
        let mut next = Cursors::new();
        let Some(marks) = marks else {
            let replayed = replay(log.as_ref(), &config, &mut registry, None, &mut next).await?;
            return Ok((Self::with(log, config, registry, next), Start::Replayed { replayed }));
        };
        match replay(log.as_ref(), &config, &mut registry, Some(&marks), &mut next).await {
            Ok(replayed) => {
                Ok((Self::with(log, config, registry, next), Start::Snapshot { replayed }))
            }
            Err(e) => {
                // The tail does not fit the snapshot (a registration of someone it knows):
                // trust the log alone.
                let mut registry = KeyRegistry::new(&config.platform_keys)?;
                let mut next = Cursors::new();
                let replayed =
                    replay(log.as_ref(), &config, &mut registry, None, &mut next).await?;
                let start = Start::Refused { reason: format!("its tail: {e}"), replayed };
                Ok((Self::with(log, config, registry, next), start))
            }
        }
    }

    fn with(log: Arc<L>, config: LedgerConfig, registry: KeyRegistry, next: Cursors) -> Self {
        Ledger {
            log,
            config,
            registry: RwLock::new(registry),
            registry_next: tokio::sync::Mutex::new(next),
            own_registry_events: std::sync::Mutex::default(),
            following: std::sync::atomic::AtomicBool::new(false),
            registry_uncertain: std::sync::atomic::AtomicBool::new(false),
            verified: std::sync::Mutex::new(VerifiedEvents::default()),
            tail: std::sync::OnceLock::new(),
        }
    }

    /// Keeps what this ledger appends from now on in memory for the readers right behind it
    /// (the projector, the Merkle follower), and hands them that tail; `None` when the log's
    /// offsets are not dense (Kafka), where readers read the log.
    pub fn tail(&self) -> Option<Arc<Tail>> {
        if !self.log.dense_offsets() {
            return None;
        }
        Some(Arc::clone(self.tail.get_or_init(|| Arc::new(Tail::default()))))
    }

    /// A snapshot of the key registry with the marks it reflects (`Ledger::open_from` reads
    /// it). Taken under the registry's read lock: events that change keys are appended under
    /// its write lock, so none is between the log and the registry while the marks are read.
    pub async fn snapshot(&self) -> Result<Vec<u8>, LedgerError> {
        let (marks, registry) = {
            let registry = self.registry.read().await;
            if self.registry_uncertain.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(LedgerError::Snapshot(
                    "a key event's append failed without a verdict; restart to rebuild the registry before a snapshot"
                        .to_owned(),
                ));
            }
            let mut marks = Vec::new();
            for topic in [&self.config.citizen_topic, &self.config.directory_topic] {
                for partition in 0..self.log.partitions(topic)? {
                    let next = self.log.end_offset(topic, partition).await?;
                    let log = self.log.as_ref();
                    marks.push(crate::snapshot::mark_at(log, topic, partition, next).await?);
                }
            }
            (marks, registry.clone())
        };
        // Encoded off the lock and off the async threads: appends go on meanwhile.
        tokio::task::spawn_blocking(move || crate::snapshot::encode_registry(marks, &registry))
            .await
            .map_err(|e| LedgerError::Snapshot(e.to_string()))?
    }

    pub fn log(&self) -> &Arc<L> {
        &self.log
    }

    /// Declares that other processes append to this log too: from now on the registry events
    /// this ledger applies itself are remembered, for `follow_registry` to pass over. Call it
    /// right after opening, before any append.
    pub fn follow_others(&self) {
        self.following.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Applies the registry events other processes appended since this ledger last looked
    /// (a cluster's nodes each append to their own partitions, and every node must know every
    /// key, suspension and revocation). Returns how many it applied. Reads off the registry's
    /// lock; applies under it, skipping the events this ledger applied when it appended them.
    pub async fn follow_registry(&self) -> Result<usize, LedgerError> {
        debug_assert!(self.following.load(std::sync::atomic::Ordering::SeqCst));
        let mut next = self.registry_next.lock().await;
        let mut applied = 0;
        for topic in [&self.config.citizen_topic, &self.config.directory_topic] {
            for partition in 0..self.log.partitions(topic)? {
                let cursor = next.entry((topic.clone(), partition)).or_insert(0);
                if self.log.end_offset(topic, partition).await? <= *cursor {
                    continue;
                }
                let (found, reached) = self.registry_events(topic, partition, *cursor).await?;
                // A cursor moves only past what was applied: a failure (a directory event
                // naming a citizen this pass has not read yet) is met again next time.
                let mut registry = self.registry.write().await;
                let mut own = self
                    .own_registry_events
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for (offset, event) in found {
                    if !own.remove(&event.id) {
                        if let Err(e) = registry.apply(&event) {
                            *cursor = offset;
                            return Err(e);
                        }
                        applied += 1;
                    }
                    *cursor = offset + 1;
                }
                *cursor = reached.max(*cursor);
            }
        }
        Ok(applied)
    }

    /// The registry events of a partition from `from` to its end, with their offsets, and
    /// where the reading stopped.
    async fn registry_events(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
    ) -> Result<(Vec<(u64, schemas::Event)>, u64), LedgerError> {
        let mut found = Vec::new();
        let mut at = from;
        loop {
            let batch =
                self.log.read_batch(topic, partition, at, crate::limits::READ_RECORDS_MAX).await?;
            let done = batch.next_offset <= at || batch.records.is_empty();
            at = batch.next_offset.max(at);
            for record in &batch.records {
                let envelope = decode_logged(topic, record)?;
                if KeyRegistry::affects_registry(&envelope.event.payload) {
                    found.push((record.position.offset, envelope.event));
                }
            }
            if done {
                return Ok((found, at));
            }
        }
    }

    pub fn config(&self) -> &LedgerConfig {
        &self.config
    }

    /// The principal's key `key_id` if it may sign now (see `KeyRegistry::active_key`).
    pub async fn active_key(
        &self,
        principal: &Principal,
        key_id: &schemas::KeyId,
    ) -> Result<VerifyingKey, LedgerError> {
        self.registry.read().await.active_key(principal, key_id)
    }

    /// Checks envelopes exactly as `append` would (the actor's key active and allowed to
    /// emit the event now, and the signature), and appends nothing. A service authenticates a
    /// client's event with it before doing any work for it (sealing keys, stored bytes,
    /// lookups that would reveal what exists). An event that passes is remembered (at most
    /// `VERIFIED_EVENTS_MAX`), so its append does not verify the signature again; the
    /// registry is still checked then, since a key may be revoked in between.
    pub async fn authenticate(&self, envelopes: Vec<SignedEnvelope>) -> Authenticated {
        if envelopes.len() > APPEND_BATCH_RECORDS_MAX {
            return Err(LedgerError::BatchTooLarge {
                records: envelopes.len(),
                limit: APPEND_BATCH_RECORDS_MAX,
            });
        }
        // Only the registry's answers are taken under its lock; the hashing is done on the pool.
        let keys: Vec<Result<VerifyingKey, LedgerError>> = {
            let registry = self.registry.read().await;
            envelopes.iter().map(|signed| registry.check(&signed.envelope().event)).collect()
        };
        let checked = on_pool(move || check_signatures(envelopes, keys)).await?;
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        Ok(checked
            .into_iter()
            .map(|(signed, passed)| {
                let verdict = passed.map(|(digest, key, message)| {
                    verified.remember(digest, &key, message);
                });
                (signed, verdict)
            })
            .collect())
    }

    /// The topic an event belongs to.
    pub fn topic_of(&self, envelope: &Envelope) -> &str {
        match envelope.event.payload.partition_key().topic() {
            TopicKind::Directory => &self.config.directory_topic,
            TopicKind::Citizens => &self.config.citizen_topic,
        }
    }

    /// Appends one encoded record.
    pub async fn append_one(&self, record: Vec<u8>) -> Verdict {
        let mut verdicts = self.append(vec![record]).await?;
        verdicts.pop().unwrap_or_else(|| unreachable!("one verdict per record"))
    }

    /// Validates and appends encoded records. The outer error means nothing was appended
    /// (a storage failure or an oversized call); otherwise each record has its own verdict,
    /// in order.
    pub async fn append(&self, records: Vec<Vec<u8>>) -> Result<Vec<Verdict>, LedgerError> {
        let decoded = candidates_on_pool(records, decode_candidate, self.keeps_tail()).await?;
        self.append_candidates(decoded).await
    }

    /// `append`, for envelopes the caller holds typed (the service builds and seals them):
    /// each is encoded once, here, and those bytes give the event hash, the signed message and
    /// the log's record; nothing is decoded again. Checked as `append` checks records (field
    /// rules, size, registry, signature), with the same verdicts.
    pub async fn append_envelopes(
        &self,
        envelopes: Vec<Envelope>,
    ) -> Result<Vec<Verdict>, LedgerError> {
        let encoded = candidates_on_pool(envelopes, encode_candidate, self.keeps_tail()).await?;
        self.append_candidates(encoded).await
    }

    fn keeps_tail(&self) -> bool {
        self.tail.get().is_some()
    }

    async fn append_candidates(
        &self,
        decoded: Vec<(usize, Result<Candidate, LedgerError>)>,
    ) -> Result<Vec<Verdict>, LedgerError> {
        let count = decoded.len();
        let mut verdicts: Vec<Option<Verdict>> = (0..count).map(|_| None).collect();
        let mut candidates = Vec::with_capacity(count);
        for (index, result) in decoded {
            match result {
                Ok(candidate) => candidates.push(candidate),
                Err(e) => verdicts[index] = Some(Err(e)),
            }
        }
        // Remember each event's identity: a refused event may be a retry of one already logged.
        let identities: Vec<_> =
            candidates.iter().map(|c| (c.index, c.envelope.event.id, c.digest)).collect();
        let fresh = candidates;
        if fresh.iter().any(|c| KeyRegistry::affects_registry(&c.envelope.event.payload)) {
            let mut registry = self.registry.write().await;
            // Plain events run in batches between registry events, which go one at a time.
            let mut run = Vec::new();
            for candidate in fresh {
                if KeyRegistry::affects_registry(&candidate.envelope.event.payload) {
                    self.check_and_append(&registry, std::mem::take(&mut run), &mut verdicts)
                        .await?;
                    let event = candidate.envelope.event.clone();
                    let index = candidate.index;
                    let appended =
                        self.check_and_append(&registry, vec![candidate], &mut verdicts).await;
                    if appended.is_err() {
                        // Written or not, nobody knows: this registry may lack an event the
                        // log holds, so no snapshot is taken of it (a restart rebuilds it).
                        self.registry_uncertain.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    appended?;
                    if let Some(Ok(Appended::New(_))) = &verdicts[index] {
                        registry.apply(&event)?;
                        if self.following.load(std::sync::atomic::Ordering::SeqCst) {
                            self.own_registry_events
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .insert(event.id);
                        }
                    }
                } else {
                    run.push(candidate);
                }
            }
            self.check_and_append(&registry, run, &mut verdicts).await?;
        } else {
            let registry = self.registry.read().await;
            self.check_and_append(&registry, fresh, &mut verdicts).await?;
        }
        let mut verdicts: Vec<Verdict> = verdicts
            .into_iter()
            .map(|verdict| verdict.unwrap_or_else(|| unreachable!("every record has a verdict")))
            .collect();
        self.recognise_retries(&identities, &mut verdicts).await?;
        Ok(verdicts)
    }

    /// A retry of an event already in the log gets its first position back, even if the key
    /// that signed it has been rotated out since (or its registration would now be a
    /// duplicate); a refused event whose id names another logged event is an id conflict.
    /// Duplicates that pass every check are caught by the log itself, so only refused events
    /// are looked up here, off the hot path.
    async fn recognise_retries(
        &self,
        identities: &[(usize, schemas::EventId, schemas::Digest32)],
        verdicts: &mut [Verdict],
    ) -> Result<(), LedgerError> {
        let refused: Vec<_> = identities
            .iter()
            .filter(|(index, _, _)| match &verdicts[*index] {
                Err(
                    LedgerError::Schema(_) | LedgerError::Log(_) | LedgerError::IdConflict { .. },
                ) => false,
                Err(_) => true,
                Ok(_) => false,
            })
            .collect();
        if refused.is_empty() {
            return Ok(());
        }
        let ids: Vec<_> = refused.iter().map(|(_, id, _)| *id).collect();
        let found = self.log.lookup(&ids).await?;
        for ((index, id, digest), entry) in refused.into_iter().zip(found) {
            match entry {
                Some(entry) if entry.digest == *digest => {
                    verdicts[*index] = Ok(Appended::Existing(entry.position));
                }
                Some(_) => verdicts[*index] = Err(LedgerError::IdConflict { event_id: *id }),
                None => {}
            }
        }
        Ok(())
    }

    async fn check_and_append(
        &self,
        registry: &KeyRegistry,
        candidates: Vec<Candidate>,
        verdicts: &mut [Option<Verdict>],
    ) -> Result<(), LedgerError> {
        let mut checked = Vec::with_capacity(candidates.len());
        {
            let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            for mut candidate in candidates {
                match registry.check(&candidate.envelope.event) {
                    Ok(key) => {
                        // Authenticated moments ago under this very key: no second check.
                        candidate.preverified =
                            verified.take(&candidate.digest, &key, &candidate.signing_bytes);
                        candidate.key = Some(key);
                        checked.push(candidate);
                    }
                    Err(e) => verdicts[candidate.index] = Some(Err(e)),
                }
            }
        }
        if checked.is_empty() {
            return Ok(());
        }
        // Verification of every chunk is queued on the pool at once; chunk i is appended (and
        // waits for its fsync) while the pool verifies the chunks after it.
        let mut chunks = Vec::new();
        let mut checked = checked.into_iter().peekable();
        while checked.peek().is_some() {
            let mut chunk: Vec<Candidate> = checked.by_ref().take(PIPELINE_CHUNK_RECORDS).collect();
            let signatures: Vec<(Vec<u8>, SignatureBytes, VerifyingKey)> = chunk
                .iter_mut()
                .filter(|c| !c.preverified)
                .filter_map(|c| {
                    let key = c.key?;
                    Some((std::mem::take(&mut c.signing_bytes), c.envelope.signature, key))
                })
                .collect();
            let preverified: Vec<bool> = chunk.iter().map(|c| c.preverified).collect();
            let verdict = spawn_on_pool(move || {
                let items: Vec<VerifyItem<'_>> = signatures
                    .iter()
                    .map(|(message, signature, key)| VerifyItem { message, signature, key })
                    .collect();
                let mut checked = verify_all(&items).into_iter();
                // One verdict per candidate, in order: the preverified ones passed already.
                preverified
                    .into_iter()
                    .map(|done| done || checked.next().unwrap_or(false))
                    .collect::<Vec<bool>>()
            });
            chunks.push((chunk, verdict));
        }
        for (chunk, verdict) in chunks {
            let valid = verdict.await.map_err(|_| LedgerError::Log(LogError::Closed))?;
            self.append_verified(chunk, valid, verdicts).await?;
        }
        Ok(())
    }

    /// Hands the records the log just wrote (not those it held already) to the tail, by
    /// partition. `kept` is each request's envelope and leaf, or shorter when the tail was
    /// turned on during this call (then nothing is kept).
    fn keep_tail(
        &self,
        topic: &str,
        results: &[Result<Appended, LogError>],
        kept: Vec<(Envelope, schemas::Digest32, usize)>,
    ) {
        let Some(tail) = self.tail.get() else { return };
        if kept.len() != results.len() {
            return;
        }
        let mut by_partition: std::collections::BTreeMap<u32, Vec<_>> = Default::default();
        for (result, (envelope, leaf, bytes)) in results.iter().zip(kept) {
            if let Ok(Appended::New(position)) = result {
                by_partition.entry(position.partition).or_default().push((
                    position.offset,
                    envelope,
                    leaf,
                    bytes,
                ));
            }
        }
        for (partition, appended) in by_partition {
            tail.keep(topic, partition, appended);
        }
    }

    async fn append_verified(
        &self,
        chunk: Vec<Candidate>,
        valid: Vec<bool>,
        verdicts: &mut [Option<Verdict>],
    ) -> Result<(), LedgerError> {
        assert_eq!(chunk.len(), valid.len(), "one verdict per signature");
        let mut by_topic: Vec<(String, Vec<AppendRequest>, Vec<usize>)> = Vec::new();
        // For the tail: each request's envelope and leaf, in the same order.
        let mut kept: Vec<Vec<(Envelope, schemas::Digest32, usize)>> = Vec::new();
        for (candidate, ok) in chunk.into_iter().zip(valid) {
            if !ok {
                verdicts[candidate.index] =
                    Some(Err(LedgerError::BadSignature { event_id: candidate.envelope.event.id }));
                continue;
            }
            let topic = self.topic_of(&candidate.envelope).to_owned();
            let bytes = candidate.raw.len();
            let request = AppendRequest {
                id: candidate.envelope.event.id,
                digest: candidate.digest,
                key: candidate.envelope.event.payload.partition_key().to_key_bytes(),
                value: candidate.raw,
            };
            let slot = match by_topic.iter().position(|(t, _, _)| *t == topic) {
                Some(slot) => slot,
                None => {
                    by_topic.push((topic, Vec::new(), Vec::new()));
                    kept.push(Vec::new());
                    by_topic.len() - 1
                }
            };
            by_topic[slot].1.push(request);
            by_topic[slot].2.push(candidate.index);
            if let Some(leaf) = candidate.leaf {
                kept[slot].push((candidate.envelope, leaf, bytes));
            }
        }
        for ((topic, requests, indexes), kept) in by_topic.into_iter().zip(kept) {
            let count = requests.len();
            let appending = self.tail.get().map(|tail| tail.appending());
            let results = self.log.append(&topic, requests).await?;
            assert_eq!(results.len(), count, "the log answers every request");
            self.keep_tail(&topic, &results, kept);
            drop(appending);
            for (index, result) in indexes.into_iter().zip(results) {
                verdicts[index] = Some(result.map_err(|e| match e {
                    LogError::IdConflict { event_id } => LedgerError::IdConflict { event_id },
                    other => LedgerError::Log(other),
                }));
            }
        }
        Ok(())
    }
}

/// Each input made a candidate on all cores (decoded or encoded), by its index in the call,
/// with its leaf hash when `leaves`; refuses a call of more than `APPEND_BATCH_RECORDS_MAX`.
async fn candidates_on_pool<T: Send + 'static>(
    inputs: Vec<T>,
    make: fn(usize, T) -> Result<Candidate, LedgerError>,
    leaves: bool,
) -> Result<Vec<(usize, Result<Candidate, LedgerError>)>, LedgerError> {
    let records = inputs.len();
    if records > APPEND_BATCH_RECORDS_MAX {
        return Err(LedgerError::BatchTooLarge { records, limit: APPEND_BATCH_RECORDS_MAX });
    }
    on_pool(move || {
        inputs
            .into_par_iter()
            .enumerate()
            .map(|(index, input)| {
                let mut made = make(index, input);
                if leaves && let Ok(candidate) = &mut made {
                    candidate.leaf = Some(crate::rfc9162::leaf_hash(&candidate.raw));
                }
                (index, made)
            })
            .collect()
    })
    .await
}

fn encode_candidate(index: usize, envelope: Envelope) -> Result<Candidate, LedgerError> {
    let (raw, signing_bytes) = schemas::encode_signed_record(&envelope)?;
    let digest = event_hash(&signing_bytes, &envelope.signature);
    let signing_bytes = crate::crypto::signed_message(&envelope, signing_bytes)?;
    Ok(Candidate::fresh(index, envelope, signing_bytes, digest, raw))
}

fn decode_candidate(index: usize, raw: Vec<u8>) -> Result<Candidate, LedgerError> {
    let (envelope, signing_bytes) = schemas::decode_signed_record(&raw)?;
    let digest = event_hash(&signing_bytes, &envelope.signature);
    // From here on, what the signature covers (the batch root's message when batch-signed).
    let signing_bytes = crate::crypto::signed_message(&envelope, signing_bytes)?;
    Ok(Candidate::fresh(index, envelope, signing_bytes, digest, raw))
}

/// Decodes a record read back from the log. A record that the ledger wrote and that no longer
/// decodes means the store was altered or damaged.
pub fn decode_logged(topic: &str, record: &LogRecord) -> Result<Envelope, LedgerError> {
    decode_record(&record.value).map_err(|e| {
        LedgerError::Log(LogError::Corrupt {
            location: format!(
                "topic {topic} partition {} offset {}",
                record.position.partition, record.position.offset
            ),
            reason: e.to_string(),
        })
    })
}

/// Runs `work` on the rayon pool (both cores) at once, without blocking the async runtime.
fn spawn_on_pool<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> oneshot::Receiver<T> {
    let (reply, answer) = oneshot::channel();
    rayon::spawn(move || {
        let _ = reply.send(work());
    });
    answer
}

/// An authentication's answer: each envelope given back with its verdict, in order. The outer
/// error means nothing was checked (an oversized call, or the pool is gone).
pub type Authenticated = Result<Vec<(SignedEnvelope, Result<(), LedgerError>)>, LedgerError>;

/// What a signature that passed is remembered by: the event hash, the key, and the BLAKE3 hash
/// of the message it verified.
type Passed = (schemas::Digest32, VerifyingKey, blake3::Hash);

/// Each envelope's signature checked under the key the registry named for it (on the pool):
/// the event hash and the signed message come from the bytes the envelope holds.
fn check_signatures(
    envelopes: Vec<SignedEnvelope>,
    keys: Vec<Result<VerifyingKey, LedgerError>>,
) -> Vec<(SignedEnvelope, Result<Passed, LedgerError>)> {
    type Prepared<'a> = Result<(Passed, std::borrow::Cow<'a, [u8]>), LedgerError>;
    let prepared: Vec<Prepared<'_>> = envelopes
        .par_iter()
        .zip(keys)
        .map(|(signed, key)| {
            let key = key?;
            let (envelope, bytes) = (signed.envelope(), signed.signing_bytes());
            let message = crate::crypto::signed_message_of(envelope, bytes)?;
            let digest = event_hash(bytes, &envelope.signature);
            Ok(((digest, key, blake3::hash(&message)), message))
        })
        .collect();
    let items: Vec<VerifyItem<'_>> = envelopes
        .iter()
        .zip(&prepared)
        .filter_map(|(signed, prepared)| {
            let ((_, key, _), message) = prepared.as_ref().ok()?;
            Some(VerifyItem { message, signature: &signed.envelope().signature, key })
        })
        .collect();
    let mut valid = verify_all(&items).into_iter();
    let verdicts: Vec<Result<Passed, LedgerError>> = prepared
        .into_iter()
        .zip(&envelopes)
        .map(|(prepared, signed)| {
            let (passed, _) = prepared?;
            if valid.next().unwrap_or(false) {
                Ok(passed)
            } else {
                Err(LedgerError::BadSignature { event_id: signed.envelope().event.id })
            }
        })
        .collect();
    envelopes.into_iter().zip(verdicts).collect()
}

async fn on_pool<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, LedgerError> {
    spawn_on_pool(work).await.map_err(|_| LedgerError::Log(LogError::Closed))
}
