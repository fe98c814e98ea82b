//! The authorization matrix: every operation `/openapi.json` lists, called by every kind of
//! caller (anonymous, the owner, another citizen, two issuers, a requester holding the owner's
//! consent and one holding none, the operator), with the demo citizen's real identifiers in its
//! path. Each operation has a row that says who may use it; an operation without a row (a new
//! route) fails the test, and so does a row no operation has. A cell passes when a caller who
//! may not use the operation is refused (4xx), when one who may is not refused for want of
//! credentials (and, at the doors that take a signed event, has its own event accepted), and
//! when the answer holds nothing of the owner's (locker id, document URIs, name, mobile, upload)
//! unless the caller is entitled to it. At the signed-event doors the others send forgeries: an
//! event in the name of whom they may not be, signed with the key they have.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use ledger::crypto::{key_id_of, public_key_entry, sign_event};
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
    ("post", "/v1/citizen/consents/{id}/pause", Door::Citizen),
    ("post", "/v1/citizen/consents/{id}/resume", Door::Citizen),
    ("get", "/v1/citizen/consents/{id}/artefact", Door::Citizen),
    ("get", "/v1/citizen/activity", Door::Citizen),
    ("get", "/v1/citizen/export", Door::Citizen),
    ("post", "/v1/citizen/close", Door::Citizen),
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
    ("get", "/v1/citizen/certificates/{uri}/qr.svg", Door::Citizen),
    ("get", "/v1/citizen/certificates/{uri}/slip.pdf", Door::Citizen),
    ("get", "/v1/shared/{locker}/{share}/qr.svg", Door::Public),
    ("get", "/v1/proofs/{reference}", Door::Public),
    ("get", "/v1/citizen/pull/doc-types", Door::Citizen),
    ("post", "/v1/citizen/pulls", Door::Citizen),
    ("post", "/v1/issuer/doc-types", Door::Issuer),
    ("post", "/v1/admin/events", Door::Operator),
    ("post", "/v1/admin/snapshots", Door::Operator),
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
    "/v1/citizen/consents/{id}/pause",
    "/v1/citizen/consents/{id}/resume",
    "/v1/citizen/close",
];

const SESSION_ENDERS: &[&str] = &[
    "/v1/citizen/logout",
    "/v1/citizen/logout-everywhere",
    "/v1/citizen/password",
    "/v1/citizen/close",
];

/// The callers. The owner is the demo citizen; everyone else tries the owner's things.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Owner,
    OtherCitizen,
    Issuer,
    OtherIssuer,
    /// A requester the owner granted a consent to.
    Requester,
    /// A registered requester with no consent of the owner's.
    OtherRequester,
    /// Whoever holds the platform key.
    Operator,
}

const CALLERS: [Caller; 8] = [
    Caller::Anonymous,
    Caller::Owner,
    Caller::OtherCitizen,
    Caller::Issuer,
    Caller::OtherIssuer,
    Caller::Requester,
    Caller::OtherRequester,
    Caller::Operator,
];

/// A key registered to nobody: what the anonymous caller and the citizens (whose keys the
/// service keeps) sign with when they try a door that takes a signed event.
const STRAY_KEY: [u8; 32] = [99; 32];

struct World {
    owner_token: String,
    other_token: String,
    issuer: (String, SigningKey),
    other_issuer: (String, SigningKey),
    requester: (String, SigningKey),
    other_requester: (String, SigningKey),
    /// The consent the owner granted `requester`, for `uri`, whose content hash is `hash`.
    granted: Id16,
    hash: Digest32,
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
    let requester = |id: &str, seed: u8| {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let payload = Payload::RequesterRegistered(RequesterRegistered {
            requester: RequesterId::parse(id).expect("id"),
            name: Label::parse("Matrix Bank").expect("label"),
            kind: RequesterKind::Bank,
            keys: vec![public_key_entry(&key.verifying_key())],
        });
        (format!("{id}:{}", key_id_of(&key.verifying_key())), key, payload)
    };
    let (requester_keyid, requester_key, payload) = requester("in.co.matrixbank", 83);
    register(f, payload, 83).await;
    let (other_requester_keyid, other_requester_key, payload) = requester("in.co.matrixbankb", 84);
    register(f, payload, 84).await;

