//! Every bound the service enforces, in one place. Units come last in the names.

/// Any request body (the read endpoints take none; pushes come with issue 5's write side).
pub const REQUEST_BODY_BYTES_MAX: usize = 1 << 20;
/// A request body is read whole within this long, and no pause between two of its chunks
/// may be longer than the idle limit (uploads, which stream, have only the idle limit).
/// A 16 MB batch at 1 MB/s fits; a client that stalls does not hold its slot.
pub const BODY_READ_MS: u64 = 60_000;
pub const BODY_IDLE_MS: u64 = 10_000;
/// All request headers together (a signed request's headers are well under 2 KB).
pub const HEADER_BYTES_MAX: usize = 16 * 1024;
/// Items one list response returns at most (the projections cap it too).
pub const LIST_ITEMS_MAX: usize = 200;
pub const LIST_ITEMS_DEFAULT: usize = 50;
/// An export's zip goes out in chunks of this size, with this many entries (documents) and
/// chunks waiting between its reader, its zip writer and the client: a locker of any size
/// costs a few documents' memory.
pub const EXPORT_CHUNK_BYTES: usize = 64 * 1024;
pub const EXPORT_ENTRIES_IN_FLIGHT: usize = 4;
/// Exports streamed at once (each reads a whole locker and holds a blocking thread while its
/// client reads): past it, `busy`. An export that sends nothing for `EXPORT_IDLE_MS` (a
/// client that stopped reading) is ended.
pub const EXPORTS_IN_FLIGHT: usize = 2;
/// Fetches refused during a pause are logged (and told to the requester's stream) at most
/// once per consent in this long; refusals for frequency, once per the frequency's window.
pub const PAUSED_REFUSALS_LOGGED_EVERY_MS: i64 = 60 * 60 * 1000;
pub const EXPORT_IDLE_MS: u64 = 60_000;
/// How far a pushed event's time may be from the server's clock: outside it the push is
/// refused as stale (a replay defence beside the event-id idempotency).
pub const PUSH_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// A login session lasts this long.
pub const SESSION_TTL_MS: i64 = 60 * 60 * 1000;
/// Failed password attempts from one address before that address is locked out of that
/// account, and for how long; the (username, address) pairs tracked at once.
pub const LOGIN_ATTEMPTS_MAX: u32 = 5;
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;
pub const LOGIN_SOURCES_MAX: usize = 100_000;
/// Password checks waiting for a core (argon2 runs on all cores but one): past this many a
/// login is answered `busy` at once.
pub const LOGIN_WAITING_MAX: usize = 256;
pub const PASSWORD_CHARS_MIN: usize = 8;
pub const PASSWORD_CHARS_MAX: usize = 128;
/// A one-time password lives this long, allows this many guesses, and a mobile number gets at
/// most this many within the window.
pub const OTP_TTL_MS: i64 = 5 * 60 * 1000;
pub const OTP_ATTEMPTS_MAX: u32 = 5;
pub const OTP_SENDS_MAX: usize = 3;
pub const OTP_WINDOW_MS: i64 = 10 * 60 * 1000;
/// Codes one source address may have sent in an hour (a family signing up, several tries
/// each), and codes the whole service sends in an hour (a busy day's sign-ups, and a ceiling
/// on what an attacker with many addresses can make the SMS gateway send).
pub const OTP_SENDS_PER_SOURCE_PER_HOUR: u64 = 10;
pub const OTP_SENDS_PER_HOUR: u64 = 100_000;
/// Aadhaar linking: codes one locker may ask the Aadhaar authority for in a window, how long
/// the service keeps an unanswered one, how many it keeps at most, and how long the
/// authority may take to answer.
pub const AADHAAR_OTP_SENDS_MAX: usize = 3;
pub const AADHAAR_OTP_WINDOW_MS: i64 = 10 * 60 * 1000;
pub const AADHAAR_OTP_TTL_MS: i64 = 10 * 60 * 1000;
pub const AADHAAR_CHALLENGES_MAX: usize = 100_000;
pub const KYC_TIMEOUT_MS: u64 = 10_000;
/// How long the SMS gateway may take to accept a message.
pub const OTP_GATEWAY_TIMEOUT_MS: u64 = 5000;
/// Days a granted consent lasts unless the citizen says otherwise, and at most.
pub const CONSENT_ACCESS_DAYS_DEFAULT: u32 = 30;
pub const CONSENT_ACCESS_DAYS_MAX: u32 = 365;
/// One uploaded file, and the media types an upload may be (recognised by content).
pub const UPLOAD_SIZE_BYTES_MAX: u64 = 10 * 1024 * 1024;
pub const UPLOAD_TYPES: [schemas::MediaType; 5] = [
    schemas::MediaType::Pdf,
    schemas::MediaType::Jpeg,
    schemas::MediaType::Png,
    schemas::MediaType::Bmp,
    schemas::MediaType::Gif,
];
/// An issuer's push may carry the document's bytes (base64 in JSON): the body limit of that
/// route allows a 10 MB document with its encoding overhead and the event around it.
pub const ISSUED_CONTENT_BYTES_MAX: u64 = 10 * 1024 * 1024;
pub const PUSH_BODY_BYTES_MAX: usize = 14 * 1024 * 1024 + (1 << 20);
/// A share link's page fetching its document's bytes and bundle within this long (with the
/// visit it was given) is one recorded access, not three.
pub const SHARE_VISIT_MS: i64 = 10 * 60 * 1000;
/// Views a share link may record per hour (each is an event in the log); a page's visit is
/// one. Past it: 429 `too_many_views` until the hour's budget refills.
pub const SHARE_VIEWS_PER_HOUR: u64 = 60;
/// Keys a quota tracks at most (issuers for Aadhaar references, links for views).
pub const QUOTA_KEYS_MAX: usize = 100_000;
/// A share link lasts one day unless the citizen says otherwise, and at most 30 days.
pub const SHARE_MINUTES_DEFAULT: u32 = 24 * 60;
pub const SHARE_MINUTES_MAX: u32 = 30 * 24 * 60;
/// How far an HTTP message signature's `created` may be from the server's clock.
pub const SIGNATURE_AGE_S_MAX: i64 = 5 * 60;
/// Accepted signatures remembered (each until it leaves the clock window), so none is
/// served twice: a window's worth of requests at over 300 a second.
pub const SIGNATURES_SEEN_MAX: usize = 200_000;
/// A consent request must be answered within this many days.
pub const CONSENT_REQUEST_DAYS_MAX: u32 = 30;
/// Open event streams at once, events read per partition per refill, and the keep-alive
/// comment interval (so proxies keep idle streams open).
pub const SSE_STREAMS_MAX: usize = 1024;
/// Streams one requester may hold open (a few consumers and a reconnect in flight), so no
/// requester can take every slot; and how long a stream lasts before the requester must
/// reconnect (resuming with `Last-Event-ID`) and so sign again.
pub const SSE_STREAMS_PER_REQUESTER_MAX: usize = 8;
pub const SSE_STREAM_MS: u64 = 60 * 60 * 1000;
pub const SSE_BATCH_EVENTS: usize = 100;
pub const SSE_KEEPALIVE_MS: u64 = 15_000;
/// Rendered My Certificates pages kept in memory, in bytes.
pub const PAGE_CACHE_BYTES_MAX: usize = 64 * 1024 * 1024;
/// How often the platform looks for lapsed consents, and how many it expires per pass.
pub const CONSENT_SWEEP_MS: u64 = 30_000;
pub const CONSENT_SWEEP_BATCH: usize = 100;
/// The file sweep (`sweep.rs`) runs this often, looks at this many deletions at a time, and
/// only at deletions this old: longer than any two writers' clocks differ, so no deletion is
/// logged behind its cursor.
pub const FILE_SWEEP_MS: u64 = 60_000;
pub const FILE_SWEEP_BATCH: usize = 1_000;
pub const FILE_SWEEP_AFTER_MS: i64 = 60_000;
/// Bulk issuance: rows per batch (one `Ledger::append`, within its 4,096), the bytes of a
/// batch (rows of a few KB each), and batches processed at once (the others wait: that is
/// the back-pressure on senders).
pub use wire::limits::BULK_BATCH_ROWS_MAX;
/// A re-run's logged rows are read back a span of a partition at a time: a span ends where
/// the next offset is this far past its first (2,000 rows spread over 8 partitions, with other
/// lockers' records between, fit in a few spans; a span reads at most this many records).
pub const RERUN_SPAN_RECORDS_MAX: u64 = 4_096;
pub const BULK_BODY_BYTES_MAX: usize = 16 * 1024 * 1024;
/// The largest answer a node reads from another for the rows of a batch it sent on (a
/// verdict per row: its number, status, code, message and position).
pub const BULK_ANSWER_BYTES_MAX: usize = 4 * 1024 * 1024;
pub const BULK_BATCHES_IN_FLIGHT: usize = 4;
/// Partitions of the issuers' inbox (and its dead-letter topic); each is consumed on its own.
pub const INBOX_PARTITIONS: u32 = 4;
/// How long Kafka keeps inbox records (personal fields in clear): a week, far more than any
/// outage the service should have, far less than forever.
pub const INBOX_RETENTION_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// The inbox consumer parks this long waiting for records, and waits this long after a
/// failed batch before trying it again.
pub const INBOX_WAIT_MS: u64 = 5_000;
pub const INBOX_RETRY_MS: u64 = 1_000;
/// Aadhaar references one issuer may ask for per hour (a bucket that refills continuously):
/// a board's whole results day, and nowhere near enumerating Aadhaar numbers.
pub const AADHAAR_REFERENCES_PER_HOUR: u64 = 4_000_000;
/// Aadhaar numbers per reference request (bulk issuance asks a batch's at once).
pub const AADHAAR_BATCH_MAX: usize = 2_000;
/// A proof bundle waits this long for a checkpoint covering its records, and asking for one
/// makes a partition's next checkpoint come at most this often (instead of
/// `ledger::limits::CHECKPOINT_EVERY_MS`).
pub const BUNDLE_WAIT_MS: u64 = 12_000;
pub const CHECKPOINT_ASKED_MS_MIN: i64 = 1_000;
/// How often projection health is refreshed for /healthz and /metrics.
pub const HEALTH_REFRESH_MS: u64 = 1000;
/// On shutdown (SIGTERM, Ctrl-C): how long requests in flight may take to finish (uploads of
/// 10 MB on a slow link; an event stream is closed at the end), then how long the jobs may
/// take to stop. Together under Kubernetes' default 30 s grace period.
pub const SHUTDOWN_REQUESTS_MS: u64 = 15_000;
pub const SHUTDOWN_JOBS_MS: u64 = 10_000;

