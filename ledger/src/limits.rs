//! Every bound the ledger enforces, in one place. Units come last in the names.

pub use schemas::limits::RECORD_SIZE_BYTES_MAX;

/// Records one `Ledger::append` call accepts. Bigger bulk loads are streamed in several calls.
pub const APPEND_BATCH_RECORDS_MAX: usize = 4096;
/// Events `Ledger::authenticate` remembers as verified until their append: enough for every
/// batch a service authenticates and appends at once; past it the oldest are verified again.
pub const VERIFIED_EVENTS_MAX: usize = 65_536;
/// Records the embedded writer puts into one RocksDB write batch (one fsync). Concurrent
/// appends are merged up to this many.
pub const GROUP_COMMIT_RECORDS_MAX: usize = 8192;
/// Append requests waiting for the embedded writer; a full queue makes callers wait.
pub const WRITER_QUEUE_REQUESTS_MAX: usize = 1024;
/// Signatures verified together in one Ed25519 batch. Measured here (append-ratio): 128 beats
/// 64 by ~25% on both the raw rate and the ledger's append rate.
pub const VERIFY_CHUNK_SIGNATURES: usize = 128;
/// The smallest batch a small input is split into to spread it over the cores.
pub const VERIFY_CHUNK_SIGNATURES_MIN: usize = 8;
/// Records verified and then appended as one step of a large append call; the next step is
/// verified while this one waits for its fsync. 512 measured a little better than 256.
pub const PIPELINE_CHUNK_RECORDS: usize = 512;
/// How long a Kafka record may wait for delivery (librdkafka's default is 5 minutes).
pub const KAFKA_DELIVERY_TIMEOUT_MS: u64 = 30_000;
/// Metadata, admin, watermark and read requests to Kafka.
pub const KAFKA_REQUEST_TIMEOUT_MS: u64 = 10_000;
/// How long an owner's open transaction may stay open before the broker aborts it: an owner
/// paused mid-append holds back readers of its partition (read_committed) at most this long,
/// unless a new owner's claim aborts it first.
pub const KAFKA_TRANSACTION_TIMEOUT_MS: u64 = 10_000;
/// How long a broker holds a waiting follower's fetch where owners write in transactions (a
/// commit marker does not end the long poll, so this bounds how late a commit is seen).
pub const KAFKA_OWNED_WAIT_POLL_MS: u64 = 100;
/// How long a broker holds a reader's fetch that finds nothing (a tail of markers).
pub const KAFKA_READ_WAIT_MS: u64 = 5;
/// How often a waiter on an owned partition looks whether this process committed to it
/// meanwhile: its own commits are seen within this, not after the broker's long poll.
pub const KAFKA_COMMIT_WAKE_MS: u64 = 10;
/// How long a cluster node may go silent before the group gives its partitions to others:
/// the larger part of a failover's time. Kafka's brokers refuse less than 6 s by default.
pub const GROUP_SESSION_TIMEOUT_MS: u64 = 6_000;
/// How often a node tells the group it is alive (a third of the session or less, as Kafka
/// advises).
pub const GROUP_HEARTBEAT_MS: u64 = 1_000;
/// Idle consumers `KafkaLog::wait_for` keeps for the next wait: a consumer per wait cost a
/// new connection to the brokers every few seconds for each idle follower.
pub const KAFKA_WAITERS_IDLE_MAX: usize = 16;
/// Records one read returns.
pub const READ_RECORDS_MAX: usize = 10_000;
/// Hashes in a Merkle proof a verifier reads: an inclusion proof has at most 64, a
/// consistency proof at most 65 (trees of up to 2^64 leaves).
pub const MERKLE_PROOF_HASHES_MAX: usize = 65;
/// A partition gets a signed checkpoint after this many new records, or this long after its
/// last one if anything was added; the service looks every `CHECKPOINT_LOOK_MS`.
pub const CHECKPOINT_EVERY_RECORDS: u64 = 10_000;
pub const CHECKPOINT_EVERY_MS: i64 = 10_000;
pub const CHECKPOINT_LOOK_MS: u64 = 1_000;
/// The audit verifies this many signatures per batch (one batch in flight while the replay
/// goes on) and reads this many records of a partition at a time. Doubling both measured the
/// same (audit-ratio).
pub const AUDIT_VERIFY_BATCH_SIGNATURES: usize = 4096;
pub const AUDIT_READ_BATCH_RECORDS: usize = 2048;
/// The embedded log's segment files (each preallocated to this size). A frame never spans two.
pub const SEGMENT_BYTES: u64 = 32 * 1024 * 1024;
/// The largest frame body a segment holds: a record, its key, and the frame's 68 bytes of
/// fixed fields (`segment::FIXED_BYTES`).
pub const SEGMENT_FRAME_BYTES_MAX: usize = RECORD_SIZE_BYTES_MAX + PARTITION_KEY_BYTES_MAX + 68;
/// Memory the log's index and id memtables may hold together before RocksDB flushes them (its
/// default, 64 MiB per family and two per family, let a results day hold 256 MiB here).
pub const LOG_INDEX_MEMTABLES_BYTES_MAX: usize = 64 * 1024 * 1024;
/// The block cache all of the log index's families share. RocksDB gives each family its own
/// 32 MiB cache by default; the index's reads are id lookups (answered by bloom filters for
/// new ids) and a reader's offset seeks, so a small shared one serves them.
pub const LOG_INDEX_BLOCK_CACHE_BYTES: usize = 16 * 1024 * 1024;
/// The Merkle trees' block cache: proofs read a few nodes and one chunk, mostly recent ones.
pub const MERKLE_BLOCK_CACHE_BYTES: usize = 8 * 1024 * 1024;
/// Memory the Merkle trees' memtable may hold before RocksDB flushes it: nodes are written once
/// and read for proofs of recent records, so a small one costs nothing.
pub const MERKLE_MEMTABLES_BYTES_MAX: usize = 32 * 1024 * 1024;
/// A Merkle tree's leaves are stored in chunks of 2^`MERKLE_CHUNK_HEIGHT` (one RocksDB value of
/// 2 KiB), and only nodes at this height and above are stored one per key; the nodes below are
/// hashed from their chunk when a proof asks. One key per leaf and node cost a memtable insert
/// each, 2 per event; chunks cost about 3 per 64 events.
pub const MERKLE_CHUNK_HEIGHT: u32 = 6;
/// Events a partition's in-memory tail keeps for the projector (`tail::Tail`): two of its
/// batches. Past it the oldest go, and a projector that far behind reads the log.
pub const TAIL_EVENTS_PER_PARTITION_MAX: usize = 4096;
/// Leaf hashes a partition's tail keeps for the Merkle follower, which looks once every
/// `CHECKPOINT_LOOK_MS`: a second of a results day's appends to one partition, with room.
pub const TAIL_LEAVES_PER_PARTITION_MAX: usize = 32_768;
/// The largest record whose event the tail keeps (a results row's is under a kilobyte); a
/// bigger one is read back by the projector. With the count above it bounds a partition's
/// kept events to 8 MiB of records (their decoded form about twice that), also when no
/// reader takes them (a halted projector).
pub const TAIL_RECORD_BYTES_MAX: usize = 2048;
/// Partitions a topic may have.
pub const TOPIC_PARTITIONS_MAX: u32 = 1024;
pub const TOPIC_NAME_BYTES_MAX: usize = 200;
/// A partition key (a locker id is 36 bytes).
pub const PARTITION_KEY_BYTES_MAX: usize = 256;

