use proptest::prelude::*;
use schemas::Digest32;

use super::*;

fn at(i: u64) -> usize {
    usize::try_from(i).expect("test sizes are small")
}

/// MTH of RFC 9162 2.1.1, straight from the definition, for checking the tree.
fn reference_root(leaves: &[Digest32]) -> Digest32 {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
        }
    }
}

fn leaves(n: u64) -> Vec<Digest32> {
    (0..n).map(|i| leaf_hash(format!("record {i}").as_bytes())).collect()
}

fn tree_of(leaves: &[Digest32]) -> MerkleTree {
    let mut tree = MerkleTree::new();
    for leaf in leaves {
        tree.push(*leaf);
    }
    tree
}

#[test]
fn the_empty_root_is_the_hash_of_nothing() {
    assert_eq!(EMPTY_ROOT.0, *blake3::hash(b"").as_bytes());
    assert_eq!(MerkleTree::new().root(0), Ok(EMPTY_ROOT));
}

#[test]
fn leaves_and_nodes_are_domain_separated() {
    let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
    let mut concatenated = a.0.to_vec();
    concatenated.extend_from_slice(&b.0);
    // A leaf whose bytes are two hashes is not the node over them.
    assert_ne!(leaf_hash(&concatenated), node_hash(&a, &b));
}

#[test]
fn roots_match_the_definition_at_every_size() {
    let all = leaves(130);
    let tree = tree_of(&all);
    for size in 0..=130u64 {
        assert_eq!(tree.root(size), Ok(reference_root(&all[..at(size)])), "size {size}");
    }
    assert!(tree.root(131).is_err());
}

#[test]
fn every_inclusion_proof_verifies_and_tampering_fails() {
    let all = leaves(40);
    let tree = tree_of(&all);
    for size in 1..=40u64 {
        let root = tree.root(size).expect("root");
        for index in 0..size {
            let leaf = all[at(index)];
            let proof = tree.inclusion_proof(index, size).expect("proof");
            assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));
            assert!(proof.len() <= 64 - size.leading_zeros() as usize);
            // Another leaf, index or size, or another tree's root.
            let other = all[at((index + 1) % size)];
            if size > 1 {
                assert!(verify_inclusion(&other, index, size, &proof, &root).is_err());
                assert!(verify_inclusion(&leaf, (index + 1) % size, size, &proof, &root).is_err());
            }
            // The proof of one size against another size's root. (Against the same root, a
            // size can be ambiguous: the checkpoint's signature binds the size to the root.)
            if size < 40 {
                let bigger = tree.root(size + 1).expect("root");
                assert!(
                    verify_inclusion(&leaf, index, size + 1, &proof, &bigger).is_err(),
                    "{index} {size}"
                );
            }
            assert!(verify_inclusion(&leaf, size, size, &proof, &root).is_err());
            assert!(verify_inclusion(&leaf, index, size, &proof, &leaf_hash(b"x")).is_err());
            // Truncated, extended, or one hash flipped.
            if !proof.is_empty() {
                assert!(
                    verify_inclusion(&leaf, index, size, &proof[..proof.len() - 1], &root).is_err()
                );
                let mut flipped = proof.clone();
                flipped[0].0[0] ^= 1;
                assert!(verify_inclusion(&leaf, index, size, &flipped, &root).is_err());
            }
            let mut longer = proof.clone();
            longer.push(root);
            assert!(verify_inclusion(&leaf, index, size, &longer, &root).is_err());
        }
    }
}