const _: () = assert!(LIST_ITEMS_DEFAULT <= LIST_ITEMS_MAX);
const _: () = assert!(BODY_IDLE_MS <= BODY_READ_MS);
const _: () = assert!(SSE_STREAMS_PER_REQUESTER_MAX <= SSE_STREAMS_MAX);
// Every batch in flight is authenticated and appended while the ledger still remembers it.
const _: () =
    assert!(BULK_BATCH_ROWS_MAX * BULK_BATCHES_IN_FLIGHT <= ledger::limits::VERIFIED_EVENTS_MAX);
/// Sealing keys the vault keeps at hand after creating or reading them: the projector opens
/// each new document moments after the bulk path sealed it, and a vault read per document was
/// a tenth of the projector's work. Two generations of half this size each.
pub const VAULT_RECENT_KEYS_MAX: usize = 1 << 16;
/// The vault's block cache: the keys read back are recent ones, mostly in the memtable or in
/// `VAULT_RECENT_KEYS_MAX`.
pub const VAULT_BLOCK_CACHE_BYTES: usize = 8 * 1024 * 1024;
/// Memory the vault's memtable may hold before RocksDB flushes it: keys are 65 bytes with
/// their names, and a results day creates one per student.
pub const VAULT_MEMTABLES_BYTES_MAX: usize = 32 * 1024 * 1024;

