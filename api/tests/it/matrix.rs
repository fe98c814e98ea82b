//! The authorization matrix: every operation `/openapi.json` lists, called by every kind of
//! caller, with the demo citizen's real identifiers in its path. Each operation has a row that
//! says who may use it; an operation without a row (a new route) fails the test, and so does a
//! row no operation has. A cell passes when a caller who may not use the operation is refused
//! (4xx) and the answer holds nothing of the citizen's (locker id, document URIs, name), and
//! when the one who may use it is not refused for want of credentials.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use ledger::crypto::{key_id_of, public_key_entry};
use schemas::*;
use tower::ServiceExt;

use crate::routes::{Fixture, NOW_MS, fixture, platform_append};

/// Who may use an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Door {
    /// Anyone: public information, log-in and sign-up.
    Public,
    /// The citizen whose session it is, on their own locker only.
    Citizen,
    /// A registered issuer (its signature on the event, or on the request).
    Issuer,
    /// A registered requester (RFC 9421).
    Requester,
    /// The platform (directory events it signed).
    Operator,
    /// Whoever holds the share link.
    ShareLink,
}

/// Every operation and its door. A route added without a row here fails the test.
const MATRIX: &[(&str, &str, Door)] = &[
    ("get", "/healthz", Door::Public),
    ("get", "/metrics", Door::Public),
    ("get", "/v1/stats", Door::Public),
    ("get", "/v1/directory/issuers", Door::Public),
    ("get", "/v1/directory/requesters", Door::Public),
    ("get", "/v1/ledger/checkpoints", Door::Public),
    ("get", "/v1/ledger/consistency", Door::Public),
    ("post", "/v1/ledger/status", Door::Public),
    ("post", "/v1/citizen/login", Door::Public),
    ("post", "/v1/citizen/signup", Door::Public),
    ("post", "/v1/citizen/signup/otp", Door::Public),
    ("post", "/v1/citizen/logout", Door::Citizen),
    ("post", "/v1/citizen/logout-everywhere", Door::Citizen),
    ("post", "/v1/citizen/password", Door::Citizen),
    ("get", "/v1/citizen/session", Door::Citizen),
    ("get", "/v1/citizen/profile", Door::Citizen),
    ("post", "/v1/citizen/aadhaar", Door::Citizen),
    ("post", "/v1/citizen/aadhaar/otp", Door::Citizen),
    ("get", "/v1/citizen/certificates", Door::Citizen),
    ("get", "/v1/citizen/certificates/{uri}/content", Door::Citizen),
    ("get", "/v1/citizen/certificates/{uri}/fields", Door::Citizen),
    ("get", "/v1/citizen/certificates/{uri}/bundle", Door::Citizen),
    ("get", "/v1/citizen/uploads", Door::Citizen),
    ("post", "/v1/citizen/uploads", Door::Citizen),
    ("delete", "/v1/citizen/uploads/{id}", Door::Citizen),
    ("get", "/v1/citizen/uploads/{id}/content", Door::Citizen),
    ("get", "/v1/citizen/uploads/{id}/bundle", Door::Citizen),
    ("get", "/v1/citizen/storage", Door::Citizen),
    ("get", "/v1/citizen/issuers", Door::Citizen),
    ("get", "/v1/citizen/requesters", Door::Citizen),
    ("get", "/v1/citizen/consents", Door::Citizen),
    ("post", "/v1/citizen/consents/{id}/grant", Door::Citizen),
    ("post", "/v1/citizen/consents/{id}/deny", Door::Citizen),
    ("post", "/v1/citizen/consents/{id}/revoke", Door::Citizen),
    ("get", "/v1/citizen/activity", Door::Citizen),
    ("post", "/v1/citizen/esign", Door::Citizen),
    ("get", "/v1/citizen/shares", Door::Citizen),
    ("post", "/v1/citizen/shares", Door::Citizen),
    ("post", "/v1/citizen/shares/{id}/revoke", Door::Citizen),
    ("get", "/v1/shared/{locker}/{share}", Door::ShareLink),
    ("get", "/v1/shared/{locker}/{share}/content", Door::ShareLink),
    ("get", "/v1/shared/{locker}/{share}/bundle", Door::ShareLink),
    ("post", "/v1/issuer/documents", Door::Issuer),
    ("post", "/v1/issuer/batches", Door::Issuer),
    ("post", "/v1/issuer/aadhaar-references", Door::Issuer),
    ("post", "/v1/issuer/aadhaar-reference-batches", Door::Issuer),
    ("get", "/v1/requester/lockers/{username}", Door::Requester),
    ("post", "/v1/requester/consents", Door::Requester),
    ("get", "/v1/requester/consents", Door::Requester),
    ("post", "/v1/requester/documents", Door::Requester),
    ("get", "/v1/requester/events", Door::Requester),
    ("post", "/v1/admin/events", Door::Operator),
];

