//! The tree of RFC 9162 (Certificate Transparency 2.0) with BLAKE3 as the hash, and nothing
//! else: leaf and node hashes, roots and proofs over a store of complete subtrees
//! (`tree.rs`), and the RFC's algorithms to check them (`verify.rs`, which shares no code with
//! the tree: a verifier must not trust the prover). Pure: batch signatures (`crypto`) and the
//! ledger's checkpoints and bundles (`merkle`) are built on it, and it knows neither.

mod hash;
mod tree;
mod verify;

pub use hash::{EMPTY_ROOT, leaf_hash, node_hash};
#[cfg(feature = "store")]
pub(crate) use tree::completed;
pub use tree::{MerkleTree, Nodes, ProofError, consistency_proof, inclusion_proof, root};
pub use verify::{VerifyError, root_from_inclusion, verify_consistency, verify_inclusion};
