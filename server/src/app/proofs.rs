//! The ledger's transparency side: each partition's Merkle tree kept current, signed checkpoints
//! (`DATA/merkle`, topic `<prefix>.checkpoints`, platform key), and the proof bundles and
//! consistency proofs `http::transparency` answers with.

use crate::AppError;
use crate::app::write::internal;
use ed25519_dalek::{SigningKey, VerifyingKey};
use ledger::merkle::{
    BUNDLE_KEY_CHAIN_MAX, CheckpointPolicy, ProofBundle, Proven, SignedCheckpoint, TreeStore,
};
use ledger::{LedgerConfig, Log};
use projections::Views;
use projections::views::LogPoint;
use schemas::{Actor, Digest32, Principal};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use wire::ErrorCode;

type Partition = (String, u32);
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What handlers need of the transparency side, whatever the log backend.
pub trait Proofs: Send + Sync {
    fn ledger_key(&self) -> VerifyingKey;
    /// The latest checkpoint of each partition, in partition order.
    fn checkpoints(&self) -> Vec<SignedCheckpoint>;
    fn consistency(
        &self,
        topic: &str,
        partition: u32,
        first: u64,
        second: u64,
    ) -> Result<Vec<Digest32>, AppError>;
    /// The bundle of the document event at `point` of the citizen topic.
    fn bundle<'a>(
        &'a self,
        views: &'a Views,
        point: LogPoint,
    ) -> BoxFuture<'a, Result<ProofBundle, AppError>>;
    /// The record at `point` of the citizen topic, if one is there (a proof reference is
    /// checked against it before any bundle is made).
    fn record_at(&self, point: LogPoint) -> BoxFuture<'_, Result<Option<Vec<u8>>, AppError>>;
}

impl<L: Log> std::fmt::Debug for Transparency<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transparency").field("partitions", &self.partitions).finish_non_exhaustive()
    }
}

pub struct Transparency<L: Log> {
    log: Arc<L>,
    trees: TreeStore,
    checkpoint_topic: String,
    directory_topic: String,
    citizen_topic: String,
    partitions: Vec<Partition>,
    ledger_key: VerifyingKey,
    policy: CheckpointPolicy,
    look_ms: u64,
    bundle_wait_ms: u64,
    latest: RwLock<HashMap<Partition, SignedCheckpoint>>,
    /// Wakes the checkpointer early: a bundle waits for a checkpoint.
    asked: tokio::sync::Notify,
    /// Tells waiting bundles a round of checkpoints is done.
    signed: tokio::sync::Notify,
    /// Which partitions this node signs checkpoints of (in a cluster, the ones it owns; the
    /// others' come from the checkpoint topic, signed by their owners).
    owners: Arc<dyn crate::app::cluster::Owners>,
    /// The leaves this process's ledger hashed as it appended (`ledger::Ledger::tail`).
    tail: Option<Arc<ledger::Tail>>,
}

impl<L: Log> Transparency<L> {
    /// Opens the trees and reads the checkpoints signed so far (creating the topic).
    pub async fn open(
        log: Arc<L>,
        trees: &std::path::Path,
        config: &LedgerConfig,
        checkpoint_topic: String,
        ledger_key: VerifyingKey,
        policy: CheckpointPolicy,
        look_ms: u64,
    ) -> Result<Self, String> {
        let trees = TreeStore::open(trees).map_err(|e| format!("open the Merkle trees: {e}"))?;
        log.create_topic(&checkpoint_topic, 1)
            .await
            .map_err(|e| format!("create the checkpoint topic: {e}"))?;
        let latest = ledger::merkle::last_checkpoints(log.as_ref(), &checkpoint_topic)
            .await
            .map_err(|e| format!("read the checkpoints: {e}"))?;
        let mut partitions = vec![(config.directory_topic.clone(), 0)];
        partitions
            .extend((0..config.citizen_partitions).map(|p| (config.citizen_topic.clone(), p)));
        Ok(Transparency {
            log,
            trees,
            checkpoint_topic,
            directory_topic: config.directory_topic.clone(),
            citizen_topic: config.citizen_topic.clone(),
            partitions,
            ledger_key,
            policy,
            look_ms,
            bundle_wait_ms: crate::limits::BUNDLE_WAIT_MS,
            latest: RwLock::new(latest),
            asked: tokio::sync::Notify::new(),
            signed: tokio::sync::Notify::new(),
            owners: Arc::new(crate::app::cluster::Alone),
            tail: None,
        })
    }

    /// Signs checkpoints only of the partitions `owners` says this node owns.
    pub fn with_owners(mut self, owners: Arc<dyn crate::app::cluster::Owners>) -> Self {
        self.owners = owners;
        self
    }

    /// Feeds the trees of this node's partitions from the ledger's tail where it holds the
    /// leaves, instead of reading the records back.
    pub fn with_tail(mut self, tail: Option<Arc<ledger::Tail>>) -> Self {
        self.tail = tail;
        self
    }

