//! Snapshots of derived state in the object store (issue 17): the views (a RocksDB checkpoint)
//! and the ledger's key registry, with the log marks they reflect, so a node starts or takes
//! over from the latest snapshot and replays only the log after it.
//!
//! A snapshot is the objects `snapshots/<id>/...`: each file of the checkpoint compressed with
//! zstd (`views/<name>.zst`), the registry (`registry.zst`), then a manifest listing every file
//! with its size and the BLAKE3 of its bytes, and the marks, signed with the platform key
//! (`manifest.sig`, then `manifest.json`, written last: a snapshot without its manifest is an
//! unfinished one and is never read). Ids begin with the time taken, so they sort in order.
//!
//! A snapshot is believed only if the platform's signature over its manifest verifies, every
//! file matches its hash and size, its marks hold in this log (`ledger::snapshot::check_mark`),
//! and the restored views stand exactly at those marks. Anyone who can write to the bucket can
//! therefore destroy snapshots, never make the service trust views or keys it did not derive.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use ledger::snapshot::Mark;
use serde::{Deserialize, Serialize};

use crate::limits::{SNAPSHOT_FILES_MAX, SNAPSHOT_MANIFEST_BYTES_MAX, SNAPSHOT_ZSTD_LEVEL};
use crate::store::blobs::{BlobError, Blobs};

/// What a signature over a manifest covers, before the manifest's bytes.
const SIGNING_DOMAIN: &[u8] = b"locker/snapshot/v1\n";
/// The manifest format this code writes and reads.
pub const FORMAT: &str = "locker-snapshot/1";

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot store: {0}")]
    Store(#[from] BlobError),
    #[error("snapshot files: {0}")]
    Io(#[from] std::io::Error),
    #[error("snapshot {id} is refused: {reason}")]
    Refused { id: String, reason: String },
    #[error("snapshot: {0}")]
    Other(String),
}

/// One stored file of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The file's name in the checkpoint (or `registry`).
    pub name: String,
    /// Its size before compression.
    pub size_bytes: u64,
    /// The BLAKE3 of its bytes before compression, hex.
    pub blake3: String,
    /// Its size as stored.
    pub stored_bytes: u64,
}

/// What a snapshot holds and where in the log it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub id: String,
    pub created_ms: i64,
    /// The views' marks: for each partition, the first offset they have not applied.
    pub marks: Vec<Mark>,
    pub views: Vec<FileEntry>,
    /// The key registry (`ledger::Ledger::snapshot`'s bytes), which carries its own marks.
    pub registry: FileEntry,
}

impl Manifest {
    /// The stored bytes, views and registry.
    pub fn stored_bytes(&self) -> u64 {
        self.views.iter().chain([&self.registry]).map(|f| f.stored_bytes).sum()
    }

    /// The bytes before compression.
    pub fn size_bytes(&self) -> u64 {
        self.views.iter().chain([&self.registry]).map(|f| f.size_bytes).sum()
    }
}

fn object(id: &str, name: &str) -> String {
    format!("snapshots/{id}/{name}")
}

/// Compresses `from` into `to` with zstd, and returns the size and BLAKE3 of what it read.
fn compress(from: &Path, to: &Path) -> std::io::Result<(u64, blake3::Hash)> {
    let mut input = std::fs::File::open(from)?;
    let mut encoder = zstd::stream::Encoder::new(std::fs::File::create(to)?, SNAPSHOT_ZSTD_LEVEL)?;
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut size_bytes = 0u64;
    loop {
        let read = input.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        encoder.write_all(&buffer[..read])?;
        size_bytes += read as u64;
    }
    encoder.finish()?.sync_all()?;
    Ok((size_bytes, hasher.finalize()))
}

