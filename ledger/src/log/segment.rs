//! The embedded log's record bodies: one append-only sequence of preallocated segment files
//! shared by every topic and partition, so a group commit is one contiguous write and one
//! `fdatasync`, whatever partitions it touches.
//!
//! - A position is a byte position in the sequence: segment k holds
//!   `[k * segment_bytes, (k + 1) * segment_bytes)` in the file named after its first position
//!   (`{position:020}.seg`). Files are preallocated to their full size, so they read as zeros
//!   past their data.
//! - A frame: `len u32 LE` (bytes after the 8-byte header) | `crc32 u32 LE` (of those bytes) |
//!   `topic u32 LE | partition u32 LE | offset u64 LE | event id [16] | digest [32] |
//!   key_len u32 LE | key | value`. The id and digest let recovery rebuild the id index from
//!   the segments alone.
//! - A zero header ends a segment's data: a frame that does not fit starts the next segment,
//!   and the segment before is synced first, so a later segment never holds data while an
//!   earlier one has a hole.
//! - Recovery reads from the last position the index is known to cover; the first frame that
//!   is cut short or fails its checksum ends the log (its group was never acknowledged: the
//!   acknowledgement waits for the sync), and everything from there on is zeroed or removed,
//!   and said in the log.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use schemas::{Digest32, EventId};

use crate::LogError;

/// The header before each frame's body: length and checksum.
pub const HEADER_BYTES: usize = 8;
/// topic, partition, offset, id, digest, key length.
pub const FIXED_BYTES: usize = 4 + 4 + 8 + 16 + 32 + 4;

/// What a frame says about its record besides the key and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHead {
    pub topic_id: u32,
    pub partition: u32,
    pub offset: u64,
    pub id: EventId,
    pub digest: Digest32,
}

/// A frame read back.
#[derive(Debug)]
pub struct Frame {
    pub head: FrameHead,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

fn io(context: &str, e: std::io::Error) -> LogError {
    LogError::Storage(format!("{context}: {e}"))
}

/// The bytes a frame of this key and value takes.
pub fn frame_len(key: &[u8], value: &[u8]) -> usize {
    HEADER_BYTES + FIXED_BYTES + key.len() + value.len()
}

/// Appends one frame to `out`.
pub fn encode_frame(out: &mut Vec<u8>, head: &FrameHead, key: &[u8], value: &[u8]) {
    let start = out.len();
    let body = FIXED_BYTES + key.len() + value.len();
    let body_len = u32::try_from(body).expect("records are bounded far below 4 GiB");
    let key_len = u32::try_from(key.len()).expect("keys are bounded");
    out.extend_from_slice(&body_len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&head.topic_id.to_le_bytes());
    out.extend_from_slice(&head.partition.to_le_bytes());
    out.extend_from_slice(&head.offset.to_le_bytes());
    out.extend_from_slice(head.id.as_bytes());
    out.extend_from_slice(head.digest.as_bytes());
    out.extend_from_slice(&key_len.to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    let crc = crc32fast::hash(&out[start + HEADER_BYTES..]);
    out[start + 4..start + HEADER_BYTES].copy_from_slice(&crc.to_le_bytes());
    debug_assert_eq!(out.len() - start, frame_len(key, value));
}

/// Reads the body length of the header at the front of `bytes`: `None` for a zero header (no
/// frame here).
fn body_len(header: &[u8; HEADER_BYTES]) -> Option<usize> {
    (header != &[0; HEADER_BYTES])
        .then(|| u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize)
}

/// Decodes one whole frame (header included); the reason when it does not check out.
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, String> {
    let (header, body) = bytes.split_at_checked(HEADER_BYTES).ok_or("shorter than a header")?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if len != body.len() || len < FIXED_BYTES {
        return Err(format!("length {len} where the frame has {} bytes", body.len()));
    }
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if crc32fast::hash(body) != crc {
        return Err("checksum mismatch".to_owned());
    }
    let le32 = |at: usize| u32::from_le_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]);
    let mut offset = [0u8; 8];
    offset.copy_from_slice(&body[8..16]);
    let mut id = [0u8; 16];
    id.copy_from_slice(&body[16..32]);
    let mut digest = [0u8; 32];
    digest.copy_from_slice(&body[32..64]);
    let key_len = le32(64) as usize;
    let rest = &body[FIXED_BYTES..];
    if key_len > rest.len() {
        return Err("key length beyond the frame".to_owned());
    }
    let (key, value) = rest.split_at(key_len);
    Ok(Frame {
        head: FrameHead {
            topic_id: le32(0),
            partition: le32(4),
            offset: u64::from_le_bytes(offset),
            id: EventId(id),
            digest: Digest32(digest),
        },
        key: key.to_vec(),
        value: value.to_vec(),
    })
}