    // The owner's things: a document (the demo's), an upload, a share link, a consent request.
    let certificates =
        call(f, Caller::Owner, None, "GET", "/v1/citizen/certificates", vec![]).await;
    let first = &certificates.1["items"][0];
    let uri = first["uri"].as_str().expect("a certificate").to_owned();
    let hash = Digest32::from_hex(first["content_hash"].as_str().expect("hash")).expect("hash");
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
    // The requester asks for that document and the owner grants it.
    let granted = Id16([77; 16]);
    let asked = Payload::ConsentRequested(ConsentRequested {
        consent_id: granted,
        requester: RequesterId::parse("in.co.matrixbank").expect("id"),
        locker: f.citizen,
        items: vec![ConsentItem::Document(DocUri::parse(&uri).expect("uri"))],
        purpose: Purpose {
            code: PurposeCode::AccountOpening,
            text: Reason::parse("savings account").expect("reason"),
        },
        expires_at_ms: TimestampMs(NOW_MS + 86_400_000),
    });
    let requester = (requester_keyid, requester_key);
    let body = envelope_body(
        &requester.1,
        Actor::Requester(requester_id(Caller::Requester)),
        [77; 16],
        f,
        asked,
    );
    let (status, answer, _) =
        call_as(f, Some(&requester), None, "POST", "/v1/requester/consents", body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let grant = format!("/v1/citizen/consents/{}/grant", hex::encode(granted.0));
    let (status, answer, _) = call(f, Caller::Owner, None, "POST", &grant, vec![]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    World {
        owner_token,
        other_token,
        issuer: (issuer_keyid, issuer_key),
        other_issuer: (other_keyid, other_key),
        requester,
        other_requester: (other_requester_keyid, other_requester_key),
        granted,
        hash,
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
    let token = match caller {
        Caller::Owner => {
            Some(world.map_or_else(|| crate::routes::asha_token(f), |w| w.owner_token.clone()))
        }
        Caller::OtherCitizen => Some(world.expect("world").other_token.clone()),
        _ => None,
    };
    let signer = world.and_then(|w| signer_of(f, w, caller));
    call_as(f, signer.as_ref(), token.as_deref(), method, path_and_query, body).await
}

/// The key and RFC 9421 key id a caller signs requests with, if it has one.
fn signer_of(f: &Fixture, w: &World, caller: Caller) -> Option<(String, SigningKey)> {
    match caller {
        Caller::Issuer => Some(w.issuer.clone()),
        Caller::OtherIssuer => Some(w.other_issuer.clone()),
        Caller::Requester => Some(w.requester.clone()),
        Caller::OtherRequester => Some(w.other_requester.clone()),
        Caller::Operator => Some((
            format!("platform:{}", key_id_of(&f.platform.verifying_key())),
            f.platform.clone(),
        )),
        Caller::Anonymous | Caller::Owner | Caller::OtherCitizen => None,
    }
}

/// One request with a session `token` or signed by `signer`.
async fn call_as(
    f: &Fixture,
    signer: Option<&(String, SigningKey)>,
    token: Option<&str>,
    method: &str,
    path_and_query: &str,
    body: Vec<u8>,
) -> (StatusCode, serde_json::Value, String) {
    let mut request =
        Request::builder().method(method).uri(path_and_query).header("host", "locker.test");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some((keyid, key)) = signer {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let now_s = ledger::clock::Clock::now(f.clock.as_ref()).0 / 1000;
        let target = wire::rfc9421::Target { method, authority: "locker.test", path, query };
        let signed = wire::rfc9421::sign_request(key, keyid, now_s, target, &body);
        for (name, value) in signed.into_headers() {
            request = request.header(name, value);
        }
    }
    if !body.is_empty() && !path_and_query.contains("uploads") {
        request = request.header("content-type", "application/json");
    }
    let response = server::router(f.state.clone())
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

fn requester_id(caller: Caller) -> RequesterId {
    let id =
        if caller == Caller::OtherRequester { "in.co.matrixbankb" } else { "in.co.matrixbank" };
    RequesterId::parse(id).expect("id")
}

fn issuer_id(caller: Caller) -> IssuerId {
    let id = if caller == Caller::OtherIssuer { "in.gov.matrixb" } else { "in.gov.matrixa" };
    IssuerId::parse(id).expect("id")
}

/// `{envelope}`: `payload` as an event by `actor`, signed by `key` at the fixture's time.
fn envelope_body(
    key: &SigningKey,
    actor: Actor,
    id: [u8; 16],
    f: &Fixture,
    payload: Payload,
) -> Vec<u8> {
    let event = Event {
        id: EventId(id),
        occurred_at_ms: ledger::clock::Clock::now(f.clock.as_ref()),
        actor,
        key_id: key_id_of(&key.verifying_key()),
        payload,
    };
    let envelope = sign_event(event, key, None).expect("sign");
    serde_json::json!({ "envelope": envelope }).to_string().into_bytes()
}

/// The signed event a caller would send to a door that takes one: its own, with its own key,
/// when it may use the door; a forgery in the name of whom it may not be, signed with the key
/// it has (or a stray one), when it may not.
fn signed_body(f: &Fixture, w: &World, caller: Caller, template: &str) -> Option<Vec<u8>> {
    let key = signer_of(f, w, caller).map_or_else(|| SigningKey::from_bytes(&STRAY_KEY), |s| s.1);
    let c = caller as u8;
    let uri = DocUri::parse(&w.uri).expect("uri");
    let body = match template {
        "/v1/issuer/documents" => {
            const DOC_IDS: [&str; 8] = ["M-0", "M-1", "M-2", "M-3", "M-4", "M-5", "M-6", "M-7"];
            let push = crate::push::Push { doc_id: DOC_IDS[usize::from(c)], ..Default::default() };
            crate::push::body(f, &(issuer_id(caller), key), &push).into_bytes()
        }
        "/v1/requester/consents" => {
            let payload = Payload::ConsentRequested(ConsentRequested {
                consent_id: Id16([0x10 + c; 16]),
                requester: requester_id(caller),
                locker: f.citizen,
                items: vec![ConsentItem::Document(uri)],
                purpose: Purpose {
                    code: PurposeCode::AccountOpening,
                    text: Reason::parse("savings account").expect("reason"),
                },
                expires_at_ms: TimestampMs(NOW_MS + 86_400_000),
            });
            envelope_body(&key, Actor::Requester(requester_id(caller)), [0x10 + c; 16], f, payload)
        }
        "/v1/requester/documents" => {
            let payload = Payload::DocumentAccessed(DocumentAccessed {
                consent_id: w.granted,
                requester: requester_id(caller),
                locker: f.citizen,
                document: DocRef::Issued(uri),
                content_hash: w.hash,
            });
            envelope_body(&key, Actor::Requester(requester_id(caller)), [0x20 + c; 16], f, payload)
        }
        "/v1/issuer/doc-types" => {
            let payload = Payload::DocTypeDeclared(DocTypeDeclared {
                issuer: issuer_id(caller),
                doc_type: DocTypeCode::parse("HSCER").expect("code"),
                fields: vec![],
                pull: None,
            });
            envelope_body(&key, Actor::Issuer(issuer_id(caller)), [0x40 + c; 16], f, payload)
        }
        "/v1/admin/events" => {
            let payload = Payload::RequesterRegistered(RequesterRegistered {
                requester: RequesterId::parse(&format!("in.co.forged{c}")).expect("id"),
                name: Label::parse("Forged Bank").expect("label"),
                kind: RequesterKind::Bank,
                keys: vec![public_key_entry(&key.verifying_key())],
            });
            envelope_body(&key, Actor::Platform, [0x30 + c; 16], f, payload)
        }
        _ => return None,
    };
    Some(body)
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
fn body_for(f: &Fixture, w: &World, caller: Caller, method: &str, template: &str) -> Vec<u8> {
    if method != "post" {
        return vec![];
    }
    if let Some(body) = signed_body(f, w, caller, template) {
        return body;
    }
    let body = match template {
        "/v1/citizen/uploads" => return b"%PDF-1.4\n% another\n".to_vec(),
        "/v1/citizen/password" => {
            serde_json::json!({ "current_password": "x", "new_password": "a long new passphrase" })
        }
        "/v1/citizen/close" => serde_json::json!({ "password": "not the password" }),
        "/v1/citizen/aadhaar/otp" => serde_json::json!({ "aadhaar": "9999 9999 0019" }),
        "/v1/citizen/aadhaar" => serde_json::json!({ "txn": "00", "otp": "000000" }),
        "/v1/citizen/esign" => serde_json::json!({ "uri": w.uri }),
        "/v1/citizen/pulls" => serde_json::json!({
            "issuer": "in.gov.matrixa", "doc_type": "HSCER", "identifiers": { "roll_no": "1" }
        }),
        "/v1/citizen/shares" => serde_json::json!({ "uri": w.uri, "expires_in_minutes": 60 }),
        "/v1/citizen/consents/{id}/grant" => serde_json::json!({ "documents": [w.uri] }),
        "/v1/issuer/aadhaar-references" => serde_json::json!({ "aadhaar": "9999 9999 0019" }),
        "/v1/issuer/aadhaar-reference-batches" => {
            serde_json::json!({ "aadhaar_numbers": ["9999 9999 0019"] })
        }
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
        // Reading a document under a consent is for the requester it was granted to.
        Door::Requester if template == "/v1/requester/documents" => caller == Caller::Requester,
        Door::Requester => matches!(caller, Caller::Requester | Caller::OtherRequester),
        Door::Operator => caller == Caller::Operator,
    }
}

/// Whether `caller` may see the owner's identifiers in an answer: the owner; the requester
/// holding the owner's consent; any registered requester on the requester routes that name the
/// locker it asked about (finding a locker by username is how a consent request starts).
fn entitled(caller: Caller, template: &str) -> bool {
    match caller {
        Caller::Owner | Caller::Requester => true,
        Caller::OtherRequester => {
            template.starts_with("/v1/requester/") && template != "/v1/requester/documents"
        }
        _ => false,
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

/// Doors that take a signed event: each admitted caller sends a valid one of its own, which
/// must be accepted.
const SIGNED_DOORS: &[&str] = &[
    "/v1/issuer/documents",
    "/v1/issuer/doc-types",
    "/v1/requester/consents",
    "/v1/requester/documents",
    "/v1/admin/events",
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
    // The upload's id last: a share link may show it.
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
            let body = body_for(&f, &w, caller, method, template);
            // What the caller sent is no leak when it comes back (an error naming the URI asked).
            let sent = format!("{url} {}", String::from_utf8_lossy(&body));
            let (status, answer, text) =
                call(&f, caller, Some(&w), &method.to_uppercase(), &url, body).await;
            cells += 1;
            let code = answer["code"].as_str().unwrap_or_default();
            if !entitled(caller, template) {
                // A share link shows the shared upload (its id too) to whoever holds it.
                let secrets = if *door == Door::ShareLink { &secrets[..4] } else { &secrets[..] };
                for secret in secrets {
                    if text.contains(secret) && !sent.contains(secret) {
                        leaks.push(format!(
                            "{method} {template} to {caller:?} says {secret}: {text}"
                        ));
                    }
                }
            }
            if admitted(*door, caller, template) {
                // Let in: whatever the answer, not for want of credentials.
                if DOOR_CODES.contains(&code) {
                    wrong.push(format!("{method} {template} refused {caller:?}: {text}"));
                }
                if SIGNED_DOORS.contains(template) && !status.is_success() {
                    wrong.push(format!("{method} {template} refused {caller:?}'s own: {text}"));
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
        }
    }
    println!(
        "authorization matrix: {} operations, {cells} cells, {} leaks",
        MATRIX.len(),
        leaks.len()
    );
    assert!(leaks.is_empty(), "leaks:\n{}", leaks.join("\n"));
    assert!(wrong.is_empty(), "wrong doors:\n{}", wrong.join("\n"));
    assert!(cells >= MATRIX.len() * 7, "{cells} cells");
}