/// Expands `from` into `to`, checking the result against `entry`.
fn expand(from: &Path, to: &Path, entry: &FileEntry) -> Result<(), String> {
    let run = || -> std::io::Result<(u64, blake3::Hash)> {
        let mut decoder = zstd::stream::Decoder::new(std::fs::File::open(from)?)?;
        let mut output = std::fs::File::create(to)?;
        let mut hasher = blake3::Hasher::new();
        let mut buffer = vec![0u8; 1 << 16];
        let mut size_bytes = 0u64;
        loop {
            let read = decoder.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            output.write_all(&buffer[..read])?;
            size_bytes += read as u64;
            if size_bytes > entry.size_bytes {
                break;
            }
        }
        output.sync_all()?;
        Ok((size_bytes, hasher.finalize()))
    };
    let (size_bytes, hash) = run().map_err(|e| format!("{} does not expand: {e}", entry.name))?;
    if size_bytes != entry.size_bytes || hash.to_hex().as_str() != entry.blake3 {
        return Err(format!("{} does not match its size and BLAKE3 in the manifest", entry.name));
    }
    Ok(())
}

/// Snapshots in an object store, signed and checked with the platform's key.
#[derive(Debug)]
pub struct Snapshots {
    blobs: Blobs,
    verifying: VerifyingKey,
    /// Where files are compressed and expanded (this machine's disk).
    scratch: PathBuf,
}

impl Snapshots {
    pub fn new(blobs: Blobs, verifying: VerifyingKey, scratch: PathBuf) -> Self {
        Snapshots { blobs, verifying, scratch }
    }

    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// A scratch folder of its own for one operation (removed by the caller).
    pub fn scratch(&self, label: &str) -> Result<PathBuf, SnapshotError> {
        let mut tag = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut tag);
        let dir = self.scratch.join(format!("{label}-{}", schemas::to_hex(&tag)));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Compresses and stores one file as `snapshots/<id>/<name>.zst`.
    async fn put_file(
        &self,
        id: &str,
        name: &str,
        file: PathBuf,
        work: &Path,
    ) -> Result<FileEntry, SnapshotError> {
        let packed = work.join(format!("{}.zst", name.replace('/', "_")));
        let (from, to) = (file.clone(), packed.clone());
        let (size_bytes, hash) = tokio::task::spawn_blocking(move || compress(&from, &to))
            .await
            .map_err(|e| SnapshotError::Other(e.to_string()))??;
        let stored_bytes = std::fs::metadata(&packed)?.len();
        self.blobs.put_object_file(&object(id, &format!("{name}.zst")), packed.clone()).await?;
        let _ = std::fs::remove_file(&packed);
        Ok(FileEntry {
            name: name.to_owned(),
            size_bytes,
            blake3: hash.to_hex().to_string(),
            stored_bytes,
        })
    }

    /// Stores a snapshot: every file of the checkpoint folder `views`, the registry bytes, and
    /// last the signed manifest.
    pub async fn store(
        &self,
        id: &str,
        created_ms: i64,
        marks: Vec<Mark>,
        views: &Path,
        registry: &[u8],
        platform: &SigningKey,
    ) -> Result<Manifest, SnapshotError> {
        let work = self.scratch("store")?;
        let result = self.store_in(id, created_ms, marks, views, registry, platform, &work).await;
        let _ = std::fs::remove_dir_all(&work);
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn store_in(
        &self,
        id: &str,
        created_ms: i64,
        marks: Vec<Mark>,
        views: &Path,
        registry: &[u8],
        platform: &SigningKey,
        work: &Path,
    ) -> Result<Manifest, SnapshotError> {
        let mut names: Vec<String> = std::fs::read_dir(views)?
            .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        names.sort();
        if names.len() > SNAPSHOT_FILES_MAX {
            return Err(SnapshotError::Other(format!(
                "the views have {} files, more than a snapshot holds ({SNAPSHOT_FILES_MAX})",
                names.len()
            )));
        }
        let mut entries = Vec::with_capacity(names.len());
        for name in &names {
            entries
                .push(self.put_file(id, &format!("views/{name}"), views.join(name), work).await?);
        }
        let registry_file = work.join("registry");
        std::fs::write(&registry_file, registry)?;
        let registry = self.put_file(id, "registry", registry_file, work).await?;
        let manifest = Manifest {
            format: FORMAT.to_owned(),
            id: id.to_owned(),
            created_ms,
            marks,
            views: entries,
            registry,
        };
        let bytes = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| SnapshotError::Other(e.to_string()))?;
        let signature = platform.sign(&[SIGNING_DOMAIN, &bytes].concat());
        let signature = schemas::to_hex(&signature.to_bytes());
        self.blobs.put_object(&object(id, "manifest.sig"), signature.into_bytes().into()).await?;
        self.blobs.put_object(&object(id, "manifest.json"), bytes.into()).await?;
        Ok(manifest)
    }

