//! Bytes in an object store (issue 17), so every node of a cluster reads the same files: a
//! local folder by default, or an S3-compatible bucket (optionally under a prefix, so several
//! deployments or test runs share one bucket).
//!
//! Two kinds of object. Contents are keyed by their BLAKE3 (`ab/cdef...`, the layout of the
//! old `DATA/files` folder, so a folder from before reads as it is): writing the same bytes
//! twice is harmless, a key never names two contents, and every read checks the bytes against
//! their key, so an object altered in the bucket is refused, never served. Named objects
//! (pins, snapshots) live under names no content key can take (`pinned/...`, `snapshots/...`).
//!
//! In a folder a write goes to a temporary file, is synced and renamed into place (the
//! `object_store` crate's folder store does not sync; a write here is acknowledged only once
//! it would survive a crash). In a bucket, an object from `BLOB_MULTIPART_BYTES_MIN` goes up
//! as a multipart upload in parts of `BLOB_PART_BYTES`.

use std::sync::Arc;

use bytes::Bytes;
use object_store::ObjectStore;
use object_store::path::Path;
use schemas::Digest32;

use crate::limits::{BLOB_MULTIPART_BYTES_MIN, BLOB_PART_BYTES, BLOB_PARTS_IN_FLIGHT};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no stored content with hash {0}")]
    Missing(Digest32),
    #[error("stored content {hash} is corrupt: its bytes hash to {actual}")]
    Corrupt { hash: Digest32, actual: Digest32 },
    #[error("the blob store setting {setting:?}: {reason}")]
    Setting { setting: String, reason: String },
    #[error("{0:?} is not an object name (segments of letters, digits, '.', '-' and '_')")]
    Name(String),
    #[error("{name} holds {size_bytes} bytes, more than the {max_bytes} expected")]
    TooLarge { name: String, size_bytes: u64, max_bytes: u64 },
    #[error("blob store: {0}")]
    Store(String),
    #[error("blob store folder: {0}")]
    Io(#[from] std::io::Error),
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
    /// Keys go under this prefix (none: the bucket's root).
    pub prefix: Option<String>,
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
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// The environment variables a bucket's endpoint and credentials come from: locker's own
/// first, then the AWS tools' usual ones. Credentials never come from the command line, where
/// every user of the machine can read them.
pub const S3_ENVIRONMENT: [(&str, &str); 4] = [
    ("LOCKER_S3_ENDPOINT", "AWS_ENDPOINT_URL"),
    ("LOCKER_S3_REGION", "AWS_REGION"),
    ("LOCKER_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID"),
    ("LOCKER_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"),
];

impl S3Settings {
    /// A bucket's settings from the environment (`S3_ENVIRONMENT`; `env` looks a name up).
    /// The region defaults to us-east-1, which S3-compatible servers accept.
    pub fn from_env(
        bucket: String,
        prefix: Option<String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, BlobError> {
        let read = |index: usize| {
            let (ours, theirs) = S3_ENVIRONMENT[index];
            env(ours).or_else(|| env(theirs)).filter(|v| !v.is_empty())
        };
        let missing = |index: usize| BlobError::Setting {
            setting: format!("s3://{bucket}"),
            reason: format!(
                "set {} (or {}) in the environment",
                S3_ENVIRONMENT[index].0, S3_ENVIRONMENT[index].1
            ),
        };
        Ok(S3Settings {
            endpoint: read(0),
            region: read(1).unwrap_or_else(|| "us-east-1".to_owned()),
            access_key_id: read(2).ok_or_else(|| missing(2))?,
            secret_access_key: read(3).ok_or_else(|| missing(3))?,
            bucket,
            prefix,
        })
    }
}

impl BlobSettings {
    /// `s3://bucket` or `s3://bucket/prefix` (the endpoint and credentials from `s3`, given
    /// the bucket and prefix), or a folder path.
    pub fn parse(
        setting: &str,
        s3: impl FnOnce(String, Option<String>) -> Result<S3Settings, BlobError>,
    ) -> Result<Self, BlobError> {
        let refuse = |reason: &str| BlobError::Setting {
            setting: setting.to_owned(),
            reason: reason.to_owned(),
        };
        let Some(rest) = setting.strip_prefix("s3://") else {
            if setting.contains("://") {
                return Err(refuse("only s3:// buckets and folders"));
            }
            return Ok(BlobSettings::Local(setting.into()));
        };
        let (bucket, prefix) = match rest.split_once('/') {
            Some((bucket, prefix)) => (bucket, Some(prefix.trim_end_matches('/'))),
            None => (rest, None),
        };
        if !is_bucket_name(bucket) {
            return Err(refuse("a bucket name is 3 to 63 of a-z, 0-9, '.' and '-'"));
        }
        if let Some(prefix) = prefix
            && !is_object_name(prefix)
        {
            return Err(refuse("a prefix is segments of a-z, A-Z, 0-9, '.', '-' and '_'"));
        }
        Ok(BlobSettings::S3(s3(bucket.to_owned(), prefix.map(str::to_owned))?))
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

/// A named object: '/'-separated segments of plain characters, none empty or a dot path, so a
/// name means the same key in a bucket and the same file in a folder, never outside it.
fn is_object_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 512
        && name.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
}

/// Content-addressed bytes and named objects in an object store.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// The folder, when the store is one: writes go through `durable_write` there.
    folder: Option<std::path::PathBuf>,
    describe: String,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blobs").field("store", &self.describe).finish()
    }
}

/// The one key layout of contents: `ab/cdef...`, two hex digits of fan-out.
pub fn content_key(hash: &Digest32) -> String {
    let hex = hash.to_hex();
    format!("{}/{}", &hex[..2], &hex[2..])
}

fn too_large(name: &str, size_bytes: u64, max_bytes: u64) -> BlobError {
    BlobError::TooLarge { name: name.to_owned(), size_bytes, max_bytes }
}

fn hash_of(bytes: &[u8]) -> Digest32 {
    Digest32(*blake3::hash(bytes).as_bytes())
}

fn object_path(name: &str) -> Result<Path, BlobError> {
    if !is_object_name(name) {
        return Err(BlobError::Name(name.to_owned()));
    }
    Ok(Path::from(name))
}

/// Where a folder store stages writes before renaming them into place (crash leftovers in it
/// belong to nothing and are cleared on open).
const STAGING: &str = "tmp";

/// Writes `bytes` to `root/name` so that it is whole or absent after a crash.
fn durable_write(root: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tag = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut tag);
    let staged = root.join(STAGING).join(format!("put-{}", schemas::to_hex(&tag)));
    let mut file = std::fs::File::create(&staged)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    durable_rename(&staged, &root.join(name))
}

