//! Document bytes in an object store (issue 17), so every node of a cluster reads the same
//! files: a local folder by default, or an S3-compatible bucket. Keys are content addresses
//! (`ab/cdef...`, the BLAKE3 of the bytes, as in `files.rs`), so writing the same bytes twice
//! is harmless and a key never names two contents. Every read checks the bytes against their
//! key: an object altered in the bucket is refused, never served. Large objects go up as a
//! multipart upload, in parts of `BLOB_PART_BYTES`.
//!
//! Not yet the store the service writes to: `files.rs` still holds uploads and pushes; this is
//! the layer it moves onto (with the sweep and the pins), tested here against a folder and
//! against a real S3 server (`scripts/s3`).

use std::sync::Arc;

use bytes::Bytes;
use object_store::ObjectStore;
use object_store::path::Path;
use schemas::Digest32;

use crate::limits::{BLOB_MULTIPART_BYTES_MIN, BLOB_PART_BYTES};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no stored content with hash {0}")]
    Missing(Digest32),
    #[error("stored content {hash} is corrupt: its bytes hash to {actual}")]
    Corrupt { hash: Digest32, actual: Digest32 },
    #[error("the blob store setting {setting:?}: {reason}")]
    Setting { setting: String, reason: String },
    #[error("blob store: {0}")]
    Store(String),
}

fn store_error(e: object_store::Error) -> BlobError {
    BlobError::Store(e.to_string())
}

/// Where the bytes live.
#[derive(Clone)]
pub enum BlobSettings {
    /// A folder on this machine (the embedded default).
    Local(std::path::PathBuf),
    /// An S3-compatible bucket.
    S3(S3Settings),
}

/// An S3-compatible bucket and how to reach it. The secret never shows in `Debug`.
#[derive(Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// `http(s)://host:port` of an S3-compatible server; none for AWS itself.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for BlobSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobSettings::Local(dir) => f.debug_tuple("Local").field(dir).finish(),
            BlobSettings::S3(s3) => f.debug_tuple("S3").field(s3).finish(),
        }
    }
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl BlobSettings {
    /// `s3://bucket` (the bucket's endpoint and credentials from `s3`'s other fields), or a
    /// folder path.
    pub fn parse(setting: &str, s3: impl FnOnce(String) -> S3Settings) -> Result<Self, BlobError> {
        let refuse = |reason: &str| BlobError::Setting {
            setting: setting.to_owned(),
            reason: reason.to_owned(),
        };
        match setting.strip_prefix("s3://") {
            Some(bucket) if is_bucket_name(bucket) => Ok(BlobSettings::S3(s3(bucket.to_owned()))),
            Some(_) => Err(refuse("a bucket name is 3 to 63 of a-z, 0-9, '.' and '-'")),
            None if setting.contains("://") => Err(refuse("only s3:// buckets and folders")),
            None => Ok(BlobSettings::Local(setting.into())),
        }
    }
}

/// S3's bucket naming rules, the part that matters here (no path, no upper case).
fn is_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric()
}

/// Content-addressed bytes in an object store.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    describe: String,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blobs").field("store", &self.describe).finish()
    }
}

/// `ab/cdef...`: two hex digits of fan-out, as `files.rs` lays out a folder.
fn key(hash: &Digest32) -> Path {
    let hex = hash.to_hex();
    Path::from(format!("{}/{}", &hex[..2], &hex[2..]))
}

fn hash_of(bytes: &[u8]) -> Digest32 {
    Digest32(*blake3::hash(bytes).as_bytes())
}

impl Blobs {
    pub fn open(settings: &BlobSettings) -> Result<Self, BlobError> {
        match settings {
            BlobSettings::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| BlobError::Store(e.to_string()))?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
                    .map_err(store_error)?;
                Ok(Self::over(Arc::new(store), format!("folder {}", dir.display())))
            }
            BlobSettings::S3(s3) => {
                let mut builder = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_access_key_id(&s3.access_key_id)
                    .with_secret_access_key(&s3.secret_access_key);
                if let Some(endpoint) = &s3.endpoint {
                    // An S3-compatible server: path-style requests; plain HTTP only if asked.
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_virtual_hosted_style_request(false)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                let store = builder.build().map_err(store_error)?;
                Ok(Self::over(Arc::new(store), format!("bucket s3://{}", s3.bucket)))
            }
        }
    }

    /// Blobs over any object store (tests hand in one they can tamper with).
    pub fn over(store: Arc<dyn ObjectStore>, describe: String) -> Self {
        Blobs { store, describe }
    }

    /// Stores `bytes` under their hash; the same bytes again change nothing.
    pub async fn put(&self, bytes: Bytes) -> Result<Digest32, BlobError> {
        let hash = hash_of(&bytes);
        let location = key(&hash);
        if bytes.len() < BLOB_MULTIPART_BYTES_MIN {
            self.store.put(&location, bytes.into()).await.map_err(store_error)?;
            return Ok(hash);
        }
        let upload = self.store.put_multipart(&location).await.map_err(store_error)?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, BLOB_PART_BYTES);
        for part in bytes.chunks(BLOB_PART_BYTES) {
            writer.wait_for_capacity(2).await.map_err(store_error)?;
            writer.write(part);
        }
        writer.finish().await.map_err(store_error)?;
        Ok(hash)
    }

    /// The bytes stored under `hash`, checked against it.
    pub async fn get(&self, hash: &Digest32) -> Result<Bytes, BlobError> {
        let found = match self.store.get(&key(hash)).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Err(BlobError::Missing(*hash)),
            Err(e) => return Err(store_error(e)),
        };
        let bytes = found.bytes().await.map_err(store_error)?;
        let actual = hash_of(&bytes);
        if actual != *hash {
            return Err(BlobError::Corrupt { hash: *hash, actual });
        }
        Ok(bytes)
    }

    /// Whether anything is stored under `hash` (not checked: `get` checks).
    pub async fn contains(&self, hash: &Digest32) -> Result<bool, BlobError> {
        match self.store.head(&key(hash)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Removes the bytes under `hash`; removing what is not there is not an error.
    pub async fn delete(&self, hash: &Digest32) -> Result<(), BlobError> {
        match self.store.delete(&key(hash)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Every stored hash (for the sweep and the audit), in no particular order. A key that is
    /// not a content address is skipped: the bucket may hold other things.
    pub async fn hashes(&self) -> Result<Vec<Digest32>, BlobError> {
        use futures_util::TryStreamExt;
        let objects: Vec<_> = self.store.list(None).try_collect().await.map_err(store_error)?;
        Ok(objects
            .iter()
            .filter_map(|o| {
                let text: String = o.location.parts().map(|p| p.as_ref().to_owned()).collect();
                Digest32::from_hex(&text).ok()
            })
            .collect())
    }
}
