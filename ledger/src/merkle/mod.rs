//! Merkle trees over a partition's records, with the structure of RFC 9162 (Certificate
//! Transparency 2.0) and BLAKE3 as the hash: leaf = H(0x00 || record), node =
//! H(0x01 || left || right), and the empty tree's root is H(""). Leaf indexes are locker's own
//! sequence of records in log order, never Kafka offsets (which may have gaps).
//!
//! `tree.rs` gives roots and proofs over any store of complete subtrees (`MerkleTree` in
//! memory, `store.rs` on disk per partition); `follow.rs` feeds a partition's tree from the
//! log. `verify.rs` checks proofs with RFC 9162's algorithms and shares no code with the
//! tree: a verifier must not trust the prover.
//!
//! BLAKE3 instead of SHA-256 makes these proofs a private format (CT and tlog-tiles tooling
//! expects SHA-256); the structure and algorithms are the RFC's, so switching the hash is
//! local to `hash.rs`.

mod bundle;
mod checkpoint;
#[cfg(feature = "store")]
mod follow;
mod hash;
#[cfg(feature = "store")]
mod store;
mod tree;
mod verify;

#[cfg(feature = "store")]
pub use bundle::prove;
pub use bundle::{
    BUNDLE_KEY_CHAIN_MAX, BundleError, BundleFacts, ProofBundle, Proven, verify_bundle,
};
pub use checkpoint::{CHECKPOINT_DOMAIN, Checkpoint, CheckpointError, SignedCheckpoint};
#[cfg(feature = "store")]
pub use checkpoint::{CheckpointPolicy, checkpoint, checkpoint_partitions, last_checkpoints};
#[cfg(feature = "store")]
pub use follow::catch_up;
pub use hash::{EMPTY_ROOT, leaf_hash, node_hash};
#[cfg(feature = "store")]
pub use store::{PartitionTree, TreeStore};
pub use tree::{MerkleTree, Nodes, ProofError, consistency_proof, inclusion_proof, root};
pub use verify::{VerifyError, root_from_inclusion, verify_consistency, verify_inclusion};

#[cfg(test)]
mod tests;