/// Creates `dir` and any missing folder above it, syncing the folder that names each new one
/// (a file in a new `ab/` must not vanish with its folder after a power loss).
fn create_dirs_durably(dir: &std::path::Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().ok_or_else(|| std::io::Error::other("no parent folder"))?;
    create_dirs_durably(parent)?;
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::File::open(parent)?.sync_all(),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Moves a synced file into place and syncs the folder that now names it.
fn durable_rename(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    let dir = to.parent().ok_or_else(|| std::io::Error::other("no parent folder"))?;
    create_dirs_durably(dir)?;
    std::fs::rename(from, to)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Copies a file into the folder store through a synced staging file, without holding it in
/// memory.
fn durable_copy(root: &std::path::Path, name: &str, from: &std::path::Path) -> std::io::Result<()> {
    let mut tag = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut tag);
    let staged = root.join(STAGING).join(format!("copy-{}", schemas::to_hex(&tag)));
    std::fs::copy(from, &staged)?;
    std::fs::File::open(&staged)?.sync_all()?;
    durable_rename(&staged, &root.join(name))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| BlobError::Store(e.to_string()))?
        .map_err(Into::into)
}

impl Blobs {
    pub fn open(settings: &BlobSettings) -> Result<Self, BlobError> {
        match settings {
            BlobSettings::Local(dir) => {
                std::fs::create_dir_all(dir.join(STAGING))?;
                for entry in std::fs::read_dir(dir.join(STAGING))? {
                    let _ = std::fs::remove_file(entry?.path());
                }
                let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
                    .map_err(store_error)?;
                let mut blobs = Self::over(Arc::new(store), format!("folder {}", dir.display()));
                blobs.folder = Some(dir.clone());
                Ok(blobs)
            }
            BlobSettings::S3(s3) => Self::open_s3(s3),
        }
    }

