//! Builds the views from the log, exactly once.
//!
//! Each partition is applied on its own: records from the stored position on, in one write
//! batch together with the next position. A crash anywhere leaves the views at a batch
//! boundary and the position with them, so nothing is applied twice or lost. Partitions run
//! in parallel; counters they share are merged, never read and rewritten.

use std::sync::Arc;
use std::time::Duration;

use ledger::{LedgerConfig, Log, Position, Tail};
use schemas::Envelope;
use tokio::sync::Semaphore;

use crate::ProjectionError;
use crate::apply::{Refusal, Tx, apply};
use crate::keys::SealKeys;
use crate::limits::{APPLY_BATCH_RECORDS_MAX, PARALLEL_PARTITIONS_MAX, TAIL_WAIT_MS};
use crate::store::{Halt, Views};

/// One lock per (topic, partition) that has been applied here.
type Appliers = std::collections::HashMap<(String, u32), Arc<tokio::sync::Mutex<()>>>;

/// Applies the log to the views.
pub struct Projector<L: Log> {
    log: Arc<L>,
    views: Arc<Views>,
    keys: Arc<dyn SealKeys>,
    topics: Vec<String>,
    batch_records: usize,
    /// Ticks after every committed batch, for `wait_applied` (shared by all clones).
    applied: Arc<tokio::sync::watch::Sender<u64>>,
    /// One applier per partition at a time, across all clones: two would read the same
    /// position and apply the same records twice.
    appliers: Arc<std::sync::Mutex<Appliers>>,
    /// What the ledger of this process appended lately (`with_tail`): events taken from it
    /// are neither read back nor decoded.
    tail: Option<Arc<Tail>>,
    /// Where applied records came from (shared by all clones).
    sources: Arc<Sources>,
}

/// Records the projector applied, by where it found them: kept by the ledger's tail, or read
/// back from the log. A live projector that mostly reads is falling behind its writer.
#[derive(Debug, Default)]
pub struct Sources {
    kept: std::sync::atomic::AtomicU64,
    read: std::sync::atomic::AtomicU64,
}

impl Sources {
    /// (kept, read) records so far.
    pub fn counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.kept.load(Relaxed), self.read.load(Relaxed))
    }
}

/// A record to apply: where it sits, and its event (or why it does not decode).
type Item = (Position, Result<Box<Envelope>, String>);

impl<L: Log> Clone for Projector<L> {
    fn clone(&self) -> Self {
        Projector {
            log: Arc::clone(&self.log),
            views: Arc::clone(&self.views),
            keys: Arc::clone(&self.keys),
            topics: self.topics.clone(),
            batch_records: self.batch_records,
            applied: Arc::clone(&self.applied),
            appliers: Arc::clone(&self.appliers),
            tail: self.tail.clone(),
            sources: Arc::clone(&self.sources),
        }
    }
}

impl<L: Log> std::fmt::Debug for Projector<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector").field("topics", &self.topics).finish_non_exhaustive()
    }
}

/// Where one partition stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionStatus {
    pub topic: String,
    pub partition: u32,
    pub position: u64,
    pub end: u64,
    pub halt: Option<Halt>,
}

impl<L: Log> Projector<L> {
    pub fn new(
        log: Arc<L>,
        views: Arc<Views>,
        keys: Arc<dyn SealKeys>,
        config: &LedgerConfig,
    ) -> Self {
        Projector {
            log,
            views,
            keys,
            topics: vec![config.directory_topic.clone(), config.citizen_topic.clone()],
            batch_records: APPLY_BATCH_RECORDS_MAX,
            applied: Arc::new(tokio::sync::watch::Sender::new(0)),
            appliers: Arc::default(),
            tail: None,
            sources: Arc::default(),
        }
    }

    /// Smaller batches (tests use this to stop and restart at many points).
    pub fn with_batch_records(mut self, records: usize) -> Self {
        self.batch_records = records.clamp(1, APPLY_BATCH_RECORDS_MAX);
        self
    }

    /// Takes the events the ledger's tail holds (`ledger::Ledger::tail`) instead of reading
    /// them back from the log: the same events, at the same positions, never decoded again.
    pub fn with_tail(mut self, tail: Option<Arc<Tail>>) -> Self {
        self.tail = tail;
        self
    }

    /// Where the records applied so far came from (`Sources`).
    pub fn sources(&self) -> Arc<Sources> {
        Arc::clone(&self.sources)
    }

    pub fn views(&self) -> &Arc<Views> {
        &self.views
    }

