//! The client's limits.

/// How often `locker issue bulk` sends a batch that failed in transit or could not be written
/// (doubling the wait from half a second) before it reports the rows as unavailable.
pub const BULK_SEND_ATTEMPTS: u32 = 6;
/// The wait before `locker issue bulk` sends a batch again the first time.
pub const BULK_RETRY_WAIT_FIRST_MS: u64 = 500;
/// How long a request may take to be answered: one document, a listing, a status check.
pub const REQUEST_TIMEOUT_MS: u64 = 30_000;
/// How long the service may take to answer a batch of Aadhaar references.
pub const REFERENCES_TIMEOUT_MS: u64 = 60_000;
/// How long the service may take to answer a batch of results (thousands of rows, each
/// verified, sealed and logged).
pub const BATCH_TIMEOUT_MS: u64 = 120_000;

/// How long the service may take to snapshot its views (compressing and uploading every file
/// of a national-scale store takes minutes, not seconds).
pub const SNAPSHOT_TIMEOUT_MS: u64 = 30 * 60 * 1000;

const _: () = assert!(REQUEST_TIMEOUT_MS <= REFERENCES_TIMEOUT_MS);
const _: () = assert!(BATCH_TIMEOUT_MS <= SNAPSHOT_TIMEOUT_MS);
const _: () = assert!(REFERENCES_TIMEOUT_MS <= BATCH_TIMEOUT_MS);