const _: () = assert!(SHUTDOWN_REQUESTS_MS + SHUTDOWN_JOBS_MS < 30_000);

/// How long a write waits for the views to catch up before answering `views_behind`.
pub const CATCH_UP_TIMEOUT_MS: u64 = 5000;
/// The first bytes of a file kept to recognise its type (every magic number `wire::media`
/// knows fits, and XML or JSON after leading white space).
pub const SNIFF_HEAD_BYTES: usize = 64;
/// What a cached page costs beyond its body (its key, stamp and map entry), for the bound.
pub const PAGE_OVERHEAD_BYTES: usize = 64;

const _: () = assert!(PAGE_OVERHEAD_BYTES < PAGE_CACHE_BYTES_MAX / 16);

/// A part of a multipart upload to the blob store. S3 takes parts of at least 5 MiB (but the
/// last); bigger parts mean fewer requests and more memory per upload in flight.
pub const BLOB_PART_BYTES: usize = 5 << 20;
/// From this size an object goes up in parts, two at a time; below, in one request. Below the
/// largest document, so a document near the limit goes up in parts too (and the path is used).
pub const BLOB_MULTIPART_BYTES_MIN: usize = 8 << 20;
/// Parts of one upload in flight at once (memory per upload is this many parts).
pub const BLOB_PARTS_IN_FLIGHT: usize = 2;

const _: () = assert!(BLOB_PART_BYTES >= 5 << 20);
const _: () = assert!(BLOB_MULTIPART_BYTES_MIN >= BLOB_PART_BYTES);
const _: () = assert!(BLOB_MULTIPART_BYTES_MIN as u64 <= UPLOAD_SIZE_BYTES_MAX);