const _: () = assert!(APPEND_BATCH_RECORDS_MAX <= GROUP_COMMIT_RECORDS_MAX);
// A chunk is one value well under a RocksDB block, and an inclusion proof hashes one at most.
const _: () = assert!(MERKLE_CHUNK_HEIGHT >= 1 && MERKLE_CHUNK_HEIGHT <= 8);
const _: () = assert!(PIPELINE_CHUNK_RECORDS <= TAIL_EVENTS_PER_PARTITION_MAX);
const _: () = assert!(TAIL_EVENTS_PER_PARTITION_MAX <= TAIL_LEAVES_PER_PARTITION_MAX);
const _: () = assert!(TAIL_EVENTS_PER_PARTITION_MAX * TAIL_RECORD_BYTES_MAX <= 8 * 1024 * 1024);
const _: () = assert!(GROUP_HEARTBEAT_MS * 3 <= GROUP_SESSION_TIMEOUT_MS);
const _: () = assert!(KAFKA_COMMIT_WAKE_MS < KAFKA_OWNED_WAIT_POLL_MS);
// An owner's records wait for delivery at most the transaction's timeout (librdkafka requires
// message.timeout.ms <= transaction.timeout.ms), so it is the shorter of the two.
const _: () = assert!(KAFKA_DELIVERY_TIMEOUT_MS >= KAFKA_TRANSACTION_TIMEOUT_MS);
const _: () = assert!(APPEND_BATCH_RECORDS_MAX <= VERIFIED_EVENTS_MAX);
const _: () = assert!(VERIFY_CHUNK_SIGNATURES_MIN <= VERIFY_CHUNK_SIGNATURES);
const _: () = assert!(VERIFY_CHUNK_SIGNATURES <= PIPELINE_CHUNK_RECORDS);
const _: () = assert!(PIPELINE_CHUNK_RECORDS <= APPEND_BATCH_RECORDS_MAX);
const _: () = assert!((SEGMENT_FRAME_BYTES_MAX + 8) as u64 <= SEGMENT_BYTES);
