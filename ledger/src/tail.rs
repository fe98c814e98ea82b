//! What this process appended moments ago, kept in memory for the readers right behind the
//! writer: the projector takes the typed envelopes and the Merkle follower the leaf hashes,
//! instead of reading the records back from the log and decoding or hashing them again
//! (reading back and decoding was about a tenth of a bulk load's CPU).
//!
//! Only for logs whose offsets are dense (the embedded log, `Log::dense_offsets`): there a
//! run of consecutive offsets starting at a reader's position is exactly what the log holds
//! at those offsets, whoever else appends to it. On Kafka (transaction markers between
//! records) no tail is kept and readers read the log.
//!
//! Entries are put in only once the log said they are durable, go when a reader takes them,
//! and past a partition's cap the oldest go first: a reader that fell that far behind reads
//! the log, as it always could. The log wakes its readers at its commit, a moment before the
//! ledger has the verdicts and puts the records here: a reader that finds its position
//! missing while an append is between the two waits for it (`wait_filled`), briefly.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use schemas::{Digest32, Envelope};

use crate::limits::{
    TAIL_EVENTS_PER_PARTITION_MAX, TAIL_LEAVES_PER_PARTITION_MAX, TAIL_RECORD_BYTES_MAX,
};

type Partition = (String, u32);
type Entries<T> = HashMap<Partition, BTreeMap<u64, T>>;

/// Recently appended events and leaf hashes, by partition and offset.
#[derive(Default)]
pub struct Tail {
    /// Boxed (an envelope's fixed part is half a kilobyte, moved in and out of the map);
    /// `None` for a record over `TAIL_RECORD_BYTES_MAX`, which its reader reads back.
    events: Mutex<Entries<Option<Box<Envelope>>>>,
    leaves: Mutex<Entries<Digest32>>,
    /// Appends written to the log and not yet kept here (or given up).
    appending: AtomicUsize,
    /// Told each time an append is kept (or given up).
    filled: tokio::sync::Notify,
}

/// An append on its way from the log to the tail; dropping it ends the wait for it.
pub(crate) struct Appending<'a>(&'a Tail);

impl Drop for Appending<'_> {
    fn drop(&mut self) {
        self.0.appending.fetch_sub(1, Ordering::SeqCst);
        self.0.filled.notify_waiters();
    }
}

impl std::fmt::Debug for Tail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tail").finish_non_exhaustive()
    }
}

