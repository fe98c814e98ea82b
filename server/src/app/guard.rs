//! Writes whose validity depends on state (a document exists, is not revoked, a URI is free)
//! are checked against the views, which trail the log. Two racing writes could both pass and
//! the second would then halt the partition's projection. So such writes take their citizen
//! partition's turn: one at a time per partition, checked only after the views have applied
//! everything already in that partition, and released only after the views include the new
//! event.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use ledger::{LedgerConfig, Log, Position};
use projections::Projector;
use schemas::{EventId, PartitionKey};

use crate::AppError;
use crate::limits::CATCH_UP_TIMEOUT_MS;
use wire::ErrorCode;

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the guard needs of the projector and its log, object-safe.
pub trait Applied: Send + Sync {
    fn wait_for_applied<'a>(
        &'a self,
        topic: &'a str,
        partition: u32,
        offset: u64,
        timeout: Duration,
    ) -> Boxed<'a, Result<bool, projections::ProjectionError>>;
    fn end_offset<'a>(
        &'a self,
        topic: &'a str,
        partition: u32,
    ) -> Boxed<'a, Result<u64, ledger::LogError>>;
    fn is_logged<'a>(&'a self, id: &'a EventId) -> Boxed<'a, Result<bool, ledger::LogError>>;
    /// Ticks whenever the views apply a batch.
    fn changes(&self) -> tokio::sync::watch::Receiver<u64>;
}

impl<L: Log> Applied for Projector<L> {
    fn wait_for_applied<'a>(
        &'a self,
        topic: &'a str,
        partition: u32,
        offset: u64,
        timeout: Duration,
    ) -> Boxed<'a, Result<bool, projections::ProjectionError>> {
        Box::pin(self.wait_applied(topic, partition, offset, timeout))
    }
    fn end_offset<'a>(
        &'a self,
        topic: &'a str,
        partition: u32,
    ) -> Boxed<'a, Result<u64, ledger::LogError>> {
        Box::pin(self.log().end_offset(topic, partition))
    }
    fn is_logged<'a>(&'a self, id: &'a EventId) -> Boxed<'a, Result<bool, ledger::LogError>> {
        Box::pin(async move {
            Ok(self.log().lookup(std::slice::from_ref(id)).await?.pop().flatten().is_some())
        })
    }
    fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        Projector::changes(self)
    }
}

pub struct WriteGuard {
    config: LedgerConfig,
    applied: std::sync::Arc<dyn Applied>,
    partitions: Vec<tokio::sync::Mutex<()>>,
    owners: std::sync::Arc<dyn crate::app::cluster::Owners>,
}

impl std::fmt::Debug for WriteGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteGuard").field("partitions", &self.partitions.len()).finish()
    }
}

/// One partition's turn: held while a write is checked, appended and applied.
#[derive(Debug)]
pub struct Turn<'a> {
    _held: tokio::sync::MutexGuard<'a, ()>,
}

fn behind(what: String) -> AppError {
    AppError::new(ErrorCode::ViewsBehind, what)
}

impl WriteGuard {
    pub fn new(config: LedgerConfig, applied: std::sync::Arc<dyn Applied>) -> Self {
        let partitions =
            (0..config.citizen_partitions).map(|_| tokio::sync::Mutex::new(())).collect();
        WriteGuard {
            config,
            applied,
            partitions,
            owners: std::sync::Arc::new(crate::app::cluster::Alone),
        }
    }

    /// A guard that lets writes through only on the partitions this node owns.
    pub fn with_owners(mut self, owners: std::sync::Arc<dyn crate::app::cluster::Owners>) -> Self {
        self.owners = owners;
        self
    }

    /// Whether this node runs the jobs one node of a cluster runs for all (the file sweep,
    /// snapshots): the owner of the directory's partition, or a node alone.
    pub fn leads(&self) -> bool {
        self.owners.owns(&self.config.directory_topic, 0)
    }

    /// `not_owner` (forwarded by the edge) unless this node appends to the key's citizen
    /// partition: for writes with a side effect before their turn.
    pub fn owner_here(&self, key: &PartitionKey) -> Result<(), AppError> {
        self.owner_here_for(&key.to_key_bytes())
    }

    /// `not_owner` (forwarded by the edge) unless this node owns the citizen partition that
    /// `bytes` fall in: steps that count guesses (a login, by username; a sign-up code, by
    /// number) run on one node, so N nodes do not allow N times the guesses.
    pub fn owner_here_for(&self, bytes: &[u8]) -> Result<(), AppError> {
        let partition = ledger::partition::partition_for(bytes, self.config.citizen_partitions);
        if self.owners.owns(&self.config.citizen_topic, partition) {
            return Ok(());
        }
        Err(AppError::not_owner(&self.config.citizen_topic, partition))
    }

