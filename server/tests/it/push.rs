use axum::body::Body;
use axum::http::{Request, StatusCode};
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use ledger::Log;
use ledger::crypto::{commitment, key_id_of, public_key_entry, sign_event};
use schemas::*;
use tower::ServiceExt;

use crate::routes::{Fixture, NOW_MS, citizen_records, fixture, json};

pub(crate) async fn post(f: &Fixture, body: String) -> (StatusCode, serde_json::Value) {
    post_to(f, "/v1/issuer/documents", body).await
}

/// A JSON body POSTed to `path` through the router: the status and the JSON answer.
pub(crate) async fn post_to(
    f: &Fixture,
    path: &str,
    body: String,
) -> (StatusCode, serde_json::Value) {
    let request = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    let response = server::router(f.state.clone()).oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, json(&String::from_utf8_lossy(&bytes)))
}

/// A test issuer registered by the fixture's platform.
pub(crate) async fn register_issuer(f: &Fixture, id: &str) -> (IssuerId, SigningKey) {
    let key = SigningKey::from_bytes(&[77; 32]);
    let issuer = IssuerId::parse(id).expect("id");
    let payload = Payload::IssuerRegistered(IssuerRegistered {
        issuer: issuer.clone(),
        name: Label::parse("Board of Test Examinations").expect("label"),
        doc_types: vec![DocTypeEntry {
            code: DocTypeCode::parse("HSCER").expect("code"),
            name: Label::parse("Class XII Marksheet").expect("label"),
        }],
        keys: vec![public_key_entry(&key.verifying_key())],
        endpoint: None,
    });
    crate::routes::platform_append(f, [1; 16], payload).await;
    (issuer, key)
}

pub(crate) struct Push {
    pub(crate) at_ms: i64,
    pub(crate) doc_id: &'static str,
    pub(crate) salt: [u8; 32],
    pub(crate) sent_name: &'static str,
    /// Bytes sent with the event; `signed_content` is what the event claims (defaults to them).
    pub(crate) content: Option<Vec<u8>>,
    pub(crate) signed_content: Option<Vec<u8>>,
    /// Whom the document is for; the fixture's citizen unless set.
    pub(crate) recipient: Option<Recipient>,
}

impl Default for Push {
    fn default() -> Self {
        Push {
            at_ms: NOW_MS,
            doc_id: "2024-55555",
            salt: [3; 32],
            sent_name: "Asha Kumari",
            content: None,
            signed_content: None,
            recipient: None,
        }
    }
}

