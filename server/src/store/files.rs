//! Document bytes, content-addressed by BLAKE3, in the blob store (`blobs.rs`: a folder by
//! default, a bucket a cluster shares with one setting). Every read checks the bytes against
//! their hash, so a file altered in the store is refused, never served.
//!
//! Only this module stores document bytes. The log holds the hash; this holds the bytes.
//!
//! An upload streams into a spool file on this machine while it is hashed (memory stays at one
//! chunk, and a refused upload leaves nothing in the store); only then do its bytes go to the
//! store under their hash, renamed into place in a folder, uploaded (in parts past a size) to a
//! bucket.
//!
//! Uploaded bytes go when no upload names them any more (`sweep.rs`); bytes an issuer pushed
//! are pinned (the object `pinned/ab/cdef...`, written before the bytes) and never removed,
//! since the ledger keeps the document for good. An upload holds `storing()` from writing its
//! bytes until the views include its event, and the sweeper removes only under `sweeping()`,
//! so it never removes bytes an upload is about to name. (That lock is this process's: on a
//! bucket several nodes share, see ARCHITECTURE.md's known limits.)

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use schemas::{Digest32, MediaType};

use crate::store::blobs::{BlobError, Blobs, content_key};

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the file is larger than {max_bytes} bytes")]
    TooLarge { max_bytes: u64 },
    #[error("no stored content with hash {0}")]
    Missing(Digest32),
    #[error("stored content {hash} is corrupt: its bytes hash to {actual}")]
    Corrupt { hash: Digest32, actual: Digest32 },
    #[error("file store: {0}")]
    Io(#[from] std::io::Error),
    #[error("file store: {0}")]
    Store(BlobError),
}

impl From<BlobError> for FileError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::Missing(hash) => FileError::Missing(hash),
            BlobError::Corrupt { hash, actual } => FileError::Corrupt { hash, actual },
            other => FileError::Store(other),
        }
    }
}

/// A file being received: bytes go to a spool file and into the hash as they arrive.
#[derive(Debug)]
pub struct Incoming {
    file: std::fs::File,
    temp: PathBuf,
    hasher: blake3::Hasher,
    head: Vec<u8>,
    size_bytes: u64,
    max_bytes: u64,
}

/// What `Files::finish` stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub hash: Digest32,
    pub size_bytes: u64,
    pub media_type: Option<MediaType>,
}

impl Incoming {
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), FileError> {
        self.size_bytes += chunk.len() as u64;
        if self.size_bytes > self.max_bytes {
            return Err(FileError::TooLarge { max_bytes: self.max_bytes });
        }
        if self.head.len() < crate::limits::SNIFF_HEAD_BYTES {
            let take = (crate::limits::SNIFF_HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        self.file.write_all(chunk)?;
        Ok(())
    }

    /// The media type the bytes so far look like.
    pub fn sniffed(&self) -> Option<MediaType> {
        wire::media::sniff(&self.head)
    }

    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        // After `finish` the spool file is gone and this fails harmlessly; on any other path
        // (too large, client gone) it removes the partial file.
        let _ = std::fs::remove_file(&self.temp);
    }
}

/// Pins every file already stored, once, when a folder from before pins is opened: any of
/// them may be an issuer's. (Uploads among them then stay too, which loses nothing.) Built
/// aside and renamed, so a crash midway starts over.
fn pin_existing(root: &Path) -> Result<(), FileError> {
    let building = root.join("pinned.tmp");
    let _ = std::fs::remove_dir_all(&building);
    std::fs::create_dir_all(&building)?;
    for shard in std::fs::read_dir(root)? {
        let shard = shard?;
        let name = shard.file_name();
        let Some(name) = name.to_str().filter(|n| n.len() == 2 && shard.path().is_dir()) else {
            continue;
        };
        for file in std::fs::read_dir(shard.path())? {
            let file = file?;
            std::fs::create_dir_all(building.join(name))?;
            std::fs::File::create(building.join(name).join(file.file_name()))?;
        }
    }
    std::fs::rename(&building, root.join("pinned"))?;
    std::fs::File::open(root)?.sync_all()?;
    Ok(())
}