    /// Whether this node appends to the key's citizen partition (a job skips what it does not).
    pub fn owns(&self, key: &PartitionKey) -> bool {
        let partition =
            ledger::partition::partition_for(&key.to_key_bytes(), self.config.citizen_partitions);
        self.owners.owns(&self.config.citizen_topic, partition)
    }

    /// Ticks whenever the views apply a batch: event streams wait on it.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applied.changes()
    }

    pub fn config(&self) -> &LedgerConfig {
        &self.config
    }

    pub fn citizen_partitions(&self) -> u32 {
        self.config.citizen_partitions
    }

    /// Whether an event with this id is already in the log (a retry needs no state check).
    pub async fn is_logged(&self, id: &EventId) -> Result<bool, AppError> {
        self.applied.is_logged(id).await.map_err(|e| behind(e.to_string()))
    }

    /// Waits for the partition's turn and for the views to have applied all of it.
    pub async fn turn(&self, key: &PartitionKey) -> Result<Turn<'_>, AppError> {
        let partition =
            ledger::partition::partition_for(&key.to_key_bytes(), self.config.citizen_partitions);
        let lock = self
            .partitions
            .get(partition as usize)
            .ok_or_else(|| behind("no such partition".to_owned()))?;
        let topic = &self.config.citizen_topic;
        // Refused before waiting: the owner answers it (the edge forwards it there).
        if !self.owners.owns(topic, partition) {
            return Err(AppError::not_owner(topic, partition));
        }
        let held = lock.lock().await;
        // The partition may have moved while this write waited for its turn.
        if !self.owners.owns(topic, partition) {
            return Err(AppError::not_owner(topic, partition));
        }
        let end =
            self.applied.end_offset(topic, partition).await.map_err(|e| behind(e.to_string()))?;
        if let Some(last) = end.checked_sub(1) {
            self.wait(topic, partition, last).await?;
        }
        Ok(Turn { _held: held })
    }

    /// The turns of several partitions at once (a write spanning two lockers), each taken
    /// once and in partition order, so two such writes cannot wait on each other.
    pub async fn turns(&self, keys: &[PartitionKey]) -> Result<Vec<Turn<'_>>, AppError> {
        let mut partitions: Vec<(u32, &PartitionKey)> = keys
            .iter()
            .map(|key| {
                (
                    ledger::partition::partition_for(
                        &key.to_key_bytes(),
                        self.config.citizen_partitions,
                    ),
                    key,
                )
            })
            .collect();
        partitions.sort_by_key(|(partition, _)| *partition);
        partitions.dedup_by_key(|(partition, _)| *partition);
        let mut turns = Vec::with_capacity(partitions.len());
        for (_, key) in partitions {
            turns.push(self.turn(key).await?);
        }
        Ok(turns)
    }

    async fn wait(&self, topic: &str, partition: u32, offset: u64) -> Result<(), AppError> {
        let timeout = Duration::from_millis(CATCH_UP_TIMEOUT_MS);
        match self.applied.wait_for_applied(topic, partition, offset, timeout).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(behind(format!(
                "the views are more than {CATCH_UP_TIMEOUT_MS} ms behind the log; retry"
            ))),
            Err(e) => Err(behind(e.to_string())),
        }
    }
}

impl WriteGuard {
    /// Waits until the views have applied every citizen partition up to the log's end as it
    /// is now (no turn is taken: writes may go on).
    pub async fn applied_everywhere(&self) -> Result<(), AppError> {
        let topic = &self.config.citizen_topic;
        for partition in 0..self.config.citizen_partitions {
            let end = self
                .applied
                .end_offset(topic, partition)
                .await
                .map_err(|e| behind(e.to_string()))?;
            if let Some(last) = end.checked_sub(1) {
                self.wait(topic, partition, last).await?;
            }
        }
        Ok(())
    }

    /// Waits until the views include the citizen-topic event at `position`.
    pub async fn settle(&self, position: Position) -> Result<(), AppError> {
        self.wait(&self.config.citizen_topic, position.partition, position.offset).await
    }

    /// `settle` for an event of the directory topic (a doc type's declaration).
    pub async fn settle_directory(&self, position: Position) -> Result<(), AppError> {
        self.wait(&self.config.directory_topic, position.partition, position.offset).await
    }
}