    fn open_s3(s3: &S3Settings) -> Result<Self, BlobError> {
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
        Ok(match &s3.prefix {
            Some(prefix) => Self::over(
                Arc::new(object_store::prefix::PrefixStore::new(store, prefix.as_str())),
                format!("bucket s3://{}/{prefix}", s3.bucket),
            ),
            None => Self::over(Arc::new(store), format!("bucket s3://{}", s3.bucket)),
        })
    }

    /// Blobs over any object store (tests hand in one they can tamper with).
    pub fn over(store: Arc<dyn ObjectStore>, describe: String) -> Self {
        Blobs { store, folder: None, describe }
    }

    /// What the store is, for logs (never a credential).
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// The folder, when the store is one.
    pub fn folder(&self) -> Option<&std::path::Path> {
        self.folder.as_deref()
    }

    /// Stores `bytes` under their hash; the same bytes again change nothing.
    pub async fn put(&self, bytes: Bytes) -> Result<Digest32, BlobError> {
        let hash = hash_of(&bytes);
        self.write(&content_key(&hash), bytes).await?;
        Ok(hash)
    }

    /// Moves a synced file whose bytes hash to `hash` (the caller hashed them as they
    /// arrived) into the store: renamed in a folder on the same disk, uploaded to a bucket.
    pub async fn put_file(
        &self,
        hash: Digest32,
        file: std::path::PathBuf,
    ) -> Result<(), BlobError> {
        let name = content_key(&hash);
        if let Some(root) = &self.folder {
            let (from, target) = (file.clone(), root.join(&name));
            match blocking(move || durable_rename(&from, &target)).await {
                Ok(()) => return Ok(()),
                // The spool on another disk: copy the bytes instead.
                Err(BlobError::Io(e)) if e.kind() == std::io::ErrorKind::CrossesDevices => {}
                Err(e) => return Err(e),
            }
        }
        self.upload_file(&name, file).await
    }

    /// Stores a named object (pins, snapshot files); replaces one of the same name.
    pub async fn put_object(&self, name: &str, bytes: Bytes) -> Result<(), BlobError> {
        object_path(name)?;
        self.write(name, bytes).await
    }