    /// Ticks after every applied batch (and halt): for readers that wait for new view rows,
    /// such as event streams, without polling.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applied.subscribe()
    }

    pub fn log(&self) -> &Arc<L> {
        &self.log
    }

    fn partitions(&self) -> Result<Vec<(String, u32)>, ProjectionError> {
        let mut all = Vec::new();
        for topic in &self.topics {
            for partition in 0..self.log.partitions(topic)? {
                all.push((topic.clone(), partition));
            }
        }
        Ok(all)
    }

    /// Applies everything the log holds now, partitions in parallel. Returns the number of
    /// records applied; the first halted partition is reported after all others finished.
    pub async fn catch_up(&self) -> Result<u64, ProjectionError> {
        let slots = Arc::new(Semaphore::new(PARALLEL_PARTITIONS_MAX));
        let mut tasks = tokio::task::JoinSet::new();
        for (topic, partition) in self.partitions()? {
            let projector = self.clone();
            let slots = Arc::clone(&slots);
            tasks.spawn(async move {
                let _slot = slots
                    .acquire_owned()
                    .await
                    .map_err(|_| ProjectionError::Store("closed".into()))?;
                projector.catch_up_partition(&topic, partition).await
            });
        }
        let mut applied = 0;
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            match joined.map_err(|e| ProjectionError::Store(format!("projector task: {e}")))? {
                Ok(count) => applied += count,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(applied),
        }
    }

    /// Applies one partition up to its current end.
    pub async fn catch_up_partition(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<u64, ProjectionError> {
        let mut applied = 0;
        loop {
            let count = self.step(topic, partition).await?;
            if count == 0 {
                return Ok(applied);
            }
            applied += count;
        }
    }

    /// Applies every partition up to (not including) the offsets given; partitions not named
    /// stay untouched. A rebuild that stops exactly where other views stopped, to compare them.
    pub async fn catch_up_to(&self, ends: &[(String, u32, u64)]) -> Result<u64, ProjectionError> {
        let mut applied = 0;
        for (topic, partition, end) in ends {
            loop {
                let count = self.step_until(topic, *partition, Some(*end)).await?;
                if count == 0 {
                    break;
                }
                applied += count;
            }
        }
        Ok(applied)
    }

    /// Applies at most one batch of a partition; 0 when it is at the log's end.
    pub async fn step(&self, topic: &str, partition: u32) -> Result<u64, ProjectionError> {
        self.step_until(topic, partition, None).await
    }

    async fn step_until(
        &self,
        topic: &str,
        partition: u32,
        end: Option<u64>,
    ) -> Result<u64, ProjectionError> {
        if let Some(halt) =
            self.views.halts()?.into_iter().find(|h| h.topic == topic && h.partition == partition)
        {
            return Err(halted(halt));
        }
        let applier = {
            let mut appliers =
                self.appliers.lock().map_err(|_| ProjectionError::Store("applier lock".into()))?;
            Arc::clone(appliers.entry((topic.to_owned(), partition)).or_default())
        };
        let _applying = applier.lock().await;
        let from = self.views.position(topic, partition)?;
        let batch = match end {
            Some(end) => usize::try_from(end.saturating_sub(from))
                .unwrap_or(usize::MAX)
                .min(self.batch_records),
            None => self.batch_records,
        };
        if batch == 0 {
            return Ok(0);
        }
        let (items, next) = match self.kept(topic, partition, from, batch, end).await {
            Some(kept) => kept,
            None => self.read(topic, partition, from, batch, end).await?,
        };
        if items.is_empty() {
            if next > from {
                // Only transaction markers: step over them, so a caught-up partition stands
                // at the log's end (what the write guard waits for).
                let mut tx = Tx::new(&self.views);
                tx.set_position(topic, partition, next)?;
                tx.commit()?;
                self.applied.send_modify(|ticks| *ticks = ticks.wrapping_add(1));
            }
            return Ok(0);
        }
        let (views, keys, name) =
            (Arc::clone(&self.views), Arc::clone(&self.keys), topic.to_owned());
        let applied = tokio::task::spawn_blocking(move || {
            let items: Vec<Item> = items.into_iter().map(|item| item.decoded(&name)).collect();
            apply_records(&views, keys.as_ref(), &name, partition, &items, next)
        })
        .await
        .map_err(|e| ProjectionError::Store(format!("apply task: {e}")))?;
        // Wake waiters either way: a halt also changes what they wait for.
        self.applied.send_modify(|ticks| *ticks = ticks.wrapping_add(1));
        applied
    }

    /// The run of events from `from` the tail holds, with the position after it; `None` when
    /// it holds none (or a bounded catch-up asks, which the tail is not for).
    async fn kept(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        batch: usize,
        end: Option<u64>,
    ) -> Option<(Vec<Pending>, u64)> {
        let tail = self.tail.as_ref().filter(|_| end.is_none())?;
        let mut kept = tail.take_events(topic, partition, from, batch);
        // The log woke us at its commit; the ledger keeps those records a moment later. Not
        // worth waiting for when the log holds nothing there, or the tail dropped them.
        if kept.is_empty()
            && self.log.end_offset(topic, partition).await.is_ok_and(|end| end > from)
            && tail.may_hold(topic, partition, from)
        {
            let deadline = tokio::time::Instant::now() + Duration::from_millis(TAIL_WAIT_MS);
            while kept.is_empty() && tail.wait_filled(deadline).await {
                kept = tail.take_events(topic, partition, from, batch);
            }
        }
        // A record too big to keep is read back.
        let kept: Vec<(u64, Box<Envelope>)> =
            kept.into_iter().map_while(|(offset, event)| Some((offset, event?))).collect();
        let next = kept.last()?.0 + 1;
        self.sources.kept.fetch_add(kept.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let items = kept
            .into_iter()
            .map(|(offset, envelope)| Pending::Kept(Position { partition, offset }, envelope))
            .collect();
        Some((items, next))
    }

    /// Reads up to `batch` records from `from` (and not past `end`), with the offset the next
    /// read starts from.
    async fn read(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        batch: usize,
        end: Option<u64>,
    ) -> Result<(Vec<Pending>, u64), ProjectionError> {
        let read = self.log.read_batch(topic, partition, from, batch).await?;
        let mut records = read.records;
        // A log with gaps in its offsets (Kafka) may hand back records past the end.
        records.retain(|r| end.is_none_or(|end| r.position.offset < end));
        let next = end.map_or(read.next_offset, |end| read.next_offset.min(end));
        self.sources.read.fetch_add(records.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok((records.into_iter().map(Pending::Read).collect(), next))
    }

    /// Waits until the views include the record at `offset` of the partition (true), or
    /// `timeout` passes (false). Parked on the projector's commits; no polling.
    pub async fn wait_applied(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        timeout: Duration,
    ) -> Result<bool, ProjectionError> {
        let mut ticks = self.applied.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.views.position(topic, partition)? > offset {
                return Ok(true);
            }
            if let Some(halt) = self
                .views
                .halts()?
                .into_iter()
                .find(|h| h.topic == topic && h.partition == partition)
            {
                return Err(halted(halt));
            }
            match tokio::time::timeout_at(deadline, ticks.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return Ok(false),
            }
        }
    }

    /// Keeps the views current until `stop` turns true: each partition waits on the log for
    /// new records (no polling) and applies them.
    pub async fn follow(
        &self,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), ProjectionError> {
        let mut tasks = tokio::task::JoinSet::new();
        for (topic, partition) in self.partitions()? {
            let projector = self.clone();
            let mut stop = stop.clone();
            tasks.spawn(async move {
                loop {
                    // A broker dying or a leader moving fails a read for a while: the views
                    // wait and go on, never stop for it.
                    if let Err(e) = projector.catch_up_partition(&topic, partition).await {
                        if !passing(&e) {
                            return Err(e);
                        }
                        tracing::warn!(%topic, partition, error = %e, "the log is unavailable; the views retry");
                        tokio::time::sleep(Duration::from_millis(crate::limits::LOG_RETRY_MS)).await;
                        continue;
                    }
                    let next = projector.views.position(&topic, partition)?;
                    tokio::select! {
                        waited = projector.log.wait_for(&topic, partition, next, Duration::from_secs(1)) => {
                            if let Err(e) = waited {
                                tracing::warn!(%topic, partition, error = %e, "cannot wait for the log; the views retry");
                                tokio::time::sleep(Duration::from_millis(crate::limits::LOG_RETRY_MS)).await;
                            }
                        }
                        changed = stop.changed() => {
                            // A dropped sender means nobody can stop us any more: stop now.
                            if changed.is_err() {
                                return Ok::<(), ProjectionError>(());
                            }
                        }
                    }
                    if *stop.borrow() {
                        return Ok::<(), ProjectionError>(());
                    }
                }
            });
        }
        tasks.spawn(flush_when_settled(Arc::clone(&self.views), stop));
        while let Some(joined) = tasks.join_next().await {
            joined.map_err(|e| ProjectionError::Store(format!("follower: {e}")))??;
        }
        Ok(())
    }

    /// Every partition's position against the log's end, and any halt: the projection's health.
    pub async fn status(&self) -> Result<Vec<PartitionStatus>, ProjectionError> {
        let halts = self.views.halts()?;
        let mut out = Vec::new();
        for (topic, partition) in self.partitions()? {
            let halt = halts.iter().find(|h| h.topic == topic && h.partition == partition).cloned();
            out.push(PartitionStatus {
                position: self.views.position(&topic, partition)?,
                end: self.log.end_offset(&topic, partition).await?,
                topic,
                partition,
                halt,
            });
        }
        Ok(out)
    }
}

/// A failure of the log that passes (a broker restarting, a leader moving): retried.
fn passing(e: &ProjectionError) -> bool {
    matches!(
        e,
        ProjectionError::Log(ledger::LogError::Unavailable { .. })
            | ProjectionError::Ledger(ledger::LedgerError::Log(
                ledger::LogError::Unavailable { .. }
            ))
    )
}

fn halted(halt: Halt) -> ProjectionError {
    ProjectionError::Halted {
        topic: halt.topic,
        partition: halt.partition,
        offset: halt.offset,
        reason: halt.reason,
    }
}

/// A record on its way to the views: read from the log (to decode), or kept by the tail.
enum Pending {
    Read(ledger::LogRecord),
    Kept(Position, Box<Envelope>),
}

impl Pending {
    fn decoded(self, topic: &str) -> Item {
        match self {
            Pending::Read(record) => {
                let event = ledger::decode_logged(topic, &record);
                (record.position, event.map(Box::new).map_err(|e| e.to_string()))
            }
            Pending::Kept(position, envelope) => (position, Ok(envelope)),
        }
    }
}

/// Applies records in one batch with the partition's next position. On an event that cannot
/// be applied, commits the records before it, records the halt, and reports it.
fn apply_records(
    views: &Views,
    keys: &dyn SealKeys,
    topic: &str,
    partition: u32,
    records: &[Item],
    next: u64,
) -> Result<u64, ProjectionError> {
    let mut tx = Tx::new(views);
    for (index, (position, event)) in records.iter().enumerate() {
        let refusal = match event {
            Ok(envelope) => match apply(&mut tx, keys, envelope, *position) {
                Ok(()) => continue,
                Err(refusal) => refusal,
            },
            Err(e) => Refusal::Event(e.clone()),
        };
        let reason = match refusal {
            Refusal::Event(reason) => reason,
            Refusal::Store(e) => return Err(e),
        };
        // Redo the good prefix cleanly (the refused event may have staged changes).
        let mut good = Tx::new(views);
        for (earlier, event) in &records[..index] {
            let Ok(envelope) = event else { unreachable!("an undecodable record halts the batch") };
            if let Err(Refusal::Store(e)) = apply(&mut good, keys, envelope, *earlier) {
                return Err(e);
            }
        }
        good.set_position(topic, partition, position.offset)?;
        good.commit()?;
        let halt = Halt { topic: topic.to_owned(), partition, offset: position.offset, reason };
        tracing::error!(topic, partition, offset = halt.offset, reason = %halt.reason, "projection halted");
        views.record_halt(&halt)?;
        return Err(halted(halt));
    }
    let last = records.last().map_or(0, |(position, _)| position.offset + 1);
    debug_assert!(next >= last, "the next read starts past the last record");
    tx.set_position(topic, partition, next.max(last))?;
    tx.commit()?;
    Ok(records.len() as u64)
}

/// Flushes the views whenever they settle (`Views::flush_if_settled`) until `stop` turns true.
async fn flush_when_settled(
    views: Arc<Views>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), ProjectionError> {
    use crate::limits::{VIEWS_FLUSH_AGE_MS_MAX, VIEWS_FLUSH_CHECK_MS, VIEWS_FLUSH_QUIET_MS};
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(VIEWS_FLUSH_CHECK_MS)) => {}
            changed = stop.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
        }
        if *stop.borrow() {
            return Ok(());
        }
        let views = Arc::clone(&views);
        let flushed = tokio::task::spawn_blocking(move || {
            views.flush_if_settled(VIEWS_FLUSH_QUIET_MS, VIEWS_FLUSH_AGE_MS_MAX)
        })
        .await
        .map_err(|e| ProjectionError::Store(format!("flusher: {e}")))?;
        if let Err(e) = flushed {
            tracing::warn!(error = %e, "cannot flush the views; retrying");
        }
    }
}