/// The segment files, shared by the writer and readers.
pub struct Segments {
    dir: PathBuf,
    segment_bytes: u64,
    files: RwLock<BTreeMap<u64, Arc<File>>>,
}

impl std::fmt::Debug for Segments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segments").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// Where a recovery scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanEnd {
    /// The position after the last whole frame.
    pub end: u64,
}

impl Segments {
    /// Opens the segment files in `dir` (created if missing).
    pub fn open(dir: &Path, segment_bytes: u64) -> Result<Segments, LogError> {
        std::fs::create_dir_all(dir).map_err(|e| io("create the segment folder", e))?;
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io("list the segments", e))? {
            let entry = entry.map_err(|e| io("list the segments", e))?;
            let name = entry.file_name();
            let Some(base) = name.to_str().and_then(|n| n.strip_suffix(".seg")) else { continue };
            let base: u64 = base.parse().map_err(|_| corrupt(&name, "not a segment name"))?;
            if !base.is_multiple_of(segment_bytes) {
                return Err(corrupt(&name, "does not start on a segment boundary"));
            }
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(entry.path())
                .map_err(|e| io("open a segment", e))?;
            files.insert(base / segment_bytes, Arc::new(file));
        }
        Ok(Segments { dir: dir.to_owned(), segment_bytes, files: RwLock::new(files) })
    }

    pub fn segment_bytes(&self) -> u64 {
        self.segment_bytes
    }

    fn file(&self, segment: u64) -> Result<Option<Arc<File>>, LogError> {
        let files = self.files.read().map_err(|_| LogError::Closed)?;
        Ok(files.get(&segment).cloned())
    }

    /// The segment's file, created and preallocated (and made durable) if it is new.
    fn file_or_create(&self, segment: u64) -> Result<Arc<File>, LogError> {
        if let Some(file) = self.file(segment)? {
            return Ok(file);
        }
        let path = self.dir.join(format!("{:020}.seg", segment * self.segment_bytes));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io("create a segment", e))?;
        preallocate(&file, self.segment_bytes)?;
        file.sync_all().map_err(|e| io("sync a new segment", e))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("sync the segment folder", e))?;
        let file = Arc::new(file);
        self.files.write().map_err(|_| LogError::Closed)?.insert(segment, Arc::clone(&file));
        Ok(file)
    }

    /// Reads `len` bytes at `position` (within one segment).
    pub fn read_at(&self, position: u64, len: usize) -> Result<Vec<u8>, LogError> {
        let segment = position / self.segment_bytes;
        let within = position % self.segment_bytes;
        if within + len as u64 > self.segment_bytes {
            return Err(corrupt_at(position, "a frame crosses its segment's end"));
        }
        let file = self.file(segment)?.ok_or_else(|| corrupt_at(position, "segment missing"))?;
        let mut bytes = vec![0u8; len];
        file.read_exact_at(&mut bytes, within).map_err(|e| io("read a segment", e))?;
        Ok(bytes)
    }

    /// Visits every whole frame from `from` on, with its position and length, and returns
    /// where the frames end. Stops at a zero header (going on in the next segment if there
    /// is one) and at the first frame cut short or failing its checksum.
    pub fn scan(
        &self,
        from: u64,
        mut visit: impl FnMut(u64, u32, Frame) -> Result<(), LogError>,
    ) -> Result<ScanEnd, LogError> {
        let mut position = from;
        loop {
            let segment = position / self.segment_bytes;
            let Some(file) = self.file(segment)? else { return Ok(ScanEnd { end: position }) };
            match self.scan_segment(&file, position, &mut visit)? {
                SegmentEnd::Torn(end) => return Ok(ScanEnd { end }),
                SegmentEnd::Full(end) => {
                    let next = (segment + 1) * self.segment_bytes;
                    if self.file(segment + 1)?.is_none() {
                        return Ok(ScanEnd { end });
                    }
                    position = next;
                }
            }
        }
    }

    fn scan_segment(
        &self,
        file: &File,
        from: u64,
        visit: &mut impl FnMut(u64, u32, Frame) -> Result<(), LogError>,
    ) -> Result<SegmentEnd, LogError> {
        let base = from - from % self.segment_bytes;
        // Reads the segment in large pieces; a frame is at most a record plus its header.
        let mut reader =
            std::io::BufReader::with_capacity(1 << 20, FileAt { file, at: from - base });
        let mut position = from;
        let limit = base + self.segment_bytes;
        loop {
            let room = limit - position;
            if room < HEADER_BYTES as u64 {
                return Ok(SegmentEnd::Full(position));
            }
            let mut header = [0u8; HEADER_BYTES];
            match std::io::Read::read_exact(&mut reader, &mut header) {
                Ok(()) => {}
                // A segment shorter than its size (cut by hand): its data ends here.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(SegmentEnd::Torn(position));
                }
                Err(e) => return Err(io("read a segment", e)),
            }
            let Some(len) = body_len(&header) else { return Ok(SegmentEnd::Full(position)) };
            let frame_bytes = HEADER_BYTES as u64 + len as u64;
            if len > crate::limits::SEGMENT_FRAME_BYTES_MAX || frame_bytes > room {
                return Ok(SegmentEnd::Torn(position));
            }
            let mut whole = header.to_vec();
            whole.resize(HEADER_BYTES + len, 0);
            match std::io::Read::read_exact(&mut reader, &mut whole[HEADER_BYTES..]) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(SegmentEnd::Torn(position));
                }
                Err(e) => return Err(io("read a segment", e)),
            }
            let Ok(frame) = decode_frame(&whole) else { return Ok(SegmentEnd::Torn(position)) };
            let frame_len = u32::try_from(frame_bytes).expect("bounded by the frame limit");
            visit(position, frame_len, frame)?;
            position += frame_bytes;
        }
    }

    /// Makes `end` the end of the log: zeroes what its segment holds after it and removes
    /// the (empty) segments after it. Returns how many bytes held something (the torn tail).
    /// Refuses, cutting nothing, when a later segment holds data.
    pub fn cut(&self, end: u64) -> Result<u64, LogError> {
        let segment = end / self.segment_bytes;
        let within = end % self.segment_bytes;
        let later: Vec<u64> = {
            let files = self.files.read().map_err(|_| LogError::Closed)?;
            files.range(segment + 1..).map(|(k, _)| *k).collect()
        };
        // A segment is synced before the next one holds anything: data after a bad frame in
        // an earlier segment is damage (or tampering), not a torn write, and is not cut.
        for k in &later {
            let file = self.file(*k)?.ok_or(LogError::Closed)?;
            if nonzero_bytes(&file, 0, self.segment_bytes)? > 0 {
                return Err(corrupt_at(
                    end,
                    "a frame here does not check out, yet a later segment holds data: damaged, not torn; nothing was cut",
                ));
            }
        }
        let mut cut_bytes = 0;
        if let Some(file) = self.file(segment)? {
            cut_bytes += nonzero_bytes(&file, within, self.segment_bytes)?;
            if cut_bytes > 0 {
                file.set_len(within).map_err(|e| io("cut a segment", e))?;
                preallocate(&file, self.segment_bytes)?;
                file.sync_all().map_err(|e| io("sync a cut segment", e))?;
            }
        }
        // Empty segments after the end (a crash between creating one and writing to it).
        for k in later {
            self.files.write().map_err(|_| LogError::Closed)?.remove(&k);
            let path = self.dir.join(format!("{:020}.seg", k * self.segment_bytes));
            std::fs::remove_file(path).map_err(|e| io("remove a segment after the end", e))?;
        }
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("sync the segment folder", e))?;
        Ok(cut_bytes)
    }
}

