//! Issuers' declarations (issue 21): a pull endpoint is taken only at the origin the platform
//! registered for the issuer, so an issuer's key alone cannot point citizens' names and
//! identifiers at another server.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use ledger::crypto::{key_id_of, public_key_entry, sign_event};
use schemas::*;
use tower::ServiceExt;

use crate::routes::{Fixture, NOW_MS, fixture, json};

const BOARD: &str = "in.gov.pullboard";

async fn declare(f: &Fixture, key: &SigningKey, endpoint: &str, id: u8) -> (StatusCode, String) {
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
    let request = Request::post("/v1/issuer/doc-types")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    let response = server::router(f.state.clone()).oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_endpoint_is_taken_only_where_the_platform_registered_the_issuer() {
    let f = fixture().await;
    let key = SigningKey::from_bytes(&[78; 32]);
    let registered = Payload::IssuerRegistered(IssuerRegistered {
        issuer: IssuerId::parse(BOARD).expect("id"),
        name: Label::parse("Pull Board").expect("label"),
        doc_types: vec![DocTypeEntry {
            code: DocTypeCode::parse("HSCER").expect("code"),
            name: Label::parse("Class XII Marksheet").expect("label"),
        }],
        keys: vec![public_key_entry(&key.verifying_key())],
        endpoint: Some(Endpoint::parse("https://results.pullboard.example/locker").expect("url")),
    });
    crate::routes::platform_append(&f, [2; 16], registered).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while f.state.views.issuer(BOARD).expect("views").is_none() {
        assert!(std::time::Instant::now() < deadline, "the views take the registration");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // The board's key, pointing elsewhere: refused, saying where it may point.
    let (status, answer) = declare(&f, &key, "https://collector.example/pull", 3).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(json(&answer)["code"], "invalid_event", "{answer}");
    assert!(answer.contains("https://results.pullboard.example/locker"), "{answer}");
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
