use axum::body::Body;
use axum::http::{Request, StatusCode};
use schemas::TimestampMs;

use crate::routes::run as call;
use crate::routes::{Fixture, NOW_MS, fixture};

async fn login(f: &Fixture, password: &str) -> (StatusCode, serde_json::Value) {
    let body = serde_json::json!({ "username": "asha", "password": password }).to_string();
    let request = Request::post("/v1/citizen/login")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    call(f, request).await
}

async fn get(f: &Fixture, path: &str, token: Option<&str>) -> (StatusCode, serde_json::Value) {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    call(f, request.body(Body::empty()).expect("request")).await
}

async fn token(f: &Fixture) -> String {
    let (status, session) = login(f, server::app::demo::DEMO_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    session["token"].as_str().expect("token").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_citizen_sees_her_locker() {
    let f = fixture().await;
    let token = token(&f).await;
    let (status, profile) = get(&f, "/v1/citizen/profile", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["username"], "asha");
    assert_eq!(profile["mobile"], "XXXXXX3210");
    let (_, certificates) = get(&f, "/v1/citizen/certificates?limit=3", Some(&token)).await;
    assert_eq!(certificates["items"].as_array().expect("items").len(), 3);
    let cursor = certificates["next_cursor"].as_str().expect("more").to_owned();
    let (_, rest) =
        get(&f, &format!("/v1/citizen/certificates?limit=3&cursor={cursor}"), Some(&token)).await;
    assert_eq!(rest["items"].as_array().expect("items").len(), 1);
    let first = &certificates["items"][0];
    assert_eq!(first["issuer_name"], "Central Board of Secondary Education");
    assert_eq!(first["holder_name"], "Asha Kumari");
    assert_eq!(first["status"], "active");
    let (_, issuers) = get(&f, "/v1/citizen/issuers", Some(&token)).await;
    assert_eq!(issuers.as_array().expect("issuers").len(), 3);
    let (_, requesters) = get(&f, "/v1/citizen/requesters", Some(&token)).await;
    assert_eq!(requesters[0]["name"], "State Bank of India");
    assert_eq!(
        (requesters[0]["requested"].as_i64(), requesters[0]["accessed"].as_i64()),
        (Some(1), Some(0))
    );
    let (_, pending) = get(&f, "/v1/citizen/consents?state=pending", Some(&token)).await;
    assert_eq!(pending.as_array().expect("consents").len(), 1);
    assert_eq!(pending[0]["purpose"], "Opening a savings account");
    let (_, storage) = get(&f, "/v1/citizen/storage", Some(&token)).await;
    assert_eq!(storage["quota_bytes"], 1 << 30);
    let (status, bad) = get(&f, "/v1/citizen/consents?state=sleeping", Some(&token)).await;
    assert_eq!((status, bad["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_state")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_lock_the_account_for_a_while() {
    let f = fixture().await;
    let (status, answer) = login(&f, "not-the-password").await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );
    for _ in 0..4 {
        login(&f, "still-wrong").await;
    }
    let (status, answer) = login(&f, server::app::demo::DEMO_PASSWORD).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::LOCKED, Some("locked_out")),
        "{answer}"
    );
    f.clock.set(TimestampMs(NOW_MS + server::limits::LOCKOUT_MS + 1));
    let (status, _) = login(&f, server::app::demo::DEMO_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let body = serde_json::json!({ "username": "nobody", "password": "whatever1" }).to_string();
    let request = Request::post("/v1/citizen/login")
        .header("content-type", "application/json")
        .body(Body::from(body));
    let (status, answer) = call(&f, request.expect("request")).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_by_logout_and_by_expiry() {
    let f = fixture().await;
    for (token, why) in
        [(None, "missing"), (Some("short"), "malformed"), (Some(&*"a".repeat(64)), "unknown")]
    {
        let (status, answer) = get(&f, "/v1/citizen/profile", token).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token")),
            "{why}"
        );
    }
    let token = token(&f).await;
    let request =
        Request::post("/v1/citizen/logout").header("authorization", format!("Bearer {token}"));
    let (status, _) = call(&f, request.body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = get(&f, "/v1/citizen/certificates", Some(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a logged-out token still works");
    let token = self::token(&f).await;
    f.clock.set(TimestampMs(NOW_MS + server::limits::SESSION_TTL_MS + 1));
    let (status, _) = get(&f, "/v1/citizen/certificates", Some(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an expired token still works");
}

/// What the OpenAPI document promises about malformed input, held at the door: a cursor is
/// 2 to 1,024 hex digits (400), a well-formed cursor of another list is a 422, a JSON body sent
/// as another type to a route that reads JSON alone is a 415, and JSON's `2.0` is the integer 2, as JSON Schema counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_are_judged_as_the_openapi_document_says() {
    let f = fixture().await;
    let token = token(&f).await;
    let long = "ab".repeat(513);
    for (cursor, status, code) in [
        ("", StatusCode::BAD_REQUEST, "invalid_cursor"),
        (long.as_str(), StatusCode::BAD_REQUEST, "invalid_cursor"),
        ("00", StatusCode::UNPROCESSABLE_ENTITY, "invalid_cursor"),
    ] {
        let path = format!("/v1/citizen/certificates?cursor={cursor}");
        let (got, answer) = get(&f, &path, Some(&token)).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{answer}");
    }

    let share = |content_type: &str, body: &str| {
        Request::post("/v1/citizen/shares")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", content_type)
            .body(Body::from(body.to_owned()))
            .expect("request")
    };
    let body = r#"{"uri": "in.gov.cbse-HSCER-2024-7654321", "expires_in_minutes": 60.0}"#;
    let login_as_text = Request::post("/v1/citizen/login")
        .header("content-type", "text/plain")
        .body(Body::from(r#"{"username": "asha", "password": "x"}"#))
        .expect("request");
    let (status, answer) = call(&f, login_as_text).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_media_type"))
    );
    let (status, answer) = call(&f, share("application/json; charset=utf-8", body)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let fraction = body.replace("60.0", "60.5");
    let (status, answer) = call(&f, share("application/json", &fraction)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_json")));
}
