//! The replay memory of signed requests: each RFC 9421 signature is served once.
//!
//! Per process: a cluster of nodes needs it shared (ARCHITECTURE.md, known limits).

/// Signatures already accepted, until they are too old to pass the clock window anyway: a
/// signed request is served once (a captured document read cannot be replayed).
#[derive(Debug, Default)]
pub struct SeenSignatures {
    /// BLAKE3 of the signature -> the second after which the window refuses it anyway.
    seen: std::sync::Mutex<std::collections::HashMap<[u8; 32], i64>>,
}

/// Why a signature is not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Replay {
    Seen,
    /// Every remembered signature is still young and there is no room for another.
    Full,
}

impl SeenSignatures {
    /// Takes `signature` (valid until `until_s`) as used at `now_s`, unless it was before.
    pub fn first_use(&self, signature: &[u8; 64], until_s: i64, now_s: i64) -> Result<(), Replay> {
        use crate::limits::SIGNATURES_SEEN_MAX;
        let key = *blake3::hash(signature).as_bytes();
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.contains_key(&key) {
            return Err(Replay::Seen);
        }
        if seen.len() >= SIGNATURES_SEEN_MAX {
            seen.retain(|_, until| *until >= now_s);
            if seen.len() >= SIGNATURES_SEEN_MAX {
                return Err(Replay::Full);
            }
        }
        seen.insert(key, until_s);
        Ok(())
    }
}
