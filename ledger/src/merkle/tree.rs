//! A Merkle tree that grows one leaf at a time and answers for any earlier size: roots,
//! inclusion proofs (RFC 9162 2.1.3.1) and consistency proofs (2.1.4.1).
//!
//! It keeps every complete subtree: `levels[h][i]` is the root of leaves
//! `[i * 2^h, (i + 1) * 2^h)`, about two hashes per leaf. Any range the RFC's recursion asks
//! for splits into O(log n) of them, so a root or a proof costs O(log² n) lookups at most and
//! appending costs one hash per completed subtree (amortised one).

use schemas::Digest32;

use super::hash::{EMPTY_ROOT, node_hash};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("tree size {size} is larger than the tree ({have} leaves)")]
    SizeBeyondTree { size: u64, have: u64 },
    #[error("leaf {index} is not in a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("a consistency proof needs 0 < old size {old} <= new size {new}")]
    BadSizes { old: u64, new: u64 },
}

#[derive(Debug, Clone, Default)]
pub struct MerkleTree {
    levels: Vec<Vec<Digest32>>,
}

/// The largest power of two strictly smaller than `n` (n >= 2).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

fn index(value: u64) -> usize {
    usize::try_from(value).unwrap_or_else(|_| unreachable!("tree sizes fit in memory"))
}

impl MerkleTree {
    pub fn new() -> Self {
        MerkleTree { levels: vec![Vec::new()] }
    }

    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a leaf hash (see `leaf_hash`) and completes the subtrees it closes.
    pub fn push(&mut self, leaf: Digest32) {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let mut height = 0;
        while self.levels[height].len() % 2 == 0 {
            let level = &self.levels[height];
            let parent = node_hash(&level[level.len() - 2], &level[level.len() - 1]);
            if self.levels.len() == height + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[height + 1].push(parent);
            height += 1;
        }
    }

    /// The root of leaves `[start, end)`, with `end - start` split as the RFC splits it.
    fn range_root(&self, start: u64, end: u64) -> Digest32 {
        let n = end - start;
        if n == 0 {
            return EMPTY_ROOT;
        }
        if n.is_power_of_two() && start % n == 0 {
            let height = index(u64::from(n.trailing_zeros()));
            return self.levels[height][index(start / n)];
        }
        let k = split(n);
        node_hash(&self.range_root(start, start + k), &self.range_root(start + k, end))
    }

    fn check_size(&self, size: u64) -> Result<(), ProofError> {
        if size > self.len() {
            return Err(ProofError::SizeBeyondTree { size, have: self.len() });
        }
        Ok(())
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Digest32, ProofError> {
        self.check_size(size)?;
        Ok(self.range_root(0, size))
    }

    /// The audit path of leaf `leaf` in the tree of the first `size` leaves, leaf side first.
    pub fn inclusion_proof(&self, leaf: u64, size: u64) -> Result<Vec<Digest32>, ProofError> {
        self.check_size(size)?;
        if leaf >= size {
            return Err(ProofError::IndexOutOfRange { index: leaf, size });
        }
        let mut path = Vec::new();
        self.path(leaf, 0, size, &mut path);
        Ok(path)
    }

    /// PATH(m, D[start:end]) of RFC 9162 2.1.3.1, appended in order.
    fn path(&self, m: u64, start: u64, end: u64, out: &mut Vec<Digest32>) {
        let n = end - start;
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            self.path(m, start, start + k, out);
            out.push(self.range_root(start + k, end));
        } else {
            self.path(m - k, start + k, end, out);
            out.push(self.range_root(start, start + k));
        }
    }

    /// The proof that the tree of `old` leaves is a prefix of the tree of `new` leaves.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Digest32>, ProofError> {
        self.check_size(new)?;
        if old == 0 || old > new {
            return Err(ProofError::BadSizes { old, new });
        }
        let mut proof = Vec::new();
        self.subproof(old, 0, new, true, &mut proof);
        Ok(proof)
    }

    /// SUBPROOF(m, D[start:end], b) of RFC 9162 2.1.4.1.
    fn subproof(&self, m: u64, start: u64, end: u64, whole: bool, out: &mut Vec<Digest32>) {
        let n = end - start;
        if m == n {
            if !whole {
                out.push(self.range_root(start, end));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, start, start + k, whole, out);
            out.push(self.range_root(start + k, end));
        } else {
            self.subproof(m - k, start + k, end, false, out);
            out.push(self.range_root(start, start + k));
        }
    }
}
