//! Time, injected: production reads the system clock once per use; tests and replay set it.

use std::sync::atomic::{AtomicI64, Ordering};

use schemas::TimestampMs;

pub trait Clock: Send + Sync {
    fn now(&self) -> TimestampMs;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods, reason = "the one place that reads the real clock")]
    fn now(&self) -> TimestampMs {
        let since_epoch =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        TimestampMs(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    pub fn new(now: TimestampMs) -> Self {
        ManualClock { now_ms: AtomicI64::new(now.0) }
    }
    pub fn set(&self, now: TimestampMs) {
        self.now_ms.store(now.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> TimestampMs {
        TimestampMs(self.now_ms.load(Ordering::SeqCst))
    }
}
