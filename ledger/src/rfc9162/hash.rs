//! The two hashes of the tree, domain-separated by their first byte (RFC 9162 2.1.1).

use schemas::Digest32;

/// The root of the empty tree: the hash of nothing.
pub const EMPTY_ROOT: Digest32 = Digest32([
    0xaf, 0x13, 0x49, 0xb9, 0xf5, 0xf9, 0xa1, 0xa6, 0xa0, 0x40, 0x4d, 0xea, 0x36, 0xdc, 0xc9, 0x49,
    0x9b, 0xcb, 0x25, 0xc9, 0xad, 0xc1, 0x12, 0xb7, 0xcc, 0x9a, 0x93, 0xca, 0xe4, 0x1f, 0x32, 0x62,
]);

/// H(0x00 || record): a leaf.
pub fn leaf_hash(record: &[u8]) -> Digest32 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[0x00]);
    hasher.update(record);
    Digest32(*hasher.finalize().as_bytes())
}

/// H(0x01 || left || right): an interior node.
pub fn node_hash(left: &Digest32, right: &Digest32) -> Digest32 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[0x01]);
    hasher.update(&left.0);
    hasher.update(&right.0);
    Digest32(*hasher.finalize().as_bytes())
}
