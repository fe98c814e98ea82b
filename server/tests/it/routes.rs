use std::sync::{Arc, RwLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use ledger::{EmbeddedLog, Ledger, LedgerConfig};
use projections::{Projector, Views};
use server::store::vault::Vault;
use server::{AppState, router};
use tower::ServiceExt;

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub state: AppState,
    pub ledger: Arc<Ledger<EmbeddedLog>>,
    pub projector: Projector<EmbeddedLog>,
    pub platform: ed25519_dalek::SigningKey,
    pub citizen: schemas::LockerId,
    pub clock: Arc<ledger::clock::ManualClock>,
    /// Keeps the background follower running (as in the server) while the fixture lives.
    pub _follower: tokio::sync::watch::Sender<bool>,
    pub _checkpointer: AbortOnDrop,
    /// The reference Aadhaar authority's texts (`kyc::authority` on a real port, with the
    /// demo's residents), and its key.
    pub aadhaar_sms: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>>,
    pub authority_key: ed25519_dalek::SigningKey,
}

/// A real HTTP endpoint standing in for an SMS gateway: every POSTed message arrives on the
/// returned channel.
pub async fn sms_gateway() -> (String, tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>) {
    let (sent, received) = tokio::sync::mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/sms",
        axum::routing::post(move |axum::Json(message): axum::Json<serde_json::Value>| {
            let sent = sent.clone();
            async move {
                let _ = sent.send(message);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/sms"), received)
}

/// The AUA the fixture's platform is to the reference authority.
pub const TEST_AUA: &str = "locker-test:test-licence";

/// The reference Aadhaar authority on a real port, texting through a real gateway; its URL.
pub async fn start_authority(
    key: &ed25519_dalek::SigningKey,
    clock: Arc<dyn ledger::clock::Clock>,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>) {
    let (sms_url, sms) = sms_gateway().await;
    let residents =
        kyc::authority::read_residents(server::http::uidai::DEMO_RESIDENTS).expect("residents");
    let (code, licence) = TEST_AUA.split_once(':').expect("aua");
    let router = kyc::authority::router(kyc::authority::Config {
        residents,
        key: key.clone(),
        auas: vec![(code.to_owned(), licence.to_owned())],
        sms: kyc::authority::Sms::Gateway(sms_url.parse().expect("url")),
        clock,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}"), sms)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stops a background task with the fixture.
pub struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Event streams the fixture serves at once, and to one requester.
pub const STREAMS_MAX: usize = 4;
pub const STREAMS_PER_REQUESTER_MAX: usize = 2;

/// The fixture's clock: results day, shortly after the demo's events.
pub const NOW_MS: i64 = 1_715_600_000_000;

/// The demo seeded into a fresh data folder, projected, behind an `AppState`.
pub async fn fixture() -> Fixture {
    fixture_with_otp(Arc::new(server::store::otp::LogSender)).await
}

/// The fixture, with one-time passwords delivered by `otp`.
pub async fn fixture_with_otp(otp: Arc<dyn server::store::otp::OtpSender>) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let platform = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let config =
        LedgerConfig::new(vec![ledger::crypto::public_key_entry(&platform.verifying_key())]);
    let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).expect("log"));
    let ledger = Arc::new(Ledger::open(Arc::clone(&log), config.clone()).await.expect("ledger"));
    let vault = Arc::new(Vault::open(dir.path().join("vault")).expect("vault"));
    let demo = server::app::demo::seed(&ledger, &platform, &vault, None).await.expect("seed");
    let (views, _) = Views::open(dir.path().join("views")).expect("views");
    let keys: Arc<dyn projections::SealKeys> = Arc::clone(&vault) as _;
    let projector = Projector::new(Arc::clone(&log), Arc::new(views), keys, &config);
    projector.catch_up().await.expect("project");
    let partitions = Arc::new(RwLock::new(projector.status().await.expect("status")));
    let clock = Arc::new(ledger::clock::ManualClock::new(schemas::TimestampMs(NOW_MS)));
    let authority_key = ed25519_dalek::SigningKey::from_bytes(&[61; 32]);
    let (authority_url, aadhaar_sms) =
        start_authority(&authority_key, Arc::clone(&clock) as _).await;
    let kyc: Arc<dyn server::app::kyc::KycProvider> = Arc::new(
        server::app::kyc::HttpKyc::new(
            &authority_url,
            &hex(authority_key.verifying_key().as_bytes()),
            TEST_AUA,
            Arc::clone(&clock) as _,
        )
        .expect("kyc provider"),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    {
        let follower = projector.clone();
        tokio::spawn(async move { follower.follow(stopped).await });
    }
    // Checkpoints as soon as anything is logged, so bundles need not wait in tests.
    let proofs = Arc::new(
        server::app::proofs::Transparency::open(
            Arc::clone(&log),
            &dir.path().join("merkle"),
            &config,
            "locker.checkpoints".to_owned(),
            platform.verifying_key(),
            ledger::merkle::CheckpointPolicy { every_records: 1, every_ms: 0 },
            50,
        )
        .await
        .expect("transparency"),
    );
    let checkpointer = tokio::spawn(
        Arc::clone(&proofs)
            .run(Arc::new(platform.clone()), Arc::clone(&clock) as Arc<dyn ledger::clock::Clock>),
    );
    let mut services = server::Services::new(server::Core {
        views: Arc::clone(projector.views()),
        partitions,
        appender: Arc::clone(&ledger) as _,
        vault,
        clock: Arc::clone(&clock) as _,
        nonces: Arc::new(server::Nonces::from_seed(5)),
        accounts: {
            let accounts =
                server::store::accounts::Accounts::open(dir.path().join("accounts"), [6; 32])
                    .expect("accounts");
            accounts
                .ensure_user("asha", demo.citizen_locker, server::app::demo::DEMO_PASSWORD)
                .expect("demo user");
            Arc::new(accounts)
        },
        otp,
        kyc: Some(kyc),
        platform: platform.clone(),
        writes: Arc::new(server::app::guard::WriteGuard::new(
            config.clone(),
            Arc::new(projector.clone()),
        )),
        files: {
            let files =
                server::store::files::Files::open_folder(dir.path().join("files")).expect("files");
            for pdf in &demo.contents {
                files.put(pdf).await.expect("demo pdf");
            }
            Arc::new(files)
        },
        proofs: proofs as _,
    });
    // Few streams and a small Aadhaar quota, so that tests reach the bounds.
    services.streams =
        Arc::new(server::store::quota::StreamSlots::new(STREAMS_MAX, STREAMS_PER_REQUESTER_MAX));
    services.aadhaar_quota = Arc::new(server::store::quota::Quota::per_hour(5_000));
    let state = AppState::new(services);
    Fixture {
        _dir: dir,
        state,
        ledger,
        projector,
        platform,
        citizen: demo.citizen_locker,
        clock,
        _follower: stop,
        _checkpointer: AbortOnDrop(checkpointer),
        aadhaar_sms: tokio::sync::Mutex::new(aadhaar_sms),
        authority_key,
    }
}

pub async fn get(state: &AppState, uri: &str) -> (StatusCode, String) {
    let response = router(state.clone())
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8(body.to_vec()).expect("utf8"))
}

pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directories_page_with_cursors() {
    let f = fixture().await;
    let (status, body) = get(&f.state, "/v1/directory/issuers?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    let first = json(&body);
    assert_eq!(first["items"].as_array().expect("items").len(), 2);
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let (_, body) = get(&f.state, &format!("/v1/directory/issuers?limit=2&cursor={cursor}")).await;
    let second = json(&body);
    assert_eq!(second["items"].as_array().expect("items").len(), 1);
    assert!(second["next_cursor"].is_null());
    assert_eq!(second["items"][0]["id"], "in.gov.transport");
    assert_eq!(second["items"][0]["doc_types"][0]["code"], "DRVLC");
    let (_, body) = get(&f.state, "/v1/directory/requesters").await;
    let kinds: Vec<_> =
        json(&body)["items"].as_array().expect("items").iter().map(|r| r["kind"].clone()).collect();
    assert_eq!(kinds.len(), 3);
    assert!(kinds.contains(&serde_json::json!("telco")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_count_the_demo() {
    let f = fixture().await;
    let (status, body) = get(&f.state, "/v1/stats").await;
    assert_eq!(status, StatusCode::OK);
    let stats = json(&body);
    assert_eq!(stats["users"], 1);
    assert_eq!(stats["issued_documents"], 4);
    assert_eq!(stats["issuers"], 3);
    assert_eq!(stats["requesters"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_stable_codes() {
    let f = fixture().await;
    for (uri, status, code) in [
        ("/v1/directory/issuers?limit=0", StatusCode::BAD_REQUEST, "invalid_limit"),
        ("/v1/directory/issuers?limit=100000", StatusCode::BAD_REQUEST, "invalid_limit"),
        ("/v1/directory/issuers?limit=abc", StatusCode::BAD_REQUEST, "invalid_query"),
        ("/v1/directory/issuers?unknown=1", StatusCode::BAD_REQUEST, "invalid_query"),
        ("/v1/directory/issuers?cursor=xyz", StatusCode::BAD_REQUEST, "invalid_cursor"),
        ("/v1/nothing-here", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let (got, body) = get(&f.state, uri).await;
        assert_eq!(got, status, "{uri}: {body}");
        assert_eq!(json(&body)["code"], code, "{uri}: {body}");
        assert!(json(&body)["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_a_halted_partition_and_metrics_count_requests() {
    let f = fixture().await;
    let (status, body) = get(&f.state, "/healthz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["projection_lag"], 0);
    {
        let mut partitions = f.state.partitions.write().expect("lock");
        partitions[0].halt = Some(projections::Halt {
            topic: partitions[0].topic.clone(),
            partition: 0,
            offset: 3,
            reason: "grant of unknown consent".to_owned(),
        });
    }
    let (status, body) = get(&f.state, "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json(&body)["halted"][0]["offset"], 3);
    // Where, not why: a halt's reason names lockers and documents (it goes to the log).
    assert!(!body.contains("grant of unknown consent"), "{body}");
    assert_eq!(json(&body)["anomalies"], 0);
    let (status, body) = get(&f.state, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("locker_http_requests_total{route=\"/healthz\",status=\"503\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("locker_projection_halted{topic=\"locker.directory\",partition=\"0\"} 1"),
        "{body}"
    );
}

/// How many records the fixture's citizen topic holds.
pub async fn citizen_records(f: &Fixture) -> u64 {
    use ledger::Log;
    let log = f.ledger.log();
    let topic = &f.ledger.config().citizen_topic;
    let mut total = 0;
    for partition in 0..log.partitions(topic).expect("partitions") {
        total += log.end_offset(topic, partition).await.expect("end");
    }
    total
}

/// Appends an event signed by the fixture's platform (registrations made by tests).
pub async fn platform_append(f: &Fixture, id: [u8; 16], payload: schemas::Payload) {
    platform_append_sealed(f, id, payload, None).await;
}

/// The same, with the event's personal fields sealed beside it.
pub async fn platform_append_sealed(
    f: &Fixture,
    id: [u8; 16],
    payload: schemas::Payload,
    sealed: Option<schemas::Sealed>,
) {
    use ledger::crypto::{key_id_of, sign_event};
    let event = schemas::Event {
        id: schemas::EventId(id),
        occurred_at_ms: schemas::TimestampMs(NOW_MS),
        actor: schemas::Actor::Platform,
        key_id: key_id_of(&f.platform.verifying_key()),
        payload,
    };
    let record = schemas::encode_record(&sign_event(event, &f.platform, sealed).expect("sign"))
        .expect("encode");
    f.ledger.append_one(record).await.expect("the platform's event is accepted");
}

/// One request through the router: the status, headers and raw body of the answer.
pub async fn send(
    state: &AppState,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router(state.clone())
        .oneshot(request.body(Body::from(body)).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, headers, bytes.to_vec())
}

/// The demo citizen's session token.
pub fn asha_token(f: &Fixture) -> String {
    f.state
        .accounts
        .login("asha", server::app::demo::DEMO_PASSWORD, schemas::TimestampMs(NOW_MS))
        .expect("login")
        .0
}

/// The OpenAPI document is 3.1, and every operation it lists is served by the router (no
/// documented path falls through to "no such endpoint").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_matches_the_router() {
    let f = fixture().await;
    let (status, body) = get(&f.state, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let document = json(&body);
    assert!(
        document["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")),
        "{}",
        document["openapi"]
    );
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 30, "{} paths", paths.len());
    for must in [
        "/v1/citizen/certificates",
        "/v1/requester/events",
        "/v1/issuer/documents",
        "/v1/admin/events",
    ] {
        assert!(paths.contains_key(must), "{must} is not documented");
    }
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{id}", "00000000000000000000000000000000")
            .replace("{share}", "00000000000000000000000000000000")
            .replace("{locker}", "00000000-0000-0000-0000-000000000000")
            .replace("{uri}", "in.gov.cbse-HSCER-1")
            .replace("{username}", "nobody");
        for method in item.as_object().expect("item").keys() {
            if !["get", "post", "delete", "put"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let (_, _, answer) =
                send(&f.state, &method.to_uppercase(), &concrete, None, vec![]).await;
            let answer = String::from_utf8_lossy(&answer);
            assert!(
                !answer.contains("no such endpoint"),
                "{method} {path} is documented but not served"
            );
        }
    }
    assert!(operations >= 35, "{operations} operations");
    // Every error response names the shared error shape.
    assert!(body.contains("#/components/schemas/ErrorDto"));
    assert!(document["components"]["securitySchemes"]["http_signature"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_headers_are_refused_with_a_code() {
    let f = fixture().await;
    let request = Request::get("/v1/stats")
        .header("x-padding", "a".repeat(server::limits::HEADER_BYTES_MAX))
        .body(Body::empty())
        .expect("request");
    let response = router(f.state.clone()).oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let body = response.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(json(&String::from_utf8_lossy(&body))["code"], "headers_too_large");
}

/// The demo's organisations' private keys come from the data folder's platform key: the same
/// folder seeds the same keys again (a restart adds nothing), another folder gets others. (They
/// once came from a constant in the source, the same on every server started with `--demo`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_keys_are_the_deployments_own() {
    async fn demo_keys(platform_seed: u8, restarts: usize) -> Vec<Vec<u8>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let platform = ed25519_dalek::SigningKey::from_bytes(&[platform_seed; 32]);
        let config =
            LedgerConfig::new(vec![ledger::crypto::public_key_entry(&platform.verifying_key())]);
        let keys = dir.path().join("demo-keys");
        for start in 0..=restarts {
            let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).expect("log"));
            let ledger = Ledger::open(log, config.clone()).await.expect("ledger");
            let vault = Vault::open(dir.path().join("vault")).expect("vault");
            let summary = server::app::demo::seed(&ledger, &platform, &vault, Some(&keys))
                .await
                .expect("seed");
            if start > 0 {
                assert_eq!(summary.appended, 0, "a restart adds nothing");
            }
        }
        let mut files: Vec<_> = std::fs::read_dir(&keys)
            .expect("keys")
            .map(|entry| std::fs::read(entry.expect("entry").path()).expect("key"))
            .collect();
        files.sort();
        files
    }
    let one = demo_keys(1, 1).await;
    let other = demo_keys(2, 0).await;
    assert_eq!(one.len(), 6);
    assert!(one.iter().all(|key| !other.contains(key)), "two deployments share a demo key");
}

/// One request to the service in-process; its status and its answer as JSON (`Null` when
/// empty, the text as a JSON string when it is not JSON). The one such helper of these tests.
pub async fn run(f: &Fixture, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let response = server::router(f.state.clone()).oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let value = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
        })
    };
    (status, value)
}