/// Operations the owner's cells skip: they end the session or spend the things the other
/// cells use.
const OWNERS_OWN: &[&str] = &[
    "/v1/citizen/logout",
    "/v1/citizen/logout-everywhere",
    "/v1/citizen/password",
    "/v1/citizen/uploads/{id}",
    "/v1/citizen/shares/{id}/revoke",
    "/v1/citizen/consents/{id}/grant",
    "/v1/citizen/consents/{id}/deny",
    "/v1/citizen/consents/{id}/revoke",
];

const SESSION_ENDERS: &[&str] =
    &["/v1/citizen/logout", "/v1/citizen/logout-everywhere", "/v1/citizen/password"];

/// The callers. The owner is the demo citizen; everyone else tries the owner's things.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Owner,
    OtherCitizen,
    Issuer,
    OtherIssuer,
    Requester,
}

const CALLERS: [Caller; 6] = [
    Caller::Anonymous,
    Caller::Owner,
    Caller::OtherCitizen,
    Caller::Issuer,
    Caller::OtherIssuer,
    Caller::Requester,
];

struct World {
    owner_token: String,
    other_token: String,
    issuer: (String, SigningKey),
    other_issuer: (String, SigningKey),
    requester: (String, SigningKey),
    /// The owner's identifiers, substituted into paths and looked for in every refusal.
    locker: String,
    uri: String,
    upload: String,
    share: String,
    consent: String,
}

async fn register(f: &Fixture, payload: Payload, seed: u8) {
    platform_append(f, [seed; 16], payload).await;
}

