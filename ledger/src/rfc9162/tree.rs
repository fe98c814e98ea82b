//! Roots, inclusion proofs (RFC 9162 2.1.3.1) and consistency proofs (2.1.4.1) over any store
//! of complete subtrees (`Nodes`), and `MerkleTree`, such a store in memory.
//!
//! A store keeps every complete subtree: node `(h, i)` is the root of leaves
//! `[i * 2^h, (i + 1) * 2^h)`, about two hashes per leaf. Any range the RFC's recursion asks
//! for splits into O(log n) of them, so a root or a proof costs O(log² n) lookups at most, and
//! appending a leaf costs one hash per subtree it completes (one on average).

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
    #[error("tree store: {0}")]
    Store(String),
    #[error("inconsistent history: {0}")]
    Inconsistent(String),
}

/// Where complete subtrees are kept.
pub trait Nodes {
    /// How many leaves the store holds.
    fn leaves(&self) -> u64;
    /// The root of the complete subtree `index` at `height`; it must be complete.
    fn node(&self, height: u32, index: u64) -> Result<Digest32, ProofError>;
}

/// The largest power of two strictly smaller than `n` (n >= 2).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The root of leaves `[start, end)`, split as the RFC splits it.
fn range_root(nodes: &impl Nodes, start: u64, end: u64) -> Result<Digest32, ProofError> {
    let n = end - start;
    if n == 0 {
        return Ok(EMPTY_ROOT);
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return nodes.node(n.trailing_zeros(), start / n);
    }
    let k = split(n);
    Ok(node_hash(&range_root(nodes, start, start + k)?, &range_root(nodes, start + k, end)?))
}

fn check_size(nodes: &impl Nodes, size: u64) -> Result<(), ProofError> {
    if size > nodes.leaves() {
        return Err(ProofError::SizeBeyondTree { size, have: nodes.leaves() });
    }
    Ok(())
}

/// The root of the tree of the first `size` leaves.
pub fn root(nodes: &impl Nodes, size: u64) -> Result<Digest32, ProofError> {
    check_size(nodes, size)?;
    range_root(nodes, 0, size)
}

/// The audit path of leaf `leaf` in the tree of the first `size` leaves, leaf side first.
pub fn inclusion_proof(
    nodes: &impl Nodes,
    leaf: u64,
    size: u64,
) -> Result<Vec<Digest32>, ProofError> {
    check_size(nodes, size)?;
    if leaf >= size {
        return Err(ProofError::IndexOutOfRange { index: leaf, size });
    }
    let mut path = Vec::new();
    audit_path(nodes, leaf, 0, size, &mut path)?;
    Ok(path)
}

/// PATH(m, D[start:end]) of RFC 9162 2.1.3.1, appended in order.
fn audit_path(
    nodes: &impl Nodes,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Digest32>,
) -> Result<(), ProofError> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        audit_path(nodes, m, start, start + k, out)?;
        out.push(range_root(nodes, start + k, end)?);
    } else {
        audit_path(nodes, m - k, start + k, end, out)?;
        out.push(range_root(nodes, start, start + k)?);
    }
    Ok(())
}

/// The proof that the tree of `old` leaves is a prefix of the tree of `new` leaves.
pub fn consistency_proof(
    nodes: &impl Nodes,
    old: u64,
    new: u64,
) -> Result<Vec<Digest32>, ProofError> {
    check_size(nodes, new)?;
    if old == 0 || old > new {
        return Err(ProofError::BadSizes { old, new });
    }
    let mut proof = Vec::new();
    subproof(nodes, old, 0, new, true, &mut proof)?;
    Ok(proof)
}

/// SUBPROOF(m, D[start:end], b) of RFC 9162 2.1.4.1.
fn subproof(
    nodes: &impl Nodes,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Digest32>,
) -> Result<(), ProofError> {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(range_root(nodes, start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(nodes, m, start, start + k, whole, out)?;
        out.push(range_root(nodes, start + k, end)?);
    } else {
        subproof(nodes, m - k, start + k, end, false, out)?;
        out.push(range_root(nodes, start, start + k)?);
    }
    Ok(())
}

/// The subtrees a leaf completes when it is appended at `index`: `(height, index, hash)`,
/// bottom up, given the left siblings still open (`frontier[h]` at height `h`).
pub(crate) fn completed(
    frontier: &mut Vec<Option<Digest32>>,
    index: u64,
    leaf: Digest32,
) -> Vec<(u32, u64, Digest32)> {
    let mut out = vec![(0, index, leaf)];
    let (mut height, mut at, mut hash) = (0u32, index, leaf);
    loop {
        let slot = height as usize;
        if frontier.len() <= slot {
            frontier.resize(slot + 1, None);
        }
        if at % 2 == 0 {
            frontier[slot] = Some(hash);
            return out;
        }
        let left = frontier[slot]
            .take()
            .unwrap_or_else(|| unreachable!("an odd node always has its left sibling open"));
        hash = node_hash(&left, &hash);
        at /= 2;
        height += 1;
        out.push((height, at, hash));
    }
}

/// A tree in memory: `levels[h][i]` is node `(h, i)`.
#[derive(Debug, Clone, Default)]
pub struct MerkleTree {
    levels: Vec<Vec<Digest32>>,
    frontier: Vec<Option<Digest32>>,
}

impl Nodes for MerkleTree {
    fn leaves(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }
    fn node(&self, height: u32, index: u64) -> Result<Digest32, ProofError> {
        self.levels
            .get(height as usize)
            .and_then(|level| level.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or_else(|| ProofError::Store(format!("no node ({height}, {index})")))
    }
}

impl MerkleTree {
    pub fn new() -> Self {
        MerkleTree::default()
    }

    pub fn len(&self) -> u64 {
        self.leaves()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a leaf hash (see `leaf_hash`) and completes the subtrees it closes.
    pub fn push(&mut self, leaf: Digest32) {
        let index = self.len();
        for (height, _, hash) in completed(&mut self.frontier, index, leaf) {
            let height = height as usize;
            if self.levels.len() <= height {
                self.levels.resize(height + 1, Vec::new());
            }
            self.levels[height].push(hash);
        }
    }

    pub fn root(&self, size: u64) -> Result<Digest32, ProofError> {
        root(self, size)
    }

    pub fn inclusion_proof(&self, leaf: u64, size: u64) -> Result<Vec<Digest32>, ProofError> {
        inclusion_proof(self, leaf, size)
    }

    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Digest32>, ProofError> {
        consistency_proof(self, old, new)
    }
}