    /// In a cluster: brings the trees of the partitions other nodes own up to the log (proofs
    /// are answered on every node) and takes in the checkpoints their owners signed.
    async fn follow_others(&self, cursor: &mut u64) -> Result<(), ledger::LedgerError> {
        for (topic, partition) in &self.partitions {
            if !self.owners.owns(topic, *partition) {
                let mut tree = self.trees.tree(topic, *partition)?;
                ledger::merkle::catch_up(self.log.as_ref(), None, topic, *partition, &mut tree)
                    .await?;
            }
        }
        Ok(self.take_in_others(cursor).await?)
    }

    /// Takes in the checkpoints other nodes signed since `cursor` (a newer one of a partition,
    /// by size, replaces the older).
    async fn take_in_others(&self, cursor: &mut u64) -> Result<(), ledger::LogError> {
        loop {
            let batch = self
                .log
                .read_batch(&self.checkpoint_topic, 0, *cursor, ledger::limits::READ_RECORDS_MAX)
                .await?;
            *cursor = batch.next_offset.max(*cursor);
            if batch.records.is_empty() {
                return Ok(());
            }
            let mut latest = self.latest.write().unwrap_or_else(|e| e.into_inner());
            for record in batch.records {
                let Ok(signed) = SignedCheckpoint::from_note(&record.value) else { continue };
                let key = (signed.checkpoint.topic.clone(), signed.checkpoint.partition);
                if latest.get(&key).is_none_or(|old| old.checkpoint.size < signed.checkpoint.size) {
                    latest.insert(key, signed);
                }
            }
        }
    }

    /// How long a bundle waits for a checkpoint (`limits::BUNDLE_WAIT_MS` unless set here).
    pub fn with_bundle_wait_ms(mut self, wait_ms: u64) -> Self {
        self.bundle_wait_ms = wait_ms;
        self
    }

    /// Keeps the trees current and signs checkpoints until the task is dropped. A failure is
    /// logged and retried; a refusal to sign (the tree does not extend the last checkpoint)
    /// stops it, loudly: history changed under the ledger.
    pub async fn run(self: Arc<Self>, key: Arc<SigningKey>, clock: Arc<dyn ledger::clock::Clock>) {
        let mut asked = false;
        let mut others_from = 0;
        loop {
            if self.owners.address().is_some()
                && let Err(e) = self.follow_others(&mut others_from).await
            {
                tracing::warn!(error = %e, "cannot follow the other nodes' partitions");
            }
            let mine: Vec<Partition> = self
                .partitions
                .iter()
                .filter(|(topic, partition)| self.owners.owns(topic, *partition))
                .cloned()
                .collect();
            let policy = if asked {
                CheckpointPolicy {
                    every_ms: self.policy.every_ms.min(crate::limits::CHECKPOINT_ASKED_MS_MIN),
                    ..self.policy
                }
            } else {
                self.policy
            };
            let mut last = self.latest.read().unwrap_or_else(|e| e.into_inner()).clone();
            let result = ledger::merkle::checkpoint_partitions(
                self.log.as_ref(),
                self.tail.as_deref(),
                &self.trees,
                &mine,
                &self.checkpoint_topic,
                &key,
                &mut last,
                clock.now(),
                policy,
            )
            .await;
            *self.latest.write().unwrap_or_else(|e| e.into_inner()) = last;
            self.signed.notify_waiters();
            match result {
                Ok(0) => {}
                Ok(n) => tracing::debug!(signed = n, "checkpoints signed"),
                Err(ledger::LedgerError::Tree(ledger::merkle::ProofError::Inconsistent(
                    reason,
                ))) => {
                    return tracing::error!(
                        %reason,
                        "refusing to sign checkpoints: history changed"
                    );
                }
                Err(e) => tracing::warn!(error = %e, "checkpointing failed; retrying"),
            }
            let look = tokio::time::sleep(Duration::from_millis(self.look_ms));
            asked = tokio::select! {
                () = look => false,
                () = self.asked.notified() => true,
            };
        }
    }

    /// Where the trees' leaves came from (the tail or the log), for the metrics.
    pub fn leaf_sources(&self) -> Arc<ledger::merkle::LeafSources> {
        self.trees.sources()
    }

    fn latest_of(&self, topic: &str, partition: u32) -> Option<SignedCheckpoint> {
        let latest = self.latest.read().unwrap_or_else(|e| e.into_inner());
        latest.get(&(topic.to_owned(), partition)).cloned()
    }

