use axum::http::StatusCode;

use crate::push::{Push, body, register_issuer};
use crate::routes::{NOW_MS, citizen_records, fixture, json, send};

async fn batch(f: &crate::routes::Fixture, rows: &[String]) -> (StatusCode, serde_json::Value) {
    let (status, _, answer) =
        send(&f.state, "POST", "/v1/issuer/batches", None, rows.join("\n").into_bytes()).await;
    (status, json(&String::from_utf8_lossy(&answer)))
}

/// Expected (status, code) pairs, as `codes` reads them.
fn verdicts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(s, c)| ((*s).to_owned(), (*c).to_owned())).collect()
}

fn codes(answer: &serde_json::Value) -> Vec<(String, String)> {
    answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["status"].as_str().expect("status").to_owned(),
                r["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_row_gets_its_own_verdict_and_bad_rows_write_nothing() {
    let f = fixture().await;
    let board = register_issuer(&f, "in.gov.testboard").await;
    let before = citizen_records(&f).await;
    let rows = vec![
        body(&f, &board, &Push { doc_id: "2024-1", ..Push::default() }),
        body(&f, &board, &Push { doc_id: "2024-2", ..Push::default() }),
        body(
            &f,
            &board,
            &Push { doc_id: "2024-3", content: Some(b"%PDF-1.7\n".to_vec()), ..Push::default() },
        ),
        "{\"envelope\": ".to_owned(),
        body(
            &f,
            &board,
            &Push { doc_id: "2024-4", at_ms: NOW_MS - 10 * 60 * 1000, ..Push::default() },
        ),
        body(&f, &board, &Push { doc_id: "2024-5", sent_name: "Somebody Else", ..Push::default() }),
        body(&f, &board, &Push { doc_id: "2024-1", ..Push::default() }),
    ];
    let (status, answer) = batch(&f, &rows).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let expected = verdicts(&[
        ("accepted", ""),
        ("accepted", ""),
        ("rejected", "content_not_supported"),
        ("rejected", "invalid_json"),
        ("rejected", "stale_event"),
        ("rejected", "commitment_mismatch"),
        ("rejected", "duplicate_row"),
    ]);
    assert_eq!(codes(&answer), expected, "{answer}");
    assert_eq!((answer["accepted"].as_u64(), answer["rejected"].as_u64()), (Some(2), Some(5)));
    assert_eq!(answer["results"][0]["row"], 1);
    assert!(answer["results"][0]["offset"].is_u64(), "{answer}");
    assert_eq!(citizen_records(&f).await, before + 2, "only the good rows were written");

    // A re-run signs the same documents at another time: already present. Other content
    // under an issued URI is a conflict.
    let later = NOW_MS + 60_000;
    let rows = vec![
        body(&f, &board, &Push { doc_id: "2024-1", at_ms: later, ..Push::default() }),
        body(&f, &board, &Push { doc_id: "2024-2", at_ms: later, ..Push::default() }),
        body(
            &f,
            &board,
            &Push {
                doc_id: "2024-1",
                at_ms: later,
                signed_content: Some(b"%PDF-other".to_vec()),
                ..Push::default()
            },
        ),
    ];
    let (_, answer) = batch(&f, &rows).await;
    let statuses: Vec<String> =
        codes(&answer).into_iter().map(|(s, c)| format!("{s}{c}")).collect();
    assert_eq!(statuses, ["already_present", "already_present", "rejecteduri_exists"], "{answer}");
    assert_eq!(citizen_records(&f).await, before + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_its_limits_is_refused_whole() {
    let f = fixture().await;
    let before = citizen_records(&f).await;
    let rows = vec!["{}".to_owned(); server::limits::BULK_BATCH_ROWS_MAX + 1];
    let (status, answer) = batch(&f, &rows).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("batch_too_large"))
    );
    let big = vec!["x".repeat(1 << 20); 17];
    let (status, answer) = batch(&f, &big).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    let (status, answer) = batch(&f, &[]).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::BAD_REQUEST, Some("empty_batch")));
    assert_eq!(citizen_records(&f).await, before);
}

