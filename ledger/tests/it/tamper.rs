//! Changes made to the embedded store behind the log's back. The log itself catches holes and
//! undecodable records and names their position; altered-but-decodable records and a cut tail
//! are the auditor's job (signature replay and signed checkpoints, issue 6).

use std::sync::Arc;

use ledger::{EmbeddedLog, Ledger, LedgerError, Log, LogError};

#[tokio::test]
async fn a_record_deleted_from_the_store_is_reported_at_its_offset() {
    let mut s = crate::setup().await;
    let (citizen, registration) = s.world.register_citizen();
    let mut records = vec![registration];
    for n in 0..4 {
        records.push(s.world.issue_marksheet(&citizen, &format!("T-{n}")));
    }
    let verdicts = s.ledger.append(records).await.expect("append");
    let partition = crate::accepted(verdicts.into_iter().next().expect("one")).partition;
    let topic = s.ledger.config().citizen_topic.clone();
    drop(s.ledger);
    let path = s.dir.path().join("log");
    // The citizen topic was created second: topic id 1.
    crate::raw::Raw::open(&path).delete(1, partition, 2);
    let log = EmbeddedLog::open(&path).expect("reopen");
    let err = log.read(&topic, partition, 0, 100).await.expect_err("hole");
    assert!(matches!(err, LogError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("offset 2 is missing"), "{err}");
    // Reading past the hole is still possible, so an operator can see what is left.
    assert_eq!(log.read(&topic, partition, 3, 100).await.expect("after the hole").len(), 2);
}

#[tokio::test]
async fn an_undecodable_record_stops_the_ledger_and_names_its_position() {
    let mut s = crate::setup().await;
    let (citizen, registration) = s.world.register_citizen();
    let records = vec![registration, s.world.issue_marksheet(&citizen, "U-1")];
    let verdicts = s.ledger.append(records).await.expect("append");
    let position = crate::accepted(verdicts.into_iter().nth(1).expect("two"));
    drop(s.ledger);
    let path = s.dir.path().join("log");
    {
        let raw = crate::raw::Raw::open(&path);
        let mut stored = raw.stored(1, position.partition, position.offset);
        // After the 4-byte key length and the 36-byte key comes the envelope version.
        stored[4 + 36] = 9;
        raw.put_stored(1, position.partition, position.offset, &stored);
    }
    let log = Arc::new(EmbeddedLog::open(&path).expect("reopen"));
    let err = Ledger::open(log, s.world.config()).await.expect_err("must not start");
    assert!(matches!(err, LedgerError::Log(LogError::Corrupt { .. })), "{err}");
    let expected = format!("partition {} offset {}", position.partition, position.offset);
    assert!(err.to_string().contains(&expected), "{err}");
    assert!(err.to_string().contains("unsupported envelope version 9"), "{err}");
}

/// An index entry changed to a frame length no frame has, or to a frame that would cross its
/// segment's end, is named as corrupt at its offset (never read, never a read that spins).
#[tokio::test]
async fn an_index_entry_that_cannot_be_a_frame_is_named_at_its_offset() {
    let mut s = crate::setup().await;
    let (citizen, registration) = s.world.register_citizen();
    let records = vec![registration, s.world.issue_marksheet(&citizen, "X-1")];
    let verdicts = s.ledger.append(records).await.expect("append");
    let partition = crate::accepted(verdicts.into_iter().next().expect("one")).partition;
    let topic = s.ledger.config().citizen_topic.clone();
    drop(s.ledger);
    let path = s.dir.path().join("log");
    let cases = [
        (0, 3, "index entry of a 3-byte frame"),
        (ledger::limits::SEGMENT_BYTES - 100, 300, "across a segment's end"),
    ];
    for (position, len, expected) in cases {
        crate::raw::Raw::open(&path).put_entry(1, partition, 1, position, len);
        let log = EmbeddedLog::open(&path).expect("reopen");
        let err = log.read(&topic, partition, 0, 10).await.expect_err("refused");
        assert!(matches!(err, LogError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("offset 1"), "{err}");
        assert!(err.to_string().contains(expected), "{err}");
    }
}
