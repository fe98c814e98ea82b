//! Document bytes, content-addressed by BLAKE3: `files/ab/cdef...` holds the bytes whose hash is
//! `abcdef...`. A file is written to a temporary name, synced, and renamed into place, so a
//! reader never sees half a file and a crash leaves at most a stray temporary. Every read
//! checks the bytes against their name, so a file altered on disk is refused, never served.
//!
//! Only this module touches the folder. The log holds the hash; this holds the bytes.
//!
//! Uploaded bytes go when no upload names them any more (`sweep.rs`); bytes an issuer pushed
//! are pinned (`pinned/ab/cdef...`, written before the bytes) and never removed, since the
//! ledger keeps the document for good. An upload holds `storing()` from writing its bytes
//! until the views include its event, and the sweeper removes only under `sweeping()`, so it
//! never removes bytes an upload is about to name.

use std::io::Write;
use std::path::{Path, PathBuf};

use schemas::{Digest32, MediaType};

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
}

/// A file being written: bytes go to a temporary file and into the hash as they arrive.
#[derive(Debug)]
pub struct Incoming {
    file: std::fs::File,
    temp: PathBuf,
    hasher: blake3::Hasher,
    head: Vec<u8>,
    size_bytes: u64,
    max_bytes: u64,
}

/// What `Incoming::finish` stored.
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

    /// Syncs the bytes and moves them under their hash. Storing bytes that are already
    /// there changes nothing.
    pub fn finish(self, files: &Files) -> Result<Stored, FileError> {
        self.file.sync_all()?;
        let hash = Digest32(*self.hasher.finalize().as_bytes());
        let path = files.path_of(&hash);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::rename(&self.temp, &path)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(Stored { hash, size_bytes: self.size_bytes, media_type: wire::media::sniff(&self.head) })
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        // After `finish` the temporary is gone and this fails harmlessly; on any other path
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

/// The folder of stored document bytes.
#[derive(Debug)]
pub struct Files {
    root: PathBuf,
    /// Shared by uploads between storing bytes and their event reaching the views; taken
    /// alone by the sweeper.
    sweep: tokio::sync::RwLock<()>,
}

impl Files {
    pub fn open(root: impl AsRef<Path>) -> Result<Self, FileError> {
        let root = root.as_ref().to_path_buf();
        std::fs::create_dir_all(root.join("tmp"))?;
        // Temporaries left by a crash mid-upload belong to no event.
        for entry in std::fs::read_dir(root.join("tmp"))? {
            let _ = std::fs::remove_file(entry?.path());
        }
        if !root.join("pinned").is_dir() {
            pin_existing(&root)?;
        }
        Ok(Files { root, sweep: tokio::sync::RwLock::new(()) })
    }

    fn path_of(&self, hash: &Digest32) -> PathBuf {
        let hex = hash.to_hex();
        self.root.join(&hex[..2]).join(&hex[2..])
    }

    fn pin_of(&self, hash: &Digest32) -> PathBuf {
        let hex = hash.to_hex();
        self.root.join("pinned").join(&hex[..2]).join(&hex[2..])
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
    pub fn remove(&self, hash: &Digest32) -> Result<bool, FileError> {
        if self.pin_of(hash).is_file() {
            return Ok(false);
        }
        let path = self.path_of(hash);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(true)
    }

    /// Starts writing a file of at most `max_bytes`; `tag` makes the temporary name unique.
    pub fn incoming(&self, tag: &str, max_bytes: u64) -> Result<Incoming, FileError> {
        let temp = self.root.join("tmp").join(tag);
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

    /// Stores bytes already in memory (an issuer's pushed content), pinned for good.
    pub fn put(&self, tag: &str, bytes: &[u8]) -> Result<Stored, FileError> {
        let hash = Digest32(*blake3::hash(bytes).as_bytes());
        let pin = self.pin_of(&hash);
        if let Some(dir) = pin.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::File::create(&pin)?.sync_all()?;
        if let Some(dir) = pin.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        let mut incoming = self.incoming(tag, bytes.len() as u64)?;
        incoming.write(bytes)?;
        incoming.finish(self)
    }

    pub fn contains(&self, hash: &Digest32) -> bool {
        self.path_of(hash).is_file()
    }

    /// The bytes stored under `hash`, checked against it. Documents are bounded in size
    /// (10 MB), so reading one whole is bounded too.
    pub fn read(&self, hash: &Digest32) -> Result<Vec<u8>, FileError> {
        let bytes = match std::fs::read(self.path_of(hash)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(FileError::Missing(*hash));
            }
            Err(e) => return Err(e.into()),
        };
        let actual = Digest32(*blake3::hash(&bytes).as_bytes());
        if actual != *hash {
            return Err(FileError::Corrupt { hash: *hash, actual });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_atomically_and_checks_on_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = Files::open(dir.path()).expect("open");
        let stored = files.put("a", b"%PDF-1.4 hello").expect("put");
        assert_eq!(stored.media_type, Some(MediaType::Pdf));
        assert_eq!(files.read(&stored.hash).expect("read"), b"%PDF-1.4 hello");
        // The same bytes again: same name, nothing new.
        assert_eq!(files.put("b", b"%PDF-1.4 hello").expect("again").hash, stored.hash);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).expect("tmp").count(), 0);
        // Altered on disk: refused.
        std::fs::write(files.path_of(&stored.hash), b"%PDF-1.4 hellO").expect("tamper");
        assert!(matches!(files.read(&stored.hash), Err(FileError::Corrupt { .. })));
        let missing = Digest32([7; 32]);
        assert!(matches!(files.read(&missing), Err(FileError::Missing(_))));
    }

    #[test]
    fn pushed_bytes_are_pinned_and_uploaded_ones_can_be_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = Files::open(dir.path()).expect("open");
        let pushed = files.put("a", b"%PDF-1.4 issued").expect("put");
        let mut incoming = files.incoming("b", 100).expect("incoming");
        incoming.write(b"%PDF-1.4 uploaded").expect("write");
        let uploaded = incoming.finish(&files).expect("finish");
        assert!(!files.remove(&pushed.hash).expect("remove"), "pinned: kept");
        assert!(files.contains(&pushed.hash));
        assert!(files.remove(&uploaded.hash).expect("remove"));
        assert!(!files.contains(&uploaded.hash));
        assert!(!files.remove(&uploaded.hash).expect("again"), "nothing left to remove");
        // An upload of bytes an issuer pushed does not unpin them.
        let mut incoming = files.incoming("c", 100).expect("incoming");
        incoming.write(b"%PDF-1.4 issued").expect("write");
        incoming.finish(&files).expect("finish");
        assert!(!files.remove(&pushed.hash).expect("remove"));
    }

    #[test]
    fn a_folder_from_before_pins_keeps_every_file_it_had() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = Files::open(dir.path()).expect("open");
        let mut incoming = files.incoming("old", 100).expect("incoming");
        incoming.write(b"%PDF-1.4 stored long ago").expect("write");
        let old = incoming.finish(&files).expect("finish");
        std::fs::remove_dir_all(dir.path().join("pinned")).expect("as before pins");
        let files = Files::open(dir.path()).expect("reopen");
        assert!(!files.remove(&old.hash).expect("remove"), "pinned on opening");
        assert!(files.contains(&old.hash));
    }

    #[test]
    fn too_large_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = Files::open(dir.path()).expect("open");
        let mut incoming = files.incoming("big", 10).expect("incoming");
        incoming.write(b"0123456789").expect("ten bytes fit");
        assert!(matches!(incoming.write(b"x"), Err(FileError::TooLarge { max_bytes: 10 })));
        drop(incoming);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).expect("tmp").count(), 0);
    }
}