    /// The ids of the finished snapshots (those with a manifest), oldest first.
    pub async fn ids(&self) -> Result<Vec<String>, SnapshotError> {
        let mut ids: Vec<String> = self
            .blobs
            .list_objects("snapshots")
            .await?
            .into_iter()
            .filter_map(|(name, _)| {
                let rest = name.strip_prefix("snapshots/")?;
                let (id, file) = rest.split_once('/')?;
                (file == "manifest.json").then(|| id.to_owned())
            })
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// The manifest of snapshot `id`, if its platform signature verifies.
    pub async fn manifest(&self, id: &str) -> Result<Manifest, SnapshotError> {
        let refuse = |reason: String| SnapshotError::Refused { id: id.to_owned(), reason };
        let bytes = self
            .blobs
            .get_object(&object(id, "manifest.json"))
            .await?
            .ok_or_else(|| refuse("it has no manifest".to_owned()))?;
        if bytes.len() > SNAPSHOT_MANIFEST_BYTES_MAX {
            return Err(refuse(format!(
                "its manifest is over {SNAPSHOT_MANIFEST_BYTES_MAX} bytes"
            )));
        }
        let signature = self
            .blobs
            .get_object(&object(id, "manifest.sig"))
            .await?
            .ok_or_else(|| refuse("its manifest is not signed".to_owned()))?;
        let signature = std::str::from_utf8(&signature)
            .ok()
            .and_then(|hex| schemas::SignatureBytes::from_hex(hex.trim()).ok())
            .map(|bytes| Signature::from_bytes(&bytes.0))
            .ok_or_else(|| refuse("its signature is malformed".to_owned()))?;
        self.verifying.verify_strict(&[SIGNING_DOMAIN, &bytes].concat(), &signature).map_err(
            |_| refuse("the platform's signature over its manifest does not verify".to_owned()),
        )?;
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| refuse(format!("its manifest is malformed: {e}")))?;
        if manifest.format != FORMAT || manifest.id != id {
            return Err(refuse(format!("its manifest is {} of {}", manifest.format, manifest.id)));
        }
        Ok(manifest)
    }

    /// Fetches a stored file into `to`, checked against its entry.
    pub async fn fetch(
        &self,
        manifest: &Manifest,
        entry: &FileEntry,
        to: &Path,
    ) -> Result<(), SnapshotError> {
        let refuse = |reason: String| SnapshotError::Refused { id: manifest.id.clone(), reason };
        let packed = to.with_extension("zst-download");
        let name = object(&manifest.id, &format!("{}.zst", entry.name));
        if !self.blobs.get_object_file(&name, &packed).await? {
            return Err(refuse(format!("{} is missing", entry.name)));
        }
        let (from, target, checked) = (packed.clone(), to.to_owned(), entry.clone());
        let expanded = tokio::task::spawn_blocking(move || expand(&from, &target, &checked))
            .await
            .map_err(|e| SnapshotError::Other(e.to_string()))?;
        let _ = std::fs::remove_file(&packed);
        expanded.map_err(refuse)
    }

    /// Removes all but the newest `keep` snapshots.
    pub async fn prune(&self, keep: usize) -> Result<usize, SnapshotError> {
        let ids = self.ids().await?;
        let old = ids.len().saturating_sub(keep);
        for id in &ids[..old] {
            // The manifest first: a half-removed snapshot is an unfinished one, never read.
            self.blobs.delete_object(&object(id, "manifest.json")).await?;
            for (name, _) in self.blobs.list_objects(&format!("snapshots/{id}")).await? {
                self.blobs.delete_object(&name).await?;
            }
        }
        Ok(old)
    }
}
