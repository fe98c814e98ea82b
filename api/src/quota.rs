//! Per-principal quotas, as token buckets on the injected clock: a principal may spend up to
//! `capacity` units at once, and regains `capacity` units per hour, continuously.
//!
//! Used for Aadhaar references: only the platform can turn an Aadhaar number into its keyed
//! reference, so the endpoints answer whether a number is well formed and what its reference
//! is to any signed issuer. A board needs a few million at once on results day; enumerating
//! the 10^11 numbers at that pace would take years, and is refused long before.

use std::collections::HashMap;
use std::sync::Mutex;

use schemas::{Principal, TimestampMs};

/// An hour in milliseconds: tokens are kept in unit-milliseconds, so refilling is exact
/// integer arithmetic.
const HOUR_MS: u128 = 3_600_000;

#[derive(Debug)]
pub struct Quota {
    capacity: u64,
    /// Per principal: tokens (units x HOUR_MS) and when they were counted.
    buckets: Mutex<HashMap<Principal, (u128, TimestampMs)>>,
}

impl Quota {
    pub fn per_hour(capacity: u64) -> Self {
        Quota { capacity, buckets: Mutex::new(HashMap::new()) }
    }

    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Takes `units` from the principal's bucket at `now`, or says in how many seconds they
    /// will be there (never, when more than the capacity is asked at once).
    pub fn take(&self, who: &Principal, units: u64, now: TimestampMs) -> Result<(), u64> {
        let capacity = u128::from(self.capacity);
        let full = capacity * HOUR_MS;
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
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
}
