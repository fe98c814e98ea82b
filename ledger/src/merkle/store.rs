//! Each partition's Merkle tree on disk (RocksDB), so a restart does not rehash history.
//!
//! Keys: `c/<topic>/<partition BE>/<chunk BE>` holds the leaf hashes of chunk `chunk` (leaves
//! `chunk << H` onwards, H = `MERKLE_CHUNK_HEIGHT`, 32 bytes each; a prefix while the chunk is
//! the open one); `n/<topic>/<partition BE>/<height>/<index BE>` holds node `(height, index)`
//! for heights H and up; the nodes below H are hashed from their chunk when a proof asks (at
//! most 2^H leaves). `m/<topic>/<partition BE>` holds the tree's size and the next log offset
//! to read; `v` the store's format. A batch of leaves, the chunks and nodes they complete and
//! the new size and offset are one write batch: a crash keeps all of it or none. The tree is
//! derived state (it can be rebuilt from the log), so the writes are not synced; a lost tail
//! is recomputed from the offset that survived, and a store of another format is emptied on
//! open and rebuilt from the log by its follower.
//!
//! Leaf indexes are the tree's own sequence; `next_offset` maps it to the log, which may skip
//! offsets (Kafka), so leaves never depend on offsets. To find a record's leaf (for an
//! inclusion proof), `r/<topic>/<partition BE>/<offset BE>` marks where each run of
//! consecutive offsets starts and holds that run's first leaf index: one key per gap, none on a
//! log without gaps beyond the first.

use std::path::Path;

use rocksdb::{DB, Options, WriteBatch};
use schemas::Digest32;

use crate::limits::MERKLE_CHUNK_HEIGHT;
use crate::rfc9162::{Nodes, ProofError, completed, node_hash};

/// Leaves per chunk.
const CHUNK_LEAVES: u64 = 1 << MERKLE_CHUNK_HEIGHT;
/// The store's format: chunks of 2^H leaves (format 1 stored every node under its own key).
const FORMAT: [u8; 2] = [2, MERKLE_CHUNK_HEIGHT.to_le_bytes()[0]];
const FORMAT_KEY: &[u8] = b"v";

fn store(e: rocksdb::Error) -> ProofError {
    ProofError::Store(e.into_string())
}

fn prefix(topic: &str, partition: u32) -> Vec<u8> {
    [topic.as_bytes(), b"/", &partition.to_be_bytes()[..], b"/"].concat()
}

#[derive(Debug)]
pub struct TreeStore {
    db: DB,
    sources: std::sync::Arc<LeafSources>,
}

/// Where the trees' leaves came from since the store opened: this process's appends kept in
/// memory (`crate::Tail`), or read back from the log. What the service's metrics report, and
/// how a test sees that the tail is used at all.
#[derive(Debug, Default)]
pub struct LeafSources {
    tail: std::sync::atomic::AtomicU64,
    log: std::sync::atomic::AtomicU64,
}

