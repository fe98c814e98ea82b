//! Limits of the contract: both the server and its clients hold to them.

use schemas::MediaType;

/// The media types an issuer's document may have (a push's bytes are sniffed against these).
pub const ISSUED_TYPES: [MediaType; 3] = [MediaType::Pdf, MediaType::Xml, MediaType::Json];
/// Rows in one bulk batch (`POST /v1/issuer/batches`): a sender splits its file into batches
/// of at most this many.
pub const BULK_BATCH_ROWS_MAX: usize = 2_000;
