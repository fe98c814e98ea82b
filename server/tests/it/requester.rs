use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use ledger::crypto::{key_id_of, public_key_entry, sign_event};
use schemas::*;
use tower::ServiceExt;

use crate::routes::run;
use crate::routes::{Fixture, NOW_MS, asha_token, citizen_records, fixture, json, send};

struct Bank {
    id: RequesterId,
    key: SigningKey,
}

impl Bank {
    fn keyid(&self) -> String {
        format!("{}:{}", self.id, key_id_of(&self.key.verifying_key()))
    }
}

async fn register_bank(f: &Fixture, id: &str, seed: u8) -> Bank {
    let key = SigningKey::from_bytes(&[seed; 32]);
    let requester = RequesterId::parse(id).expect("id");
    let payload = Payload::RequesterRegistered(RequesterRegistered {
        requester: requester.clone(),
        name: Label::parse("Test Bank").expect("label"),
        kind: RequesterKind::Bank,
        keys: vec![public_key_entry(&key.verifying_key())],
    });
    crate::routes::platform_append(f, [seed; 16], payload).await;
    Bank { id: requester, key }
}

/// Builds a request signed as `bank` (RFC 9421); `tweak` may alter it after signing.
fn signed(
    f: &Fixture,
    bank: &Bank,
    method: &str,
    path_and_query: &str,
    body: Vec<u8>,
    tweak: impl FnOnce(axum::http::request::Builder) -> axum::http::request::Builder,
) -> Request<Body> {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let now_s = ledger::clock::Clock::now(f.clock.as_ref()).0 / 1000;
    let target = wire::rfc9421::Target { method, authority: "locker.test", path, query };
    let headers = wire::rfc9421::sign_request(&bank.key, &bank.keyid(), now_s, target, &body);
    let mut request = Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", "locker.test")
        .header("signature-input", headers.signature_input)
        .header("signature", headers.signature);
    if let Some(digest) = headers.content_digest {
        request = request.header("content-digest", digest);
    }
    tweak(request).body(Body::from(body)).expect("request")
}

fn envelope(bank: &Bank, id: u8, at_ms: i64, payload: Payload) -> Vec<u8> {
    let event = Event {
        id: EventId([id; 16]),
        occurred_at_ms: TimestampMs(at_ms),
        actor: Actor::Requester(bank.id.clone()),
        key_id: key_id_of(&bank.key.verifying_key()),
        payload,
    };
    let envelope = sign_event(event, &bank.key, None).expect("sign");
    serde_json::json!({ "envelope": envelope }).to_string().into_bytes()
}

fn consent_request(f: &Fixture, bank: &Bank, consent: u8) -> Payload {
    Payload::ConsentRequested(ConsentRequested {
        consent_id: Id16([consent; 16]),
        requester: bank.id.clone(),
        locker: f.citizen,
        items: vec![ConsentItem::DocType {
            issuer: IssuerId::parse("in.gov.cbse").expect("issuer"),
            doc_type: DocTypeCode::parse("HSCER").expect("type"),
        }],
        purpose: Purpose {
            code: PurposeCode::AccountOpening,
            text: Reason::parse("savings account").expect("reason"),
        },
        expires_at_ms: TimestampMs(NOW_MS + 86_400_000),
    })
}

/// Reads Server-Sent Events from a streaming body until `count` events arrived.
async fn read_events(body: &mut Body, count: usize) -> Vec<(String, String, serde_json::Value)> {
    let mut text = String::new();
    let mut events = Vec::new();
    while events.len() < count {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an event within 10 s")
            .expect("stream open")
            .expect("frame");
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let (mut id, mut kind, mut data) = (String::new(), String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.to_owned();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    kind = v.to_owned();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = v.to_owned();
                }
            }
            if !kind.is_empty() {
                events.push((id, kind, json(&data)));
            }
        }
    }
    events
}

