//! Each partition's Merkle tree on disk (RocksDB), so a restart does not rehash history.
//!
//! Keys: `n/<topic>/<partition BE>/<height>/<index BE>` holds node `(height, index)`;
//! `m/<topic>/<partition BE>` holds the tree's size and the next log offset to read. A batch
//! of leaves, the nodes they complete and the new size and offset are one write batch: a crash
//! keeps all of it or none. The tree is derived state (it can be rebuilt from the log), so the
//! writes are not synced; a lost tail is recomputed from the offset that survived.
//!
//! Leaf indexes are the tree's own sequence; `next_offset` maps it to the log, which may skip
//! offsets (Kafka), so leaves never depend on offsets.

use std::path::Path;

use rocksdb::{DB, Options, WriteBatch};
use schemas::Digest32;

use super::tree::{Nodes, ProofError, completed};

fn store(e: rocksdb::Error) -> ProofError {
    ProofError::Store(e.into_string())
}

fn prefix(topic: &str, partition: u32) -> Vec<u8> {
    [topic.as_bytes(), b"/", &partition.to_be_bytes()[..], b"/"].concat()
}

#[derive(Debug)]
pub struct TreeStore {
    db: DB,
}

/// One partition's tree: its size, where it stopped in the log, and its open subtrees.
#[derive(Debug)]
pub struct PartitionTree<'a> {
    db: &'a DB,
    prefix: Vec<u8>,
    size: u64,
    next_offset: u64,
    frontier: Vec<Option<Digest32>>,
}

impl TreeStore {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ProofError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        Ok(TreeStore { db: DB::open(&options, path).map_err(store)? })
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
        let mut tree =
            PartitionTree { db: &self.db, prefix, size, next_offset, frontier: Vec::new() };
        // The open subtrees of a tree of `size` leaves: one per set bit of the size.
        for height in 0..64u32 {
            if size >> height & 1 == 1 {
                let node = tree.node(height, (size >> height) - 1)?;
                tree.frontier.resize(height as usize + 1, None);
                tree.frontier[height as usize] = Some(node);
            }
        }
        Ok(tree)
    }
}

impl Nodes for PartitionTree<'_> {
    fn leaves(&self) -> u64 {
        self.size
    }
    fn node(&self, height: u32, index: u64) -> Result<Digest32, ProofError> {
        let bytes = self
            .db
            .get(self.node_key(height, index))
            .map_err(store)?
            .ok_or_else(|| ProofError::Store(format!("node ({height}, {index}) is missing")))?;
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

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The log offset after the last record in the tree.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// Appends leaves read from the log up to (not including) `next_offset`, in one write.
    pub fn append(&mut self, leaves: &[Digest32], next_offset: u64) -> Result<(), ProofError> {
        assert!(next_offset >= self.next_offset, "the tree never goes back in the log");
        let mut batch = WriteBatch::default();
        let mut frontier = self.frontier.clone();
        let mut size = self.size;
        for leaf in leaves {
            for (height, index, hash) in completed(&mut frontier, size, *leaf) {
                batch.put(self.node_key(height, index), hash.0);
            }
            size += 1;
        }
        let meta = [size.to_be_bytes(), next_offset.to_be_bytes()].concat();
        batch.put([b"m/", &self.prefix[..]].concat(), meta);
        self.db.write(batch).map_err(store)?;
        (self.size, self.next_offset, self.frontier) = (size, next_offset, frontier);
        Ok(())
    }

    pub fn root(&self, size: u64) -> Result<Digest32, ProofError> {
        super::tree::root(self, size)
    }

    pub fn inclusion_proof(&self, leaf: u64, size: u64) -> Result<Vec<Digest32>, ProofError> {
        super::tree::inclusion_proof(self, leaf, size)
    }

    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Digest32>, ProofError> {
        super::tree::consistency_proof(self, old, new)
    }
}
