//! Every bound the projections enforce, in one place. Units come last in the names.

/// Records one partition applies in one RocksDB write batch (with its position).
pub const APPLY_BATCH_RECORDS_MAX: usize = 2048;
/// Items one page of a list returns.
pub const PAGE_ITEMS_MAX: usize = 500;
/// The storage quota of one locker.
pub const LOCKER_QUOTA_BYTES: i64 = 1 << 30;
/// Partitions caught up at the same time (both cores).
pub const PARALLEL_PARTITIONS_MAX: usize = 2;

const _: () = assert!(PAGE_ITEMS_MAX <= APPLY_BATCH_RECORDS_MAX);
/// The block cache all the views' families share. RocksDB gives each of the seventeen its own
/// 32 MiB cache by default, which let a results day's reads grow the service by hundreds of
/// MiB; the hot reads are recent rows, which the memtables still hold.
pub const VIEWS_BLOCK_CACHE_BYTES: usize = 32 * 1024 * 1024;
/// Memory all the views' memtables may hold together before RocksDB flushes them.
pub const VIEWS_MEMTABLES_BYTES_MAX: usize = 128 * 1024 * 1024;
/// A list cursor's hex digits. A cursor is a listed row's key: a short prefix, a locker id or
/// Aadhaar hash, and at most a document URI (171 characters), so half of this is ample.
pub const CURSOR_CHARS_MAX: usize = 1024;
const _: () = assert!(CURSOR_CHARS_MAX / 2 >= 8 + 32 + 8 + 64 + 1 + 5 + 1 + 100);
/// How long the projector waits for the ledger to hand over records the log has just woken it
/// for (`ledger::Tail`) before it reads them back instead: the moment between the log's
/// commit and the ledger's verdicts, with room for a busy machine.
pub const TAIL_WAIT_MS: u64 = 5;
/// A follower that could not read the log (a broker restarting) tries again after this long.
pub const LOG_RETRY_MS: u64 = 500;
/// The views are flushed once no batch came for this long (`Views::flush_if_settled`): what a
/// crash keeps and an auditor reading them sees catches up soon after a load ends.
pub const VIEWS_FLUSH_QUIET_MS: u64 = 1_000;
/// ... or once their oldest unflushed batch is this old, under a steady trickle of events.
pub const VIEWS_FLUSH_AGE_MS_MAX: u64 = 30_000;
/// How often the follower checks whether to flush.
pub const VIEWS_FLUSH_CHECK_MS: u64 = 500;
const _: () = assert!(VIEWS_FLUSH_CHECK_MS <= VIEWS_FLUSH_QUIET_MS);
const _: () = assert!(VIEWS_FLUSH_QUIET_MS < VIEWS_FLUSH_AGE_MS_MAX);