/// The JSON an issuer sends: the signed event and the personal fields it commits to.
pub(crate) fn body(f: &Fixture, issuer: &(IssuerId, SigningKey), push: &Push) -> String {
    let signed_data = PersonalData::Document(DocumentPersonal {
        holder_name: Label::parse("Asha Kumari").expect("name"),
        date_of_birth: None,
        fields: vec![DocumentField {
            key: FieldKey::parse("Physics").expect("key"),
            value: FieldValue::parse("91").expect("value"),
        }],
    });
    let committed = commitment(&push.salt, &encode_personal(&signed_data).expect("encode"));
    let uri = DocUri::new(
        issuer.0.clone(),
        DocTypeCode::parse("HSCER").expect("code"),
        DocId::parse(push.doc_id).expect("id"),
    );
    let event = Event {
        id: ledger::crypto::issue_event_id(&uri),
        occurred_at_ms: TimestampMs(push.at_ms),
        actor: Actor::Issuer(issuer.0.clone()),
        key_id: key_id_of(&issuer.1.verifying_key()),
        payload: Payload::DocumentIssued(DocumentIssued {
            uri,
            recipient: push.recipient.clone().unwrap_or(Recipient::Locker(f.citizen)),
            name: Label::parse("Class XII Marksheet").expect("label"),
            issued_on: CivilDate::from_ymd(2024, 5, 13).expect("date"),
            valid_from: None,
            valid_to: None,
            content: match push.signed_content.as_ref().or(push.content.as_ref()) {
                Some(bytes) => ContentRef {
                    hash: Digest32(*blake3::hash(bytes).as_bytes()),
                    media_type: MediaType::Pdf,
                    size_bytes: bytes.len() as u64,
                },
                None => ContentRef {
                    hash: Digest32([4; 32]),
                    media_type: MediaType::Pdf,
                    size_bytes: 1234,
                },
            },
            personal: Some(committed),
        }),
    };
    let envelope = sign_event(event, &issuer.1, None).expect("sign");
    let mut sent_data = serde_json::to_value(&signed_data).expect("json");
    sent_data["document"]["holder_name"] = serde_json::json!(push.sent_name);
    let mut body = serde_json::json!({
        "envelope": envelope,
        "personal": { "salt": hex(&push.salt), "data": sent_data },
    });
    if let Some(content) = &push.content {
        use base64::Engine;
        body["content"] = base64::engine::general_purpose::STANDARD.encode(content).into();
    }
    body.to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_pushes_a_document_and_the_citizen_has_it_once() {
    let f = fixture().await;
    let issuer = register_issuer(&f, "in.gov.testboard").await;
    let (status, answer) = post(&f, body(&f, &issuer, &Push::default())).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["status"], "accepted");
    // A retry of the same push is answered, not written again.
    let before = citizen_records(&f).await;
    let (status, again) = post(&f, body(&f, &issuer, &Push::default())).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["status"], "already_present");
    assert_eq!(again["offset"], answer["offset"]);
    assert_eq!(citizen_records(&f).await, before);
    // The document is in the citizen's locker, with the holder's name unsealed for her.
    f.projector.catch_up().await.expect("project");
    let page =
        f.projector.views().certificates(&f.citizen, TimestampMs(NOW_MS), None, 50).expect("certs");
    let pushed = page
        .items
        .iter()
        .find(|c| c.doc.uri == "in.gov.testboard-HSCER-2024-55555")
        .expect("pushed doc");
    assert_eq!(pushed.doc.holder_name(f.state.vault.as_ref()).as_deref(), Some("Asha Kumari"));
    // And the log does not hold the name in the clear.
    let topic = f.ledger.config().citizen_topic.clone();
    let partition = u32::try_from(answer["partition"].as_u64().expect("partition")).expect("u32");
    let offset = answer["offset"].as_u64().expect("offset");
    let stored = f.ledger.log().read(&topic, partition, offset, 1).await.expect("read");
    assert!(!String::from_utf8_lossy(&stored[0].value).contains("Asha Kumari"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_pushes_get_their_code_and_write_nothing() {
    let f = fixture().await;
    let issuer = register_issuer(&f, "in.gov.testboard").await;
    let stranger = (issuer.0.clone(), SigningKey::from_bytes(&[99; 32]));
    let before = citizen_records(&f).await;

    let mut forged: serde_json::Value =
        serde_json::from_str(&body(&f, &issuer, &Push::default())).expect("json");
    forged["envelope"]["event"]["payload"]["document_issued"]["name"] =
        serde_json::json!("Forged Degree");
    let stale = Push { at_ms: NOW_MS - 10 * 60 * 1000, ..Push::default() };
    let mismatched = Push { sent_name: "Someone Else", ..Push::default() };
    let mut with_unknown_field: serde_json::Value =
        serde_json::from_str(&body(&f, &issuer, &Push::default())).expect("json");
    with_unknown_field["extra"] = serde_json::json!(1);
    let mut bad_uri: serde_json::Value =
        serde_json::from_str(&body(&f, &issuer, &Push::default())).expect("json");
    bad_uri["envelope"]["event"]["payload"]["document_issued"]["uri"] =
        serde_json::json!("not-a-uri");
    let cases: Vec<(String, StatusCode, &str)> = vec![
        (forged.to_string(), StatusCode::UNAUTHORIZED, "bad_signature"),
        (body(&f, &stranger, &Push::default()), StatusCode::UNAUTHORIZED, "unknown_key"),
        (body(&f, &issuer, &stale), StatusCode::UNPROCESSABLE_ENTITY, "stale_event"),
        (body(&f, &issuer, &mismatched), StatusCode::UNPROCESSABLE_ENTITY, "commitment_mismatch"),
        ("{not json".to_owned(), StatusCode::BAD_REQUEST, "invalid_json"),
        (with_unknown_field.to_string(), StatusCode::BAD_REQUEST, "invalid_json"),
        (bad_uri.to_string(), StatusCode::BAD_REQUEST, "invalid_json"),
        (
            "x".repeat(server::limits::PUSH_BODY_BYTES_MAX + 1),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (body, status, code) in cases {
        let (got, answer) = post(&f, body).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    }
    // An issuer pushing another issuer's URI is not permitted.
    let cbse = IssuerId::parse("in.gov.cbse").expect("id");
    let mut foreign: serde_json::Value =
        serde_json::from_str(&body(&f, &issuer, &Push::default())).expect("json");
    let uri = DocUri::new(
        cbse,
        DocTypeCode::parse("HSCER").expect("code"),
        DocId::parse("X-1").expect("id"),
    );
    foreign["envelope"]["event"]["payload"]["document_issued"]["uri"] =
        serde_json::json!(uri.to_string());
    let mut envelope: Envelope =
        serde_json::from_value(foreign["envelope"].clone()).expect("envelope");
    envelope.event.id = ledger::crypto::issue_event_id(&uri);
    envelope = sign_event(envelope.event, &issuer.1, None).expect("re-sign");
    foreign["envelope"] = serde_json::to_value(&envelope).expect("json");
    let (status, answer) = post(&f, foreign.to_string()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_permitted")),
        "{answer}"
    );
    // The window follows the injected clock: six minutes later, the same push is stale.
    f.clock.set(TimestampMs(NOW_MS + 6 * 60 * 1000));
    let (status, answer) = post(&f, body(&f, &issuer, &Push::default())).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("stale_event")),
        "{answer}"
    );
    assert_eq!(citizen_records(&f).await, before, "a refused push wrote to the log");
}

/// A pushed event without personal fields (updates and revocations here).
pub(crate) fn plain(issuer: &(IssuerId, SigningKey), id: u8, payload: Payload) -> String {
    let event = Event {
        id: EventId([id; 16]),
        occurred_at_ms: TimestampMs(NOW_MS),
        actor: Actor::Issuer(issuer.0.clone()),
        key_id: key_id_of(&issuer.1.verifying_key()),
        payload,
    };
    serde_json::json!({ "envelope": sign_event(event, &issuer.1, None).expect("sign") }).to_string()
}

/// An update of the citizen's marksheet `uri` (re-evaluated: new name and content).
pub(crate) fn reevaluated(
    f: &Fixture,
    issuer: &(IssuerId, SigningKey),
    id: u8,
    uri: &DocUri,
) -> String {
    plain(
        issuer,
        id,
        Payload::DocumentUpdated(DocumentUpdated {
            uri: uri.clone(),
            recipient: Recipient::Locker(f.citizen),
            name: Label::parse("Class XII Marksheet (re-evaluated)").expect("label"),
            valid_from: None,
            valid_to: None,
            content: ContentRef {
                hash: Digest32([5; 32]),
                media_type: MediaType::Pdf,
                size_bytes: 1300,
            },
            personal: None,
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_state_is_checked_so_no_push_can_stop_the_views() {
    let f = fixture().await;
    let issuer = register_issuer(&f, "in.gov.testboard").await;
    let uri = DocUri::parse("in.gov.testboard-HSCER-2024-55555").expect("uri");
    let update = |id: u8, uri: &DocUri| reevaluated(&f, &issuer, id, uri);
    // Updating a document that was never issued.
    let (status, answer) = post(&f, update(30, &uri)).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_document")),
        "{answer}"
    );
    // An issuance must carry the id derived from its URI.
    let mut own_id: serde_json::Value =
        serde_json::from_str(&body(&f, &issuer, &Push::default())).expect("json");
    let mut envelope: Envelope =
        serde_json::from_value(own_id["envelope"].clone()).expect("envelope");
    envelope.event.id = EventId([31; 16]);
    own_id["envelope"] =
        serde_json::to_value(sign_event(envelope.event, &issuer.1, None).expect("sign"))
            .expect("json");
    let (status, answer) = post(&f, own_id.to_string()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_event_id")),
        "{answer}"
    );
    // Issue it; issuing the same URI again, to this locker or any other recipient, is refused.
    let (status, _) = post(&f, body(&f, &issuer, &Push::default())).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, answer) =
        post(&f, body(&f, &issuer, &Push { at_ms: NOW_MS + 1, ..Push::default() })).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("uri_exists")),
        "{answer}"
    );
    let mut elsewhere: serde_json::Value =
        serde_json::from_str(&body(&f, &issuer, &Push { at_ms: NOW_MS + 2, ..Push::default() }))
            .expect("json");
    let aadhaar =
        ledger::crypto::aadhaar_ref(&[5; 32], &Aadhaar::parse("4991 1866 5246").expect("aadhaar"));
    elsewhere["envelope"]["event"]["payload"]["document_issued"]["recipient"] =
        serde_json::json!({ "aadhaar": aadhaar });
    let envelope: Envelope =
        serde_json::from_value(elsewhere["envelope"].clone()).expect("envelope");
    elsewhere["envelope"] =
        serde_json::to_value(sign_event(envelope.event, &issuer.1, None).expect("sign"))
            .expect("json");
    let before = citizen_records(&f).await;
    let (status, answer) = post(&f, elsewhere.to_string()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("uri_exists")),
        "the same URI for another recipient: {answer}"
    );
    assert_eq!(citizen_records(&f).await, before);
    // Update, revoke, and an update after the revocation.
    let (status, answer) = post(&f, update(32, &uri)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let revoke = plain(
        &issuer,
        33,
        Payload::DocumentRevoked(DocumentRevoked {
            uri: uri.clone(),
            recipient: Recipient::Locker(f.citizen),
            reason: RevocationReason::IssuedInError,
            detail: None,
        }),
    );
    let (status, answer) = post(&f, revoke).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, answer) = post(&f, update(34, &uri)).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("document_revoked")),
        "{answer}"
    );
    // A push to a locker that does not exist.
    let mut unknown: serde_json::Value =
        serde_json::from_str(&body(&f, &issuer, &Push { doc_id: "2024-7", ..Push::default() }))
            .expect("json");
    unknown["envelope"]["event"]["payload"]["document_issued"]["recipient"]["locker"] =
        serde_json::json!(LockerId::from_random_bytes([8; 16]).to_string());
    let envelope: Envelope = serde_json::from_value(unknown["envelope"].clone()).expect("envelope");
    unknown["envelope"] =
        serde_json::to_value(sign_event(envelope.event, &issuer.1, None).expect("sign"))
            .expect("json");
    let (status, answer) = post(&f, unknown.to_string()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_locker")),
        "{answer}"
    );
    // The views applied everything and stopped nowhere.
    let page =
        f.projector.views().certificates(&f.citizen, TimestampMs(NOW_MS), None, 50).expect("certs");
    let doc = page.items.iter().find(|c| c.doc.uri == uri.to_string()).expect("the document");
    assert_eq!(doc.status, projections::CertificateStatus::Revoked);
    assert!(f.projector.views().halts().expect("halts").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_content_is_checked_stored_and_downloadable() {
    let f = fixture().await;
    let issuer = register_issuer(&f, "in.gov.testboard").await;
    let pdf = b"%PDF-1.7\nmarksheet of Asha".to_vec();
    let before = citizen_records(&f).await;
    for (push, status, code) in [
        (
            Push {
                content: Some(pdf.clone()),
                signed_content: Some(b"%PDF-1.7 other".to_vec()),
                ..Push::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "hash_mismatch",
        ),
        (
            Push { content: Some(b"\x89PNG\r\n\x1a\n0000".to_vec()), ..Push::default() },
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_filetype",
        ),
    ] {
        let (got, answer) = post(&f, body(&f, &issuer, &push)).await;
        assert_eq!(got, status, "{answer}");
        assert_eq!(answer["code"], code, "{answer}");
    }
    let mut bad = serde_json::from_str::<serde_json::Value>(&body(&f, &issuer, &Push::default()))
        .expect("json");
    bad["content"] = "***not base64***".into();
    let (got, answer) = post(&f, bad.to_string()).await;
    assert_eq!((got, answer["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_content")));
    assert_eq!(citizen_records(&f).await, before, "refused pushes write nothing");

    let (status, answer) =
        post(&f, body(&f, &issuer, &Push { content: Some(pdf.clone()), ..Push::default() })).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let token = crate::routes::asha_token(&f);
    let path = "/v1/citizen/certificates/in.gov.testboard-HSCER-2024-55555/content";
    let (status, headers, bytes) =
        crate::routes::send(&f.state, "GET", path, Some(&token), vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(bytes, pdf);
    // A document registered by hash only has no bytes to download.
    let (status, _) =
        post(&f, body(&f, &issuer, &Push { doc_id: "2024-66666", ..Push::default() })).await;
    assert_eq!(status, StatusCode::CREATED);
    let path = "/v1/citizen/certificates/in.gov.testboard-HSCER-2024-66666/content";
    let (status, _, bytes) = crate::routes::send(&f.state, "GET", path, Some(&token), vec![]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json(&String::from_utf8_lossy(&bytes))["code"], "content_not_stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_certificates_revalidates_by_etag_and_changes_with_the_log_and_the_date() {
    let f = fixture().await;
    let issuer = register_issuer(&f, "in.gov.testboard").await;
    let token = crate::routes::asha_token(&f);
    let fetch = |etag: Option<String>| {
        let request = Request::get("/v1/citizen/certificates")
            .header("authorization", format!("Bearer {token}"));
        let request = match etag {
            Some(etag) => request.header("if-none-match", etag),
            None => request,
        };
        let state = f.state.clone();
        async move {
            let response = server::router(state)
                .oneshot(request.body(Body::empty()).expect("request"))
                .await
                .expect("response");
            let status = response.status();
            let etag =
                response.headers().get("etag").map(|v| v.to_str().expect("ascii").to_owned());
            let bytes = response.into_body().collect().await.expect("body").to_bytes();
            (status, etag, bytes)
        }
    };
    let (status, first_etag, body) = fetch(None).await;
    assert_eq!(status, StatusCode::OK);
    let first = json(&String::from_utf8_lossy(&body));
    assert_eq!(first["items"].as_array().expect("items").len(), 4);
    let first_etag = first_etag.expect("an ETag");
    let (status, _, body) = fetch(Some(first_etag.clone())).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    // A document arrives: the same ETag no longer matches, and the page has it.
    let (status, _) = post(&f, body_of(&f, &issuer)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, second_etag, body) = fetch(Some(first_etag.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(second_etag.as_deref(), Some(first_etag.as_str()));
    assert_eq!(json(&String::from_utf8_lossy(&body))["items"].as_array().expect("items").len(), 5);
    // Twenty years on, the driving licence shows as expired though the log did not move.
    let later = TimestampMs(NOW_MS + 21 * 365 * 86_400_000);
    f.clock.set(later);
    let (token, _) =
        f.state.accounts.login("asha", server::app::demo::DEMO_PASSWORD, later).expect("login");
    let request = Request::get("/v1/citizen/certificates")
        .header("authorization", format!("Bearer {token}"))
        .header("if-none-match", second_etag.expect("etag"))
        .body(Body::empty())
        .expect("request");
    let response = server::router(f.state.clone()).oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK, "a new day is a new page");
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let page = json(&String::from_utf8_lossy(&bytes));
    let licence = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["doc_type"] == "DRVLC")
        .cloned()
        .expect("licence");
    assert_eq!(licence["status"], "expired");
}

fn body_of(f: &Fixture, issuer: &(IssuerId, SigningKey)) -> String {
    body(f, issuer, &Push::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuers_get_aadhaar_references_only_when_signed() {
    let f = fixture().await;
    let issuer = register_issuer(&f, "in.gov.testboard").await;
    let ask = |key: &SigningKey, keyid: String, body: &str| {
        let path = "/v1/issuer/aadhaar-references";
        answer(&f, signed_post(&f, key, &keyid, path, body.as_bytes().to_vec()))
    };
    let keyid = format!("{}:{}", issuer.0, key_id_of(&issuer.1.verifying_key()));
    let (status, answer) = ask(&issuer.1, keyid.clone(), r#"{"aadhaar":"4991 1866 5246"}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let expected = ledger::crypto::aadhaar_ref(
        &f.state.platform_secret,
        &Aadhaar::parse("499118665246").expect("aadhaar"),
    );
    assert_eq!(answer["keyed_hash"], expected.keyed_hash.to_hex());
    assert_eq!(answer["last4"], "5246");
    let (status, answer) = ask(&issuer.1, keyid.clone(), r#"{"aadhaar":"4991 1866 5247"}"#).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_aadhaar"))
    );
    let stranger = SigningKey::from_bytes(&[1; 32]);
    let stranger_id = format!("in.gov.nobody:{}", key_id_of(&stranger.verifying_key()));
    let (status, answer) = ask(&stranger, stranger_id, r#"{"aadhaar":"4991 1866 5246"}"#).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown_key")));
    let request = Request::post("/v1/issuer/aadhaar-references")
        .body(Body::from(r#"{"aadhaar":"4991 1866 5246"}"#))
        .expect("request");
    let response = server::router(f.state.clone()).oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

/// A POST of `body` to `path` signed as `keyid` (RFC 9421, created now on the fixture's clock).
fn signed_post(
    f: &Fixture,
    key: &SigningKey,
    keyid: &str,
    path: &str,
    body: Vec<u8>,
) -> Request<Body> {
    let target =
        wire::rfc9421::Target { method: "POST", authority: "locker.test", path, query: "" };
    let signed = wire::rfc9421::sign_request(key, keyid, created_s(f), target, &body);
    let mut request = Request::post(path).header("host", "locker.test");
    for (name, value) in signed.into_headers() {
        request = request.header(name, value);
    }
    request.body(Body::from(body)).expect("request")
}

async fn answer(f: &Fixture, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let response = server::router(f.state.clone()).oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, json(&String::from_utf8_lossy(&bytes)))
}

/// Now on the fixture's clock, in seconds (a signature's `created`).
fn created_s(f: &crate::routes::Fixture) -> i64 {
    ledger::clock::Clock::now(f.clock.as_ref()).0 / 1000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aadhaar_references_come_in_batches_each_number_with_its_answer() {
    let f = fixture().await;
    let issuer = register_issuer(&f, "in.gov.testboard").await;
    let keyid = format!("{}:{}", issuer.0, key_id_of(&issuer.1.verifying_key()));
    let ask = |body: String, key: &SigningKey| {
        let path = "/v1/issuer/aadhaar-reference-batches";
        answer(&f, signed_post(&f, key, &keyid, path, body.into_bytes()))
    };
    let numbers =
        serde_json::json!({ "aadhaar_numbers": ["4991 1866 5246", "4991 1866 5247", "12"] });
    let (status, answer) = ask(numbers.to_string(), &issuer.1).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let expected = ledger::crypto::aadhaar_ref(
        &f.state.platform_secret,
        &Aadhaar::parse("499118665246").expect("aadhaar"),
    );
    assert_eq!(answer["references"][0]["keyed_hash"], expected.keyed_hash.to_hex());
    assert_eq!(answer["references"][0]["last4"], "5246");
    assert!(answer["references"][1]["error"].as_str().is_some_and(|e| e.contains("Verhoeff")));
    assert!(answer["references"][2]["error"].is_string());
    assert!(answer["references"][1]["keyed_hash"].is_null());

    let too_many = vec!["4991 1866 5246"; server::limits::AADHAAR_BATCH_MAX + 1];
    let (status, answer) =
        ask(serde_json::json!({ "aadhaar_numbers": too_many }).to_string(), &issuer.1).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("batch_too_large"))
    );
    let stranger = SigningKey::from_bytes(&[1; 32]);
    let (status, answer) = ask(numbers.to_string(), &stranger).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    // The fixture's issuer may ask for 5,000 references an hour: 3 asked above, then two
    // full batches, and the third is refused until the bucket refills.
    let full = serde_json::json!({ "aadhaar_numbers": vec!["4991 1866 5246"; 2_000] }).to_string();
    for _ in 0..2 {
        let (status, answer) = ask(full.clone(), &issuer.1).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let (status, answer) = ask(full.clone(), &issuer.1).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    assert!(
        answer["message"].as_str().is_some_and(|m| m.contains("5000 Aadhaar references an hour")),
        "{answer}"
    );
    // An hour later (the injected clock), the quota is back.
    f.clock.set(TimestampMs(NOW_MS + 3_600_000));
    let (status, answer) = ask(full, &issuer.1).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Everything a push could leave behind: the stored files (path and bytes), the names of the
/// vault's keys, and the citizen topic's records.
async fn footprint(f: &Fixture) -> (Vec<(std::path::PathBuf, Vec<u8>)>, Vec<Vec<u8>>, u64) {
    fn walk(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push((path.clone(), std::fs::read(&path).expect("read")));
            }
        }
    }
    let mut files = Vec::new();
    walk(&f._dir.path().join("files"), &mut files);
    files.sort();
    (files, f.state.vault.names().expect("vault"), citizen_records(f).await)
}

/// The body as an issuer would send it, with the envelope's key id replaced: signed by one
/// key, claiming another.
fn claiming_key(body: &str, key_id: KeyId) -> String {
    let mut json: serde_json::Value = serde_json::from_str(body).expect("json");
    let mut envelope: Envelope =
        serde_json::from_value(json["envelope"].clone()).expect("envelope");
    envelope.event.key_id = key_id;
    json["envelope"] = serde_json::to_value(&envelope).expect("envelope json");
    json.to_string()
}

/// A 3 MB PDF, as an attacker filling the disk would send.
fn big_pdf() -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.resize(3 * 1024 * 1024, b'x');
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_pushes_store_nothing_create_no_key_and_reveal_nothing() {
    let f = fixture().await;
    let board = register_issuer(&f, "in.gov.testboard").await;
    // A real document, so that a forger could ask whether its URI exists.
    let (status, answer) = post(&f, body(&f, &board, &Push::default())).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    f.projector.catch_up().await.expect("project");
    let before = footprint(&f).await;

    let stranger = (board.0.clone(), SigningKey::from_bytes(&[13; 32]));
    let content = Some(big_pdf());
    let attacks = [
        // A key nobody registered, with 3 MB of content.
        (
            body(
                &f,
                &stranger,
                &Push { doc_id: "2024-1", content: content.clone(), ..Push::default() },
            ),
            "unknown_key",
        ),
        // The board's key id, signed by another key, with content.
        (
            claiming_key(
                &body(
                    &f,
                    &stranger,
                    &Push { doc_id: "2024-2", content: content.clone(), ..Push::default() },
                ),
                key_id_of(&board.1.verifying_key()),
            ),
            "bad_signature",
        ),
        // Asking whether the real document's URI exists (it does): answered as any forgery.
        (
            claiming_key(
                &body(&f, &stranger, &Push::default()),
                key_id_of(&board.1.verifying_key()),
            ),
            "bad_signature",
        ),
        (body(&f, &stranger, &Push::default()), "unknown_key"),
    ];
    for (attack, code) in attacks {
        let (status, answer) = post(&f, attack).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert_eq!(answer["code"], code, "{answer}");
    }
    assert!(footprint(&f).await == before, "a forged push left something behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_batches_store_nothing_create_no_key_and_reveal_nothing() {
    let f = fixture().await;
    let board = register_issuer(&f, "in.gov.testboard").await;
    let (status, answer) = post(&f, body(&f, &board, &Push::default())).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    f.projector.catch_up().await.expect("project");
    let before = footprint(&f).await;

    let stranger = (board.0.clone(), SigningKey::from_bytes(&[13; 32]));
    let board_key = key_id_of(&board.1.verifying_key());
    // Documents for an Aadhaar nobody has a sealing key for yet: a forged row must not make one.
    let aadhaar = Recipient::Aadhaar(ledger::crypto::aadhaar_ref(
        &[5; 32],
        &Aadhaar::parse("9999 9999 0019").expect("aadhaar"),
    ));
    let rows = [
        // The real document's URI: a forger must not learn `uri_exists`.
        claiming_key(&body(&f, &stranger, &Push::default()), board_key),
        body(&f, &stranger, &Push::default()),
        // New URIs, each of which would get a sealing key for its subject.
        claiming_key(
            &body(
                &f,
                &stranger,
                &Push { doc_id: "2024-7", recipient: Some(aadhaar.clone()), ..Push::default() },
            ),
            board_key,
        ),
        body(
            &f,
            &stranger,
            &Push { doc_id: "2024-8", recipient: Some(aadhaar), ..Push::default() },
        ),
    ];
    let (status, _, answer) = crate::routes::send(
        &f.state,
        "POST",
        "/v1/issuer/batches",
        None,
        rows.join("\n").into_bytes(),
    )
    .await;
    let answer = json(&String::from_utf8_lossy(&answer));
    assert_eq!(status, StatusCode::OK, "{answer}");
    let codes: Vec<&str> = answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["code"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(codes, ["bad_signature", "unknown_key", "bad_signature", "unknown_key"], "{answer}");
    assert!(footprint(&f).await == before, "a forged batch left something behind");
}
