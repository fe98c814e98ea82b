//! The blob store against a folder and against a real S3-compatible server (SeaweedFS, started
//! by `scripts/s3`; `scripts/test` exports its endpoint as `LOCKER_S3_ENDPOINT`). The same
//! checks run on both: what was stored comes back, a re-store changes nothing, an object
//! altered behind the store's back is refused, a large object goes up in parts.

use std::sync::Arc;

use bytes::Bytes;
use object_store::ObjectStore;
use object_store::path::Path;
use server::store::blobs::{BlobError, BlobSettings, Blobs, S3Settings};

/// The test bucket's settings from the environment `scripts/test` sets, under `prefix`: none
/// if the S3 server is not running (which CI never allows).
pub(crate) fn test_bucket(prefix: &str) -> Option<S3Settings> {
    if std::env::var_os("LOCKER_S3_ENDPOINT").is_none() {
        // scripts/test always sets it; a developer's plain `cargo test` may not run the server,
        // but CI must never pass without it.
        assert!(std::env::var_os("CI").is_none(), "CI runs without LOCKER_S3_ENDPOINT");
        eprintln!("LOCKER_S3_ENDPOINT is not set, so the S3 checks are skipped; run scripts/test");
        return None;
    }
    let bucket = std::env::var("LOCKER_S3_BUCKET").unwrap_or("locker-test".to_owned());
    Some(
        S3Settings::from_env(bucket, Some(prefix.to_owned()), |name| std::env::var(name).ok())
            .expect("scripts/test sets the bucket's credentials"),
    )
}

/// A prefix no other run used, so runs sharing the bucket never see each other's objects
/// (a temporary folder's random name, since tests take no time or randomness of their own).
pub(crate) fn fresh_prefix(test: &str) -> String {
    let unique = tempfile::tempdir().expect("tempdir");
    let name = unique.path().file_name().and_then(|n| n.to_str()).expect("name");
    format!("it-{test}-{}", name.trim_start_matches('.'))
}

fn raw_s3(settings: &S3Settings) -> Arc<dyn ObjectStore> {
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(&settings.bucket)
        .with_region(&settings.region)
        .with_access_key_id(&settings.access_key_id)
        .with_secret_access_key(&settings.secret_access_key)
        .with_endpoint(settings.endpoint.as_deref().expect("endpoint"))
        .with_virtual_hosted_style_request(false)
        .with_allow_http(true)
        .build()
        .expect("raw S3 client");
    let prefix = settings.prefix.clone().expect("tests use a prefix");
    Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
}

/// The key layout the store documents: `ab/cdef...` (written out here, not taken from the
/// code under test).
fn key(hash: &schemas::Digest32) -> Path {
    let hex = hash.to_hex();
    Path::from(format!("{}/{}", &hex[..2], &hex[2..]))
}

