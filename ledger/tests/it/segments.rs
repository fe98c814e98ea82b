//! The embedded log's segment files: a tail torn by a crash at any byte is cut off and the
//! log goes on; frames whose index a crash lost are indexed again; a log written before
//! segments moves into them whole.

use std::os::unix::fs::FileExt;
use std::path::Path;

use ledger::log::segment::frame_len;
use ledger::{AppendRequest, Appended, EmbeddedLog, Log, LogError};
use schemas::{Digest32, EventId};

const TOPIC: &str = "torn";
/// Small segments: each case copies and scans whole segment files.
const SEGMENT_BYTES: u64 = 128 * 1024;

fn open(path: &Path) -> Result<EmbeddedLog, LogError> {
    EmbeddedLog::open_with_segments(path, SEGMENT_BYTES)
}

fn request(id: u8, value_bytes: usize) -> AppendRequest {
    let value = vec![id; value_bytes];
    AppendRequest {
        id: EventId([id; 16]),
        digest: Digest32(*blake3::hash(&value).as_bytes()),
        key: format!("k{}", id % 2).into_bytes(),
        value,
    }
}

/// A log holding records 1..=n, each appended alone (its own group commit, its own sync).
async fn write_log(path: &Path, n: u8) {
    let log = open(path).expect("open");
    log.create_topic(TOPIC, 2).await.expect("topic");
    for id in 1..=n {
        let appended = log.append(TOPIC, vec![request(id, 100)]).await.expect("append");
        assert!(matches!(appended[0], Ok(Appended::New(_))), "{appended:?}");
    }
}