#[test]
fn every_consistency_proof_verifies_and_tampering_fails() {
    let all = leaves(40);
    let tree = tree_of(&all);
    // The same history with record 3 rewritten.
    let mut rewritten = all.clone();
    rewritten[3] = leaf_hash(b"forged");
    let forged = tree_of(&rewritten);
    for new in 1..=40u64 {
        let new_root = tree.root(new).expect("root");
        for old in 1..=new {
            let old_root = tree.root(old).expect("root");
            let proof = tree.consistency_proof(old, new).expect("proof");
            assert_eq!(
                verify_consistency(old, new, &old_root, &new_root, &proof),
                Ok(()),
                "{old}->{new}"
            );
            if old == new {
                assert!(proof.is_empty());
                continue;
            }
            assert!(verify_consistency(old, new, &new_root, &old_root, &proof).is_err());
            assert!(
                verify_consistency(old + 1, new, &old_root, &new_root, &proof).is_err()
                    || old + 1 == new
            );
            if new < 40 {
                let bigger = tree.root(new + 1).expect("root");
                assert!(verify_consistency(old, new + 1, &old_root, &bigger, &proof).is_err());
            }
            if !proof.is_empty() {
                assert!(
                    verify_consistency(old, new, &old_root, &new_root, &proof[..proof.len() - 1])
                        .is_err()
                );
                let mut flipped = proof.clone();
                let last = flipped.len() - 1;
                flipped[last].0[5] ^= 1;
                assert!(verify_consistency(old, new, &old_root, &new_root, &flipped).is_err());
            }
            let mut longer = proof.clone();
            longer.push(new_root);
            assert!(verify_consistency(old, new, &old_root, &new_root, &longer).is_err());
            // A log that rewrote record 3 cannot prove it extends what was checkpointed.
            if old > 3 {
                let forged_new = forged.root(new).expect("root");
                let forged_proof = forged.consistency_proof(old, new).expect("proof");
                assert!(
                    verify_consistency(old, new, &old_root, &forged_new, &forged_proof).is_err()
                );
            }
        }
    }
}

#[test]
fn bad_requests_for_proofs_are_named() {
    let tree = tree_of(&leaves(5));
    assert_eq!(tree.inclusion_proof(5, 5), Err(ProofError::IndexOutOfRange { index: 5, size: 5 }));
    assert_eq!(tree.inclusion_proof(0, 6), Err(ProofError::SizeBeyondTree { size: 6, have: 5 }));
    assert_eq!(tree.consistency_proof(0, 5), Err(ProofError::BadSizes { old: 0, new: 5 }));
    assert_eq!(tree.consistency_proof(4, 3), Err(ProofError::BadSizes { old: 4, new: 3 }));
    let huge = vec![EMPTY_ROOT; 1000];
    assert!(matches!(
        verify_inclusion(&EMPTY_ROOT, 0, 2, &huge, &EMPTY_ROOT),
        Err(VerifyError::ProofTooLong { .. })
    ));
    assert_eq!(
        verify_consistency(3, 2, &EMPTY_ROOT, &EMPTY_ROOT, &[]),
        Err(VerifyError::BadSizes { old: 3, new: 2 })
    );
    assert_eq!(verify_consistency(0, 9, &EMPTY_ROOT, &EMPTY_ROOT, &[]), Ok(()));
    assert_eq!(
        verify_consistency(2, 2, &EMPTY_ROOT, &leaf_hash(b"x"), &[]),
        Err(VerifyError::EqualSizes)
    );
    assert_eq!(
        verify_inclusion(&EMPTY_ROOT, 0, u64::MAX, &[], &EMPTY_ROOT),
        Err(VerifyError::ProofTooShort)
    );
}

proptest! {
    #[test]
    fn proofs_hold_at_random_sizes(new in 1u64..3000, old_seed in any::<u64>(), index_seed in any::<u64>()) {
        let all = leaves(new);
        let tree = tree_of(&all);
        let old = 1 + old_seed % new;
        let index = index_seed % old;
        let old_root = tree.root(old).expect("root");
        let new_root = tree.root(new).expect("root");
        prop_assert_eq!(new_root, reference_root(&all));
        let proof = tree.inclusion_proof(index, old).expect("proof");
        prop_assert_eq!(verify_inclusion(&all[at(index)], index, old, &proof, &old_root), Ok(()));
        let proof = tree.consistency_proof(old, new).expect("proof");
        prop_assert_eq!(verify_consistency(old, new, &old_root, &new_root, &proof), Ok(()));
    }

    /// Whatever bytes a prover sends, the verifiers answer without panicking.
    #[test]
    fn verifiers_never_panic(index in any::<u64>(), size in any::<u64>(), old in any::<u64>(),
                             hashes in proptest::collection::vec(any::<[u8; 32]>(), 0..80)) {
        let proof: Vec<Digest32> = hashes.into_iter().map(Digest32).collect();
        let _ = verify_inclusion(&EMPTY_ROOT, index, size, &proof, &EMPTY_ROOT);
        let _ = verify_consistency(old, size, &EMPTY_ROOT, &EMPTY_ROOT, &proof);
    }
}