/// Reads every dead letter of the test's topic.
async fn dead_letters(
    f: &crate::routes::Fixture,
    topic: &str,
) -> Vec<server::jobs::inbox::DeadLetter> {
    use ledger::Log;
    let log = f.ledger.log();
    let mut letters = Vec::new();
    for partition in 0..server::limits::INBOX_PARTITIONS {
        for record in log.read(topic, partition, 0, 100).await.expect("read dead letters") {
            letters.push(serde_json::from_slice(&record.value).expect("a dead letter"));
        }
    }
    letters
}

/// Waits until the inbox consumer wrote a dead letter and saved a position; the letters.
async fn settle(
    f: &crate::routes::Fixture,
    topic: &str,
    positions: &std::path::Path,
) -> Vec<server::jobs::inbox::DeadLetter> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let letters = dead_letters(f, topic).await;
        let saved =
            (0..server::limits::INBOX_PARTITIONS).any(|p| positions.join(p.to_string()).exists());
        if !letters.is_empty() && saved {
            return letters;
        }
        assert!(tokio::time::Instant::now() < deadline, "inbox stuck: {} letters", letters.len());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The inbox on the embedded log: rows land and a refused one becomes a dead letter. When the
/// consumer processes the same batch again (a crash after the batch, before its position was
/// saved), nothing is written twice: rows are already present, the dead letter is not repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_batch_processed_again_writes_nothing_twice() {
    use ledger::Log;
    use ledger::log::AppendRequest;
    let f = fixture().await;
    let board = register_issuer(&f, "in.gov.inboxboard").await;
    let log = std::sync::Arc::clone(f.ledger.log());
    let (inbox, letters_topic) = ("it.inbox", "it.dead-letter");
    let positions = f._dir.path().join("inbox-positions");
    server::jobs::inbox::open(log.as_ref(), inbox, letters_topic, &positions).await.expect("open");
    let rows = [
        body(&f, &board, &Push { doc_id: "2024-11", ..Push::default() }),
        "not json".to_owned(),
        body(&f, &board, &Push { doc_id: "2024-12", ..Push::default() }),
        // Personal fields that are not the ones the event commits to: refused.
        body(&f, &board, &Push { doc_id: "2024-13", sent_name: "Ravi Sharma", ..Push::default() }),
    ];
    let requests = rows
        .iter()
        .enumerate()
        .map(|(i, row)| AppendRequest {
            // Ids are unique across the log: derive them from the test and the row.
            id: schemas::EventId(
                blake3::hash(format!("it inbox row {i}").as_bytes()).as_bytes()[..16]
                    .try_into()
                    .expect("16 bytes"),
            ),
            digest: schemas::Digest32([0; 32]),
            key: b"0".to_vec(),
            value: row.as_bytes().to_vec(),
        })
        .collect();
    for verdict in log.append(inbox, requests).await.expect("produce") {
        verdict.expect("produced");
    }
    let before = citizen_records(&f).await;

    let consume = || {
        tokio::spawn(server::jobs::inbox::run(
            f.state.clone(),
            std::sync::Arc::clone(&log),
            inbox.to_owned(),
            letters_topic.to_owned(),
            positions.clone(),
        ))
    };
    let consumer = consume();
    let letters = settle(&f, letters_topic, &positions).await;
    consumer.abort();
    assert_eq!(citizen_records(&f).await, before + 2, "the two good rows");
    assert_eq!(letters.len(), 2);
    let mut letters = letters;
    letters.sort_by_key(|letter| letter.inbox_offset);
    assert_eq!((letters[0].inbox_offset, letters[0].code.as_str()), (1, "invalid_json"));
    // Dead letters are kept like the ledger: no personal fields in them, only what finds the
    // record again (its size and hash) and, for JSON, the rest of it.
    assert_eq!(letters[0].record, None, "not JSON: nothing of it can be told apart");
    assert_eq!(letters[0].record_bytes, 8);
    assert_eq!(letters[0].record_blake3, blake3::hash(b"not json").to_hex().as_str());
    assert_eq!(letters[1].inbox_offset, 3);
    let kept = letters[1].record.as_deref().expect("the JSON row, redacted");
    assert!(kept.contains("\"personal\":null") && kept.contains("in.gov.inboxboard"), "{kept}");
    assert!(!kept.contains("Ravi Sharma") && !kept.contains("Physics"), "{kept}");
    assert_eq!(letters[1].record_blake3, blake3::hash(rows[3].as_bytes()).to_hex().as_str());

    // The position is lost: the same batch is processed again.
    std::fs::remove_dir_all(&positions).expect("forget positions");
    std::fs::create_dir_all(&positions).expect("positions folder");
    let consumer = consume();
    let letters = settle(&f, letters_topic, &positions).await;
    // Once the position is saved again the repeat is complete; give a duplicate its chance.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    consumer.abort();
    assert_eq!(citizen_records(&f).await, before + 2, "no row written twice");
    assert_eq!(dead_letters(&f, letters_topic).await.len(), letters.len(), "no letter twice");
    assert_eq!(letters.len(), 2);
    let (_, metrics) = crate::routes::get(&f.state, "/metrics").await;
    assert!(metrics.contains("\nlocker_inbox_refused_total 2\n"), "counted once: {metrics}");
}