    /// Proves the record at `offset`, waiting for a checkpoint that covers it.
    async fn prove_at(&self, topic: &str, partition: u32, offset: u64) -> Result<Proven, AppError> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(self.bundle_wait_ms);
        loop {
            let signed = self.signed.notified();
            tokio::pin!(signed);
            signed.as_mut().enable();
            // The checkpoint before the tree: a tree loaded first could be older than it.
            let latest = self.latest_of(topic, partition);
            let tree = self.trees.tree(topic, partition).map_err(internal)?;
            let index = tree.leaf_index(offset).map_err(internal)?;
            // A tree behind its checkpoint (rebuilt from the log after a format change) waits
            // like a record not yet checkpointed.
            if let (Some(index), Some(checkpoint)) = (index, latest)
                && index < checkpoint.checkpoint.size
                && tree.size() >= checkpoint.checkpoint.size
            {
                return ledger::merkle::prove(
                    self.log.as_ref(),
                    &tree,
                    (topic, partition, offset),
                    &checkpoint,
                )
                .await
                .map_err(internal);
            }
            drop(tree);
            self.asked.notify_one();
            if tokio::time::timeout_at(deadline, signed).await.is_err() {
                return Err(AppError::new(
                    ErrorCode::NotYetCheckpointed,
                    "the ledger has not yet signed a checkpoint covering this document; retry in a few seconds",
                ));
            }
        }
    }
}

fn decoded(proven: &Proven) -> Result<schemas::Envelope, AppError> {
    schemas::decode_record(&proven.record).map_err(internal)
}

impl<L: Log> Proofs for Transparency<L> {
    fn ledger_key(&self) -> VerifyingKey {
        self.ledger_key
    }

    fn record_at(&self, point: LogPoint) -> BoxFuture<'_, Result<Option<Vec<u8>>, AppError>> {
        Box::pin(async move {
            if point.partition >= self.log.partitions(&self.citizen_topic).map_err(internal)? {
                return Ok(None);
            }
            let found = self
                .log
                .read(&self.citizen_topic, point.partition, point.offset, 1)
                .await
                .map_err(internal)?;
            Ok(found.into_iter().find(|r| r.position.offset == point.offset).map(|r| r.value))
        })
    }

    fn checkpoints(&self) -> Vec<SignedCheckpoint> {
        self.partitions.iter().filter_map(|(topic, p)| self.latest_of(topic, *p)).collect()
    }

    fn consistency(
        &self,
        topic: &str,
        partition: u32,
        first: u64,
        second: u64,
    ) -> Result<Vec<Digest32>, AppError> {
        let unknown = || {
            AppError::not_found(format!(
                "the ledger has no checkpointed partition {topic}/{partition}"
            ))
            .with_code(ErrorCode::UnknownPartition)
        };
        if !self.partitions.iter().any(|(t, p)| t == topic && *p == partition) {
            return Err(unknown());
        }
        let latest = self.latest_of(topic, partition).ok_or_else(unknown)?;
        if first == 0 || first > second {
            return Err(AppError::new(
                ErrorCode::InvalidSizes,
                format!("a consistency proof needs 0 < first <= second; got {first} and {second}"),
            ));
        }
        if second > latest.checkpoint.size {
            return Err(AppError::new(
                ErrorCode::BeyondCheckpoint,
                format!(
                    "the latest checkpoint of {topic}/{partition} has {} records; ask for sizes up to it",
                    latest.checkpoint.size
                ),
            ));
        }
        let tree = self.trees.tree(topic, partition).map_err(internal)?;
        if tree.size() < second {
            // The tree is being rebuilt from the log (after a format change): not a fault.
            return Err(AppError::new(
                ErrorCode::NotYetCheckpointed,
                "the ledger's tree of this partition is catching up with the log; retry in a few seconds",
            ));
        }
        tree.consistency_proof(first, second).map_err(internal)
    }

    fn bundle<'a>(
        &'a self,
        views: &'a Views,
        point: LogPoint,
    ) -> BoxFuture<'a, Result<ProofBundle, AppError>> {
        Box::pin(async move {
            let document =
                self.prove_at(&self.citizen_topic, point.partition, point.offset).await?;
            let mut signer = decoded(&document)?.event;
            let mut keys = Vec::new();
            // Walk back from the document's key to a record the platform signed.
            while signer.actor != Actor::Platform {
                if keys.len() == BUNDLE_KEY_CHAIN_MAX {
                    return Err(internal(format!(
                        "the key chain of {point:?} is longer than {BUNDLE_KEY_CHAIN_MAX}"
                    )));
                }
                let principal = Principal::from(&signer.actor);
                let origin = views.key_origin(&principal, &signer.key_id)?.ok_or_else(|| {
                    internal(format!("no origin for key {} of {principal:?}", signer.key_id))
                })?;
                let topic = match principal {
                    Principal::Citizen(_) => &self.citizen_topic,
                    _ => &self.directory_topic,
                };
                let proven = self.prove_at(topic, origin.partition, origin.offset).await?;
                signer = decoded(&proven)?.event;
                keys.push(proven);
            }
            keys.reverse();
            Ok(ProofBundle { document, keys })
        })
    }
}
