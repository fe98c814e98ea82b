//! The transaction one partition's batch of events is applied in: a write batch plus an
//! overlay (later events in the batch see earlier ones), counter deltas summed per key, and
//! the refusal an event's apply may end with. Shared by every family of events.

use std::collections::HashMap;

use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};

use crate::ProjectionError;
use crate::store::{Row, Views, decode, encode};
use crate::views::*;

pub(crate) struct Tx<'a> {
    views: &'a Views,
    batch: WriteBatch,
    overlay: HashMap<(&'static str, Vec<u8>), Option<Vec<u8>>>,
    /// Counter deltas, summed per key and merged once at commit: a batch of a board's
    /// results adds to the same few counters thousands of times.
    counters: HashMap<Vec<u8>, i64>,
}

impl<'a> Tx<'a> {
    pub(crate) fn new(views: &'a Views) -> Self {
        Tx {
            views,
            batch: WriteBatch::default(),
            overlay: HashMap::new(),
            counters: HashMap::new(),
        }
    }

    pub(crate) fn get<T: for<'de> Deserialize<'de>>(
        &self,
        cf: &'static str,
        key: &[u8],
    ) -> Result<Option<T>, ProjectionError> {
        let bytes = match self.overlay.get(&(cf, key.to_vec())) {
            Some(value) => value.clone(),
            None => self.views.get(cf, key)?,
        };
        bytes.map(|bytes| decode(&bytes, cf)).transpose()
    }

    pub(crate) fn put<T: Serialize>(
        &mut self,
        cf: &'static str,
        key: Vec<u8>,
        value: &T,
    ) -> Result<(), ProjectionError> {
        self.overlay.insert((cf, key), Some(encode(value)));
        Ok(())
    }

    pub(crate) fn delete(&mut self, cf: &'static str, key: Vec<u8>) -> Result<(), ProjectionError> {
        self.overlay.insert((cf, key), None);
        Ok(())
    }

    pub(crate) fn add(&mut self, key: &[u8], delta: i64) -> Result<(), ProjectionError> {
        let total = self.counters.entry(key.to_vec()).or_insert(0);
        *total = total.wrapping_add(delta);
        Ok(())
    }

    /// Every item of `cf` under `prefix` as this transaction sees it: the store's, with the
    /// changes staged here laid over them. For rare events that clear a range (a locker
    /// closed): it walks the whole overlay.
    pub(crate) fn items_under(
        &self,
        cf: &'static str,
        prefix: &[u8],
    ) -> Result<Vec<Row>, ProjectionError> {
        let mut items: std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>> = self
            .views
            .scan(cf, prefix, None, usize::MAX)?
            .into_iter()
            .map(|(key, value)| (key, Some(value)))
            .collect();
        for ((family, key), value) in &self.overlay {
            if *family == cf && key.starts_with(prefix) {
                items.insert(key.clone(), value.clone());
            }
        }
        Ok(items.into_iter().filter_map(|(key, value)| Some((key, value?))).collect())
    }

    /// Deletes every counter under `prefix`, with whatever this transaction added to them.
    pub(crate) fn clear_counters_under(&mut self, prefix: &[u8]) -> Result<(), ProjectionError> {
        let mut keys: Vec<Vec<u8>> = self
            .views
            .scan(CF_COUNTERS, prefix, None, usize::MAX)?
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        keys.extend(self.counters.keys().filter(|key| key.starts_with(prefix)).cloned());
        for key in keys {
            self.counters.remove(&key);
            self.overlay.insert((CF_COUNTERS, key), None);
        }
        Ok(())
    }

    pub(crate) fn set_position(
        &mut self,
        topic: &str,
        partition: u32,
        next: u64,
    ) -> Result<(), ProjectionError> {
        self.batch.put_cf(
            &self.views.cf(CF_POSITIONS)?,
            position_key(topic, partition),
            next.to_le_bytes(),
        );
        Ok(())
    }

    /// Writes the staged changes as one batch, in key order: the memtable's skiplist inserts
    /// a run of sorted keys from where the previous one landed instead of searching from its
    /// top each time, and a batch of random keys (a board's results, keyed by citizen) spent
    /// most of the projector's write in that search. Only the last change of a key is kept.
    pub(crate) fn commit(mut self) -> Result<(), ProjectionError> {
        let mut staged: Vec<_> = self.overlay.into_iter().collect();
        staged.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for ((cf, key), value) in staged {
            let family = self.views.cf(cf)?;
            match value {
                Some(bytes) => self.batch.put_cf(family, &key, &bytes),
                None => self.batch.delete_cf(family, &key),
            }
        }
        let counters = self.views.cf(CF_COUNTERS)?;
        let mut counted: Vec<_> = self.counters.into_iter().collect();
        counted.sort_unstable();
        // Every touched counter is merged, even by zero: a counter exists once anything
        // added to it, however the history was cut into batches.
        for (key, delta) in counted {
            self.batch.merge_cf(counters, &key, delta.to_le_bytes());
        }
        self.views.write(self.batch)
    }
}

/// Why an event could not be applied.
pub(crate) enum Refusal {
    /// The event contradicts the views (the documented halt policy).
    Event(String),
    /// The store failed: not the event's fault.
    Store(ProjectionError),
}

impl From<ProjectionError> for Refusal {
    fn from(e: ProjectionError) -> Self {
        Refusal::Store(e)
    }
}

pub(crate) fn refuse<T>(reason: String) -> Result<T, Refusal> {
    Err(Refusal::Event(reason))
}

/// Keeps the index of live consents by the time they lapse (a pending request by its answer
/// deadline, an active consent by its access end), for the platform's expiry sweep.
pub(crate) fn reindex_expiry(
    tx: &mut Tx<'_>,
    before: Option<&ConsentView>,
    after: &ConsentView,
) -> Result<(), ProjectionError> {
    let key = |view: &ConsentView| {
        live_until(view).map(|at| consent_expiry_key(at, &view.locker, &view.consent_id))
    };
    let (old, new) = (before.and_then(key), key(after));
    if old != new {
        if let Some(old) = old {
            tx.delete(CF_CONSENT_EXPIRY, old)?;
        }
        if let Some(new) = new {
            tx.put(CF_CONSENT_EXPIRY, new, &())?;
        }
    }
    Ok(())
}