/// A push body (JSON) as a binary row (`wire::rows`), as `locker issue bulk` sends it.
fn binary_row(json_body: &str) -> Vec<u8> {
    let value = json(json_body);
    let envelope: schemas::Envelope =
        serde_json::from_value(value["envelope"].clone()).expect("the envelope");
    let mut salt = [0u8; 32];
    hex::decode_to_slice(value["personal"]["salt"].as_str().expect("salt"), &mut salt)
        .expect("hex salt");
    let data: schemas::PersonalData =
        serde_json::from_value(value["personal"]["data"].clone()).expect("personal data");
    wire::rows::encode_row(&envelope, Some((&salt, &data))).expect("a row")
}

async fn binary_batch(
    f: &crate::routes::Fixture,
    body: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/v1/issuer/batches")
        .header("content-type", wire::rows::MEDIA_TYPE)
        .body(axum::body::Body::from(body))
        .expect("request");
    crate::routes::run(f, request).await
}

/// Rows in binary (`application/vnd.locker.rows`) get the verdicts the same rows get as NDJSON;
/// a row that does not decode is refused alone, and a body whose frames do not add up is
/// refused whole, with nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_rows_get_the_verdicts_of_ndjson_rows() {
    let f = fixture().await;
    let board = register_issuer(&f, "in.gov.testboard").await;
    let before = citizen_records(&f).await;
    let good = binary_row(&body(&f, &board, &Push { doc_id: "2024-1", ..Push::default() }));
    let other = Push { doc_id: "2024-5", sent_name: "Somebody Else", ..Push::default() };
    let mismatch = binary_row(&body(&f, &board, &other));
    let rows = [good.clone(), b"\x05\x00\x00\x00garbage".to_vec(), mismatch, good];
    let whole = wire::rows::join(rows.iter().map(Vec::as_slice));

    let mut cut = whole.clone();
    cut.truncate(whole.len() - 3);
    let (status, answer) = binary_batch(&f, cut).await;
    assert!(status.is_client_error(), "{status} {answer}");
    assert_eq!(answer["code"], "invalid_event", "{answer}");
    assert!(answer["message"].as_str().unwrap_or_default().contains("row 4"), "{answer}");
    assert_eq!(citizen_records(&f).await, before, "nothing of a refused body is written");

    let (status, answer) = binary_batch(&f, whole).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let expected = verdicts(&[
        ("accepted", ""),
        ("rejected", "invalid_event"),
        ("rejected", "commitment_mismatch"),
        ("rejected", "duplicate_row"),
    ]);
    assert_eq!(codes(&answer), expected, "{answer}");
    assert_eq!(citizen_records(&f).await, before + 1);
}
