//! Issuers' declarations (issue 21): a pull endpoint is taken only at the origin the platform
//! registered for the issuer, so an issuer's key alone cannot point citizens' names and
//! identifiers at another server.

use axum::http::StatusCode;
use ed25519_dalek::SigningKey;
use ledger::crypto::{key_id_of, public_key_entry, sign_event};
use schemas::*;

use crate::routes::{Fixture, NOW_MS, fixture};

const BOARD: &str = "in.gov.pullboard";

async fn declare(
    f: &Fixture,
    key: &SigningKey,
    endpoint: &str,
    id: u8,
) -> (StatusCode, serde_json::Value) {
    let declared = DocTypeDeclared {
        issuer: IssuerId::parse(BOARD).expect("id"),
        doc_type: DocTypeCode::parse("HSCER").expect("code"),
        fields: vec![],
        pull: Some(PullSpec {
            endpoint: Endpoint::parse(endpoint).expect("endpoint"),
            identifiers: vec![FieldSpec {
                key: FieldKey::parse("roll_no").expect("key"),
                label: Label::parse("Roll number").expect("label"),
                kind: FieldKind::Text { max_chars: 20 },
                required: true,
            }],
        }),
    };
    let event = Event {
        id: EventId([id; 16]),
        occurred_at_ms: TimestampMs(NOW_MS),
        actor: Actor::Issuer(declared.issuer.clone()),
        key_id: key_id_of(&key.verifying_key()),
        payload: Payload::DocTypeDeclared(declared),
    };
    let envelope = sign_event(event, key, None).expect("sign");
    let body = serde_json::json!({ "envelope": envelope }).to_string();
    crate::push::post_to(f, "/v1/issuer/doc-types", body).await
}

/// The board, registered by the platform with `endpoint`, once the views hold it.
async fn register_board(f: &Fixture, key: &SigningKey, endpoint: &str) {
    let registered = Payload::IssuerRegistered(IssuerRegistered {
        issuer: IssuerId::parse(BOARD).expect("id"),
        name: Label::parse("Pull Board").expect("label"),
        doc_types: vec![DocTypeEntry {
            code: DocTypeCode::parse("HSCER").expect("code"),
            name: Label::parse("Class XII Marksheet").expect("label"),
        }],
        keys: vec![public_key_entry(&key.verifying_key())],
        endpoint: Some(Endpoint::parse(endpoint).expect("url")),
    });
    crate::routes::platform_append(f, [2; 16], registered).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while f.state.views.issuer(BOARD).expect("views").is_none() {
        assert!(std::time::Instant::now() < deadline, "the views take the registration");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The demo citizen's pull of roll number `roll` from the board: the status and the answer.
async fn pull(f: &Fixture, token: &str, roll: &str) -> (StatusCode, serde_json::Value) {
    let body =
        serde_json::json!({"issuer": BOARD, "doc_type": "HSCER", "identifiers": {"roll_no": roll}});
    let request = axum::http::Request::post("/v1/citizen/pulls")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(body.to_string()))
        .expect("request");
    crate::routes::run(f, request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_endpoint_is_taken_only_where_the_platform_registered_the_issuer() {
    let f = fixture().await;
    let key = SigningKey::from_bytes(&[78; 32]);
    register_board(&f, &key, "https://results.pullboard.example/locker").await;

    // The board's key, pointing elsewhere: refused, saying where it may point.
    let (status, answer) = declare(&f, &key, "https://collector.example/pull", 3).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["code"], "invalid_event", "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains("https://results.pullboard.example/locker"), "{answer}");
    // Another port of the same host is another origin.
    let (status, _) = declare(&f, &key, "https://results.pullboard.example:8443/pull", 4).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // At the registered origin: taken, and offered to citizens.
    let (status, answer) = declare(&f, &key, "https://results.pullboard.example/pull/v2", 5).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let token = crate::routes::asha_token(&f);
    let (status, _, offered) =
        crate::routes::send(&f.state, "GET", "/v1/citizen/pull/doc-types", Some(&token), vec![])
            .await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&offered).contains(BOARD));
}

/// Outside a demo an endpoint on a private address is never called, even at the registered
/// origin: each pull is `issuer_unavailable` at once, logged; and a locker's pulls are counted,
/// `rate_limited` past the hour's quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_endpoint_is_never_called_and_pulls_are_counted() {
    let f = fixture().await;
    let key = SigningKey::from_bytes(&[78; 32]);
    let board = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let origin = format!("http://{}", board.local_addr().expect("address"));
    register_board(&f, &key, &format!("{origin}/locker")).await;
    let (status, answer) = declare(&f, &key, &format!("{origin}/pull"), 3).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let token = crate::routes::asha_token(&f);
    for i in 0..server::limits::PULLS_PER_HOUR {
        let (status, answer) = pull(&f, &token, &format!("2024-{i}")).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{answer}");
        assert_eq!(answer["code"], "issuer_unavailable", "{answer}");
    }
    let (status, answer) = pull(&f, &token, "2024-x").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert_eq!(answer["code"], "rate_limited", "{answer}");
    let called = tokio::time::timeout(std::time::Duration::from_millis(200), board.accept()).await;
    assert!(called.is_err(), "the board on a private address was called");
    let (status, _, activity) =
        crate::routes::send(&f.state, "GET", "/v1/citizen/activity", Some(&token), vec![]).await;
    assert_eq!(status, StatusCode::OK);
    let logged = String::from_utf8_lossy(&activity).matches("issuer_unavailable").count();
    assert_eq!(logged as u64, server::limits::PULLS_PER_HOUR, "every pull is in the activity");
}