fn pin_name(hash: &Digest32) -> String {
    format!("pinned/{}", content_key(hash))
}

/// The store of document bytes.
#[derive(Debug)]
pub struct Files {
    blobs: Blobs,
    /// Where uploads are received before their hash is known (this machine's disk).
    spool: PathBuf,
    /// Shared by uploads between storing bytes and their event reaching the views; taken
    /// alone by the sweeper.
    sweep: tokio::sync::RwLock<()>,
}

impl Files {
    /// Over `blobs`, receiving uploads in `spool` (cleared: what a crash left there belongs to
    /// no event). In a folder store the spool should be the folder's `tmp`, so that storing
    /// an upload is a rename.
    pub fn open(blobs: Blobs, spool: impl AsRef<Path>) -> Result<Self, FileError> {
        let spool = spool.as_ref().to_path_buf();
        std::fs::create_dir_all(&spool)?;
        for entry in std::fs::read_dir(&spool)? {
            let _ = std::fs::remove_file(entry?.path());
        }
        if let Some(root) = blobs.folder()
            && !root.join("pinned").is_dir()
        {
            pin_existing(root)?;
        }
        Ok(Files { blobs, spool, sweep: tokio::sync::RwLock::new(()) })
    }

    /// A folder store at `root` (the embedded default: `DATA/files`).
    pub fn open_folder(root: impl AsRef<Path>) -> Result<Self, FileError> {
        let root = root.as_ref();
        let blobs = Blobs::open(&crate::store::blobs::BlobSettings::Local(root.to_owned()))?;
        Files::open(blobs, root.join("tmp"))
    }

    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// Held from storing an upload's bytes until the views include its event.
    pub async fn storing(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.sweep.read().await
    }

    /// Held by the sweeper while it checks and removes.
    pub async fn sweeping(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.sweep.write().await
    }

    /// Removes unpinned bytes; says whether there were any. Call it under `sweeping()`, and
    /// only for content no live upload names.
    pub async fn remove(&self, hash: &Digest32) -> Result<bool, FileError> {
        if self.blobs.contains_object(&pin_name(hash)).await? || !self.contains(hash).await? {
            return Ok(false);
        }
        self.blobs.delete(hash).await?;
        Ok(true)
    }