enum SegmentEnd {
    /// The segment's data ends here cleanly (a zero header, or no room for another).
    Full(u64),
    /// A frame here is cut short or fails its checksum.
    Torn(u64),
}

/// Sequential reads from a position of a file, for a `BufReader`.
struct FileAt<'a> {
    file: &'a File,
    at: u64,
}

impl std::io::Read for FileAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

fn nonzero_bytes(file: &File, from: u64, to: u64) -> Result<u64, LogError> {
    let mut buffer = vec![0u8; 1 << 20];
    let mut at = from;
    let mut last_nonzero = None;
    while at < to {
        let n = usize::try_from(to - at).map_or(buffer.len(), |left| left.min(buffer.len()));
        let read = file.read_at(&mut buffer[..n], at).map_err(|e| io("read a segment", e))?;
        if read == 0 {
            break;
        }
        if let Some(i) = buffer[..read].iter().rposition(|b| *b != 0) {
            last_nonzero = Some(at + i as u64);
        }
        at += read as u64;
    }
    Ok(last_nonzero.map_or(0, |last| last + 1 - from))
}

fn preallocate(file: &File, bytes: u64) -> Result<(), LogError> {
    let allocated = rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, bytes);
    if allocated.is_err() {
        // A file system without fallocate: a sparse file of the same size reads the same.
        file.set_len(bytes).map_err(|e| io("size a segment", e))?;
    }
    Ok(())
}