    /// Stores a small named object only if none of that name exists (S3's `If-None-Match: *`,
    /// a folder's exclusive create): whether this call created it. Two nodes creating one
    /// object at once: one wins, and the other reads the winner's.
    pub async fn create_object(&self, name: &str, bytes: Bytes) -> Result<bool, BlobError> {
        object_path(name)?;
        let options =
            object_store::PutOptions { mode: object_store::PutMode::Create, ..Default::default() };
        match self.store.put_opts(&Path::from(name), bytes.into(), options).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Stores a file as a named object, streamed from disk in parts (a snapshot's archive).
    pub async fn put_object_file(
        &self,
        name: &str,
        file: std::path::PathBuf,
    ) -> Result<(), BlobError> {
        object_path(name)?;
        self.upload_file(name, file).await
    }

    async fn write(&self, name: &str, bytes: Bytes) -> Result<(), BlobError> {
        if let Some(root) = self.folder.clone() {
            let name = name.to_owned();
            return blocking(move || durable_write(&root, &name, &bytes)).await;
        }
        let location = Path::from(name);
        if bytes.len() < BLOB_MULTIPART_BYTES_MIN {
            self.store.put(&location, bytes.into()).await.map_err(store_error)?;
            return Ok(());
        }
        let upload = self.store.put_multipart(&location).await.map_err(store_error)?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, BLOB_PART_BYTES);
        for part in bytes.chunks(BLOB_PART_BYTES) {
            writer.wait_for_capacity(BLOB_PARTS_IN_FLIGHT).await.map_err(store_error)?;
            writer.write(part);
        }
        writer.finish().await.map_err(store_error)?;
        Ok(())
    }

    /// A file into the store without holding it in memory: small ones in one request, others
    /// part by part as they are read.
    async fn upload_file(&self, name: &str, file: std::path::PathBuf) -> Result<(), BlobError> {
        use tokio::io::AsyncReadExt;
        if let Some(root) = self.folder.clone() {
            let name = name.to_owned();
            return blocking(move || durable_copy(&root, &name, &file)).await;
        }
        let size = tokio::fs::metadata(&file).await?.len();
        if size < BLOB_MULTIPART_BYTES_MIN as u64 {
            let bytes = tokio::fs::read(&file).await?;
            return self.write(name, bytes.into()).await;
        }
        let mut reader = tokio::fs::File::open(&file).await?;
        let upload = self.store.put_multipart(&Path::from(name)).await.map_err(store_error)?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, BLOB_PART_BYTES);
        let mut part = vec![0u8; BLOB_PART_BYTES];
        loop {
            let read = reader.read(&mut part).await?;
            if read == 0 {
                break;
            }
            writer.wait_for_capacity(BLOB_PARTS_IN_FLIGHT).await.map_err(store_error)?;
            writer.write(&part[..read]);
        }
        writer.finish().await.map_err(store_error)?;
        Ok(())
    }

    /// The bytes stored under `hash`, checked against it.
    pub async fn get(&self, hash: &Digest32) -> Result<Bytes, BlobError> {
        self.get_bounded(hash, u64::MAX).await
    }

    /// `get`, refusing (before reading it) an object larger than `max_bytes`: whoever can
    /// write to the bucket must not make a read take all memory.
    pub async fn get_bounded(&self, hash: &Digest32, max_bytes: u64) -> Result<Bytes, BlobError> {
        let bytes =
            self.read(&content_key(hash), max_bytes).await?.ok_or(BlobError::Missing(*hash))?;
        let actual = hash_of(&bytes);
        if actual != *hash {
            return Err(BlobError::Corrupt { hash: *hash, actual });
        }
        Ok(bytes)
    }

    /// A named object's bytes, or none. Not checked here: a named object carries its own
    /// check (a snapshot's manifest lists the BLAKE3 of each file).
    pub async fn get_object(&self, name: &str) -> Result<Option<Bytes>, BlobError> {
        self.get_object_bounded(name, u64::MAX).await
    }

    /// `get_object`, refusing an object larger than `max_bytes` before reading it.
    pub async fn get_object_bounded(
        &self,
        name: &str,
        max_bytes: u64,
    ) -> Result<Option<Bytes>, BlobError> {
        object_path(name)?;
        self.read(name, max_bytes).await
    }