async fn open_stream(f: &Fixture, bank: &Bank, last: Option<&str>) -> Body {
    let request = signed(f, bank, "GET", "/v1/requester/events", vec![], |r| match last {
        Some(id) => r.header("last-event-id", id),
        None => r,
    });
    let response = server::router(f.state.clone()).oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    response.into_body()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_asks_is_granted_fetches_streams_and_is_refused_after_revocation() {
    let f = fixture().await;
    let bank = register_bank(&f, "in.test.bank", 61).await;
    let token = asha_token(&f);

    let (status, found) =
        run(&f, signed(&f, &bank, "GET", "/v1/requester/lockers/asha", vec![], |r| r)).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["locker"], f.citizen.to_string());

    let body = envelope(&bank, 1, NOW_MS, consent_request(&f, &bank, 7));
    let (status, answer) =
        run(&f, signed(&f, &bank, "POST", "/v1/requester/consents", body.clone(), |r| r)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, again) =
        run(&f, signed(&f, &bank, "POST", "/v1/requester/consents", body, |r| r)).await;
    assert_eq!((status, again["status"].as_str()), (StatusCode::OK, Some("already_present")));
    let mut live = open_stream(&f, &bank, None).await;

    // The citizen sees it pending and grants it.
    let consent = hex::encode([7u8; 16]);
    let (status, _, _) = send(
        &f.state,
        "POST",
        &format!("/v1/citizen/consents/{consent}/grant"),
        Some(&token),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, listing) =
        run(&f, signed(&f, &bank, "GET", "/v1/requester/consents", vec![], |r| r)).await;
    assert_eq!(status, StatusCode::OK, "{listing}");
    let mine = &listing["items"][0];
    assert_eq!(mine["state"], "active");
    let granted = &mine["granted"][0];
    let uri = DocUri::parse(granted["uri"].as_str().expect("uri")).expect("uri");
    let hash = Digest32::from_hex(granted["content_hash"].as_str().expect("hash")).expect("hash");

    let access = |id: u8| {
        let payload = Payload::DocumentAccessed(DocumentAccessed {
            consent_id: Id16([7; 16]),
            requester: bank.id.clone(),
            locker: f.citizen,
            document: DocRef::Issued(uri.clone()),
            content_hash: hash,
        });
        envelope(&bank, id, NOW_MS, payload)
    };
    let (status, fetched) =
        run(&f, signed(&f, &bank, "POST", "/v1/requester/documents", access(2), |r| r)).await;
    assert_eq!(status, StatusCode::OK, "{fetched}");
    assert_eq!(fetched["uri"], uri.to_string());
    assert_eq!(fetched["holder_name"], "Asha Kumari");
    let (_, mine) = crate::routes::get(&f.state, "/v1/directory/requesters").await;
    assert!(mine.contains("in.test.bank"));
    let (_, _, counts) =
        send(&f.state, "GET", "/v1/citizen/requesters", Some(&token), vec![]).await;
    let counts = json(&String::from_utf8_lossy(&counts));
    let row = counts
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["requester"] == "in.test.bank")
        .cloned()
        .expect("row");
    assert_eq!(row["accessed"], 1, "My Requester counts the fetch: {counts}");

    // The stream has the request, the grant and the access, in order.
    let seen = read_events(&mut live, 3).await;
    let kinds: Vec<&str> = seen.iter().map(|(_, kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["consent_requested", "consent_granted", "document_accessed"]);
    assert_eq!(seen[1].2["documents"][0]["uri"], uri.to_string());
    // Resuming after the grant delivers the access and nothing before it.
    let mut resumed = open_stream(&f, &bank, Some(&seen[1].0)).await;
    let again = read_events(&mut resumed, 1).await;
    assert_eq!(again[0].1, "document_accessed");
    assert_eq!(again[0].0, seen[2].0);

    // Revoked: the live stream says so, and the next fetch is refused, writing nothing.
    let (status, _, _) = send(
        &f.state,
        "POST",
        &format!("/v1/citizen/consents/{consent}/revoke"),
        Some(&token),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let revoked = read_events(&mut live, 1).await;
    assert_eq!(revoked[0].1, "consent_revoked");
    let before = citizen_records(&f).await;
    let (status, answer) =
        run(&f, signed(&f, &bank, "POST", "/v1/requester/documents", access(3), |r| r)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::FORBIDDEN, Some("consent_revoked")));
    // A retry of the access logged before the revocation is refused too.
    let (status, _) =
        run(&f, signed(&f, &bank, "POST", "/v1/requester/documents", access(2), |r| r)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(citizen_records(&f).await, before);
    let (status, answer) = run(
        &f,
        signed(&f, &bank, "GET", "/v1/requester/events", vec![], |r| {
            r.header("last-event-id", "v1.1.2")
        }),
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_last_event_id"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_outside_the_consent_is_refused_and_writes_nothing() {
    let f = fixture().await;
    let bank = register_bank(&f, "in.test.bank", 61).await;
    let other = register_bank(&f, "in.test.otherbank", 62).await;
    let token = asha_token(&f);
    let body = envelope(&bank, 1, NOW_MS, consent_request(&f, &bank, 7));
    let (status, _) =
        run(&f, signed(&f, &bank, "POST", "/v1/requester/consents", body, |r| r)).await;
    assert_eq!(status, StatusCode::CREATED);
    let consent = hex::encode([7u8; 16]);
    let access = |bank: &Bank, id: u8, uri: &str, hash: Digest32, at_ms: i64| {
        envelope(
            bank,
            id,
            at_ms,
            Payload::DocumentAccessed(DocumentAccessed {
                consent_id: Id16([7; 16]),
                requester: bank.id.clone(),
                locker: f.citizen,
                document: DocRef::Issued(DocUri::parse(uri).expect("uri")),
                content_hash: hash,
            }),
        )
    };
    let (_, _, certificates) =
        send(&f.state, "GET", "/v1/citizen/certificates", Some(&token), vec![]).await;
    let certificates = json(&String::from_utf8_lossy(&certificates));
    let item = |code: &str| {
        certificates["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|c| c["doc_type"] == code)
            .cloned()
            .expect("document")
    };
    let hscer = item("HSCER");
    let hscer_uri = hscer["uri"].as_str().expect("uri").to_owned();
    let hscer_hash =
        Digest32::from_hex(hscer["content_hash"].as_str().expect("hash")).expect("hash");
    let pan = item("PANCR");
    let pan_uri = pan["uri"].as_str().expect("uri").to_owned();
    let pan_hash = Digest32::from_hex(pan["content_hash"].as_str().expect("hash")).expect("hash");
    let before = citizen_records(&f).await;

    // Before the grant: pending.
    let (status, answer) = run(
        &f,
        signed(
            &f,
            &bank,
            "POST",
            "/v1/requester/documents",
            access(&bank, 2, &hscer_uri, hscer_hash, NOW_MS),
            |r| r,
        ),
    )
    .await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::FORBIDDEN, Some("consent_state")));
    let (status, _, _) = send(
        &f.state,
        "POST",
        &format!("/v1/citizen/consents/{consent}/grant"),
        Some(&token),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let before = before + 1;

    let cases: Vec<(&Bank, Vec<u8>, StatusCode, &str)> = vec![
        // A document the citizen did not grant.
        (
            &bank,
            access(&bank, 3, &pan_uri, pan_hash, NOW_MS),
            StatusCode::FORBIDDEN,
            "document_not_granted",
        ),
        // Another requester using this consent's id.
        (
            &other,
            access(&other, 4, &hscer_uri, hscer_hash, NOW_MS),
            StatusCode::NOT_FOUND,
            "unknown_consent",
        ),
        // A stale hash.
        (
            &bank,
            access(&bank, 5, &hscer_uri, Digest32([0; 32]), NOW_MS),
            StatusCode::CONFLICT,
            "stale_document",
        ),
        // An event from an hour ago (a replay).
        (
            &bank,
            access(&bank, 6, &hscer_uri, hscer_hash, NOW_MS - 3_600_000),
            StatusCode::UNPROCESSABLE_ENTITY,
            "stale_event",
        ),
        // Signed by the bank but claiming the other bank.
        (
            &other,
            access(&bank, 8, &hscer_uri, hscer_hash, NOW_MS),
            StatusCode::FORBIDDEN,
            "not_permitted",
        ),
        (&bank, b"{not json".to_vec(), StatusCode::BAD_REQUEST, "invalid_json"),
        (
            &bank,
            envelope(&bank, 9, NOW_MS, consent_request(&f, &bank, 9)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
        ),
    ];
    for (signer, body, status, code) in cases {
        let (got, answer) =
            run(&f, signed(&f, signer, "POST", "/v1/requester/documents", body, |r| r)).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{answer}");
    }
    // After the access period: expired.
    f.clock.set(TimestampMs(NOW_MS + 31 * 86_400_000));
    let (status, answer) = run(
        &f,
        signed(
            &f,
            &bank,
            "POST",
            "/v1/requester/documents",
            access(&bank, 10, &hscer_uri, hscer_hash, NOW_MS + 31 * 86_400_000),
            |r| r,
        ),
    )
    .await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::FORBIDDEN, Some("consent_expired")));
    assert_eq!(citizen_records(&f).await, before, "refused accesses write nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_stale_and_tampered_signatures_are_refused() {
    let f = fixture().await;
    let bank = register_bank(&f, "in.test.bank", 61).await;
    let stranger = Bank {
        id: RequesterId::parse("in.test.stranger").expect("id"),
        key: SigningKey::from_bytes(&[3; 32]),
    };
    let impostor = Bank { id: bank.id.clone(), key: SigningKey::from_bytes(&[4; 32]) };
    let path = "/v1/requester/consents";
    let unsigned = Request::get(path).body(Body::empty()).expect("request");
    let (status, answer) = run(&f, unsigned).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("missing_signature"))
    );
    let (status, answer) = run(&f, signed(&f, &stranger, "GET", path, vec![], |r| r)).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unknown_key")),
        "{answer}"
    );
    // The bank's key id with another key: the id is unknown for the bank.
    let forged = signed(&f, &impostor, "GET", path, vec![], |r| r);
    let (status, _) = run(&f, forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Signed for one query, sent with another.
    let mut moved = signed(&f, &bank, "GET", path, vec![], |r| r);
    *moved.uri_mut() = "/v1/requester/consents?limit=1".parse().expect("uri");
    let (status, answer) = run(&f, moved).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_signature"))
    );
    // A signature from ten minutes ago.
    let stale = signed(&f, &bank, "GET", path, vec![], |r| r);
    f.clock.set(TimestampMs(NOW_MS + 600_000));
    let (status, answer) = run(&f, stale).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("stale_signature"))
    );
    f.clock.set(TimestampMs(NOW_MS));
    // A body changed after signing.
    let body = envelope(&bank, 1, NOW_MS, consent_request(&f, &bank, 7));
    let mut tampered = signed(&f, &bank, "POST", path, body.clone(), |r| r);
    let mut changed = body.clone();
    changed[10] ^= 1;
    *tampered.body_mut() = Body::from(changed);
    let (status, answer) = run(&f, tampered).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("digest_mismatch"))
    );
    // Garbage headers.
    let garbage = Request::get(path)
        .header("signature-input", "sig1=nonsense")
        .header("signature", "sig1=:AAAA:")
        .body(Body::empty())
        .expect("request");
    let (status, answer) = run(&f, garbage).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_signature"))
    );
    // A revoked key signs nothing any more.
    let revoke = Payload::KeyRevoked(KeyRevoked {
        owner: Principal::Requester(bank.id.clone()),
        key_id: key_id_of(&bank.key.verifying_key()),
        reason: Reason::parse("lost laptop").expect("reason"),
    });
    crate::routes::platform_append(&f, [99; 16], revoke).await;
    let (status, answer) = run(&f, signed(&f, &bank, "GET", path, vec![], |r| r)).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("key_revoked")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lapsed_requests_and_access_periods_expire_by_a_platform_event() {
    let f = fixture().await;
    let bank = register_bank(&f, "in.test.bank", 61).await;
    let token = asha_token(&f);
    for (id, consent) in [(1u8, 7u8), (2, 8)] {
        let body = envelope(&bank, id, NOW_MS, consent_request(&f, &bank, consent));
        let (status, answer) =
            run(&f, signed(&f, &bank, "POST", "/v1/requester/consents", body, |r| r)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    // Consent 8 is granted for 30 days; consent 7 is never answered.
    let granted = hex::encode([8u8; 16]);
    let (status, _, _) = send(
        &f.state,
        "POST",
        &format!("/v1/citizen/consents/{granted}/grant"),
        Some(&token),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut live = open_stream(&f, &bank, None).await;
    let _ = read_events(&mut live, 3).await;
    assert_eq!(
        server::jobs::expiry::sweep(&f.state).await.expect("sweep"),
        0,
        "nothing is due yet"
    );

    // Two days on, the unanswered request lapses: one event, once.
    f.clock.set(TimestampMs(NOW_MS + 2 * 86_400_000));
    assert_eq!(server::jobs::expiry::sweep(&f.state).await.expect("sweep"), 1);
    assert_eq!(server::jobs::expiry::sweep(&f.state).await.expect("sweep"), 0);
    let expired = read_events(&mut live, 1).await;
    assert_eq!(expired[0].1, "consent_expired");
    assert_eq!(expired[0].2["consent_id"], hex::encode([7u8; 16]));
    let stored =
        f.state.views.stored_consent(&f.citizen, &Id16([7; 16])).expect("views").expect("consent");
    assert_eq!(stored.state, projections::views::ConsentState::Expired);

    // After the access period, the grant lapses too; the demo's request (due in 2100) stays.
    f.clock.set(TimestampMs(NOW_MS + 31 * 86_400_000));
    assert_eq!(server::jobs::expiry::sweep(&f.state).await.expect("sweep"), 1);
    let expired = read_events(&mut live, 1).await;
    assert_eq!(expired[0].2["consent_id"], granted);
    assert_eq!(server::jobs::expiry::sweep(&f.state).await.expect("sweep"), 0);
    let (_, metrics) = crate::routes::get(&f.state, "/metrics").await;
    assert!(metrics.contains("\nlocker_consents_expired_total 2\n"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_consent_requests_are_refused_and_write_nothing() {
    let f = fixture().await;
    let bank = register_bank(&f, "in.test.bank", 61).await;
    let body = envelope(&bank, 1, NOW_MS, consent_request(&f, &bank, 7));
    let (status, _) =
        run(&f, signed(&f, &bank, "POST", "/v1/requester/consents", body, |r| r)).await;
    assert_eq!(status, StatusCode::CREATED);
    let before = citizen_records(&f).await;
    let with = |change: &dyn Fn(&mut ConsentRequested)| {
        let mut payload = consent_request(&f, &bank, 8);
        if let Payload::ConsentRequested(asked) = &mut payload {
            change(asked);
        }
        payload
    };
    let cases = [
        // The same consent id again, under another event.
        (with(&|a| a.consent_id = Id16([7; 16])), StatusCode::CONFLICT, "consent_exists"),
        (
            with(&|a| a.locker = LockerId::from_random_bytes([3; 16])),
            StatusCode::NOT_FOUND,
            "unknown_locker",
        ),
        (
            with(&|a| a.expires_at_ms = TimestampMs(NOW_MS - 1)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_expiry",
        ),
        (
            with(&|a| a.expires_at_ms = TimestampMs(NOW_MS + 31 * 86_400_000)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_expiry",
        ),
    ];
    for (id, (payload, status, code)) in (20u8..).zip(cases) {
        let body = envelope(&bank, id, NOW_MS, payload);
        let (got, answer) =
            run(&f, signed(&f, &bank, "POST", "/v1/requester/consents", body, |r| r)).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{answer}");
    }
    assert_eq!(citizen_records(&f).await, before, "refused requests write nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_event_streams_are_bounded_and_a_closed_one_frees_its_place() {
    let f = fixture().await;
    let banks = [
        register_bank(&f, "in.co.streams", 31).await,
        register_bank(&f, "in.co.other", 32).await,
        register_bank(&f, "in.co.third", 35).await,
    ];
    // One requester gets its share and no more: the other slots stay for everyone else.
    let mut open = Vec::new();
    for _ in 0..crate::routes::STREAMS_PER_REQUESTER_MAX {
        open.push(open_stream(&f, &banks[0], None).await);
    }
    let request = signed(&f, &banks[0], "GET", "/v1/requester/events", vec![], |r| r);
    let (status, answer) = run(&f, request).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_streams"))
    );
    while open.len() < crate::routes::STREAMS_MAX {
        open.push(open_stream(&f, &banks[1], None).await);
    }
    // Every slot taken: a requester with none open is told so.
    let request = signed(&f, &banks[2], "GET", "/v1/requester/events", vec![], |r| r);
    let (status, answer) = run(&f, request).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("too_many_streams"))
    );
    drop(open.pop());
    open.push(open_stream(&f, &banks[2], None).await);
}

/// A stream is authenticated for as long as it is open: once the requester's key is revoked,
/// or the requester suspended, its open streams end (they used to go on receiving).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_stream_ends_when_its_key_is_revoked_or_its_requester_suspended() {
    let f = fixture().await;
    let bank = register_bank(&f, "in.co.revoked", 33).await;
    let other = register_bank(&f, "in.co.suspended", 34).await;
    let mut streams = [open_stream(&f, &bank, None).await, open_stream(&f, &other, None).await];
    let revoke = Payload::KeyRevoked(KeyRevoked {
        owner: Principal::Requester(bank.id.clone()),
        key_id: key_id_of(&bank.key.verifying_key()),
        reason: Reason::parse("lost laptop").expect("reason"),
    });
    crate::routes::platform_append(&f, [98; 16], revoke).await;
    let suspend = Payload::OrganisationSuspended(OrganisationSuspended {
        organisation: Organisation::Requester(other.id.clone()),
        reason: Reason::parse("under audit").expect("reason"),
    });
    crate::routes::platform_append(&f, [97; 16], suspend).await;
    for stream in &mut streams {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), stream.frame())
                .await
                .expect("the stream ends within 10 s");
            match frame {
                None => break,
                Some(frame) => {
                    let frame = frame.expect("frame");
                    // Keep-alives may come first; an event must not.
                    let text = frame
                        .into_data()
                        .map(|d| String::from_utf8_lossy(&d).into_owned())
                        .unwrap_or_default();
                    assert!(!text.contains("event:"), "an event after revocation: {text}");
                }
            }
        }
    }
}
