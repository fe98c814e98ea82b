//! Every bound of the verifier, in one place.

/// A proof bundle file: a record of at most 64 KB (base64) with its proofs, for the document
/// and each key record of the chain.
pub const BUNDLE_BYTES_MAX: usize = 4 * 1024 * 1024;

/// A document the page asks the verifier to compare with a bundle: the largest document any
/// path accepts (an issued document's content), with room to spare.
pub const DOCUMENT_BYTES_MAX: usize = 32 * 1024 * 1024;