    /// A named object of at most `max_bytes` streamed into a file (a snapshot's file); false
    /// if there is none.
    pub async fn get_object_file(
        &self,
        name: &str,
        file: &std::path::Path,
        max_bytes: u64,
    ) -> Result<bool, BlobError> {
        use futures_util::StreamExt;
        use tokio::io::AsyncWriteExt;
        let Some(found) = self.found(name, max_bytes).await? else { return Ok(false) };
        let mut out = tokio::fs::File::create(file).await?;
        let mut stream = found.into_stream();
        let mut size_bytes = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(store_error)?;
            size_bytes += chunk.len() as u64;
            if size_bytes > max_bytes {
                return Err(too_large(name, size_bytes, max_bytes));
            }
            out.write_all(&chunk).await?;
        }
        out.sync_all().await?;
        Ok(true)
    }

    /// The object, if there is one and its size is within `max_bytes`.
    async fn found(
        &self,
        name: &str,
        max_bytes: u64,
    ) -> Result<Option<object_store::GetResult>, BlobError> {
        let found = match self.store.get(&object_path(name)?).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(store_error(e)),
        };
        if found.meta.size > max_bytes {
            return Err(too_large(name, found.meta.size, max_bytes));
        }
        Ok(Some(found))
    }

    async fn read(&self, name: &str, max_bytes: u64) -> Result<Option<Bytes>, BlobError> {
        match self.found(name, max_bytes).await? {
            Some(found) => Ok(Some(found.bytes().await.map_err(store_error)?)),
            None => Ok(None),
        }
    }

    /// Whether anything is stored under `hash` (not checked: `get` checks).
    pub async fn contains(&self, hash: &Digest32) -> Result<bool, BlobError> {
        self.exists(&content_key(hash)).await
    }

    /// Whether a named object exists.
    pub async fn contains_object(&self, name: &str) -> Result<bool, BlobError> {
        object_path(name)?;
        self.exists(name).await
    }

    async fn exists(&self, name: &str) -> Result<bool, BlobError> {
        match self.store.head(&Path::from(name)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Removes the bytes under `hash`; removing what is not there is not an error.
    pub async fn delete(&self, hash: &Digest32) -> Result<(), BlobError> {
        self.remove(&content_key(hash)).await
    }

    /// Removes a named object; removing what is not there is not an error.
    pub async fn delete_object(&self, name: &str) -> Result<(), BlobError> {
        object_path(name)?;
        self.remove(name).await
    }

    async fn remove(&self, name: &str) -> Result<(), BlobError> {
        match self.store.delete(&Path::from(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    /// The names of the objects under `prefix` (a folder-like prefix: `snapshots/p3`), with
    /// their sizes, in no particular order.
    pub async fn list_objects(&self, prefix: &str) -> Result<Vec<(String, u64)>, BlobError> {
        use futures_util::TryStreamExt;
        let prefix = object_path(prefix)?;
        let objects: Vec<_> =
            self.store.list(Some(&prefix)).try_collect().await.map_err(store_error)?;
        Ok(objects.into_iter().map(|o| (o.location.to_string(), o.size)).collect())
    }

    /// The contents stored under one of the 256 first bytes of their hash: the store is read a
    /// 256th at a time (for a sweep or an audit of every file), never listed whole. A key
    /// there that is not a content address is skipped.
    pub async fn hashes_in_shard(&self, shard: u8) -> Result<Vec<Digest32>, BlobError> {
        let prefix = format!("{shard:02x}");
        let names = self.list_objects(&prefix).await?;
        Ok(names
            .iter()
            .filter_map(|(name, _)| Digest32::from_hex(&name.replacen('/', "", 1)).ok())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_stay_inside_the_store() {
        for good in ["pinned/ab/cd", "snapshots/p0/00000001.tar.zst", "a"] {
            assert!(is_object_name(good), "{good}");
        }
        for bad in ["", "/abs", "a//b", "../x", "a/./b", "a/..", "a b", "é", "a/"] {
            assert!(!is_object_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn s3_settings_come_from_the_environment() {
        let env = |name: &str| match name {
            "AWS_ACCESS_KEY_ID" => Some("theirs".to_owned()),
            "LOCKER_S3_ACCESS_KEY" => Some("ours".to_owned()),
            "AWS_SECRET_ACCESS_KEY" => Some("secret".to_owned()),
            _ => None,
        };
        let s3 = S3Settings::from_env("b-1".to_owned(), None, env).expect("settings");
        assert_eq!((s3.access_key_id.as_str(), s3.region.as_str()), ("ours", "us-east-1"));
        assert_eq!(s3.endpoint, None);
        let missing = S3Settings::from_env("b-1".to_owned(), None, |_| None);
        assert!(
            matches!(&missing, Err(BlobError::Setting { reason, .. }) if reason.contains("LOCKER_S3_ACCESS_KEY")),
            "{missing:?}"
        );
    }
}
