//! Access to the sealing keys of subjects, so views can show personal fields (names, masked
//! mobile numbers, file names). A subject whose key is gone (erased) shows none of them.

use schemas::SealSubject;

pub trait SealKeys: Send + Sync {
    /// The subject's key, or `None` if it was erased (or never known here).
    fn key(&self, subject: &SealSubject) -> Option<[u8; 32]>;

    /// Destroys the subject's key, as the event `by` (a `LockerClosed`) says, once: applying
    /// the same event again (a rebuild) must leave a key created since untouched. Keys the
    /// views do not own (a test's `World`) ignore it.
    fn forget(&self, _subject: &SealSubject, _by: &schemas::EventId) {}
}

/// No keys at all: every personal field shows as absent.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoKeys;

impl SealKeys for NoKeys {
    fn key(&self, _subject: &SealSubject) -> Option<[u8; 32]> {
        None
    }
}

impl SealKeys for ledger::world::World {
    fn key(&self, subject: &SealSubject) -> Option<[u8; 32]> {
        Some(self.seal_key(subject))
    }
}
