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
//! Every file is sealed before it leaves the node (XChaCha20-Poly1305 in the STREAM
//! construction, chunks of `SNAPSHOT_SEAL_CHUNK_BYTES`, the object's name as associated data,
//! a key derived from the platform key): the views hold personal fields opened for their
//! owners (names, e-KYC data), which must not sit in a bucket in clear.
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

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::stream::{DecryptorBE32, EncryptorBE32};
use chacha20poly1305::aead::{KeyInit, Payload};

use crate::limits::{
    SNAPSHOT_FILES_MAX, SNAPSHOT_MANIFEST_BYTES_MAX, SNAPSHOT_SEAL_CHUNK_BYTES, SNAPSHOT_ZSTD_LEVEL,
};
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

/// Copies `input` to `output`, stopping once past `limit_bytes` (a bomb stops there); the
/// size and BLAKE3 of what it copied.
fn copy_hashing(
    input: &mut impl Read,
    output: &mut impl Write,
    limit_bytes: u64,
) -> std::io::Result<(u64, blake3::Hash)> {
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut size_bytes = 0u64;
    while size_bytes <= limit_bytes {
        let read = input.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        output.write_all(&buffer[..read])?;
        size_bytes += read as u64;
    }
    Ok((size_bytes, hasher.finalize()))
}

/// Compresses `from` into `to` with zstd, and returns the size and BLAKE3 of what it read.
fn compress(from: &Path, to: &Path) -> std::io::Result<(u64, blake3::Hash)> {
    let mut input = std::fs::File::open(from)?;
    let mut encoder = zstd::stream::Encoder::new(std::fs::File::create(to)?, SNAPSHOT_ZSTD_LEVEL)?;
    let (size_bytes, hash) = copy_hashing(&mut input, &mut encoder, u64::MAX)?;
    encoder.finish()?.sync_all()?;
    Ok((size_bytes, hash))
}

/// The STREAM nonce prefix of XChaCha20-Poly1305 with a 32-bit big-endian counter.
const SEAL_NONCE_BYTES: usize = 19;
/// The tag each sealed chunk carries.
const SEAL_TAG_BYTES: usize = 16;

/// Reads until `buffer` is full or the input ends; how much it read.
fn read_full(input: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match input.read(&mut buffer[filled..])? {
            0 => break,
            read => filled += read,
        }
    }
    Ok(filled)
}

fn sealing_failed() -> std::io::Error {
    std::io::Error::other("sealing failed")
}

/// Seals `from` into `to`: a random nonce prefix, then each chunk sealed, the last marked so.
fn seal(from: &Path, to: &Path, key: &[u8; 32], name: &str) -> std::io::Result<()> {
    let mut prefix = [0u8; SEAL_NONCE_BYTES];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut prefix);
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut sealer = EncryptorBE32::from_aead(cipher, (&prefix).into());
    let mut input = std::fs::File::open(from)?;
    let mut output = std::fs::File::create(to)?;
    output.write_all(&prefix)?;
    let mut chunk = vec![0u8; SEAL_SEAL_CHUNK];
    let mut next = vec![0u8; SEAL_SEAL_CHUNK];
    let mut filled = read_full(&mut input, &mut chunk)?;
    loop {
        let more = read_full(&mut input, &mut next)?;
        let payload = Payload { msg: &chunk[..filled], aad: name.as_bytes() };
        if more == 0 {
            output.write_all(&sealer.encrypt_last(payload).map_err(|_| sealing_failed())?)?;
            break;
        }
        output.write_all(&sealer.encrypt_next(payload).map_err(|_| sealing_failed())?)?;
        std::mem::swap(&mut chunk, &mut next);
        filled = more;
    }
    output.sync_all()
}

/// Opens what `seal` wrote; refuses anything altered, cut, reordered or stored under another
/// name.
fn open_sealed(from: &Path, to: &Path, key: &[u8; 32], name: &str) -> Result<(), String> {
    let refused = || format!("{name} does not open with this platform's key (altered or foreign)");
    let run = || -> std::io::Result<Result<(), String>> {
        let mut input = std::fs::File::open(from)?;
        let mut prefix = [0u8; SEAL_NONCE_BYTES];
        if read_full(&mut input, &mut prefix)? != SEAL_NONCE_BYTES {
            return Ok(Err(refused()));
        }
        let cipher = XChaCha20Poly1305::new(key.into());
        let mut opener = DecryptorBE32::from_aead(cipher, (&prefix).into());
        let mut output = std::fs::File::create(to)?;
        let size = SEAL_SEAL_CHUNK + SEAL_TAG_BYTES;
        let (mut chunk, mut next) = (vec![0u8; size], vec![0u8; size]);
        let mut filled = read_full(&mut input, &mut chunk)?;
        loop {
            let more = read_full(&mut input, &mut next)?;
            if more == 0 {
                break;
            }
            let payload = Payload { msg: &chunk[..filled], aad: name.as_bytes() };
            let Ok(plain) = opener.decrypt_next(payload) else { return Ok(Err(refused())) };
            output.write_all(&plain)?;
            std::mem::swap(&mut chunk, &mut next);
            filled = more;
        }
        let payload = Payload { msg: &chunk[..filled], aad: name.as_bytes() };
        let Ok(plain) = opener.decrypt_last(payload) else { return Ok(Err(refused())) };
        output.write_all(&plain)?;
        output.sync_all()?;
        Ok(Ok(()))
    };
    run().map_err(|e| format!("{name}: {e}"))?
}

const SEAL_SEAL_CHUNK: usize = SNAPSHOT_SEAL_CHUNK_BYTES;

