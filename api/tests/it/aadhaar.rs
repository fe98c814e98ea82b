use axum::body::Body;
use axum::http::{Request, StatusCode};
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use ledger::crypto::{aadhaar_ref, commitment, key_id_of, public_key_entry, sign_event};
use schemas::*;
use tower::ServiceExt;

use crate::routes::{Fixture, NOW_MS, fixture, json};

async fn call(f: &Fixture, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let response = api::app(f.state.clone()).oneshot(request).await.expect("response");
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

fn post(path: &str, token: Option<&str>, body: serde_json::Value) -> Request<Body> {
    let mut request = Request::post(path).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::from(body.to_string())).expect("request")
}

async fn certificate_uris(f: &Fixture, token: &str) -> Vec<String> {
    f.projector.catch_up().await.expect("project");
    let request =
        Request::get("/v1/citizen/certificates").header("authorization", format!("Bearer {token}"));
    let (_, page) = call(f, request.body(Body::empty()).expect("request")).await;
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["uri"].as_str().expect("uri").to_owned())
        .collect()
}

/// An issuer of the fixture's platform pushes a marksheet to an Aadhaar with no locker yet.
async fn push_to_aadhaar(f: &Fixture, aadhaar: &Aadhaar) {
    let key = SigningKey::from_bytes(&[88; 32]);
    let issuer = IssuerId::parse("in.gov.boardx").expect("id");
    let registration = Payload::IssuerRegistered(IssuerRegistered {
        issuer: issuer.clone(),
        name: Label::parse("Board X").expect("label"),
        doc_types: vec![DocTypeEntry {
            code: DocTypeCode::parse("SSCER").expect("code"),
            name: Label::parse("Class X Marksheet").expect("label"),
        }],
        keys: vec![public_key_entry(&key.verifying_key())],
        endpoint: None,
    });
    crate::routes::platform_append(f, [5; 16], registration).await;

    let recipient = aadhaar_ref(&f.state.platform_secret, aadhaar);
    let data = PersonalData::Document(DocumentPersonal {
        holder_name: Label::parse("Asha Kumari").expect("name"),
        date_of_birth: None,
        fields: vec![],
    });
    let salt = [9u8; 32];
    let committed = commitment(&salt, &encode_personal(&data).expect("encode"));
    let event = Event {
        id: ledger::crypto::issue_event_id(
            &DocUri::parse("in.gov.boardx-SSCER-2019-42").expect("uri"),
        ),
        occurred_at_ms: TimestampMs(NOW_MS),
        actor: Actor::Issuer(issuer.clone()),
        key_id: key_id_of(&key.verifying_key()),
        payload: Payload::DocumentIssued(DocumentIssued {
            uri: DocUri::parse("in.gov.boardx-SSCER-2019-42").expect("uri"),
            recipient: Recipient::Aadhaar(recipient),
            name: Label::parse("Class X Marksheet 2019").expect("label"),
            issued_on: CivilDate::from_ymd(2019, 5, 20).expect("date"),
            valid_from: None,
            valid_to: None,
            content: ContentRef {
                hash: Digest32([1; 32]),
                media_type: MediaType::Pdf,
                size_bytes: 999,
            },
            personal: Some(committed),
        }),
    };
    let envelope = sign_event(event, &key, None).expect("sign");
    let salt_hex: String = salt.iter().map(|b| format!("{b:02x}")).collect();
    let body =
        serde_json::json!({ "envelope": envelope, "personal": { "salt": salt_hex, "data": data } });
    let (status, answer) = call(f, post("/v1/issuer/documents", None, body)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_an_aadhaar_brings_the_documents_issued_to_it() {
    let f = fixture().await;
    let aadhaar = Aadhaar::parse("4991 1866 5246").expect("aadhaar");
    push_to_aadhaar(&f, &aadhaar).await;
    let login = serde_json::json!({ "username": "asha", "password": api::demo::DEMO_PASSWORD });
    let (_, session) = call(&f, post("/v1/citizen/login", None, login)).await;
    let token = session["token"].as_str().expect("token").to_owned();
    assert!(
        !certificate_uris(&f, &token).await.contains(&"in.gov.boardx-SSCER-2019-42".to_owned())
    );

    let (status, answer) = call(
        &f,
        post(
            "/v1/citizen/aadhaar",
            Some(&token),
            serde_json::json!({ "aadhaar": "4991 1866 5247" }),
        ),
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_aadhaar")),
        "{answer}"
    );
    let (status, answer) = call(
        &f,
        post(
            "/v1/citizen/aadhaar",
            Some(&token),
            serde_json::json!({ "aadhaar": "4991 1866 5246" }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["aadhaar_last4"], "5246");
    assert!(certificate_uris(&f, &token).await.contains(&"in.gov.boardx-SSCER-2019-42".to_owned()));

    let request =
        Request::get("/v1/citizen/profile").header("authorization", format!("Bearer {token}"));
    let (_, profile) = call(&f, request.body(Body::empty()).expect("request")).await;
    assert_eq!(
        (profile["aadhaar_linked"].as_bool(), profile["aadhaar_last4"].as_str()),
        (Some(true), Some("5246"))
    );
    let (status, answer) = call(
        &f,
        post(
            "/v1/citizen/aadhaar",
            Some(&token),
            serde_json::json!({ "aadhaar": "4991 1866 5246" }),
        ),
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("aadhaar_already_linked")),
        "{answer}"
    );
    let (status, answer) = call(
        &f,
        post("/v1/citizen/aadhaar", None, serde_json::json!({ "aadhaar": "4991 1866 5246" })),
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_aadhaar_belongs_to_one_locker() {
    let f = fixture().await;
    let login = serde_json::json!({ "username": "asha", "password": api::demo::DEMO_PASSWORD });
    let (_, session) = call(&f, post("/v1/citizen/login", None, login)).await;
    let asha = session["token"].as_str().expect("token").to_owned();
    let (status, _) = call(
        &f,
        post("/v1/citizen/aadhaar", Some(&asha), serde_json::json!({ "aadhaar": "499118665246" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // A second citizen claims the same number (in another spelling).
    let locker = LockerId::from_random_bytes([3; 16]);
    f.state.accounts.ensure_user("other.citizen", locker, "another passphrase").expect("user");
    let (token, _) = f
        .state
        .accounts
        .login("other.citizen", "another passphrase", TimestampMs(NOW_MS))
        .expect("login");
    let (status, answer) = call(
        &f,
        post(
            "/v1/citizen/aadhaar",
            Some(&token),
            serde_json::json!({ "aadhaar": "4991-1866-5246" }),
        ),
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("aadhaar_in_use")),
        "{answer}"
    );
}

/// Two links racing for one locker, with different numbers (the attack that once froze a
/// whole partition): one is linked, the other refused, and every partition keeps applying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_links_of_two_numbers_link_one_and_halt_nothing() {
    let f = fixture().await;
    let login = serde_json::json!({ "username": "asha", "password": api::demo::DEMO_PASSWORD });
    let (_, session) = call(&f, post("/v1/citizen/login", None, login)).await;
    let token = session["token"].as_str().expect("token").to_owned();
    // Views that trail the log by up to 200 ms, as a loaded server's do: the fixture's
    // follower stops, and a slow one takes its place.
    f._follower.send(true).expect("stop the follower");
    let slow = {
        let projector = f.projector.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                let _ = projector.catch_up().await;
            }
        })
    };
    for round in 0..3 {
        let numbers = ["4991 1866 5246", "9999 9999 0019"];
        let calls = numbers.map(|number| {
            let f = &f;
            let token = token.clone();
            async move {
                let body = serde_json::json!({ "aadhaar": number });
                call(f, post("/v1/citizen/aadhaar", Some(&token), body)).await
            }
        });
        let [a, b] = calls;
        let (a, b) = tokio::join!(a, b);
        let mut statuses = [a.0, b.0];
        statuses.sort();
        let expected = if round == 0 {
            [StatusCode::CREATED, StatusCode::CONFLICT]
        } else {
            [StatusCode::CONFLICT, StatusCode::CONFLICT]
        };
        assert_eq!(statuses, expected, "round {round}: {} / {}", a.1, b.1);
    }
    slow.abort();
    f.projector.catch_up().await.expect("no partition halts");
    let health = f.projector.status().await.expect("status");
    assert!(health.iter().all(|p| p.halt.is_none()), "{health:?}");
    assert_eq!(f.state.views.anomalies().expect("anomalies"), 0);
}