impl Tail {
    /// Marks an append whose records will be kept here once the log has them.
    pub(crate) fn appending(&self) -> Appending<'_> {
        self.appending.fetch_add(1, Ordering::SeqCst);
        Appending(self)
    }

    /// Waits until the next append is kept here, or `deadline`; false at once when no append
    /// is between the log and the tail (nothing to wait for). The log may have woken a reader
    /// for records that are about to be kept here.
    pub async fn wait_filled(&self, deadline: tokio::time::Instant) -> bool {
        let filled = self.filled.notified();
        tokio::pin!(filled);
        filled.as_mut().enable();
        if self.appending.load(Ordering::SeqCst) == 0 {
            return false;
        }
        tokio::time::timeout_at(deadline, filled).await.is_ok()
    }

    /// Keeps durable records of one partition: `(offset, envelope, leaf hash, record bytes)`.
    pub(crate) fn keep(
        &self,
        topic: &str,
        partition: u32,
        appended: Vec<(u64, Envelope, Digest32, usize)>,
    ) {
        if appended.is_empty() {
            return;
        }
        let key = (topic.to_owned(), partition);
        let mut leaves = Vec::with_capacity(appended.len());
        let mut events = Vec::with_capacity(appended.len());
        for (offset, envelope, leaf, bytes) in appended {
            leaves.push((offset, leaf));
            // A big record is not kept whole: its reader reads it back.
            events.push((offset, (bytes <= TAIL_RECORD_BYTES_MAX).then(|| Box::new(envelope))));
        }
        insert(&self.leaves, key.clone(), leaves, TAIL_LEAVES_PER_PARTITION_MAX);
        insert(&self.events, key, events, TAIL_EVENTS_PER_PARTITION_MAX);
    }

    /// The events at `from`, `from + 1`, ... while the tail holds each, at most `max`; taken
    /// out, with everything before `from` (a reader never goes back). A record too big to
    /// keep ends the run (`None` in the first place: read that one back). Empty when the tail
    /// does not hold `from`: read the log.
    pub fn take_events(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        max: usize,
    ) -> Vec<(u64, Option<Box<Envelope>>)> {
        take_run(&self.events, topic, partition, from, max, Option::is_none)
    }

    /// Whether the tail may still be given the record at `from`: false when it keeps records
    /// so much newer that `from` was dropped for the cap (its reader fell behind).
    pub fn may_hold(&self, topic: &str, partition: u32, from: u64) -> bool {
        let entries = self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let newest = entries
            .get(&(topic.to_owned(), partition))
            .and_then(|held| held.last_key_value().map(|(offset, _)| *offset));
        newest.is_none_or(|newest| newest < from + TAIL_EVENTS_PER_PARTITION_MAX as u64)
    }

    /// `take_events` for the Merkle leaves, `H(0x00 || record)`.
    pub fn take_leaves(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        max: usize,
    ) -> Vec<(u64, Digest32)> {
        take_run(&self.leaves, topic, partition, from, max, |_| false)
    }

    /// Entries held now (events, leaves): for tests and metrics.
    pub fn held(&self) -> (usize, usize) {
        (count(&self.events), count(&self.leaves))
    }
}

fn insert<T>(entries: &Mutex<Entries<T>>, key: Partition, new: Vec<(u64, T)>, cap: usize) {
    let mut entries = entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let held = entries.entry(key).or_default();
    held.extend(new);
    while held.len() > cap {
        held.pop_first();
    }
    assert!(held.len() <= cap, "a partition's tail stays within its cap");
}

/// Takes the run from `from`; an entry `ends_run` picks is a run of its own (left for the next
/// call when it is not the first).
fn take_run<T>(
    entries: &Mutex<Entries<T>>,
    topic: &str,
    partition: u32,
    from: u64,
    max: usize,
    ends_run: fn(&T) -> bool,
) -> Vec<(u64, T)> {
    let mut entries = entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(held) = entries.get_mut(&(topic.to_owned(), partition)) else { return Vec::new() };
    // What lies before `from` was read already (from here or from the log).
    let mut rest = held.split_off(&from);
    std::mem::swap(held, &mut rest);
    let mut run = Vec::new();
    while run.len() < max {
        let next = from + run.len() as u64;
        match held.first_key_value() {
            Some((&offset, entry)) if offset == next && (run.is_empty() || !ends_run(entry)) => {
                let alone = ends_run(entry);
                run.extend(held.pop_first());
                if alone {
                    break;
                }
            }
            _ => break,
        }
    }
    run
}

