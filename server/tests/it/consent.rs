use axum::body::Body;
use axum::http::{Request, StatusCode};
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use ledger::crypto::{key_id_of, public_key_entry, sign_event};
use schemas::*;
use tower::ServiceExt;

use crate::routes::{Fixture, NOW_MS, fixture, json};

async fn call(
    f: &Fixture,
    method: &str,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    let body = match body {
        Some(value) => {
            request = request.header("content-type", "application/json");
            Body::from(value.to_string())
        }
        None => Body::empty(),
    };
    let response = server::router(f.state.clone())
        .oneshot(request.body(body).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            json(&String::from_utf8_lossy(&bytes))
        },
    )
}

async fn asha(f: &Fixture) -> String {
    f.state
        .accounts
        .login("asha", server::app::demo::DEMO_PASSWORD, TimestampMs(NOW_MS))
        .expect("login")
        .0
}

async fn pending_id(f: &Fixture, token: &str) -> String {
    let (_, pending) = call(f, "GET", "/v1/citizen/consents?state=pending", token, None).await;
    pending[0]["id"].as_str().expect("a pending consent").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_then_revoke_the_banks_request() {
    let f = fixture().await;
    let token = asha(&f).await;
    let id = pending_id(&f, &token).await;
    let (status, answer) =
        call(&f, "POST", &format!("/v1/citizen/consents/{id}/grant"), &token, None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["state"], "active");
    assert_eq!(answer["documents"], serde_json::json!(["in.gov.cbse-HSCER-2024-7654321"]));
    let (_, active) = call(&f, "GET", "/v1/citizen/consents?state=active", &token, None).await;
    assert_eq!(active[0]["id"], id.as_str());
    let (status, answer) =
        call(&f, "POST", &format!("/v1/citizen/consents/{id}/grant"), &token, None).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("consent_state")),
        "{answer}"
    );
    let (status, answer) =
        call(&f, "POST", &format!("/v1/citizen/consents/{id}/revoke"), &token, None).await;
    assert_eq!((status, answer["state"].as_str()), (StatusCode::OK, Some("revoked")), "{answer}");
    for action in ["revoke", "deny"] {
        let (status, answer) =
            call(&f, "POST", &format!("/v1/citizen/consents/{id}/{action}"), &token, None).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::CONFLICT, Some("consent_state")),
            "{action}: {answer}"
        );
    }
    assert!(f.projector.views().halts().expect("halts").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_release_only_requested_documents_of_the_locker() {
    let f = fixture().await;
    let token = asha(&f).await;
    let id = pending_id(&f, &token).await;
    let grant = format!("/v1/citizen/consents/{id}/grant");
    for (body, status, code) in [
        (
            serde_json::json!({ "documents": ["in.gov.incometax-PANCR-ABCPK1234Q"] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "document_not_requested",
        ),
        (
            serde_json::json!({ "documents": ["in.gov.cbse-HSCER-1999-0"] }),
            StatusCode::NOT_FOUND,
            "unknown_document",
        ),
        (serde_json::json!({ "documents": ["nonsense"] }), StatusCode::BAD_REQUEST, "invalid_uri"),
        (serde_json::json!({ "access_days": 0 }), StatusCode::BAD_REQUEST, "invalid_access_days"),
    ] {
        let (got, answer) = call(&f, "POST", &grant, &token, Some(body)).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{answer}");
    }
    let request = Request::post(&grant)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .expect("request");
    let response = server::router(f.state.clone()).oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(json(&String::from_utf8_lossy(&bytes))["code"], "invalid_json");
    let (status, answer) = call(&f, "POST", "/v1/citizen/consents/xyz/grant", &token, None).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_consent_id"))
    );
    let unknown = "00".repeat(16);
    let (status, answer) =
        call(&f, "POST", &format!("/v1/citizen/consents/{unknown}/deny"), &token, None).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_consent")));
    // The request lapses: a grant after its expiry is refused.
    // Past the demo request's fixed expiry (2100-01-01).
    let later = TimestampMs(4_102_444_800_001);
    f.clock.set(later);
    let token = f
        .state
        .accounts
        .login("asha", server::app::demo::DEMO_PASSWORD, later)
        .expect("login again")
        .0;
    let (status, answer) = call(&f, "POST", &grant, &token, None).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("consent_expired")),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_denies_a_request() {
    let f = fixture().await;
    // A requester of the fixture's platform asks Asha for her PAN card.
    let key = SigningKey::from_bytes(&[44; 32]);
    let requester = RequesterId::parse("in.co.testbank").expect("id");
    let registration = Payload::RequesterRegistered(RequesterRegistered {
        requester: requester.clone(),
        name: Label::parse("Test Bank").expect("label"),
        kind: RequesterKind::Bank,
        keys: vec![public_key_entry(&key.verifying_key())],
    });
    crate::routes::platform_append(&f, [21; 16], registration).await;
    let consent = Id16([22; 16]);
    let request = Payload::ConsentRequested(ConsentRequested {
        consent_id: consent,
        requester: requester.clone(),
        locker: f.citizen,
        items: vec![ConsentItem::DocType {
            issuer: IssuerId::parse("in.gov.incometax").expect("id"),
            doc_type: DocTypeCode::parse("PANCR").expect("code"),
        }],
        purpose: Purpose {
            code: PurposeCode::LoanApplication,
            text: Reason::parse("Home loan").expect("reason"),
        },
        expires_at_ms: TimestampMs(NOW_MS + 86_400_000),
    });
    let event = Event {
        id: EventId([23; 16]),
        occurred_at_ms: TimestampMs(NOW_MS),
        actor: Actor::Requester(requester),
        key_id: key_id_of(&key.verifying_key()),
        payload: request,
    };
    let position = f
        .ledger
        .append_one(encode_record(&sign_event(event, &key, None).expect("sign")).expect("encode"))
        .await
        .expect("requested")
        .position();
    f.projector
        .wait_applied(
            &f.ledger.config().citizen_topic,
            position.partition,
            position.offset,
            std::time::Duration::from_secs(5),
        )
        .await
        .expect("applied");
    let token = asha(&f).await;
    let (status, answer) =
        call(&f, "POST", &format!("/v1/citizen/consents/{}/deny", consent.to_hex()), &token, None)
            .await;
    assert_eq!((status, answer["state"].as_str()), (StatusCode::OK, Some("denied")), "{answer}");
    let (_, denied) = call(&f, "GET", "/v1/citizen/consents?state=denied", &token, None).await;
    assert_eq!(denied.as_array().expect("list").len(), 1);
}
