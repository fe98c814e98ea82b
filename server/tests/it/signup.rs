use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use schemas::TimestampMs;
use tokio::sync::mpsc;
use tower::ServiceExt;

use crate::routes::{Fixture, NOW_MS, citizen_records, fixture_with_otp, json};

async fn gateway() -> (String, mpsc::UnboundedReceiver<serde_json::Value>) {
    crate::routes::sms_gateway().await
}

async fn fixture_with_gateway() -> (Fixture, mpsc::UnboundedReceiver<serde_json::Value>) {
    let (url, messages) = gateway().await;
    let sender = server::store::otp::HttpSender::new(&url).expect("gateway url");
    (fixture_with_otp(Arc::new(sender)).await, messages)
}

async fn post(f: &Fixture, path: &str, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    let request = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let response = server::router(f.state.clone()).oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, json(&String::from_utf8_lossy(&bytes)))
}

/// Requests a code and reads it from the gateway.
async fn otp(
    f: &Fixture,
    messages: &mut mpsc::UnboundedReceiver<serde_json::Value>,
    mobile: &str,
) -> String {
    let (status, answer) =
        post(f, "/v1/citizen/signup/otp", serde_json::json!({ "mobile": mobile })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let message = messages.recv().await.expect("an SMS");
    let normalised = schemas::MobileNumber::parse(mobile).expect("mobile");
    assert_eq!(message["mobile"].as_str(), Some(normalised.as_str()));
    let text = message["message"].as_str().expect("message");
    text.split(' ').next().expect("code").to_owned()
}

fn signup(mobile: &str, code: &str, username: &str) -> serde_json::Value {
    serde_json::json!({ "mobile": mobile, "otp": code, "username": username, "password": "correct horse battery" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_signs_up_with_an_otp_and_logs_in() {
    let (f, mut messages) = fixture_with_gateway().await;
    let code = otp(&f, &mut messages, "+91 91234 56780").await;
    assert_eq!(code.len(), 6);
    let (status, answer) =
        post(&f, "/v1/citizen/signup", signup("9123456780", &code, "ravi.s")).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let token = answer["token"].as_str().expect("token").to_owned();
    let locker = answer["locker"].as_str().expect("locker").to_owned();
    assert_eq!(locker.len(), 36);
    // The registration is a platform-signed event; the views show the new locker.
    f.projector.catch_up().await.expect("project");
    let request =
        Request::get("/v1/citizen/profile").header("authorization", format!("Bearer {token}"));
    let response = server::router(f.state.clone())
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let profile = json(&String::from_utf8_lossy(
        &response.into_body().collect().await.expect("body").to_bytes(),
    ));
    assert_eq!(profile["username"], "ravi.s");
    assert_eq!(profile["mobile"], "XXXXXX6780");
    assert_eq!(profile["locker"], locker.as_str());
    // The password works for later logins; the used code does not work twice.
    let (status, _) = post(
        &f,
        "/v1/citizen/login",
        serde_json::json!({ "username": "ravi.s", "password": "correct horse battery" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, again) =
        post(&f, "/v1/citizen/signup", signup("9123456780", &code, "ravi.t")).await;
    assert_eq!(
        (status, again["code"].as_str()),
        (StatusCode::CONFLICT, Some("otp_not_requested")),
        "{again}"
    );
    // Whoever holds the number (a fresh code) is told it has a locker.
    let code = otp(&f, &mut messages, "9123456780").await;
    let (status, again) =
        post(&f, "/v1/citizen/signup", signup("9123456780", &code, "ravi.t")).await;
    assert_eq!(
        (status, again["code"].as_str()),
        (StatusCode::CONFLICT, Some("mobile_registered")),
        "{again}"
    );
}

/// Whether a number has a locker, or a username is taken, is told only after the code:
/// a stranger without it learns neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_reveals_nothing_before_the_code_checks_out() {
    let (f, mut messages) = fixture_with_gateway().await;
    let code = otp(&f, &mut messages, "9123456781").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    // "asha" is the demo citizen's username.
    let (status, answer) =
        post(&f, "/v1/citizen/signup", signup("9123456781", wrong, "asha")).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_otp")));
    // No code asked for this number at all (the demo citizen's): nothing said of its locker.
    let (status, answer) = post(&f, "/v1/citizen/signup", signup("9876543210", wrong, "x.y")).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("otp_not_requested"))
    );
    // With the right code the taken username is named, and the code still works after.
    let (status, answer) =
        post(&f, "/v1/citizen/signup", signup("9123456781", &code, "asha")).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::CONFLICT, Some("username_taken")));
    let (status, answer) =
        post(&f, "/v1/citizen/signup", signup("9123456781", &code, "asha.two")).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

/// Codes are limited per source address too: one caller cannot make the gateway text many
/// numbers (the per-number limit alone let it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_source_cannot_text_many_numbers() {
    let (f, mut messages) = fixture_with_gateway().await;
    let per_source = server::limits::OTP_SENDS_PER_SOURCE_PER_HOUR;
    for n in 0..per_source {
        otp(&f, &mut messages, &format!("90000001{n:02}")).await;
    }
    let (status, answer) =
        post(&f, "/v1/citizen/signup/otp", serde_json::json!({ "mobile": "9000000199" })).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")),
        "{answer}"
    );
    assert!(messages.try_recv().is_err(), "no message past the limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_are_guessed_five_times_at_most_expire_and_are_rate_limited() {
    let (f, mut messages) = fixture_with_gateway().await;
    let before = citizen_records(&f).await;
    let code = otp(&f, &mut messages, "9000000001").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, answer) =
        post(&f, "/v1/citizen/signup", signup("9000000001", wrong, "meera")).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_otp")));
    for _ in 0..4 {
        post(&f, "/v1/citizen/signup", signup("9000000001", wrong, "meera")).await;
    }
    let (status, answer) =
        post(&f, "/v1/citizen/signup", signup("9000000001", &code, "meera")).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("otp_locked")),
        "{answer}"
    );
    // A new code, but it expires.
    let code = otp(&f, &mut messages, "9000000001").await;
    f.clock.set(TimestampMs(NOW_MS + server::limits::OTP_TTL_MS + 1));
    let (status, answer) =
        post(&f, "/v1/citizen/signup", signup("9000000001", &code, "meera")).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("otp_expired")),
        "{answer}"
    );
    // The third code in the window is the last one.
    otp(&f, &mut messages, "9000000001").await;
    let (status, answer) =
        post(&f, "/v1/citizen/signup/otp", serde_json::json!({ "mobile": "9000000001" })).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")),
        "{answer}"
    );
    assert_eq!(citizen_records(&f).await, before, "a refused sign-up wrote to the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sign_ups_get_their_code() {
    let (f, mut messages) = fixture_with_gateway().await;
    let code = otp(&f, &mut messages, "9000000002").await;
    for (body, status, expected) in [
        (signup("12345", &code, "kiran"), StatusCode::BAD_REQUEST, "invalid_mobile"),
        (signup("9000000002", &code, "Kiran!"), StatusCode::BAD_REQUEST, "invalid_username"),
        (
            serde_json::json!({ "mobile": "9000000002", "otp": code, "username": "kiran", "password": "short" }),
            StatusCode::BAD_REQUEST,
            "weak_password",
        ),
        (signup("9000000002", &code, "asha"), StatusCode::CONFLICT, "username_taken"),
        (signup("9000000003", &code, "kiran"), StatusCode::CONFLICT, "otp_not_requested"),
        (serde_json::json!({ "mobile": "9000000002" }), StatusCode::BAD_REQUEST, "invalid_json"),
    ] {
        let (got, answer) = post(&f, "/v1/citizen/signup", body).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(expected)), "{answer}");
    }
    let (status, answer) =
        post(&f, "/v1/citizen/signup/otp", serde_json::json!({ "mobile": "55555" })).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_mobile"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_gateway_is_reported() {
    // A port nothing listens on.
    let closed =
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let sender = server::store::otp::HttpSender::new(&format!("http://{closed}/sms")).expect("url");
    let f = fixture_with_otp(Arc::new(sender)).await;
    let (status, answer) =
        post(&f, "/v1/citizen/signup/otp", serde_json::json!({ "mobile": "9000000004" })).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("otp_delivery_failed")),
        "{answer}"
    );
}
