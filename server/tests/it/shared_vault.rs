//! Two nodes' vaults over one real S3 bucket (SeaweedFS from `scripts/s3`): a key one node
//! creates is the key the other reads; two nodes creating one subject's key at once end up
//! with the same key; a wrapped key is useless under another platform key or another name.

use std::sync::Arc;

use schemas::{Digest32, LockerId, SealSubject};
use server::store::blobs::BlobSettings;
use server::store::shared_keys::SharedKeys;
use server::store::vault::Vault;

use crate::blobs::{fresh_prefix, test_bucket};

/// One node's accounts over the shared bucket (`seed`: its own randomness).
fn shared_accounts(
    settings: &BlobSettings,
    platform: &ed25519_dalek::SigningKey,
    seed: u8,
) -> (tempfile::TempDir, server::store::accounts::Accounts) {
    let dir = tempfile::tempdir().expect("tempdir");
    let shared = server::store::records::SharedRecords::open(settings, platform).expect("records");
    let accounts = server::store::accounts::Accounts::open(dir.path(), [seed; 32])
        .expect("accounts")
        .with_shared(shared);
    (dir, accounts)
}

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
    let results: Vec<Vec<Option<[u8; 32]>>> =
        runs.into_iter().map(|r| r.join().expect("join")).collect();
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

/// Accounts two nodes share through the bucket: a username is taken once across them, a
/// session opened on one is live on the other and ends on both, another platform's node
/// reads none of it, and the bucket holds no username, locker id or password hash in clear.
#[test]
fn accounts_in_the_bucket_are_one_cluster_wide_and_unreadable_there() {
    let prefix = fresh_prefix("records");
    let Some(s3) = test_bucket(&prefix) else { return };
    let settings = BlobSettings::S3(s3);
    let platform = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let node =
        |seed: u8, platform: &ed25519_dalek::SigningKey| shared_accounts(&settings, platform, seed);
    let ((_a_dir, a), (_b_dir, b)) = (node(1, &platform), node(2, &platform));
    let locker = LockerId([5; 16]);
    let hash = a.hash_new("correct horse battery").expect("hash");
    assert!(a.create_user("ravi", locker, hash.clone()).expect("create"));
    assert!(!b.create_user("ravi", LockerId([6; 16]), hash.clone()).expect("taken"), "taken once");
    assert_eq!(b.locker_of("ravi").expect("read"), Some(locker));

    let now = schemas::TimestampMs(1_800_000_000_000);
    let (token, _) = a.open_session(locker, now).expect("session");
    assert_eq!(b.session(&token, now).expect("read"), Some(locker), "live on the other node");
    let (_c_dir, stranger) = node(3, &ed25519_dalek::SigningKey::from_bytes(&[8; 32]));
    let seen = stranger.session(&token, now);
    assert!(!matches!(seen, Ok(Some(_))), "another platform's node opens nothing: {seen:?}");
    b.logout(&token).expect("logout");
    assert_eq!(a.session(&token, now).expect("read"), None, "ended on both");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let blobs = server::store::blobs::Blobs::open(&settings).expect("bucket");
    let objects = runtime.block_on(blobs.list_objects("records")).expect("list");
    assert!(!objects.is_empty());
    let locker_hex = schemas::to_hex(&locker.0);
    for (name, _) in objects {
        let bytes = runtime.block_on(blobs.get_object(&name)).expect("get").expect("there");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!name.contains("ravi") && !text.contains("ravi"), "{name}");
        assert!(!text.contains(&locker_hex) && !text.contains("argon2"), "{name} in clear");
    }
}

/// A document URI and an Aadhaar are each claimed once across two nodes: the second node
/// finds the first's claim (not a copy of its own), a retry for the same holder passes, and
/// a claim given back may be taken again.
#[test]
fn uris_and_aadhaar_numbers_are_claimed_once_across_nodes() {
    use server::store::accounts::Claim;
    let prefix = fresh_prefix("claims");
    let Some(s3) = test_bucket(&prefix) else { return };
    let settings = BlobSettings::S3(s3);
    let platform = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let node = |seed: u8| shared_accounts(&settings, &platform, seed);
    let ((_a_dir, a), (_b_dir, b)) = (node(1), node(2));
    let uri = schemas::EventId([1; 16]);
    let other = schemas::EventId([2; 16]);
    let (ravi, asha) = (b"locker-ravi".to_vec(), b"locker-asha".to_vec());
    let first = a.claim_uris(&[(uri, ravi.clone()), (other, asha.clone())]).expect("claim");
    assert_eq!(first, [Claim::Created, Claim::Created]);
    let second = b.claim_uris(&[(uri, asha.clone()), (other, asha.clone())]).expect("claim");
    assert_eq!(second, [Claim::Other, Claim::Held], "taken for ravi; asha's retry passes");
    a.release_uri(&uri).expect("give back");
    assert_eq!(b.claim_uris(&[(uri, asha)]).expect("claim"), [Claim::Created]);

    let aadhaar = Digest32([9; 32]);
    let (first, second) = (LockerId([1; 16]), LockerId([2; 16]));
    assert_eq!(a.claim_aadhaar(&aadhaar, first).expect("bind"), None, "bound by this call");
    assert_eq!(b.claim_aadhaar(&aadhaar, second).expect("bind"), Some(first), "bound once");
    a.release_aadhaar(&aadhaar, second).expect("not first's to give back");
    assert_eq!(a.aadhaar_locker(&aadhaar).expect("read"), Some(first), "kept");
    a.release_aadhaar(&aadhaar, first).expect("give back");
    assert_eq!(b.claim_aadhaar(&aadhaar, second).expect("bind"), None);
    assert_eq!(a.aadhaar_locker(&aadhaar).expect("read"), Some(second));
}
