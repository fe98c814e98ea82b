//! The embedded log changed behind its back, as someone with the disk would change it: the
//! layout is the one documented in `log/embedded.rs` and `log/segment.rs`. A changed frame
//! gets a good checksum again (the checksum finds torn writes, not tampering: that is the
//! signatures' and the Merkle tree's job).

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The frame's fixed part before the key length: topic, partition, offset, id, digest.
const HEAD_BYTES: usize = 8 + 4 + 4 + 8 + 16 + 32;

pub struct Raw {
    db: rocksdb::DB,
    segments: PathBuf,
}

/// The key of the index (and of the `records` layout before segments).
pub fn index_key(topic_id: u32, partition: u32, offset: u64) -> Vec<u8> {
    [topic_id.to_be_bytes(), partition.to_be_bytes()]
        .concat()
        .into_iter()
        .chain(offset.to_be_bytes())
        .collect()
}

impl Raw {
    /// The log in `path`, which no `EmbeddedLog` holds open.
    pub fn open(path: &Path) -> Raw {
        let options = rocksdb::Options::default();
        let db = rocksdb::DB::open_cf(&options, path, ["records", "index", "ids", "meta"])
            .expect("open the raw store");
        Raw { db, segments: path.join("segments") }
    }

    fn entry(&self, topic_id: u32, partition: u32, offset: u64) -> (u64, usize) {
        let index = self.db.cf_handle("index").expect("index");
        let entry = self
            .db
            .get_cf(&index, index_key(topic_id, partition, offset))
            .expect("get")
            .expect("an index entry");
        let position = u64::from_le_bytes(entry[..8].try_into().expect("8"));
        let len = u32::from_le_bytes(entry[8..12].try_into().expect("4"));
        (position, len as usize)
    }

    fn file(&self, position: u64) -> (std::fs::File, u64) {
        let segment = ledger::limits::SEGMENT_BYTES;
        let base = position - position % segment;
        let path = self.segments.join(format!("{base:020}.seg"));
        let file = std::fs::OpenOptions::new().read(true).write(true).open(path).expect("segment");
        (file, position - base)
    }

    fn frame(&self, topic_id: u32, partition: u32, offset: u64) -> Vec<u8> {
        let (position, len) = self.entry(topic_id, partition, offset);
        let (file, at) = self.file(position);
        let mut frame = vec![0u8; len];
        file.read_exact_at(&mut frame, at).expect("read");
        frame
    }

    fn put_frame(&self, topic_id: u32, partition: u32, offset: u64, mut frame: Vec<u8>) {
        let (position, len) = self.entry(topic_id, partition, offset);
        assert_eq!(frame.len(), len, "a frame changed in place keeps its length");
        let crc = crc32fast::hash(&frame[8..]);
        frame[4..8].copy_from_slice(&crc.to_le_bytes());
        let (file, at) = self.file(position);
        file.write_all_at(&frame, at).expect("write");
    }

    /// The record as it was stored before segments: `key_len u32 LE | key | value`.
    pub fn stored(&self, topic_id: u32, partition: u32, offset: u64) -> Vec<u8> {
        self.frame(topic_id, partition, offset)[HEAD_BYTES..].to_vec()
    }

    /// Replaces the record's `key_len | key | value` with bytes of the same length.
    pub fn put_stored(&self, topic_id: u32, partition: u32, offset: u64, stored: &[u8]) {
        let mut frame = self.frame(topic_id, partition, offset);
        frame.truncate(HEAD_BYTES);
        frame.extend_from_slice(stored);
        self.put_frame(topic_id, partition, offset, frame);
    }

    /// Points the record's index entry at `position` with frame length `len`.
    pub fn put_entry(&self, topic_id: u32, partition: u32, offset: u64, position: u64, len: u32) {
        let index = self.db.cf_handle("index").expect("index");
        let mut entry = position.to_le_bytes().to_vec();
        entry.extend_from_slice(&len.to_le_bytes());
        self.db.put_cf(&index, index_key(topic_id, partition, offset), entry).expect("put");
    }

    /// Removes the record from the index: its offset is a hole.
    pub fn delete(&self, topic_id: u32, partition: u32, offset: u64) {
        let index = self.db.cf_handle("index").expect("index");
        self.db.delete_cf(&index, index_key(topic_id, partition, offset)).expect("delete");
    }

    /// Swaps two records of a partition: each frame rewritten to say it is the other's offset,
    /// and the index pointed at it.
    pub fn swap(&self, topic_id: u32, partition: u32, a: u64, b: u64) {
        let index = self.db.cf_handle("index").expect("index");
        let (key_a, key_b) = (index_key(topic_id, partition, a), index_key(topic_id, partition, b));
        let entry_a = self.db.get_cf(&index, &key_a).expect("get").expect("a");
        let entry_b = self.db.get_cf(&index, &key_b).expect("get").expect("b");
        let (mut frame_a, mut frame_b) =
            (self.frame(topic_id, partition, a), self.frame(topic_id, partition, b));
        frame_a[16..24].copy_from_slice(&b.to_le_bytes());
        frame_b[16..24].copy_from_slice(&a.to_le_bytes());
        self.put_frame(topic_id, partition, a, frame_a);
        self.put_frame(topic_id, partition, b, frame_b);
        self.db.put_cf(&index, &key_a, &entry_b).expect("put");
        self.db.put_cf(&index, &key_b, &entry_a).expect("put");
    }
}
