//! Proof verification exactly as RFC 9162 2.1.3.2 (inclusion) and 2.1.4.2 (consistency)
//! describe it, with the tree's hash. Nothing here uses the tree code: the verifier trusts
//! only the hashes it is given and the root it already holds.

use schemas::Digest32;

use super::hash::node_hash;
use crate::limits::MERKLE_PROOF_HASHES_MAX;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("the proof has {got} hashes; at most {max} can be right")]
    ProofTooLong { got: usize, max: usize },
    #[error("the proof is too short for a tree of this size")]
    ProofTooShort,
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
    #[error("sizes {old} and {new} cannot be consistent: the old size must be at most the new")]
    BadSizes { old: u64, new: u64 },
    #[error(
        "trees of equal size are consistent only if their roots are equal, with an empty proof"
    )]
    EqualSizes,
}

fn check_length(proof: &[Digest32]) -> Result<(), VerifyError> {
    if proof.len() > MERKLE_PROOF_HASHES_MAX {
        return Err(VerifyError::ProofTooLong { got: proof.len(), max: MERKLE_PROOF_HASHES_MAX });
    }
    Ok(())
}

/// Whether `leaf` (a leaf hash) is at `index` in the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf: &Digest32,
    index: u64,
    size: u64,
    proof: &[Digest32],
    root: &Digest32,
) -> Result<(), VerifyError> {
    if root_from_inclusion(leaf, index, size, proof)? != *root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// The root that `leaf` at `index` of a tree of `size` leaves leads to along `proof`
/// (RFC 9162 2.1.3.2 up to the final comparison): what a batch signature must cover.
pub fn root_from_inclusion(
    leaf: &Digest32,
    index: u64,
    size: u64,
    proof: &[Digest32],
) -> Result<Digest32, VerifyError> {
    check_length(proof)?;
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(VerifyError::RootMismatch);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(VerifyError::ProofTooShort);
    }
    Ok(r)
}

/// Whether the tree of `old` leaves with root `old_root` is a prefix of the tree of `new`
/// leaves with root `new_root`.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Digest32,
    new_root: &Digest32,
    proof: &[Digest32],
) -> Result<(), VerifyError> {
    check_length(proof)?;
    if old > new {
        return Err(VerifyError::BadSizes { old, new });
    }
    if old == new {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else {
            Err(VerifyError::EqualSizes)
        };
    }
    if old == 0 {
        // Every tree extends the empty one; there is nothing to prove.
        return if proof.is_empty() { Ok(()) } else { Err(VerifyError::RootMismatch) };
    }
    if proof.is_empty() {
        return Err(VerifyError::ProofTooShort);
    }
    let mut path: Vec<Digest32> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err(VerifyError::RootMismatch);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(VerifyError::ProofTooShort);
    }
    if fr != *old_root || sr != *new_root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}
