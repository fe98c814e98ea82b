//! The reference authority's bounds, as UIDAI's published behaviour has them (or near).
//! Units last.

/// A code lives this long (UIDAI: 10 minutes, as intermediaries document it).
pub const OTP_TTL_MS: i64 = 10 * 60 * 1000;
/// Wrong codes before the transaction is dead and a new code must be asked for.
pub const OTP_ATTEMPTS_MAX: u32 = 3;
/// Codes one Aadhaar number may be sent in a window (err 952, OTP flooding).
pub const OTP_SENDS_MAX: usize = 3;
pub const OTP_SENDS_WINDOW_MS: i64 = 60 * 1000;
/// Codes pending at once across all residents (err 953 past it).
pub const PENDING_MAX: usize = 100_000;
/// A request body.
pub const REQUEST_BYTES_MAX: usize = 16 * 1024;
/// A transaction id (`txn`), AUA code and licence key, in bytes.
pub const TXN_BYTES_MAX: usize = 64;
pub const AUA_FIELD_BYTES_MAX: usize = 128;
/// How long the SMS gateway may take.
pub const SMS_TIMEOUT_MS: u64 = 5_000;
/// How long an e-KYC answer may be relied on after it is given (`ttl`).
pub const KYC_TTL_MS: i64 = 10 * 60 * 1000;

const _: () = assert!(OTP_ATTEMPTS_MAX >= 1);
const _: () = assert!(KYC_TTL_MS <= OTP_TTL_MS);
