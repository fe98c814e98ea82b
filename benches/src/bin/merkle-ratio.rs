//! The Merkle tree at scale, beside raw BLAKE3 in the same run: building a partition's tree
//! on disk from N records (leaves/s vs raw 500-byte BLAKE3 hashes/s), and inclusion and
//! consistency proofs at N: sizes, generation and verification times.
//!
//! Usage: merkle-ratio [LEAVES]   (default 1,000,000)

// Linked for its allocator (the one `locker` runs with).
extern crate locker_benches;

use std::time::Instant;

use ledger::merkle::{TreeStore, leaf_hash, verify_consistency, verify_inclusion};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

const RECORD_BYTES: usize = 500;
const BATCH_LEAVES: usize = 10_000;
const PROOFS: usize = 2_000;

fn main() -> anyhow::Result<()> {
    let leaves: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut record = vec![0u8; RECORD_BYTES];
    rng.fill_bytes(&mut record);

    // Raw: BLAKE3 of a 500-byte record, the leaf's own cost.
    let start = Instant::now();
    let mut sink = 0u8;
    for i in 0..leaves {
        record[0] = (i % 251) as u8;
        sink ^= blake3::hash(&record).as_bytes()[0];
    }
    let raw = leaves as f64 / start.elapsed().as_secs_f64();

    let dir = tempfile::tempdir()?;
    let store = TreeStore::open(dir.path())?;
    let mut tree = store.tree("bench", 0)?;
    let start = Instant::now();
    let mut batch = Vec::with_capacity(BATCH_LEAVES);
    for i in 0..leaves {
        record[0] = (i % 251) as u8;
        record[1..9].copy_from_slice(&i.to_le_bytes());
        batch.push((i, leaf_hash(&record)));
        if batch.len() == BATCH_LEAVES || i + 1 == leaves {
            tree.append(&batch, i + 1)?;
            batch.clear();
        }
    }
    let build = leaves as f64 / start.elapsed().as_secs_f64();
    let root = tree.root(leaves)?;

    drop(tree);
    drop(store);
    // A restart: open the store and load the tree without rehashing anything.
    let start = Instant::now();
    let store = TreeStore::open(dir.path())?;
    let tree = store.tree("bench", 0)?;
    let reopen_ms = start.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(tree.root(leaves)?, root);

    let mut indexes = Vec::with_capacity(PROOFS);
    for _ in 0..PROOFS {
        indexes.push(rng.next_u64() % leaves);
    }
    let start = Instant::now();
    let mut proofs = Vec::with_capacity(PROOFS);
    for &index in &indexes {
        proofs.push(tree.inclusion_proof(index, leaves)?);
    }
    let prove_us = start.elapsed().as_secs_f64() * 1e6 / PROOFS as f64;
    let hashes_max = proofs.iter().map(Vec::len).max().unwrap_or(0);
    // Verifying needs the leaf: rebuild it as it was hashed.
    let leaves_of: Vec<_> = indexes
        .iter()
        .map(|&i| {
            let mut r = record.clone();
            r[0] = (i % 251) as u8;
            r[1..9].copy_from_slice(&i.to_le_bytes());
            leaf_hash(&r)
        })
        .collect();
    let start = Instant::now();
    for ((index, proof), leaf) in indexes.iter().zip(&proofs).zip(&leaves_of) {
        verify_inclusion(leaf, *index, leaves, proof, &root).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let verify_us = start.elapsed().as_secs_f64() * 1e6 / PROOFS as f64;

    let old = leaves / 3 + 1;
    let old_root = tree.root(old)?;
    let start = Instant::now();
    let consistency = tree.consistency_proof(old, leaves)?;
    let consistency_us = start.elapsed().as_secs_f64() * 1e6;
    verify_consistency(old, leaves, &old_root, &root, &consistency)
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    println!("merkle-ratio: {leaves} leaves of {RECORD_BYTES}-byte records (sink {sink})");
    println!("  raw BLAKE3 of one record: {raw:.0}/s (same run)");
    println!(
        "  tree built on disk: {build:.0} leaves/s = {:.0}% of raw hashing; reopened in {reopen_ms:.1} ms",
        100.0 * build / raw
    );
    println!(
        "  inclusion proof: {hashes_max} hashes at most ({} bytes), {prove_us:.1} us to make, {verify_us:.1} us to verify",
        hashes_max * 32
    );
    println!(
        "  consistency proof {old} -> {leaves}: {} hashes ({} bytes), {consistency_us:.0} us to make",
        consistency.len(),
        consistency.len() * 32
    );
    Ok(())
}