    /// Starts receiving a file of at most `max_bytes`; `tag` makes the spool name unique.
    pub fn incoming(&self, tag: &str, max_bytes: u64) -> Result<Incoming, FileError> {
        let temp = self.spool.join(tag);
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&temp)?;
        Ok(Incoming {
            file,
            temp,
            hasher: blake3::Hasher::new(),
            head: Vec::with_capacity(crate::limits::SNIFF_HEAD_BYTES),
            size_bytes: 0,
            max_bytes,
        })
    }

    /// Syncs the received bytes and stores them under their hash. Storing bytes that are
    /// already there changes nothing.
    pub async fn finish(&self, incoming: Incoming) -> Result<Stored, FileError> {
        let file = incoming.file.try_clone()?;
        tokio::task::spawn_blocking(move || file.sync_all())
            .await
            .map_err(|e| FileError::Io(std::io::Error::other(e.to_string())))??;
        let hash = Digest32(*incoming.hasher.finalize().as_bytes());
        let stored = Stored {
            hash,
            size_bytes: incoming.size_bytes,
            media_type: wire::media::sniff(&incoming.head),
        };
        self.blobs.put_file(hash, incoming.temp.clone()).await?;
        Ok(stored)
    }

    /// Stores bytes already in memory (an issuer's pushed content), pinned for good.
    pub async fn put(&self, bytes: &[u8]) -> Result<Stored, FileError> {
        let hash = Digest32(*blake3::hash(bytes).as_bytes());
        self.blobs.put_object(&pin_name(&hash), Bytes::new()).await?;
        self.blobs.put(Bytes::copy_from_slice(bytes)).await?;
        Ok(Stored { hash, size_bytes: bytes.len() as u64, media_type: wire::media::sniff(bytes) })
    }

    pub async fn contains(&self, hash: &Digest32) -> Result<bool, FileError> {
        Ok(self.blobs.contains(hash).await?)
    }

    /// The bytes stored under `hash`, checked against it. Documents are bounded in size
    /// (10 MB), so reading one whole is bounded too.
    pub async fn read(&self, hash: &Digest32) -> Result<Bytes, FileError> {
        let max_bytes =
            crate::limits::UPLOAD_SIZE_BYTES_MAX.max(crate::limits::ISSUED_CONTENT_BYTES_MAX);
        Ok(self.blobs.get_bounded(hash, max_bytes).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_of(root: &Path, hash: &Digest32) -> PathBuf {
        root.join(content_key(hash))
    }

    async fn upload(files: &Files, tag: &str, bytes: &[u8]) -> Stored {
        let mut incoming = files.incoming(tag, 100).expect("incoming");
        incoming.write(bytes).expect("write");
        files.finish(incoming).await.expect("finish")
    }

    #[tokio::test]
    async fn stores_atomically_and_checks_on_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = Files::open_folder(dir.path()).expect("open");
        let stored = files.put(b"%PDF-1.4 hello").await.expect("put");
        assert_eq!(stored.media_type, Some(MediaType::Pdf));
        assert_eq!(files.read(&stored.hash).await.expect("read"), &b"%PDF-1.4 hello"[..]);
        // The same bytes again: same name, nothing new.
        assert_eq!(files.put(b"%PDF-1.4 hello").await.expect("again").hash, stored.hash);
        assert_eq!(upload(&files, "u", b"%PDF-1.4 hello").await.hash, stored.hash);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).expect("tmp").count(), 0);
        // Altered on disk: refused.
        std::fs::write(path_of(dir.path(), &stored.hash), b"%PDF-1.4 hellO").expect("tamper");
        assert!(matches!(files.read(&stored.hash).await, Err(FileError::Corrupt { .. })));
        let missing = Digest32([7; 32]);
        assert!(matches!(files.read(&missing).await, Err(FileError::Missing(_))));
    }

    #[tokio::test]
    async fn pushed_bytes_are_pinned_and_uploaded_ones_can_be_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = Files::open_folder(dir.path()).expect("open");
        let pushed = files.put(b"%PDF-1.4 issued").await.expect("put");
        let uploaded = upload(&files, "b", b"%PDF-1.4 uploaded").await;
        assert!(!files.remove(&pushed.hash).await.expect("remove"), "pinned: kept");
        assert!(files.contains(&pushed.hash).await.expect("contains"));
        assert!(files.remove(&uploaded.hash).await.expect("remove"));
        assert!(!files.contains(&uploaded.hash).await.expect("contains"));
        assert!(!files.remove(&uploaded.hash).await.expect("again"), "nothing left to remove");
        // An upload of bytes an issuer pushed does not unpin them.
        upload(&files, "c", b"%PDF-1.4 issued").await;
        assert!(!files.remove(&pushed.hash).await.expect("remove"));
    }

    #[tokio::test]
    async fn a_folder_from_before_pins_keeps_every_file_it_had() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = Files::open_folder(dir.path()).expect("open");
        let old = upload(&files, "old", b"%PDF-1.4 stored long ago").await;
        std::fs::remove_dir_all(dir.path().join("pinned")).expect("as before pins");
        let files = Files::open_folder(dir.path()).expect("reopen");
        assert!(!files.remove(&old.hash).await.expect("remove"), "pinned on opening");
        assert!(files.contains(&old.hash).await.expect("contains"));
    }

    #[test]
    fn too_large_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = Files::open_folder(dir.path()).expect("open");
        let mut incoming = files.incoming("big", 10).expect("incoming");
        incoming.write(b"0123456789").expect("ten bytes fit");
        assert!(matches!(incoming.write(b"x"), Err(FileError::TooLarge { max_bytes: 10 })));
        drop(incoming);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).expect("tmp").count(), 0);
    }
}
