//! Every bound the ledger enforces, in one place. Units come last in the names.

pub use schemas::limits::RECORD_SIZE_BYTES_MAX;

/// Records one `Ledger::append` call accepts. Bigger bulk loads are streamed in several calls.
pub const APPEND_BATCH_RECORDS_MAX: usize = 4096;
/// Records the embedded writer puts into one RocksDB write batch (one fsync). Concurrent
/// appends are merged up to this many.
pub const GROUP_COMMIT_RECORDS_MAX: usize = 8192;
/// Append requests waiting for the embedded writer; a full queue makes callers wait.
pub const WRITER_QUEUE_REQUESTS_MAX: usize = 1024;
/// Signatures verified together in one Ed25519 batch; ~64 is where batching stops paying more.
pub const VERIFY_CHUNK_SIGNATURES: usize = 64;
/// Records one read returns.
pub const READ_RECORDS_MAX: usize = 10_000;
/// Partitions a topic may have.
pub const TOPIC_PARTITIONS_MAX: u32 = 1024;
pub const TOPIC_NAME_BYTES_MAX: usize = 200;
/// A partition key (a locker id is 36 bytes).
pub const PARTITION_KEY_BYTES_MAX: usize = 256;

const _: () = assert!(APPEND_BATCH_RECORDS_MAX <= GROUP_COMMIT_RECORDS_MAX);
const _: () = assert!(VERIFY_CHUNK_SIGNATURES <= APPEND_BATCH_RECORDS_MAX);