/// The checks, on `blobs`, with `raw` the same store seen without the checks.
async fn conformance(blobs: &Blobs, raw: &Arc<dyn ObjectStore>) {
    let bytes = Bytes::from_static(b"%PDF-1.7\n% a marksheet\n");
    let hash = blobs.put(bytes.clone()).await.expect("put");
    assert_eq!(hash.to_hex(), blake3::hash(&bytes).to_hex().to_string(), "keyed by BLAKE3");
    assert_eq!(blobs.get(&hash).await.expect("get"), bytes);
    assert_eq!(
        blobs.put(bytes.clone()).await.expect("again"),
        hash,
        "the same bytes, the same key"
    );
    assert!(blobs.contains(&hash).await.expect("head"));
    assert_eq!(blobs.hashes_in_shard(hash.0[0]).await.expect("list"), vec![hash]);
    assert!(blobs.hashes_in_shard(hash.0[0].wrapping_add(1)).await.expect("list").is_empty());

    // Named objects: stored, listed, read back, removed; a name that would leave the store is
    // refused before anything is sent.
    blobs.put_object("snapshots/p0/manifest", Bytes::from_static(b"m")).await.expect("object");
    assert_eq!(
        blobs.list_objects("snapshots").await.expect("list"),
        vec![("snapshots/p0/manifest".to_owned(), 1)]
    );
    assert_eq!(
        blobs.get_object("snapshots/p0/manifest").await.expect("get").as_deref(),
        Some(&b"m"[..])
    );
    blobs.delete_object("snapshots/p0/manifest").await.expect("delete object");
    assert_eq!(blobs.get_object("snapshots/p0/manifest").await.expect("get"), None);
    assert!(matches!(blobs.put_object("../outside", Bytes::new()).await, Err(BlobError::Name(_))));

    // Altered behind the store's back: refused, never served.
    raw.put(&key(&hash), Bytes::from_static(b"%PDF-1.7\n% forged\n").into()).await.expect("tamper");
    match blobs.get(&hash).await {
        Err(BlobError::Corrupt { hash: h, .. }) => assert_eq!(h, hash),
        other => panic!("a forged object must be refused, got {other:?}"),
    }

    blobs.delete(&hash).await.expect("delete");
    blobs.delete(&hash).await.expect("deleting what is gone is fine");
    assert!(!blobs.contains(&hash).await.expect("head"));
    assert!(matches!(blobs.get(&hash).await, Err(BlobError::Missing(h)) if h == hash));

    // Past the multipart threshold: parts, and the whole comes back.
    let size = server::limits::BLOB_MULTIPART_BYTES_MIN + server::limits::BLOB_PART_BYTES / 2;
    let large: Bytes = (0..=250u8).cycle().take(size).collect::<Vec<u8>>().into();
    let large_hash = blobs.put(large.clone()).await.expect("multipart put");
    assert_eq!(blobs.get(&large_hash).await.expect("multipart get"), large);
    blobs.delete(&large_hash).await.expect("delete large");

    // A file streamed in (an upload received on disk), in parts past the threshold.
    let spool = tempfile::tempdir().expect("spool");
    let file = spool.path().join("incoming");
    std::fs::write(&file, &large).expect("spool file");
    blobs.put_file(large_hash, file).await.expect("put file");
    assert_eq!(blobs.get(&large_hash).await.expect("get file"), large);
    let back = spool.path().join("back");
    let name = key(&large_hash);
    let size = large.len() as u64;
    assert!(blobs.get_object_file(name.as_ref(), &back, size).await.expect("to file"));
    assert_eq!(std::fs::read(&back).expect("read back"), large);
    // Larger than the reader expects: refused before it is read.
    let refused = blobs.get_object_file(name.as_ref(), &back, size - 1).await;
    assert!(matches!(refused, Err(BlobError::TooLarge { .. })), "{refused:?}");
    let refused = blobs.get_bounded(&large_hash, size - 1).await;
    assert!(matches!(refused, Err(BlobError::TooLarge { .. })), "{refused:?}");
}

#[tokio::test]
async fn blobs_in_a_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blobs = Blobs::open(&BlobSettings::Local(dir.path().to_owned())).expect("open");
    let raw: Arc<dyn ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).expect("raw"));
    conformance(&blobs, &raw).await;
}

#[tokio::test]
async fn blobs_in_an_s3_bucket() {
    let Some(settings) = test_bucket(&fresh_prefix("blobs")) else { return };
    let blobs = Blobs::open(&BlobSettings::S3(settings.clone())).expect("open");
    conformance(&blobs, &raw_s3(&settings)).await;
}

#[test]
fn a_setting_is_a_bucket_or_a_folder() {
    let env = |name: &str| match name {
        "LOCKER_S3_ACCESS_KEY" => Some("locker-test".to_owned()),
        "LOCKER_S3_SECRET_KEY" => Some("locker-test-secret-key".to_owned()),
        _ => None,
    };
    let s3 = |bucket, prefix| S3Settings::from_env(bucket, prefix, env);
    assert!(
        matches!(BlobSettings::parse("s3://locker-files", s3), Ok(BlobSettings::S3(s)) if s.bucket == "locker-files" && s.prefix.is_none())
    );
    assert!(
        matches!(BlobSettings::parse("s3://locker-files/node-a/files/", s3), Ok(BlobSettings::S3(s)) if s.prefix.as_deref() == Some("node-a/files"))
    );
    assert!(matches!(BlobSettings::parse("/var/lib/locker/files", s3), Ok(BlobSettings::Local(_))));
    let refused =
        ["s3://Locker", "s3://a", "s3://bucket/../x", "s3://bucket//x", "gs://bucket", "s3://-x-"];
    for refused in refused {
        assert!(
            matches!(BlobSettings::parse(refused, s3), Err(BlobError::Setting { .. })),
            "{refused} must be refused"
        );
    }
    // The secret never shows.
    let shown = format!("{:?}", BlobSettings::parse("s3://locker-files", s3).expect("parsed"));
    assert!(!shown.contains("locker-test-secret-key") && shown.contains("locker-files"), "{shown}");
}
