//! Two nodes' vaults over one real S3 bucket (SeaweedFS from `scripts/s3`): a key one node
//! creates is the key the other reads; two nodes creating one subject's key at once end up
//! with the same key; a wrapped key is useless under another platform key or another name.

use std::sync::Arc;

use schemas::{Digest32, LockerId, SealSubject};
use server::store::blobs::BlobSettings;
use server::store::shared_keys::SharedKeys;
use server::store::vault::Vault;

use crate::blobs::{fresh_prefix, test_bucket};

fn node(
    settings: &BlobSettings,
    platform: &ed25519_dalek::SigningKey,
) -> (tempfile::TempDir, Vault) {
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = SharedKeys::open(settings, platform).expect("shared keys");
    let vault = Vault::open(dir.path()).expect("vault").with_shared(shared);
    (dir, vault)
}

#[test]
fn nodes_share_each_subjects_key_and_agree_when_they_race() {
    let Some(s3) = test_bucket(&fresh_prefix("vault")) else { return };
    let settings = BlobSettings::S3(s3);
    let platform = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let (_a_dir, a) = node(&settings, &platform);
    let (_b_dir, b) = node(&settings, &platform);

    let citizen = SealSubject::Locker(LockerId([1; 16]));
    let created = a.key_for(&citizen).expect("a creates");
    assert_eq!(b.key_for(&citizen).expect("b reads"), created, "one key per subject");
    assert_eq!(projections::SealKeys::key(&b, &citizen), Some(created));

    // A bulk load's subjects on one node, then on the other: the same keys.
    let subjects: Vec<SealSubject> =
        (0..40u8).map(|i| SealSubject::Aadhaar(Digest32([i; 32]))).collect();
    let on_a = a.keys_for(&subjects).expect("a's keys");
    assert_eq!(b.keys_for(&subjects).expect("b's keys"), on_a);

    // Both create the same new subjects' keys at once: whoever lost takes the winner's.
    let racing: Vec<SealSubject> =
        (0..20u8).map(|i| SealSubject::Locker(LockerId([100 + i; 16]))).collect();
    let (a, b) = (Arc::new(a), Arc::new(b));
    let runs: Vec<_> = [Arc::clone(&a), Arc::clone(&b)]
        .into_iter()
        .map(|vault| {
            let racing = racing.clone();
            std::thread::spawn(move || vault.keys_for(&racing).expect("keys"))
        })
        .collect();
    let results: Vec<Vec<[u8; 32]>> = runs.into_iter().map(|r| r.join().expect("join")).collect();
    assert_eq!(results[0], results[1], "both nodes seal each subject under one key");

    // A citizen's custodial signing key stored by one node signs on the other.
    let locker = LockerId([9; 16]);
    let signing = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    a.store_signing_key(&locker, &signing).expect("store");
    assert_eq!(b.signing_key(&locker).map(|k| k.to_bytes()), Some(signing.to_bytes()));

    // Another platform's nodes cannot open them.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    let (_c_dir, c) = node(&settings, &stranger);
    let refused = c.key_for(&citizen).expect_err("wrapped for another platform");
    assert!(refused.to_string().contains("not a key wrapped for this platform"), "{refused}");
}

/// What the vault's agreement rests on: the bucket creates a name once (`If-None-Match: *`).
#[tokio::test]
async fn the_bucket_creates_a_name_only_once() {
    let Some(s3) = test_bucket(&fresh_prefix("create")) else { return };
    let blobs = server::store::blobs::Blobs::open(&BlobSettings::S3(s3)).expect("bucket");
    let first = bytes::Bytes::from_static(b"first");
    assert!(blobs.create_object("vault/once", first.clone()).await.expect("create"));
    let second = bytes::Bytes::from_static(b"second");
    assert!(!blobs.create_object("vault/once", second).await.expect("refused"), "created twice");
    assert_eq!(blobs.get_object("vault/once").await.expect("read"), Some(first));
}