async fn values(log: &EmbeddedLog) -> Vec<u8> {
    let mut out = Vec::new();
    for partition in 0..2 {
        for record in log.read(TOPIC, partition, 0, 100).await.expect("read") {
            out.push(record.value[0]);
        }
    }
    out.sort_unstable();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("list") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn segment_zero(log: &Path) -> std::fs::File {
    let path = log.join("segments").join(format!("{:020}.seg", 0));
    std::fs::OpenOptions::new().read(true).write(true).open(path).expect("segment 0")
}

/// The crash image of a log that was writing its fourth and fifth records in one group: the
/// first three synced and indexed; of the fourth's frame only its first `cut` bytes reached
/// the disk (`rest` says what the disk holds after them), while the fifth's did whole (disks
/// reorder unsynced writes). At every cut the log opens with the three, cuts everything after
/// them off (the fifth too, or it would come back behind the next record), and takes the next
/// record in their place; with both frames whole, both are indexed again.
#[tokio::test]
async fn a_frame_torn_at_any_byte_is_cut_off_and_the_log_goes_on() {
    let dir = tempfile::tempdir().expect("dir");
    let (three, five) = (dir.path().join("three"), dir.path().join("five"));
    write_log(&three, 3).await;
    write_log(&five, 5).await;
    let r = request(1, 100);
    let frame = frame_len(&r.key, &r.value);
    let start = 3 * frame as u64;
    let mut written = vec![0u8; 2 * frame];
    segment_zero(&five).read_exact_at(&mut written, start).expect("the last two frames");
    let (fourth, fifth) = written.split_at(frame);
    for cut in 0..=frame {
        for rest in [0x00u8, 0xa5] {
            if rest == 0xa5 && (cut == frame || cut % 7 != 0) {
                continue;
            }
            let case = dir.path().join(format!("cut-{cut}-{rest}"));
            copy_dir(&three, &case);
            let mut image = fourth[..cut].to_vec();
            image.resize(frame, rest);
            image.extend_from_slice(fifth);
            segment_zero(&case).write_all_at(&image, start).expect("tear");
            let log = open(&case).expect("a torn tail does not stop the log");
            let expected: Vec<u8> = if cut == frame { vec![1, 2, 3, 4, 5] } else { vec![1, 2, 3] };
            assert_eq!(values(&log).await, expected, "cut at byte {cut} of {frame}");
            // The same size as the torn frame: without the cut, the fifth would follow it.
            let next = log.append(TOPIC, vec![request(9, 100)]).await.expect("append after");
            assert!(matches!(next[0], Ok(Appended::New(_))), "{next:?}");
            drop(log);
            let log = open(&case).expect("reopen");
            let mut expected = expected;
            expected.push(9);
            assert_eq!(values(&log).await, expected, "cut at byte {cut}, reopened");
            drop(log);
            std::fs::remove_dir_all(&case).expect("clean");
        }
    }
}

/// A frame changed behind the log's back without fixing its checksum is named, not read.
#[tokio::test]
async fn a_frame_that_fails_its_checksum_is_named_at_its_offset() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("log");
    write_log(&path, 2).await;
    let r = request(1, 100);
    let frame = frame_len(&r.key, &r.value) as u64;
    // The second record (key k0: id 2 is even) is the second frame.
    segment_zero(&path).write_all_at(&[0xff], frame + frame - 1).expect("flip");
    let log = open(&path).expect("open");
    let partition = ledger::partition::partition_for(b"k0", 2);
    let err = log.read(TOPIC, partition, 0, 10).await.expect_err("refused");
    assert!(matches!(err, LogError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
}

/// A log written before segments (records in RocksDB's `records`) is moved into them when
/// opened: every record reads back, ids still answer retries, and appends go on after them.
#[tokio::test]
async fn a_log_from_before_segments_moves_into_them() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("log");
    let requests: Vec<AppendRequest> = (1..=50).map(|id| request(id, 80)).collect();
    {
        let mut options = rocksdb::Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let db = rocksdb::DB::open_cf(&options, &path, ["records", "ids", "meta"]).expect("db");
        let (records, ids, meta) = (
            db.cf_handle("records").expect("records"),
            db.cf_handle("ids").expect("ids"),
            db.cf_handle("meta").expect("meta"),
        );
        let topic = [0u32.to_le_bytes(), 2u32.to_le_bytes()].concat();
        db.put_cf(&meta, format!("topic/{TOPIC}"), topic).expect("topic");
        let mut next = [0u64; 2];
        for r in &requests {
            let partition = ledger::partition::partition_for(&r.key, 2);
            let offset = next[partition as usize];
            next[partition as usize] += 1;
            let mut stored = u32::try_from(r.key.len()).expect("short").to_le_bytes().to_vec();
            stored.extend_from_slice(&r.key);
            stored.extend_from_slice(&r.value);
            db.put_cf(&records, crate::raw::index_key(0, partition, offset), stored)
                .expect("record");
            let mut entry = 0u32.to_le_bytes().to_vec();
            entry.extend_from_slice(&partition.to_le_bytes());
            entry.extend_from_slice(&offset.to_le_bytes());
            entry.extend_from_slice(r.digest.as_bytes());
            db.put_cf(&ids, r.id.as_bytes(), entry).expect("id");
        }
    }
    let log = open(&path).expect("open and move");
    let mut expected: Vec<u8> = (1..=50).collect();
    assert_eq!(values(&log).await, expected);
    let again = log.append(TOPIC, vec![requests[7].clone()]).await.expect("retry");
    assert!(matches!(again[0], Ok(Appended::Existing(_))), "{again:?}");
    let new = log.append(TOPIC, vec![request(60, 80)]).await.expect("append");
    assert!(matches!(new[0], Ok(Appended::New(_))), "{new:?}");
    drop(log);
    let log = open(&path).expect("reopen");
    expected.push(60);
    assert_eq!(values(&log).await, expected);
}

/// A segment is synced before the next one holds anything, so a bad frame in an earlier
/// segment while a later one holds data is damage, not a crash's torn write: the log refuses
/// to open and cuts nothing (here the index was lost too, so recovery reads from the start).
#[tokio::test]
async fn a_bad_frame_before_a_later_segment_with_data_is_damage_and_nothing_is_cut() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("log");
    {
        let log = open(&path).expect("open");
        log.create_topic(TOPIC, 2).await.expect("topic");
        let requests: Vec<AppendRequest> = (0..1_000u32)
            .map(|n| {
                let value = n.to_le_bytes().repeat(25);
                let mut id = [0u8; 16];
                id[..4].copy_from_slice(&n.to_le_bytes());
                AppendRequest {
                    id: EventId(id),
                    digest: Digest32(*blake3::hash(&value).as_bytes()),
                    key: format!("k{}", n % 2).into_bytes(),
                    value,
                }
            })
            .collect();
        let appended = log.append(TOPIC, requests).await.expect("append");
        assert!(appended.iter().all(|a| matches!(a, Ok(Appended::New(_)))));
    }
    let second = path.join("segments").join(format!("{SEGMENT_BYTES:020}.seg"));
    assert!(second.exists(), "the records fill more than one segment");
    {
        // The index lost (as after a power cut), and the first frame damaged.
        let db = rocksdb::DB::open_cf(
            &rocksdb::Options::default(),
            &path,
            ["records", "index", "ids", "meta"],
        )
        .expect("raw");
        let index = db.cf_handle("index").expect("index");
        db.delete_range_cf(&index, [0u8; 16], [0xffu8; 16]).expect("forget the index");
        let meta = db.cf_handle("meta").expect("meta");
        db.put_cf(&meta, b"segments/indexed", 0u64.to_le_bytes()).expect("mark");
    }
    segment_zero(&path).write_all_at(&[0xee], 20).expect("damage");
    let err = open(&path).expect_err("damage is not cut away");
    assert!(matches!(err, LogError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("nothing was cut"), "{err}");
    let mut head = [0u8; 8];
    std::fs::File::open(&second).expect("still there").read_exact_at(&mut head, 0).expect("read");
    assert_ne!(head, [0u8; 8], "the later segment keeps its data");
}