impl LeafSources {
    /// Leaves taken from the tail, and read from the log.
    pub fn counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.tail.load(Relaxed), self.log.load(Relaxed))
    }

    pub(crate) fn add(&self, from_tail: bool, leaves: u64) {
        let counter = if from_tail { &self.tail } else { &self.log };
        counter.fetch_add(leaves, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One partition's tree: its size, where it stopped in the log, its open subtrees, and the
/// leaves of its open chunk.
#[derive(Debug)]
pub struct PartitionTree<'a> {
    db: &'a DB,
    sources: &'a LeafSources,
    prefix: Vec<u8>,
    size: u64,
    next_offset: u64,
    frontier: Vec<Option<Digest32>>,
    open_chunk: Vec<u8>,
}

impl TreeStore {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ProofError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_db_write_buffer_size(crate::limits::MERKLE_MEMTABLES_BYTES_MAX);
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_block_cache(&rocksdb::Cache::new_lru_cache(
            crate::limits::MERKLE_BLOCK_CACHE_BYTES,
        ));
        options.set_block_based_table_factory(&table);
        let db = DB::open(&options, path.as_ref()).map_err(store)?;
        let format = db.get(FORMAT_KEY).map_err(store)?;
        if format.as_deref() == Some(&FORMAT[..]) {
            return Ok(TreeStore { db, sources: std::sync::Arc::default() });
        }
        let mut iter = db.raw_iterator();
        iter.seek_to_first();
        let held = iter.valid();
        // Not valid may also be a read error: never stamp a store that could not be read.
        iter.status().map_err(store)?;
        drop(iter);
        let db = if held {
            // Derived state in another format: emptied here, refilled from the log.
            tracing::warn!(
                "the Merkle trees are in another format ({format:?}); they are rebuilt from the log"
            );
            drop(db);
            DB::destroy(&options, path.as_ref()).map_err(store)?;
            DB::open(&options, path.as_ref()).map_err(store)?
        } else {
            db
        };
        db.put(FORMAT_KEY, FORMAT).map_err(store)?;
        Ok(TreeStore { db, sources: std::sync::Arc::default() })
    }

    /// Where the leaves appended since the store opened came from.
    pub fn sources(&self) -> std::sync::Arc<LeafSources> {
        std::sync::Arc::clone(&self.sources)
    }

    /// The partition's tree as last stored (empty at first).
    pub fn tree(&self, topic: &str, partition: u32) -> Result<PartitionTree<'_>, ProofError> {
        let prefix = prefix(topic, partition);
        let meta = self.db.get([b"m/", &prefix[..]].concat()).map_err(store)?;
        let (size, next_offset) = match meta.as_deref() {
            None => (0, 0),
            Some(bytes) => {
                let size = bytes.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok());
                let next = bytes.get(8..16).and_then(|b| <[u8; 8]>::try_from(b).ok());
                match (size, next) {
                    (Some(size), Some(next)) => {
                        (u64::from_be_bytes(size), u64::from_be_bytes(next))
                    }
                    _ => {
                        return Err(ProofError::Store(format!(
                            "tree meta of {topic}/{partition} is corrupt"
                        )));
                    }
                }
            }
        };
        let mut tree = PartitionTree {
            db: &self.db,
            sources: &self.sources,
            prefix,
            size,
            next_offset,
            frontier: Vec::new(),
            open_chunk: Vec::new(),
        };
        if !size.is_multiple_of(CHUNK_LEAVES) {
            // Read apart from the meta: an append in between (the follower, while this handle
            // is for a proof) may have added leaves, never changed one. Only a shorter chunk
            // is damage.
            let need = usize::try_from(size % CHUNK_LEAVES * 32).unwrap_or(usize::MAX);
            tree.open_chunk = tree.chunk(size / CHUNK_LEAVES)?;
            if tree.open_chunk.len() < need {
                return Err(ProofError::Store(format!(
                    "the open chunk of {topic}/{partition} does not hold the tree's last leaves"
                )));
            }
            tree.open_chunk.truncate(need);
        }
        // The open subtrees of a tree of `size` leaves: one per set bit of the size; those
        // below a chunk are hashed from the open chunk, already read.
        for height in 0..64u32 {
            if size >> height & 1 == 1 {
                let node = if height < MERKLE_CHUNK_HEIGHT {
                    tree.open_subtree(height, size)
                } else {
                    tree.node(height, (size >> height) - 1)?
                };
                tree.frontier.resize(height as usize + 1, None);
                tree.frontier[height as usize] = Some(node);
            }
        }
        Ok(tree)
    }
}

/// The root of the complete subtree over `leaves` (32 bytes each, a power of two of them).
fn subtree_root(leaves: &[u8]) -> Digest32 {
    let mut level: Vec<Digest32> = leaves
        .chunks_exact(32)
        .map(|leaf| Digest32(<[u8; 32]>::try_from(leaf).unwrap_or([0; 32])))
        .collect();
    while level.len() > 1 {
        level = level.chunks_exact(2).map(|pair| node_hash(&pair[0], &pair[1])).collect();
    }
    level[0]
}