fn corrupt(name: &std::ffi::OsStr, reason: &str) -> LogError {
    LogError::Corrupt {
        location: format!("segment {}", name.to_string_lossy()),
        reason: reason.into(),
    }
}

fn corrupt_at(position: u64, reason: &str) -> LogError {
    LogError::Corrupt { location: format!("segment position {position}"), reason: reason.into() }
}

/// The frames of one group commit, placed before they are written.
#[derive(Debug)]
pub struct Group {
    end: u64,
    segment_bytes: u64,
    /// (segment, position within it, bytes), in order.
    writes: Vec<(u64, u64, Vec<u8>)>,
}

impl Group {
    /// Places a frame after the ones before it; returns its position and length.
    pub fn push(&mut self, head: &FrameHead, key: &[u8], value: &[u8]) -> (u64, u32) {
        let len = frame_len(key, value) as u64;
        assert!(len <= self.segment_bytes, "a frame fits in a segment (limits)");
        if self.end % self.segment_bytes + len > self.segment_bytes {
            self.end = (self.end / self.segment_bytes + 1) * self.segment_bytes;
        }
        let (segment, within) = (self.end / self.segment_bytes, self.end % self.segment_bytes);
        match self.writes.last_mut() {
            Some((s, at, bytes)) if *s == segment && *at + bytes.len() as u64 == within => {
                encode_frame(bytes, head, key, value);
            }
            _ => {
                let mut bytes = Vec::with_capacity(64 * 1024);
                encode_frame(&mut bytes, head, key, value);
                self.writes.push((segment, within, bytes));
            }
        }
        let position = self.end;
        self.end += len;
        (position, u32::try_from(len).expect("bounded"))
    }

    pub fn end(&self) -> u64 {
        self.end
    }
}

