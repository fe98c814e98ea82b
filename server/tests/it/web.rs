use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::routes::{fixture, json};

/// Sends a request with extra headers; the status, headers and body.
async fn request(
    f: &crate::routes::Fixture,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = server::router(f.state.clone())
        .oneshot(request.body(Body::from(body.to_owned())).expect("request"))
        .await
        .expect("response");
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, headers, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_served_with_a_strict_policy_and_its_assets() {
    let f = fixture().await;
    let (status, headers, page) = request(&f, "GET", "/", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().expect("type").starts_with("text/html"));
    let policy = headers["content-security-policy"].to_str().expect("policy");
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    // WebAssembly compiles (the verifier); JavaScript's eval stays forbidden.
    assert!(policy.contains("'wasm-unsafe-eval'") && !policy.contains("'unsafe-eval'"), "{policy}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let handler = page.split(" on").skip(1).any(|rest| {
        let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    });
    assert!(!page.contains("<script>") && !handler, "no inline script or event handler");
    for asset in ["/web/app.js", "/web/i18n.js", "/web/verify.js", "/web/app.css"] {
        let (status, headers, _) = request(&f, "GET", asset, &[], "").await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert!(headers.contains_key("content-security-policy"), "{asset}");
    }
    // Sent gzipped to a browser that accepts it, and not again to one that has it.
    let (status, headers, plain) = request(&f, "GET", "/web/app.js", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!headers.contains_key("content-encoding"));
    let etag = headers["etag"].to_str().expect("etag").to_owned();
    let zipped = server::router(f.state.clone())
        .oneshot(
            Request::get("/web/app.js")
                .header("accept-encoding", "br, gzip;q=0.8")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "accept-encoding");
    let zipped = zipped.into_body().collect().await.expect("body").to_bytes();
    let mut unzipped = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&zipped[..]), &mut unzipped)
        .expect("gzip");
    assert_eq!(unzipped, plain, "the same script");
    assert!(zipped.len() * 2 < plain.len(), "{} of {} bytes", zipped.len(), plain.len());
    let (status, headers, _) =
        request(&f, "GET", "/web/app.js", &[("accept-encoding", "gzip;q=0")], "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!headers.contains_key("content-encoding"), "gzip refused with q=0");
    let (status, _, body) =
        request(&f, "GET", "/web/app.js", &[("if-none-match", etag.as_str())], "").await;
    assert_eq!((status, body.as_str()), (StatusCode::NOT_MODIFIED, ""));
    // The verifier, built from crate `verifier` by api's build script.
    let (status, headers, wasm) = request(&f, "GET", "/web/verifier.wasm", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/wasm");
    assert!(wasm.starts_with("\0asm"), "a WebAssembly module");
    for export in ["input", "verify", "output", "memory"] {
        assert!(wasm.contains(export), "exports {export}");
    }
    // API answers carry the headers too.
    let (_, headers, _) = request(&f, "GET", "/healthz", &[], "").await;
    assert_eq!(headers["x-frame-options"], "DENY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_session_is_http_only_and_every_change_needs_its_csrf_token() {
    let f = fixture().await;
    let login = r#"{"username":"asha","password":"asha-demo-2024","session":"cookie"}"#;
    let (status, headers, body) =
        request(&f, "POST", "/v1/citizen/login", &[("content-type", "application/json")], login)
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = json(&body);
    assert!(answer.get("token").is_none(), "a cookie session's token never reaches scripts");
    let csrf = answer["csrf_token"].as_str().expect("csrf token").to_owned();
    let cookie = headers["set-cookie"].to_str().expect("cookie").to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP here");
    let session = cookie.split(';').next().expect("name=value").to_owned();

    // Reads with the cookie alone; the page learns its CSRF token again after a reload.
    let (status, _, body) =
        request(&f, "GET", "/v1/citizen/session", &[("cookie", &session)], "").await;
    assert_eq!((status, json(&body)["csrf_token"].as_str()), (StatusCode::OK, Some(csrf.as_str())));
    let (status, _, _) =
        request(&f, "GET", "/v1/citizen/profile", &[("cookie", &session)], "").await;
    assert_eq!(status, StatusCode::OK);

    // A change without the token, or with another session's, is refused and changes nothing.
    for token in [None, Some("0".repeat(32))] {
        let mut headers = vec![("cookie", session.as_str())];
        if let Some(token) = &token {
            headers.push(("x-csrf-token", token));
        }
        let (status, _, body) = request(&f, "POST", "/v1/citizen/logout", &headers, "").await;
        assert_eq!(
            (status, json(&body)["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("csrf_failed"))
        );
    }
    let (status, _, _) =
        request(&f, "GET", "/v1/citizen/session", &[("cookie", &session)], "").await;
    assert_eq!(status, StatusCode::OK, "still logged in");

    // With it: logged out, and the cookie is cleared.
    let (status, headers, _) = request(
        &f,
        "POST",
        "/v1/citizen/logout",
        &[("cookie", &session), ("x-csrf-token", &csrf)],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(headers["set-cookie"].to_str().expect("cookie").contains("Max-Age=0"));
    let (status, _, _) =
        request(&f, "GET", "/v1/citizen/session", &[("cookie", &session)], "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Behind a TLS-terminating proxy the cookie is Secure.
    let (_, headers, _) = request(
        &f,
        "POST",
        "/v1/citizen/login",
        &[("content-type", "application/json"), ("x-forwarded-proto", "https")],
        login,
    )
    .await;
    assert!(headers["set-cookie"].to_str().expect("cookie").ends_with("; Secure"));
    // A bearer-token login is unchanged.
    let (_, _, body) = request(
        &f,
        "POST",
        "/v1/citizen/login",
        &[("content-type", "application/json")],
        r#"{"username":"asha","password":"asha-demo-2024"}"#,
    )
    .await;
    assert_eq!(json(&body)["token"].as_str().map(str::len), Some(64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_documents_results_are_opened_from_the_log_for_its_owner_only() {
    let f = fixture().await;
    let token = crate::routes::asha_token(&f);
    let auth = format!("Bearer {token}");
    let path = "/v1/citizen/certificates/in.gov.cbse-HSCER-2024-7654321/fields";
    let (status, _, body) = request(&f, "GET", path, &[("authorization", &auth)], "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = json(&body);
    assert_eq!(answer["holder_name"], "Asha Kumari");
    assert_eq!(answer["date_of_birth"], "2006-08-15");
    let keys: Vec<&str> = answer["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["key"].as_str())
        .collect();
    assert!(keys.contains(&"Physics") && keys.contains(&"Mathematics"), "{answer}");

    let (status, _, body) = request(&f, "GET", path, &[], "").await;
    assert_eq!(
        (status, json(&body)["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    let other = "/v1/citizen/certificates/in.gov.cbse-HSCER-2024-0000001/fields";
    let (status, _, body) = request(&f, "GET", other, &[("authorization", &auth)], "").await;
    assert_eq!(
        (status, json(&body)["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_document"))
    );
    let bad = "/v1/citizen/certificates/not-a-uri/fields";
    let (status, _, body) = request(&f, "GET", bad, &[("authorization", &auth)], "").await;
    assert_eq!(
        (status, json(&body)["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_uri"))
    );
}

/// A version of a document sent without personal fields says so; it is not an erasure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_without_personal_fields_is_named_as_such() {
    use crate::push::{Push, body, post, register_issuer};
    use schemas::*;
    let f = fixture().await;
    let board = register_issuer(&f, "in.gov.testboard").await;
    let (status, answer) = post(&f, body(&f, &board, &Push::default())).await;
    assert!(status.is_success(), "{answer}");
    let token = crate::routes::asha_token(&f);
    let auth = format!("Bearer {token}");
    let path = "/v1/citizen/certificates/in.gov.testboard-HSCER-2024-55555/fields";
    let (status, _, body) = request(&f, "GET", path, &[("authorization", &auth)], "").await;
    assert_eq!(
        (status, json(&body)["holder_name"].as_str()),
        (StatusCode::OK, Some("Asha Kumari"))
    );

    let uri = DocUri::parse("in.gov.testboard-HSCER-2024-55555").expect("uri");
    let update = crate::push::reevaluated(&f, &board, 40, &uri);
    let (status, answer) = post(&f, update).await;
    assert!(status.is_success(), "{answer}");
    let (status, _, body) = request(&f, "GET", path, &[("authorization", &auth)], "").await;
    assert_eq!(
        (status, json(&body)["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_personal_fields")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_session_cookie_is_refused_as_such() {
    let f = fixture().await;
    let (status, _, body) =
        request(&f, "GET", "/v1/citizen/profile", &[("cookie", "locker_session=abc")], "").await;
    let answer = json(&body);
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    assert!(answer["message"].as_str().expect("message").contains("malformed"), "{answer}");
    let (status, _, _) = request(&f, "GET", "/v1/citizen/profile", &[], "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no session at all");
}