fn count<T>(entries: &Mutex<Entries<T>>) -> usize {
    let entries = entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    entries.values().map(BTreeMap::len).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(n: u8) -> Digest32 {
        Digest32([n; 32])
    }

    fn keep_leaves(tail: &Tail, offsets: &[u64]) {
        let mut leaves = tail.leaves.lock().expect("lock");
        let held = leaves.entry(("t".to_owned(), 0)).or_default();
        for &offset in offsets {
            held.insert(offset, leaf(u8::try_from(offset % 251).expect("small")));
        }
    }

    #[test]
    fn takes_only_a_consecutive_run_from_the_position() {
        let tail = Tail::default();
        keep_leaves(&tail, &[5, 6, 7, 9, 10]);
        assert!(tail.take_leaves("t", 0, 4, 10).is_empty(), "4 is not held: read the log");
        let run: Vec<u64> = tail.take_leaves("t", 0, 5, 10).into_iter().map(|(o, _)| o).collect();
        assert_eq!(run, vec![5, 6, 7], "stops at the hole at 8");
        assert!(tail.take_leaves("t", 0, 8, 10).is_empty());
        let run: Vec<u64> = tail.take_leaves("t", 0, 9, 1).into_iter().map(|(o, _)| o).collect();
        assert_eq!(run, vec![9], "at most max");
        assert_eq!(tail.held(), (0, 1));
        assert!(tail.take_leaves("t", 1, 10, 10).is_empty(), "another partition holds nothing");
    }

    #[test]
    fn drops_what_lies_before_the_position() {
        let tail = Tail::default();
        keep_leaves(&tail, &[1, 2, 3, 7, 8]);
        assert_eq!(tail.take_leaves("t", 0, 7, 10).len(), 2);
        assert_eq!(tail.held(), (0, 0), "1..3 were read from the log meanwhile");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_waits_only_while_an_append_is_between_the_log_and_the_tail() {
        let tail = std::sync::Arc::new(Tail::default());
        let soon = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        // Bounded well under `soon`: a wait for the deadline would fail here, not pass slowly.
        let at_once =
            tokio::time::timeout(std::time::Duration::from_secs(1), tail.wait_filled(soon));
        assert!(!at_once.await.expect("nothing appending: no wait"));
        let appending = tail.appending();
        let later = tokio::time::Instant::now() + std::time::Duration::from_millis(20);
        assert!(!tail.wait_filled(later).await, "still appending at the deadline");
        let waiter = {
            let tail = std::sync::Arc::clone(&tail);
            tokio::spawn(async move { tail.wait_filled(soon).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        drop(appending);
        assert!(waiter.await.expect("joined"), "woken when the append was kept");
    }

    #[test]
    fn a_record_too_big_to_keep_is_a_run_of_its_own_to_read_back() {
        let mut world = crate::world::World::new(7);
        let (citizen, _) = world.register_citizen();
        let envelope = world.marksheet_envelope(&citizen, "M-1");
        let (small, big) = (100, TAIL_RECORD_BYTES_MAX + 1);
        let kept = [(0, small), (1, small), (2, big), (3, small)]
            .map(|(offset, bytes)| (offset, envelope.clone(), leaf(1), bytes));
        let tail = Tail::default();
        tail.keep("t", 0, kept.to_vec());
        let shape = |run: Vec<(u64, Option<Box<Envelope>>)>| -> Vec<(u64, bool)> {
            run.into_iter().map(|(offset, event)| (offset, event.is_some())).collect()
        };
        assert_eq!(shape(tail.take_events("t", 0, 0, 10)), vec![(0, true), (1, true)]);
        assert_eq!(shape(tail.take_events("t", 0, 2, 10)), vec![(2, false)], "read it back");
        assert_eq!(shape(tail.take_events("t", 0, 3, 10)), vec![(3, true)]);
        assert_eq!(tail.take_leaves("t", 0, 0, 10).len(), 4, "every leaf is kept");
    }

    #[test]
    fn keeps_a_partition_within_its_cap_dropping_the_oldest() {
        let tail = Tail::default();
        let cap = TAIL_LEAVES_PER_PARTITION_MAX as u64;
        let many: Vec<(u64, Digest32)> = (0..cap + 10).map(|o| (o, leaf(1))).collect();
        insert(&tail.leaves, ("t".to_owned(), 0), many, TAIL_LEAVES_PER_PARTITION_MAX);
        assert_eq!(tail.held().1, TAIL_LEAVES_PER_PARTITION_MAX);
        assert!(tail.take_leaves("t", 0, 0, 10).is_empty(), "the oldest went");
        assert_eq!(tail.take_leaves("t", 0, 10, 10).len(), 10);
    }
}
