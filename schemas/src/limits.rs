//! Every bound the catalogue enforces, in one place. Units come last in the names.

/// The largest encoded record (envelope) the log accepts. Events carry hashes, never document
/// contents, so 64 KiB leaves room for a sealed personal payload with many structured fields.
pub const RECORD_SIZE_BYTES_MAX: usize = 64 * 1024;
/// The capacity an encoding starts with: a results row's record is about a kilobyte, most
/// events a few hundred bytes (one growth at most instead of eight from empty).
pub const ENCODE_START_BYTES: usize = 512;
/// Free text the citizen or an organisation types: names, purposes, reasons.
pub const LABEL_CHARS_MAX: usize = 200;
pub const REASON_CHARS_MAX: usize = 500;
pub const ORG_ID_CHARS_MIN: usize = 3;
pub const ORG_ID_CHARS_MAX: usize = 64;
pub const DOC_ID_CHARS_MAX: usize = 100;
pub const USERNAME_CHARS_MIN: usize = 3;
pub const USERNAME_CHARS_MAX: usize = 32;
pub const EMAIL_CHARS_MAX: usize = 254;
pub const ENDPOINT_CHARS_MAX: usize = 512;
pub const FIELD_KEY_CHARS_MAX: usize = 64;
pub const FIELD_VALUE_CHARS_MAX: usize = 1024;
/// Structured fields of one document (subject marks, licence classes...).
pub const DOCUMENT_FIELDS_MAX: usize = 256;
/// Elements of an e-KYC address (UIDAI's Poa has twelve).
pub const KYC_ADDRESS_FIELDS_MAX: usize = 12;
pub const ISSUER_DOC_TYPES_MAX: usize = 256;
/// What a citizen gives to pull a document (roll number, year, date of birth...).
pub const PULL_IDENTIFIERS_MAX: usize = 8;
/// The values a declared choice field allows.
pub const FIELD_CHOICES_MAX: usize = 64;
pub const PRINCIPAL_KEYS_MAX: usize = 16;
pub const CONSENT_ITEMS_MAX: usize = 64;
/// A sealed personal payload; bounded well below the record size.
pub const SEALED_CIPHERTEXT_BYTES_MAX: usize = 48 * 1024;
/// 1 GB per citizen is the product quota; a single upload is at most 10 MB (enforced by api),
/// but the catalogue only refuses sizes no upload can have.
pub const DOCUMENT_SIZE_BYTES_MAX: u64 = 1 << 40;

const _: () = assert!(SEALED_CIPHERTEXT_BYTES_MAX < RECORD_SIZE_BYTES_MAX);
const _: () = assert!(ENCODE_START_BYTES < RECORD_SIZE_BYTES_MAX);
const _: () = assert!(
    DOCUMENT_FIELDS_MAX * (FIELD_KEY_CHARS_MAX + FIELD_VALUE_CHARS_MAX) * 4
        > SEALED_CIPHERTEXT_BYTES_MAX,
    "the sealed bound, not the field bound, is the binding one"
);

/// Events one batch signature may cover, and so the longest inclusion path in a batch.
pub const BATCH_EVENTS_MAX: u32 = 1 << 16;
pub const BATCH_PATH_HASHES_MAX: usize = 16;

/// A day in milliseconds (consent windows, expiries, the page cache's date).
pub const DAY_MS: i64 = 86_400_000;

/// A consent's terms: fetches per period, how long fetched data may be kept, how long the
/// access window may be (five years, as long as an Account Aggregator consent usually runs).
pub const CONSENT_FETCHES_PER_PERIOD_MAX: u32 = 1_000;
pub const CONSENT_DATA_LIFE_DAYS_MAX: u32 = 3_650;
pub const CONSENT_WINDOW_MS_MAX: i64 = 5 * 366 * DAY_MS;