impl Nodes for PartitionTree<'_> {
    fn leaves(&self) -> u64 {
        self.size
    }
    fn node(&self, height: u32, index: u64) -> Result<Digest32, ProofError> {
        let missing = || ProofError::Store(format!("node ({height}, {index}) is missing"));
        if height < MERKLE_CHUNK_HEIGHT {
            let first = index.checked_shl(height).ok_or_else(missing)?;
            let chunk = self.chunk(first / CHUNK_LEAVES)?;
            let start = usize::try_from(first % CHUNK_LEAVES * 32).map_err(|_| missing())?;
            let leaves = chunk.get(start..start + (32 << height)).ok_or_else(missing)?;
            return Ok(subtree_root(leaves));
        }
        let bytes =
            self.db.get(self.node_key(height, index)).map_err(store)?.ok_or_else(missing)?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map(Digest32)
            .map_err(|_| ProofError::Store(format!("node ({height}, {index}) is corrupt")))
    }
}

impl PartitionTree<'_> {
    fn node_key(&self, height: u32, index: u64) -> Vec<u8> {
        let height = u8::try_from(height).unwrap_or(u8::MAX);
        [b"n/", &self.prefix[..], &[height], b"/", &index.to_be_bytes()[..]].concat()
    }

    /// The open subtree of `height` (below a chunk) of a tree of `size` leaves, hashed from
    /// the open chunk: the 2^height leaves after the bigger open subtrees' ones.
    fn open_subtree(&self, height: u32, size: u64) -> Digest32 {
        let below = size % (1 << height);
        let end = self.open_chunk.len() - usize::try_from(below * 32).unwrap_or(0);
        subtree_root(&self.open_chunk[end - (32 << height)..end])
    }

    fn chunk_key(&self, chunk: u64) -> Vec<u8> {
        [b"c/", &self.prefix[..], &chunk.to_be_bytes()[..]].concat()
    }

    /// The leaf hashes chunk `chunk` holds (none if it holds none).
    fn chunk(&self, chunk: u64) -> Result<Vec<u8>, ProofError> {
        let bytes = self.db.get(self.chunk_key(chunk)).map_err(store)?.unwrap_or_default();
        if bytes.len() % 32 != 0 || bytes.len() as u64 > CHUNK_LEAVES * 32 {
            return Err(ProofError::Store(format!("chunk {chunk} is corrupt")));
        }
        Ok(bytes)
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Counts leaves appended from the tail or the log (`LeafSources`).
    pub(crate) fn count_sources(&self, from_tail: bool, leaves: u64) {
        self.sources.add(from_tail, leaves);
    }

    /// The log offset after the last record in the tree.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    fn run_key(&self, offset: u64) -> Vec<u8> {
        [b"r/", &self.prefix[..], &offset.to_be_bytes()[..]].concat()
    }

    /// Appends leaves `(log offset, leaf hash)` read from the log, in log order, up to (not
    /// including) `next_offset`, in one write.
    pub fn append(
        &mut self,
        leaves: &[(u64, Digest32)],
        next_offset: u64,
    ) -> Result<(), ProofError> {
        assert!(next_offset >= self.next_offset, "the tree never goes back in the log");
        let mut batch = WriteBatch::default();
        let mut frontier = self.frontier.clone();
        let mut open_chunk = self.open_chunk.clone();
        let mut size = self.size;
        // The offset the previous leaf would continue with; a run starts wherever it does not.
        let mut expected = if size == 0 { None } else { Some(self.next_offset) };
        for (offset, leaf) in leaves {
            assert!(
                expected.is_none_or(|e| *offset >= e) && *offset < next_offset,
                "leaves come in log order, below next_offset"
            );
            if expected != Some(*offset) {
                batch.put(self.run_key(*offset), size.to_be_bytes());
            }
            expected = Some(offset + 1);
            for (height, index, hash) in completed(&mut frontier, size, *leaf) {
                if height >= MERKLE_CHUNK_HEIGHT {
                    batch.put(self.node_key(height, index), hash.0);
                }
            }
            open_chunk.extend_from_slice(&leaf.0);
            size += 1;
            if size.is_multiple_of(CHUNK_LEAVES) {
                batch.put(self.chunk_key(size / CHUNK_LEAVES - 1), &open_chunk);
                open_chunk.clear();
            }
        }
        // The last leaf is in the open chunk unless it closed one.
        if !leaves.is_empty() && !open_chunk.is_empty() {
            batch.put(self.chunk_key(size / CHUNK_LEAVES), &open_chunk);
        }
        assert_eq!(
            open_chunk.len() as u64,
            size % CHUNK_LEAVES * 32,
            "the open chunk holds the tail"
        );
        let meta = [size.to_be_bytes(), next_offset.to_be_bytes()].concat();
        batch.put([b"m/", &self.prefix[..]].concat(), meta);
        // Without the WAL: the trees are derived from the log, and each batch carries the
        // tree's meta, so a crash leaves the last flushed batch whole and the follower goes on
        // from its `next_offset`. The WAL cost every leaf a second write through the page cache.
        let mut unlogged = rocksdb::WriteOptions::default();
        unlogged.disable_wal(true);
        self.db.write_opt(batch, &unlogged).map_err(store)?;
        (self.size, self.next_offset, self.frontier, self.open_chunk) =
            (size, next_offset, frontier, open_chunk);
        Ok(())
    }

    /// The leaf index of the record at `offset`, if the tree holds it. (An offset inside a
    /// gap of the log answers the leaf after the gap's start; callers ask only for offsets
    /// they read a record at.)
    pub fn leaf_index(&self, offset: u64) -> Result<Option<u64>, ProofError> {
        if offset >= self.next_offset {
            return Ok(None);
        }
        let mut iter = self.db.raw_iterator();
        iter.seek_for_prev(self.run_key(offset));
        let run_prefix = [b"r/", &self.prefix[..]].concat();
        let (Some(key), Some(value)) = (iter.key(), iter.value()) else {
            return Ok(None);
        };
        if !key.starts_with(&run_prefix) {
            return Ok(None);
        }
        let start = key[run_prefix.len()..]
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| ProofError::Store("a run key is corrupt".to_owned()))?;
        let first = <[u8; 8]>::try_from(value)
            .map(u64::from_be_bytes)
            .map_err(|_| ProofError::Store("a run value is corrupt".to_owned()))?;
        let index = first + (offset - start);
        Ok((index < self.size).then_some(index))
    }

    pub fn root(&self, size: u64) -> Result<Digest32, ProofError> {
        crate::rfc9162::root(self, size)
    }

    pub fn inclusion_proof(&self, leaf: u64, size: u64) -> Result<Vec<Digest32>, ProofError> {
        crate::rfc9162::inclusion_proof(self, leaf, size)
    }

    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Digest32>, ProofError> {
        crate::rfc9162::consistency_proof(self, old, new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{MerkleTree, leaf_hash};

    #[test]
    fn leaf_indexes_follow_the_log_across_gaps_and_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Offsets as Kafka may hand them out: gaps where transaction markers would sit.
        let offsets = [0u64, 1, 2, 5, 6, 9, 10, 11, 12, 20];
        let leaves: Vec<(u64, Digest32)> =
            offsets.iter().map(|o| (*o, leaf_hash(&o.to_le_bytes()))).collect();
        {
            let store = TreeStore::open(dir.path()).expect("open");
            let mut tree = store.tree("t", 0).expect("tree");
            tree.append(&leaves[..4], 6).expect("first batch");
            // The next batch starts exactly where the last ended: no new run at 6.
            tree.append(&leaves[4..], 21).expect("second batch");
        }
        let store = TreeStore::open(dir.path()).expect("reopen");
        let tree = store.tree("t", 0).expect("tree");
        for (index, offset) in offsets.iter().enumerate() {
            assert_eq!(tree.leaf_index(*offset).expect("lookup"), Some(index as u64), "{offset}");
        }
        assert_eq!(tree.leaf_index(21).expect("lookup"), None, "past the tree");
        let other = store.tree("t", 1).expect("tree");
        assert_eq!(other.leaf_index(0).expect("lookup"), None, "another partition");
        // The leaves are the same tree as in memory, whatever the offsets.
        let mut memory = MerkleTree::default();
        for (_, leaf) in &leaves {
            memory.push(*leaf);
        }
        assert_eq!(tree.root(10).expect("root"), memory.root(10).expect("root"));
    }

    /// Appends of many sizes, across chunk boundaries, each followed by a reopen: every root
    /// and proof of every size equals the tree's in memory, so the nodes hashed from a chunk
    /// are the nodes the old store kept one per key.
    #[test]
    fn chunked_leaves_give_the_trees_own_roots_and_proofs_across_reopens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut memory = MerkleTree::default();
        let mut offset = 0u64;
        let chunk = CHUNK_LEAVES;
        for count in [1, 2, chunk - 4, 1, chunk, chunk + 1, 3 * chunk - 2, 5, 0, 2 * chunk] {
            let leaves: Vec<(u64, Digest32)> =
                (offset..offset + count).map(|o| (o, leaf_hash(&o.to_le_bytes()))).collect();
            offset += count;
            let store = TreeStore::open(dir.path()).expect("open");
            let mut tree = store.tree("t", 3).expect("tree");
            assert_eq!(tree.size(), memory.len(), "the reopened tree has every leaf");
            tree.append(&leaves, offset).expect("append");
            for (_, leaf) in &leaves {
                memory.push(*leaf);
            }
        }
        let store = TreeStore::open(dir.path()).expect("reopen");
        let tree = store.tree("t", 3).expect("tree");
        let size = memory.len();
        assert_eq!(tree.size(), size);
        for n in 1..=size {
            assert_eq!(tree.root(n), memory.root(n), "root of {n}");
        }
        for leaf in 0..size {
            assert_eq!(
                tree.inclusion_proof(leaf, size),
                crate::merkle::inclusion_proof(&memory, leaf, size),
                "inclusion of {leaf}"
            );
        }
        for old in (1..size).step_by(7) {
            assert_eq!(
                tree.consistency_proof(old, size),
                crate::merkle::consistency_proof(&memory, old, size),
                "consistency from {old}"
            );
        }
        assert!(tree.root(size + 1).is_err(), "no root past the tree");
    }

    /// A proof's handle reads the meta and then the open chunk; the follower may append in
    /// between, so the chunk may hold more leaves than the meta says. The handle is the tree
    /// at the meta's size. A chunk shorter than that is damage.
    #[test]
    fn a_tree_loaded_while_its_follower_appends_is_the_tree_at_its_own_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = TreeStore::open(dir.path()).expect("open");
        let leaves: Vec<(u64, Digest32)> =
            (0..10u64).map(|o| (o, leaf_hash(&o.to_le_bytes()))).collect();
        let mut memory = MerkleTree::default();
        for (_, leaf) in &leaves {
            memory.push(*leaf);
        }
        let mut writer = store.tree("t", 0).expect("tree");
        writer.append(&leaves, 10).expect("append");
        let key = writer.chunk_key(0);
        let mut longer = store.db.get(&key).expect("get").expect("the open chunk");
        longer.extend_from_slice(&leaf_hash(b"appended meanwhile").0);
        store.db.put(&key, &longer).expect("put");
        let reader = store.tree("t", 0).expect("a longer chunk is the follower's append");
        assert_eq!(reader.size(), 10);
        assert_eq!(reader.root(10), memory.root(10));
        for leaf in 0..10 {
            assert_eq!(
                reader.inclusion_proof(leaf, 10),
                crate::merkle::inclusion_proof(&memory, leaf, 10)
            );
        }
        store.db.put(&key, &longer[..9 * 32]).expect("put");
        assert!(store.tree("t", 0).is_err(), "a chunk short of the meta's size is damage");
    }

    /// A store in the old format (a key per node, no format mark) is emptied on open, so its
    /// follower rebuilds it from the log instead of mixing two layouts.
    #[test]
    fn a_store_of_another_format_is_emptied_for_a_rebuild() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let db = DB::open_default(dir.path()).expect("open");
            let meta = [5u64.to_be_bytes(), 5u64.to_be_bytes()].concat();
            db.put([b"m/", &prefix("t", 0)[..]].concat(), meta).expect("put");
        }
        let store = TreeStore::open(dir.path()).expect("open");
        let tree = store.tree("t", 0).expect("tree");
        assert_eq!((tree.size(), tree.next_offset()), (0, 0), "rebuilt from the start");
        drop(tree);
        drop(store);
        let store = TreeStore::open(dir.path()).expect("reopen");
        let mut tree = store.tree("t", 0).expect("tree");
        tree.append(&[(0, leaf_hash(b"x"))], 1).expect("append");
        drop(tree);
        drop(store);
        let store = TreeStore::open(dir.path()).expect("reopen");
        let tree = store.tree("t", 0).expect("tree");
        assert_eq!(tree.size(), 1, "a store of this format is kept");
    }
}