/// How often a node snapshots its views and key registry into the object store: the most log
/// a start or a takeover replays after the latest snapshot is what this much time wrote.
pub const SNAPSHOT_EVERY_MS: u64 = 15 * 60 * 1000;
/// Snapshots kept; older ones are removed after each new one.
pub const SNAPSHOTS_KEPT: usize = 3;
/// zstd's level for snapshot files: RocksDB's tables are already LZ4-compressed, so a fast
/// level gets most of what is left.
pub const SNAPSHOT_ZSTD_LEVEL: i32 = 3;
/// Files in one snapshot (a checkpoint of views this size would be a compaction problem).
pub const SNAPSHOT_FILES_MAX: usize = 100_000;
/// The largest manifest read (about 200 bytes a file).
pub const SNAPSHOT_MANIFEST_BYTES_MAX: usize = 64 << 20;

const _: () = assert!(SNAPSHOT_MANIFEST_BYTES_MAX >= SNAPSHOT_FILES_MAX * 256);
const _: () = assert!(SNAPSHOTS_KEPT >= 2);
/// A sealed chunk of a snapshot file (each carries a 16-byte tag).
pub const SNAPSHOT_SEAL_CHUNK_BYTES: usize = 1 << 20;

const _: () = assert!(SNAPSHOT_SEAL_CHUNK_BYTES >= 64 << 10);

/// A cluster node's view of the group's members is kept this long (a forward asks it), and
/// its claims are brought in line with its assignment at least this often.
pub const CLUSTER_MEMBERS_TTL_MS: u64 = 1_000;
pub const CLUSTER_RECONCILE_MS: u64 = 1_000;
/// A request a cluster node may have to forward to a partition's owner is held in memory up
/// to this size (the largest push); a larger body (a bulk batch) is not forwarded.
pub const FORWARD_BODY_BYTES_MAX: usize = PUSH_BODY_BYTES_MAX;
/// A forwarded request gets this long for the owner's whole answer head.
pub const FORWARD_TIMEOUT_MS: u64 = 30_000;
const _: () = assert!(FORWARD_BODY_BYTES_MAX >= REQUEST_BODY_BYTES_MAX);
const _: () = assert!(CLUSTER_MEMBERS_TTL_MS <= CLUSTER_RECONCILE_MS);
/// A cluster node takes in the key events other nodes appended this often: a key revoked
/// through one node is refused by the others within about this long.
pub const CLUSTER_REGISTRY_FOLLOW_MS: u64 = 500;
/// Keys a cluster node creates in the shared vault at once (a bulk load's new citizens).
pub const VAULT_SHARED_REQUESTS_IN_FLIGHT: usize = 32;
/// An account, session or sign-up challenge record in the shared store is at most this big.
pub const RECORD_BYTES_MAX: usize = 16 * 1024;
/// A sign-up on a cluster node draws locker ids until one falls in a partition the node owns
/// (with N nodes about N draws; 64 misses only when the node owns almost nothing).
pub const SIGNUP_LOCKER_TRIES: usize = 64;
/// Request bodies a cluster node holds at once in case it must forward them.
pub const FORWARD_BODIES_HELD_MAX: usize = 64;
/// How far a forwarded request's time may be from the owner's clock: a node's MAC over a
/// client's address is good this long (the nodes' clocks must agree within it).
pub const FORWARD_MAC_WINDOW_MS: i64 = 60_000;

/// Pulls (issue 21): each attempt at an issuer's endpoint gets this long for its whole answer
/// (head and body);
/// a pull tries this many times when the endpoint does not answer (or answers 5xx other than
/// `try_later`), waiting `PULL_RETRY_BACKOFF_MS` times the attempt's number between tries.
pub const PULL_ATTEMPT_TIMEOUT_MS: u64 = 5_000;
pub const PULL_ATTEMPTS: u32 = 3;
pub const PULL_RETRY_BACKOFF_MS: u64 = 250;
/// Pulls a locker may make an hour: each asks an outside service, and the difference between
/// `no_record` and `name_mismatch` tells whether a roll number exists.
pub const PULLS_PER_HOUR: u64 = 20;
/// The largest answer an issuer's pull endpoint may give (a push's).
pub const PULL_ANSWER_BYTES_MAX: usize = PUSH_BODY_BYTES_MAX;
const _: () = assert!(
    PULL_ATTEMPTS as u64 * PULL_ATTEMPT_TIMEOUT_MS
        + PULL_RETRY_BACKOFF_MS * (PULL_ATTEMPTS as u64 * (PULL_ATTEMPTS as u64 - 1) / 2)
        < FORWARD_TIMEOUT_MS,
    "a pull forwarded to the locker's owner ends before the forward gives up"
);