/// Expands `from` into `to`, checking the result against `entry`.
fn expand(from: &Path, to: &Path, entry: &FileEntry) -> Result<(), String> {
    let run = || -> std::io::Result<(u64, blake3::Hash)> {
        let mut decoder = zstd::stream::Decoder::new(std::fs::File::open(from)?)?;
        let mut output = std::fs::File::create(to)?;
        let copied = copy_hashing(&mut decoder, &mut output, entry.size_bytes)?;
        output.sync_all()?;
        Ok(copied)
    };
    let (size_bytes, hash) = run().map_err(|e| format!("{} does not expand: {e}", entry.name))?;
    if size_bytes != entry.size_bytes || hash.to_hex().as_str() != entry.blake3 {
        return Err(format!("{} does not match its size and BLAKE3 in the manifest", entry.name));
    }
    Ok(())
}

/// Snapshots in an object store, signed and checked with the platform's key.
pub struct Snapshots {
    blobs: Blobs,
    verifying: VerifyingKey,
    /// Seals and opens the files (derived from the platform key; never stored).
    sealing: [u8; 32],
    /// Where files are compressed and expanded (this machine's disk).
    scratch: PathBuf,
}

impl std::fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshots").field("blobs", &self.blobs).finish_non_exhaustive()
    }
}

impl Snapshots {
    /// Snapshots checked against `verifying` and sealed with `sealing`.
    pub fn new(blobs: Blobs, verifying: VerifyingKey, sealing: [u8; 32], scratch: PathBuf) -> Self {
        Snapshots { blobs, verifying, sealing, scratch }
    }

    /// Snapshots of the platform whose key this is: checked against its public key, sealed
    /// with a key derived from it.
    pub fn for_platform(blobs: Blobs, platform: &SigningKey, scratch: PathBuf) -> Self {
        let sealing =
            blake3::derive_key("locker 2026-12 snapshot sealing key", &platform.to_bytes());
        Self::new(blobs, platform.verifying_key(), sealing, scratch)
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
        let sealed = packed.with_extension("sealed");
        let object_name = object(id, &format!("{name}.zst"));
        let (from, to, out, key, aad) =
            (file.clone(), packed.clone(), sealed.clone(), self.sealing, object_name.clone());
        let (size_bytes, hash) = tokio::task::spawn_blocking(move || {
            let compressed = compress(&from, &to)?;
            seal(&to, &out, &key, &aad)?;
            Ok::<_, std::io::Error>(compressed)
        })
        .await
        .map_err(|e| SnapshotError::Other(e.to_string()))??;
        let _ = std::fs::remove_file(&packed);
        let stored_bytes = std::fs::metadata(&sealed)?.len();
        self.blobs.put_object_file(&object_name, sealed.clone()).await?;
        let _ = std::fs::remove_file(&sealed);
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
        let too_large = |e: BlobError| match e {
            BlobError::TooLarge { .. } => refuse(e.to_string()),
            other => SnapshotError::Store(other),
        };
        let bytes = self
            .blobs
            .get_object_bounded(&object(id, "manifest.json"), SNAPSHOT_MANIFEST_BYTES_MAX as u64)
            .await
            .map_err(too_large)?
            .ok_or_else(|| refuse("it has no manifest".to_owned()))?;
        let signature = self
            .blobs
            .get_object_bounded(&object(id, "manifest.sig"), 256)
            .await
            .map_err(too_large)?
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
        let sealed = to.with_extension("sealed-download");
        let packed = to.with_extension("zst-download");
        let name = object(&manifest.id, &format!("{}.zst", entry.name));
        match self.blobs.get_object_file(&name, &sealed, entry.stored_bytes).await {
            Ok(true) => {}
            Ok(false) => return Err(refuse(format!("{} is missing", entry.name))),
            Err(e @ BlobError::TooLarge { .. }) => return Err(refuse(e.to_string())),
            Err(e) => return Err(e.into()),
        }
        let (from, middle, target, checked, key) =
            (sealed.clone(), packed.clone(), to.to_owned(), entry.clone(), self.sealing);
        let expanded = tokio::task::spawn_blocking(move || {
            open_sealed(&from, &middle, &key, &name)?;
            expand(&middle, &target, &checked)
        })
        .await
        .map_err(|e| SnapshotError::Other(e.to_string()))?;
        let _ = std::fs::remove_file(&sealed);
        let _ = std::fs::remove_file(&packed);
        expanded.map_err(refuse)
    }

    /// Removes all but the newest `keep` snapshots whose signatures verify (so snapshots
    /// someone else wrote into the bucket never push out the real ones), and whatever is older
    /// than the oldest kept.
    pub async fn prune(&self, keep: usize) -> Result<usize, SnapshotError> {
        let mut ids = self.ids().await?;
        let mut verified = 0;
        let mut cut = 0;
        for (index, id) in ids.iter().enumerate().rev() {
            if self.manifest(id).await.is_ok() {
                verified += 1;
                if verified == keep {
                    cut = index;
                    break;
                }
            }
        }
        ids.truncate(cut);
        for id in &ids {
            // The manifest first: a half-removed snapshot is an unfinished one, never read.
            self.blobs.delete_object(&object(id, "manifest.json")).await?;
            for (name, _) in self.blobs.list_objects(&format!("snapshots/{id}")).await? {
                if let Err(e) = self.blobs.delete_object(&name).await {
                    tracing::warn!(error = %e, "a snapshot file was not removed");
                }
            }
        }
        Ok(ids.len())
    }
}
