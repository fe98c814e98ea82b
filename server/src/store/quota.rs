//! Quotas, as token buckets on the injected clock: a key (a principal, a share link) may spend
//! up to `capacity` units at once, and regains `capacity` units per hour, continuously. At
//! most `limits::QUOTA_KEYS_MAX` keys are tracked: past that, keys untouched for an hour (whose
//! buckets are full again) are forgotten, and if all are recent a new key waits a minute.
//!
//! Also used for share links: each view of a link is an event in the log, so a link holder
//! could otherwise make the ledger write as fast as it can send requests.
//!
//! Used for Aadhaar references: only the platform can turn an Aadhaar number into its keyed
//! reference, so the endpoints answer whether a number is well formed and what its reference
//! is to any signed issuer. A board needs a few million at once on results day; enumerating
//! the 10^11 numbers at that pace would take years, and is refused long before.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use schemas::{Principal, TimestampMs};

/// An hour in milliseconds: tokens are kept in unit-milliseconds, so refilling is exact
/// integer arithmetic.
const HOUR_MS: u128 = 3_600_000;

#[derive(Debug)]
pub struct Quota<K = Principal> {
    capacity: u64,
    /// Per key: tokens (units x HOUR_MS) and when they were counted.
    buckets: Mutex<HashMap<K, (u128, TimestampMs)>>,
    keys_max: usize,
}

/// A new key finds no room (every tracked key was used within the hour): ask again then.
const NO_ROOM_WAIT_S: u64 = 60;

impl<K: Hash + Eq + Clone> Quota<K> {
    pub fn per_hour(capacity: u64) -> Self {
        Self::per_hour_bounded(capacity, crate::limits::QUOTA_KEYS_MAX)
    }

    pub fn per_hour_bounded(capacity: u64, keys_max: usize) -> Self {
        Quota { capacity, buckets: Mutex::new(HashMap::new()), keys_max }
    }

    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Takes `units` from the principal's bucket at `now`, or says in how many seconds they
    /// will be there (never, when more than the capacity is asked at once).
    pub fn take(&self, who: &K, units: u64, now: TimestampMs) -> Result<(), u64> {
        let capacity = u128::from(self.capacity);
        let full = capacity * HOUR_MS;
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !buckets.contains_key(who) && buckets.len() >= self.keys_max {
            let hour_ago = now.0.saturating_sub(3_600_000);
            buckets.retain(|_, (_, at)| at.0 > hour_ago);
            if buckets.len() >= self.keys_max {
                return Err(NO_ROOM_WAIT_S);
            }
        }
        let (tokens, at) = buckets.entry(who.clone()).or_insert((full, now));
        let elapsed_ms = u128::try_from(now.0.saturating_sub(at.0)).unwrap_or(0);
        *tokens = tokens.saturating_add(capacity * elapsed_ms).min(full);
        *at = now;
        let wanted = u128::from(units) * HOUR_MS;
        if wanted <= *tokens {
            *tokens -= wanted;
            return Ok(());
        }
        // Units come back at `capacity` per hour: capacity tokens per millisecond.
        let wait_ms = (wanted - *tokens).div_ceil(capacity.max(1));
        Err(u64::try_from(wait_ms.div_ceil(1000)).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_refills_with_time_and_is_per_principal() {
        let quota = Quota::per_hour(3600);
        let board = Principal::Issuer(schemas::IssuerId::parse("in.gov.cbse").expect("id"));
        let other = Principal::Issuer(schemas::IssuerId::parse("in.gov.other").expect("id"));
        let t0 = TimestampMs(1_000_000);
        assert_eq!(quota.take(&board, 3000, t0), Ok(()));
        assert_eq!(quota.take(&board, 601, t0), Err(1), "one unit a second comes back");
        assert_eq!(quota.take(&other, 3600, t0), Ok(()), "another principal has its own");
        assert_eq!(quota.take(&board, 601, TimestampMs(t0.0 + 1_000)), Ok(()));
        assert_eq!(quota.take(&board, 10, TimestampMs(t0.0 + 1_000)), Err(10));
        assert!(quota.take(&board, 3601, TimestampMs(t0.0 + 10_000_000)).is_err(), "over capacity");
    }

    #[test]
    fn at_most_so_many_keys_are_tracked() {
        let quota = Quota::<u32>::per_hour_bounded(10, 2);
        let t0 = TimestampMs(1_000_000);
        assert_eq!(quota.take(&1, 1, t0), Ok(()));
        assert_eq!(quota.take(&2, 1, t0), Ok(()));
        assert_eq!(quota.take(&3, 1, t0), Err(NO_ROOM_WAIT_S), "both others used within the hour");
        assert_eq!(quota.take(&1, 1, t0), Ok(()), "a tracked key goes on");
        let later = TimestampMs(t0.0 + 3_600_001);
        assert_eq!(quota.take(&3, 1, later), Ok(()), "keys idle for an hour were forgotten");
        assert_eq!(quota.buckets.lock().expect("lock").len(), 1);
    }
}

/// Open event streams: at most `total` at once, and at most `per_holder` for any one holder
/// (a requester), so that no requester can take every slot.
#[derive(Debug)]
pub struct StreamSlots {
    total: std::sync::Arc<tokio::sync::Semaphore>,
    per_holder: usize,
    held: std::sync::Arc<Mutex<HashMap<String, usize>>>,
}

/// One open stream; dropping it frees its slot.
#[derive(Debug)]
pub struct StreamSlot {
    _total: tokio::sync::OwnedSemaphorePermit,
    holder: String,
    held: std::sync::Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.holder) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.holder);
            }
        }
    }
}

/// Why no slot was given.
#[derive(Debug, PartialEq, Eq)]
pub enum NoSlot {
    /// Every slot is taken.
    Full,
    /// The holder has its share.
    HolderFull,
}

impl StreamSlots {
    pub fn new(total: usize, per_holder: usize) -> Self {
        StreamSlots {
            total: std::sync::Arc::new(tokio::sync::Semaphore::new(total)),
            per_holder,
            held: std::sync::Arc::default(),
        }
    }

    pub fn per_holder(&self) -> usize {
        self.per_holder
    }

    pub fn take(&self, holder: &str) -> Result<StreamSlot, NoSlot> {
        let mut held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = held.get(holder).copied().unwrap_or(0);
        if count >= self.per_holder {
            return Err(NoSlot::HolderFull);
        }
        let total =
            std::sync::Arc::clone(&self.total).try_acquire_owned().map_err(|_| NoSlot::Full)?;
        held.insert(holder.to_owned(), count + 1);
        Ok(StreamSlot {
            _total: total,
            holder: holder.to_owned(),
            held: std::sync::Arc::clone(&self.held),
        })
    }
}
