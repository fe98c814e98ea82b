//! Rendered My Certificates pages, kept until the log moves under them.
//!
//! A page is a function of the views at some positions: the citizen's partition, the
//! partition of the Aadhaar it linked (documents issued to the Aadhaar live there), and the
//! directory (issuer names), plus today's date (expiry). Those positions are the page's
//! stamp. Positions are committed in the same batch as the data, and the stamp is read before
//! the page, so a page is never older than its stamp: serving it while the stamp is unchanged
//! is exact, and any new event for the citizen changes the stamp. The stamp also makes the
//! page's ETag, so clients revalidate with `If-None-Match` for a 304 and no body.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use schemas::LockerId;

use crate::limits::{PAGE_CACHE_BYTES_MAX, PAGE_OVERHEAD_BYTES};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub locker: LockerId,
    pub cursor: Option<String>,
    pub limit: usize,
    /// Days since the epoch, as the page's expiry flags were computed.
    pub day: i64,
}

#[derive(Clone, Debug)]
pub struct Page {
    pub body: Bytes,
    pub etag: String,
}

#[derive(Debug, Default)]
struct Inner {
    pages: HashMap<PageKey, (Vec<u64>, Page)>,
    bytes: usize,
}

#[derive(Debug, Default)]
pub struct PageCache {
    inner: Mutex<Inner>,
}

/// The ETag of a page at a stamp.
pub fn etag(key: &PageKey, stamp: &[u64]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&key.locker.0);
    hasher.update(key.cursor.as_deref().unwrap_or_default().as_bytes());
    hasher.update(&(key.limit as u64).to_le_bytes());
    hasher.update(&key.day.to_le_bytes());
    for position in stamp {
        hasher.update(&position.to_le_bytes());
    }
    let hash = hasher.finalize();
    format!("\"{}\"", &hash.to_hex()[..32])
}

impl PageCache {
    /// The page, if it was rendered at exactly this stamp.
    pub fn get(&self, key: &PageKey, stamp: &[u64]) -> Option<Page> {
        let inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.pages.get(key).filter(|(at, _)| at == stamp).map(|(_, page)| page.clone())
    }

    /// Drops every page of the locker (it closed: its pages hold holder names).
    pub fn forget(&self, locker: &LockerId) {
        let mut inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let gone: Vec<PageKey> =
            inner.pages.keys().filter(|k| k.locker == *locker).cloned().collect();
        for key in gone {
            if let Some((_, old)) = inner.pages.remove(&key) {
                inner.bytes -= old.body.len() + PAGE_OVERHEAD_BYTES;
            }
        }
    }

    pub fn put(&self, key: PageKey, stamp: Vec<u64>, page: Page) {
        let size = page.body.len() + PAGE_OVERHEAD_BYTES;
        if size > PAGE_CACHE_BYTES_MAX / 16 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, old)) = inner.pages.remove(&key) {
            inner.bytes -= old.body.len() + PAGE_OVERHEAD_BYTES;
        }
        // Over the bound, drop arbitrary pages: a miss only costs a render.
        while inner.bytes + size > PAGE_CACHE_BYTES_MAX {
            let Some(victim) = inner.pages.keys().next().cloned() else { break };
            if let Some((_, old)) = inner.pages.remove(&victim) {
                inner.bytes -= old.body.len() + PAGE_OVERHEAD_BYTES;
            }
        }
        inner.bytes += size;
        inner.pages.insert(key, (stamp, page));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> PageKey {
        PageKey { locker: LockerId::from_random_bytes([n; 16]), cursor: None, limit: 50, day: 1 }
    }

    #[test]
    fn a_page_serves_only_its_own_stamp_and_the_cache_stays_bounded() {
        let cache = PageCache::default();
        let page = Page { body: Bytes::from(vec![1u8; 1000]), etag: etag(&key(1), &[1, 2]) };
        cache.put(key(1), vec![1, 2], page);
        assert!(cache.get(&key(1), &[1, 2]).is_some());
        assert!(cache.get(&key(1), &[1, 3]).is_none(), "the log moved: a miss");
        assert!(cache.get(&key(2), &[1, 2]).is_none());
        assert_ne!(etag(&key(1), &[1, 2]), etag(&key(1), &[1, 3]));
        let big = PAGE_CACHE_BYTES_MAX / 32;
        for n in 0..100u8 {
            cache.put(
                key(n),
                vec![0],
                Page { body: Bytes::from(vec![0u8; big]), etag: String::new() },
            );
        }
        let inner = cache.inner.lock().expect("lock");
        assert!(inner.bytes <= PAGE_CACHE_BYTES_MAX);
        let counted: usize =
            inner.pages.values().map(|(_, p)| p.body.len() + PAGE_OVERHEAD_BYTES).sum();
        assert_eq!(counted, inner.bytes);
    }
}
