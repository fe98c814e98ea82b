use axum::http::StatusCode;

use crate::push::{Push, body, register_issuer};
use crate::routes::{NOW_MS, citizen_records, fixture, json, send};

async fn batch(f: &crate::routes::Fixture, rows: &[String]) -> (StatusCode, serde_json::Value) {
    let (status, _, answer) =
        send(&f.state, "POST", "/v1/issuer/batches", None, rows.join("\n").into_bytes()).await;
    (status, json(&String::from_utf8_lossy(&answer)))
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
    let expected: Vec<(String, String)> = [
        ("accepted", ""),
        ("accepted", ""),
        ("rejected", "content_not_supported"),
        ("rejected", "invalid_json"),
        ("rejected", "stale_event"),
        ("rejected", "commitment_mismatch"),
        ("rejected", "duplicate_row"),
    ]
    .iter()
    .map(|(s, c)| ((*s).to_owned(), (*c).to_owned()))
    .collect();
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
    let rows = vec!["{}".to_owned(); api::limits::BULK_BATCH_ROWS_MAX + 1];
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
    assert_eq!((status, answer["rows"].as_u64()), (StatusCode::OK, Some(0)));
    assert_eq!(citizen_records(&f).await, before);
}
