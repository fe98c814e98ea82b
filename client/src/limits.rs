//! The client's limits.

/// How often `locker issue bulk` sends a batch that failed in transit or could not be written
/// (doubling the wait from half a second) before it reports the rows as unavailable.
pub const BULK_SEND_ATTEMPTS: u32 = 6;
/// The wait before `locker issue bulk` sends a batch again the first time.
pub const BULK_RETRY_WAIT_FIRST_MS: u64 = 500;
