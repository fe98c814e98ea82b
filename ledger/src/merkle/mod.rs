//! Merkle trees over a partition's records, with the structure of RFC 9162 (Certificate
//! Transparency 2.0) and BLAKE3 as the hash: leaf = H(0x00 || record), node =
//! H(0x01 || left || right), and the empty tree's root is H(""). Leaf indexes are locker's own
//! sequence of records in log order, never Kafka offsets (which may have gaps).
//!
//! The tree itself and its proofs are `crate::rfc9162` (re-exported here); `store.rs` keeps a
//! partition's tree on disk, `follow.rs` feeds it from the log, `checkpoint.rs` signs its
//! roots and `bundle.rs` proves one document's event.
//!
//! BLAKE3 instead of SHA-256 makes these proofs a private format (CT and tlog-tiles tooling
//! expects SHA-256); the structure and algorithms are the RFC's, so switching the hash is
//! local to `hash.rs`.

mod bundle;
mod checkpoint;
#[cfg(feature = "store")]
mod follow;
#[cfg(feature = "store")]
mod store;

pub use crate::rfc9162::{EMPTY_ROOT, leaf_hash, node_hash};
pub use crate::rfc9162::{MerkleTree, Nodes, ProofError, consistency_proof, inclusion_proof, root};
pub use crate::rfc9162::{VerifyError, root_from_inclusion, verify_consistency, verify_inclusion};
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
#[cfg(feature = "store")]
pub use store::{LeafSources, PartitionTree, TreeStore};

#[cfg(test)]
mod tests;