async fn world(f: &Fixture) -> World {
    let owner_token = crate::routes::asha_token(f);
    let other = LockerId::from_random_bytes([5; 16]);
    f.state.accounts.ensure_user("matrix.other", other, "another passphrase").expect("user");
    let (other_token, _) = f
        .state
        .accounts
        .login("matrix.other", "another passphrase", TimestampMs(NOW_MS))
        .expect("login");
    let issuer = |id: &str, seed: u8| {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let payload = Payload::IssuerRegistered(IssuerRegistered {
            issuer: IssuerId::parse(id).expect("id"),
            name: Label::parse("Matrix Board").expect("label"),
            doc_types: vec![DocTypeEntry {
                code: DocTypeCode::parse("HSCER").expect("code"),
                name: Label::parse("Class XII Marksheet").expect("label"),
            }],
            keys: vec![public_key_entry(&key.verifying_key())],
            endpoint: None,
        });
        (format!("{id}:{}", key_id_of(&key.verifying_key())), key, payload)
    };
    let (issuer_keyid, issuer_key, payload) = issuer("in.gov.matrixa", 81);
    register(f, payload, 81).await;
    let (other_keyid, other_key, payload) = issuer("in.gov.matrixb", 82);
    register(f, payload, 82).await;
    let requester_key = SigningKey::from_bytes(&[83; 32]);
    let payload = Payload::RequesterRegistered(RequesterRegistered {
        requester: RequesterId::parse("in.co.matrixbank").expect("id"),
        name: Label::parse("Matrix Bank").expect("label"),
        kind: RequesterKind::Bank,
        keys: vec![public_key_entry(&requester_key.verifying_key())],
    });
    register(f, payload, 83).await;
    let requester_keyid = format!("in.co.matrixbank:{}", key_id_of(&requester_key.verifying_key()));

    // The owner's things: a document (the demo's), an upload, a share link, a consent request.
    let certificates =
        call(f, Caller::Owner, None, "GET", "/v1/citizen/certificates", vec![]).await;
    let uri = certificates.1["items"][0]["uri"].as_str().expect("a certificate").to_owned();
    let pdf = b"%PDF-1.4\n% matrix\n".to_vec();
    let (status, upload, _) =
        call(f, Caller::Owner, None, "POST", "/v1/citizen/uploads?name=m.pdf", pdf).await;
    assert_eq!(status, StatusCode::CREATED, "{upload}");
    let upload = upload["id"].as_str().expect("upload id").to_owned();
    let body = serde_json::json!({ "upload_id": upload, "expires_in_minutes": 60 });
    let (status, share, _) =
        call(f, Caller::Owner, None, "POST", "/v1/citizen/shares", body.to_string().into_bytes())
            .await;
    assert_eq!(status, StatusCode::CREATED, "{share}");
    let share_url = share["url"].as_str().expect("share url").to_owned();
    let share = share_url.rsplit('/').next().expect("share id").to_owned();
    let (_, consents, _) =
        call(f, Caller::Owner, None, "GET", "/v1/citizen/consents", vec![]).await;
    let consent = consents[0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the demo's pending consent: {consents}"))
        .to_owned();
    World {
        owner_token,
        other_token,
        issuer: (issuer_keyid, issuer_key),
        other_issuer: (other_keyid, other_key),
        requester: (requester_keyid, requester_key),
        locker: f.citizen.to_string(),
        uri,
        upload,
        share,
        consent,
    }
}

/// One request as `caller` (a session, or an RFC 9421 signature by the caller's key).
async fn call(
    f: &Fixture,
    caller: Caller,
    world: Option<&World>,
    method: &str,
    path_and_query: &str,
    body: Vec<u8>,
) -> (StatusCode, serde_json::Value, String) {
    let mut request =
        Request::builder().method(method).uri(path_and_query).header("host", "locker.test");
    let signer = |w: &World| match caller {
        Caller::Issuer => Some(w.issuer.clone()),
        Caller::OtherIssuer => Some(w.other_issuer.clone()),
        Caller::Requester => Some(w.requester.clone()),
        _ => None,
    };
    match caller {
        Caller::Anonymous => {}
        Caller::Owner => {
            let token =
                world.map_or_else(|| crate::routes::asha_token(f), |w| w.owner_token.clone());
            request = request.header("authorization", format!("Bearer {token}"));
        }
        Caller::OtherCitizen => {
            let token = world.expect("world").other_token.clone();
            request = request.header("authorization", format!("Bearer {token}"));
        }
        _ => {
            let (keyid, key) = signer(world.expect("world")).expect("a signer");
            let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
            let now_s = ledger::clock::Clock::now(f.clock.as_ref()).0 / 1000;
            let target = api::rfc9421::Target { method, authority: "locker.test", path, query };
            let signed = api::rfc9421::sign_request(&key, &keyid, now_s, target, &body);
            for (name, value) in signed.into_headers() {
                request = request.header(name, value);
            }
        }
    }
    if !body.is_empty() && !path_and_query.contains("uploads") {
        request = request.header("content-type", "application/json");
    }
    let response = api::app(f.state.clone())
        .oneshot(request.body(Body::from(body)).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    // An event stream never ends: its head is the answer.
    if response.headers().get("content-type").is_some_and(|t| t == "text/event-stream") {
        return (status, serde_json::Value::Null, String::new());
    }
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, value, text)
}

fn concrete(template: &str, w: &World, query: &str) -> String {
    let path = template
        .replace("{uri}", &w.uri)
        .replace("{locker}", &w.locker)
        .replace("{share}", &w.share)
        .replace("{username}", "asha");
    let id = if template.contains("/uploads/") {
        &w.upload
    } else if template.contains("/consents/") {
        &w.consent
    } else {
        &w.share
    };
    let path = path.replace("{id}", id);
    if query.is_empty() { path } else { format!("{path}?{query}") }
}

/// A body the operation could take (its shape, not necessarily valid content), so that a
/// refusal comes from the door and not from an empty body.
fn body_for(method: &str, template: &str, w: &World) -> Vec<u8> {
    if method != "post" {
        return vec![];
    }
    let body = match template {
        "/v1/citizen/uploads" => return b"%PDF-1.4\n% another\n".to_vec(),
        "/v1/citizen/password" => {
            serde_json::json!({ "current_password": "x", "new_password": "a long new passphrase" })
        }
        "/v1/citizen/aadhaar/otp" => serde_json::json!({ "aadhaar": "9999 9999 0019" }),
        "/v1/citizen/aadhaar" => serde_json::json!({ "txn": "00", "otp": "000000" }),
        "/v1/citizen/esign" => serde_json::json!({ "uri": w.uri }),
        "/v1/citizen/shares" => serde_json::json!({ "uri": w.uri, "expires_in_minutes": 60 }),
        "/v1/citizen/consents/{id}/grant" => serde_json::json!({ "documents": [w.uri] }),
        "/v1/issuer/aadhaar-references" => serde_json::json!({ "aadhaar": "9999 9999 0019" }),
        "/v1/issuer/aadhaar-reference-batches" => {
            serde_json::json!({ "aadhaar_numbers": ["9999 9999 0019"] })
        }
        "/v1/requester/documents" => serde_json::json!({ "consent_id": w.consent, "uri": w.uri }),
        _ => serde_json::json!({}),
    };
    body.to_string().into_bytes()
}

/// Whether `caller` may pass `door` on `template` (for its own things): a citizen route that
/// names one of the owner's things is the owner's alone; one that names none serves every
/// citizen their own (the leak check sees that nothing of the owner's comes back).
fn admitted(door: Door, caller: Caller, template: &str) -> bool {
    let names_a_thing = template.contains('{');
    match door {
        Door::Public | Door::ShareLink => true,
        Door::Citizen if names_a_thing => caller == Caller::Owner,
        Door::Citizen => matches!(caller, Caller::Owner | Caller::OtherCitizen),
        Door::Issuer => matches!(caller, Caller::Issuer | Caller::OtherIssuer),
        Door::Requester => caller == Caller::Requester,
        Door::Operator => false,
    }
}

/// Codes that say "you are not who may do this".
const DOOR_CODES: &[&str] = &[
    "invalid_token",
    "missing_signature",
    "bad_signature",
    "unknown_key",
    "key_revoked",
    "not_permitted",
    "stale_signature",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_lets_in_only_whom_it_should_and_tells_strangers_nothing() {
    let f = fixture().await;
    let w = world(&f).await;
    let (status, document, _) =
        call(&f, Caller::Anonymous, None, "GET", "/openapi.json", vec![]).await;
    assert_eq!(status, StatusCode::OK);
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            if ["get", "post", "delete", "put", "patch"].contains(&method.as_str()) {
                operations.push((method.clone(), path.clone()));
            }
        }
    }
    for (method, path) in &operations {
        assert!(
            MATRIX.iter().any(|(m, p, _)| m == method && p == path),
            "{method} {path} has no row in the authorization matrix: add one"
        );
    }
    for (method, path, _) in MATRIX {
        assert!(
            operations.iter().any(|(m, p)| m == method && p == path),
            "the matrix names {method} {path}, which /openapi.json does not list"
        );
    }
    let secrets =
        [w.locker.as_str(), w.uri.as_str(), "Asha Kumari", "9876543210", w.upload.as_str()];
    let mut cells = 0;
    let mut leaks = Vec::new();
    let mut wrong = Vec::new();
    for (method, template, door) in MATRIX {
        let query = match *template {
            "/v1/ledger/consistency" => "topic=locker.events&partition=0&first=1&second=2",
            _ => "",
        };
        for caller in CALLERS {
            // What would end the owner's session or spend the owner's things (the cells after
            // need them) is the owner's own, and tested in its own tests.
            if caller == Caller::Owner && OWNERS_OWN.contains(template) {
                continue;
            }
            // Ending the other citizen's own session would refuse them everywhere after.
            if caller == Caller::OtherCitizen && SESSION_ENDERS.contains(template) {
                continue;
            }
            let url = concrete(template, &w, query);
            let body = body_for(method, template, &w);
            // What the caller sent is no leak when it comes back (an error naming the URI asked).
            let sent = format!("{url} {}", String::from_utf8_lossy(&body));
            let (status, answer, text) =
                call(&f, caller, Some(&w), &method.to_uppercase(), &url, body).await;
            cells += 1;
            let code = answer["code"].as_str().unwrap_or_default();
            if *door == Door::Public {
                for secret in secrets {
                    if text.contains(secret) && !sent.contains(secret) {
                        leaks.push(format!("{method} {template} (public) says {secret}: {text}"));
                    }
                }
            }
            if admitted(*door, caller, template) {
                // Let in: whatever the answer, not for want of credentials.
                if DOOR_CODES.contains(&code) && *door != Door::Issuer {
                    wrong.push(format!("{method} {template} refused {caller:?}: {text}"));
                }
                continue;
            }
            // A batch answers each row: let in means a row accepted.
            let let_in = if *template == "/v1/issuer/batches" {
                answer["accepted"].as_u64().unwrap_or(0) > 0
            } else {
                status.is_success()
            };
            if let_in || status.is_server_error() {
                wrong.push(format!("{method} {template} let {caller:?} in: {status} {text}"));
            }
            for secret in secrets {
                if text.contains(secret) && !sent.contains(secret) {
                    leaks.push(format!("{method} {template} to {caller:?} says {secret}: {text}"));
                }
            }
        }
    }
    println!(
        "authorization matrix: {} operations, {cells} cells, {} leaks",
        MATRIX.len(),
        leaks.len()
    );
    assert!(leaks.is_empty(), "leaks:\n{}", leaks.join("\n"));
    assert!(wrong.is_empty(), "wrong doors:\n{}", wrong.join("\n"));
    assert!(cells >= MATRIX.len() * 5, "{cells} cells");
}