/// The one writer of the segments.
#[derive(Debug)]
pub struct Writer {
    segments: Arc<Segments>,
    end: u64,
    /// A write or sync failed: what it wrote is unknown, so nothing more is written until a
    /// restart's recovery has read the segments again.
    failed: bool,
}

impl Writer {
    pub fn new(segments: Arc<Segments>, end: u64) -> Writer {
        Writer { segments, end, failed: false }
    }

    pub fn group(&self) -> Group {
        Group { end: self.end, segment_bytes: self.segments.segment_bytes, writes: Vec::new() }
    }

    /// Writes the group and syncs it: durable when this returns `Ok`.
    /// Stops all later writes (what was written is not indexed; a restart recovers it).
    pub fn poison(&mut self) {
        self.failed = true;
    }

    pub fn commit(&mut self, group: Group) -> Result<(), LogError> {
        if self.failed {
            return Err(LogError::Storage(
                "an earlier write to the log's segments failed; restart to recover".to_owned(),
            ));
        }
        let written = self.write(&group);
        if written.is_err() {
            self.failed = true;
        }
        written?;
        self.end = group.end;
        Ok(())
    }

    fn write(&self, group: &Group) -> Result<(), LogError> {
        let mut touched: Vec<u64> = Vec::new();
        for (segment, within, bytes) in &group.writes {
            if let Some(&previous) = touched.last()
                && previous != *segment
            {
                // The segment before is whole on disk before the next one holds anything.
                self.segments.file_or_create(previous)?.sync_data().map_err(|e| io("sync", e))?;
            }
            let file = self.segments.file_or_create(*segment)?;
            file.write_all_at(bytes, *within).map_err(|e| io("write a segment", e))?;
            if touched.last() != Some(segment) {
                touched.push(*segment);
            }
        }
        if let Some(last) = touched.last() {
            self.segments.file_or_create(*last)?.sync_data().map_err(|e| io("sync", e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(offset: u64) -> FrameHead {
        FrameHead {
            topic_id: 1,
            partition: 2,
            offset,
            id: EventId([u8::try_from(offset).unwrap_or(0); 16]),
            digest: Digest32([9; 32]),
        }
    }

    #[test]
    fn a_frame_reads_back_and_any_changed_byte_is_caught() {
        let mut bytes = Vec::new();
        encode_frame(&mut bytes, &head(3), b"key", b"value");
        let frame = decode_frame(&bytes).expect("decodes");
        assert_eq!(frame.head, head(3));
        assert_eq!((frame.key.as_slice(), frame.value.as_slice()), (&b"key"[..], &b"value"[..]));
        for i in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[i] ^= 0x40;
            assert!(decode_frame(&changed).is_err(), "byte {i} changed unnoticed");
        }
    }

    /// CRC-32 (IEEE) as published: the check value of "123456789" is 0xCBF43926.
    #[test]
    fn the_checksum_is_the_published_crc32() {
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn a_group_rolls_to_the_next_segment_when_a_frame_does_not_fit() {
        let dir = tempfile::tempdir().expect("dir");
        let segments = Arc::new(Segments::open(dir.path(), 256).expect("open"));
        let mut writer = Writer::new(Arc::clone(&segments), 0);
        let mut group = writer.group();
        let value = [7u8; 60];
        let placed: Vec<(u64, u32)> = (0..5).map(|i| group.push(&head(i), b"k", &value)).collect();
        writer.commit(group).expect("commit");
        // Two frames of 137 bytes do not fit in 256: one per segment.
        assert_eq!(placed.iter().map(|p| p.0).collect::<Vec<_>>(), vec![0, 256, 512, 768, 1024]);
        assert!(placed.iter().all(|p| p.1 == 137));
        let mut seen = Vec::new();
        let end = segments.scan(0, |position, _, frame| {
            seen.push((position, frame.head.offset));
            Ok(())
        });
        assert_eq!(end.expect("scan").end, 1024 + 137);
        assert_eq!(seen.len(), 5);
    }
}
