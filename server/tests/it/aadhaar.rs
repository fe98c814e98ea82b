use axum::body::Body;
use axum::http::{Request, StatusCode};
use ed25519_dalek::SigningKey;
use ledger::crypto::{aadhaar_ref, commitment, key_id_of, public_key_entry, sign_event};
use schemas::*;

use crate::routes::run as call;
use crate::routes::{Fixture, NOW_MS, fixture};

/// The demo residents' numbers (`server::http::uidai::DEMO_RESIDENTS`): Asha's texts go to the demo
/// citizen's mobile, Ravi's to another; Meena has no mobile on record; one is suspended.
const ASHA: &str = "9999 9999 0019";
const RAVI: &str = "4991 1866 5246";
const NO_MOBILE: &str = "2345 6789 0124";
const SUSPENDED: &str = "3456 7890 1238";

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

fn login_body(username: &str, password: &str) -> serde_json::Value {
    serde_json::json!({ "username": username, "password": password })
}

async fn asha_token(f: &Fixture) -> String {
    let (_, session) = call(
        f,
        post("/v1/citizen/login", None, login_body("asha", server::app::demo::DEMO_PASSWORD)),
    )
    .await;
    session["token"].as_str().expect("token").to_owned()
}

/// A second citizen with a locker of their own.
async fn stranger_token(f: &Fixture) -> (LockerId, String) {
    let locker = LockerId::from_random_bytes([3; 16]);
    f.state.accounts.ensure_user("other.citizen", locker, "another passphrase").expect("user");
    let (token, _) = f
        .state
        .accounts
        .login("other.citizen", "another passphrase", TimestampMs(NOW_MS))
        .expect("login");
    (locker, token)
}

/// Asks the authority for a code: the answer, and the text the authority sent (to whom, what).
async fn ask_code(
    f: &Fixture,
    token: &str,
    aadhaar: &str,
) -> (StatusCode, serde_json::Value, Option<(String, String)>) {
    let (status, answer) = call(
        f,
        post("/v1/citizen/aadhaar/otp", Some(token), serde_json::json!({ "aadhaar": aadhaar })),
    )
    .await;
    let text = if status == StatusCode::ACCEPTED {
        let message = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            f.aadhaar_sms.lock().await.recv(),
        )
        .await
        .expect("a text within 10 s")
        .expect("gateway open");
        let body = message["message"].as_str().expect("message");
        let code = body.split(' ').next().expect("code").to_owned();
        Some((message["mobile"].as_str().expect("mobile").to_owned(), code))
    } else {
        None
    };
    (status, answer, text)
}

async fn send_code(
    f: &Fixture,
    token: &str,
    txn: &str,
    otp: &str,
) -> (StatusCode, serde_json::Value) {
    call(f, post("/v1/citizen/aadhaar", Some(token), serde_json::json!({ "txn": txn, "otp": otp })))
        .await
}

/// The whole proof: a code to the mobile on record, sent back.
async fn link(f: &Fixture, token: &str, aadhaar: &str) -> (StatusCode, serde_json::Value) {
    let (status, answer, text) = ask_code(f, token, aadhaar).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (_, code) = text.expect("a text");
    send_code(f, token, answer["txn"].as_str().expect("txn"), &code).await
}

fn wrong(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_an_aadhaar_proven_by_its_otp_brings_its_documents_and_its_e_kyc() {
    let f = fixture().await;
    let aadhaar = Aadhaar::parse(ASHA).expect("aadhaar");
    push_to_aadhaar(&f, &aadhaar).await;
    let token = asha_token(&f).await;
    assert!(
        !certificate_uris(&f, &token).await.contains(&"in.gov.boardx-SSCER-2019-42".to_owned())
    );
    // The code goes to the mobile the authority holds, which the answer shows masked.
    let (status, answer, text) = ask_code(&f, &token, ASHA).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["sent_to"], "xxxxxx3210");
    let (mobile, code) = text.expect("text");
    assert_eq!(mobile, "9876543210");
    let txn = answer["txn"].as_str().expect("txn").to_owned();
    let (status, refused) = send_code(&f, &token, &txn, wrong(&code)).await;
    assert_eq!((status, refused["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_otp")));
    let (status, linked) = send_code(&f, &token, &txn, &code).await;
    assert_eq!(status, StatusCode::CREATED, "{linked}");
    assert_eq!(linked["aadhaar_last4"], "0019");
    assert_eq!(linked["reclaimed"], false);
    assert!(certificate_uris(&f, &token).await.contains(&"in.gov.boardx-SSCER-2019-42".to_owned()));
    // My Profile: the data as the authority holds it.
    let request =
        Request::get("/v1/citizen/profile").header("authorization", format!("Bearer {token}"));
    let (_, profile) = call(&f, request.body(Body::empty()).expect("request")).await;
    assert_eq!(
        (profile["aadhaar_linked"].as_bool(), profile["aadhaar_last4"].as_str()),
        (Some(true), Some("0019"))
    );
    assert_eq!(profile["kyc"]["name"], "Asha Kumari", "{profile}");
    assert_eq!(profile["kyc"]["date_of_birth"], "2006-08-15");
    assert_eq!(profile["kyc"]["gender"], "female");
    assert!(profile["kyc"]["address"].to_string().contains("411005"), "{profile}");
    // The code is used up; a second link is refused.
    let (status, again) = send_code(&f, &token, &txn, &code).await;
    assert_eq!((status, again["code"].as_str()), (StatusCode::CONFLICT, Some("otp_not_requested")));
    let (status, again, _) = ask_code(&f, &token, RAVI).await;
    assert_eq!(
        (status, again["code"].as_str()),
        (StatusCode::CONFLICT, Some("aadhaar_already_linked"))
    );
    // The e-KYC data is sealed: the log holds its commitment, not the name.
    let logged = f.ledger.log();
    let topic = &f.ledger.config().citizen_topic;
    let mut found = false;
    for partition in 0..ledger::Log::partitions(logged.as_ref(), topic).expect("partitions") {
        for record in
            ledger::Log::read(logged.as_ref(), topic, partition, 0, 10_000).await.expect("read")
        {
            assert!(!String::from_utf8_lossy(&record.value).contains("Shivajinagar"));
            let envelope = decode_record(&record.value).expect("decode");
            found |= matches!(envelope.event.payload, Payload::AadhaarVerified(_));
        }
    }
    assert!(found, "an AadhaarVerified event is logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authority_refuses_what_it_cannot_prove_and_says_why() {
    let f = fixture().await;
    let token = asha_token(&f).await;
    for (number, status, code) in [
        ("4991 1866 5247", StatusCode::UNPROCESSABLE_ENTITY, "invalid_aadhaar"),
        // Valid, but no such resident.
        ("2000 0000 0009", StatusCode::UNPROCESSABLE_ENTITY, "invalid_aadhaar"),
        (NO_MOBILE, StatusCode::UNPROCESSABLE_ENTITY, "aadhaar_no_mobile"),
        (SUSPENDED, StatusCode::UNPROCESSABLE_ENTITY, "aadhaar_suspended"),
    ] {
        let (got, answer, _) = ask_code(&f, &token, number).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{number}: {answer}");
    }
    let (status, answer) =
        call(&f, post("/v1/citizen/aadhaar/otp", None, serde_json::json!({ "aadhaar": ASHA })))
            .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    // Codes the authority refused count too: a locker asks for three in ten minutes.
    let (status, answer, _) = ask_code(&f, &token, ASHA).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")),
        "{answer}"
    );
    // Three wrong codes end the transaction.
    let (_, token) = stranger_token(&f).await;
    let (_, answer, text) = ask_code(&f, &token, ASHA).await;
    let (_, code) = text.expect("text");
    let txn = answer["txn"].as_str().expect("txn").to_owned();
    for _ in 0..2 {
        let (status, _) = send_code(&f, &token, &txn, wrong(&code)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, answer) = send_code(&f, &token, &txn, wrong(&code)).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("otp_expired")),
        "{answer}"
    );
    let (status, answer) = send_code(&f, &token, &txn, &code).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("otp_not_requested")),
        "{answer}"
    );
}

/// The attack that once worked: knowing someone's Aadhaar number gave their documents.
/// Now the code goes to the owner's phone, and a guesser gets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knowing_an_aadhaar_number_is_not_enough_to_link_it() {
    let f = fixture().await;
    let aadhaar = Aadhaar::parse(ASHA).expect("aadhaar");
    push_to_aadhaar(&f, &aadhaar).await;
    let (_, stranger) = stranger_token(&f).await;
    let (status, answer, text) = ask_code(&f, &stranger, ASHA).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    // To Asha's phone, not the stranger's.
    assert_eq!(text.as_ref().map(|(mobile, _)| mobile.as_str()), Some("9876543210"));
    let txn = answer["txn"].as_str().expect("txn").to_owned();
    for guess in ["123456", "654321", "000001"] {
        let (status, _) = send_code(&f, &stranger, &txn, guess).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert!(certificate_uris(&f, &stranger).await.is_empty());
    // Another citizen's transaction is not the stranger's to answer, even with the code.
    let token = asha_token(&f).await;
    let (_, answer, text) = ask_code(&f, &token, ASHA).await;
    let (_, code) = text.expect("text");
    let (status, refused) =
        send_code(&f, &stranger, answer["txn"].as_str().expect("txn"), &code).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("otp_not_requested"))
    );
    let (status, linked) = send_code(&f, &token, answer["txn"].as_str().expect("txn"), &code).await;
    assert_eq!(status, StatusCode::CREATED, "{linked}");
}

/// A number linked to another locker before links were proven (the old attack's result) is
/// taken back by its owner with the authority's OTP: the other locker is unlinked by a
/// platform event, and the documents move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_true_owner_reclaims_a_number_linked_by_someone_else() {
    let f = fixture().await;
    let aadhaar = Aadhaar::parse(ASHA).expect("aadhaar");
    push_to_aadhaar(&f, &aadhaar).await;
    // The stranger's locker, and its unproven link (as the old endpoint made it).
    let (locker, stranger) = stranger_token(&f).await;
    let key = ed25519_dalek::SigningKey::from_bytes(&[4; 32]);
    let subject = SealSubject::Locker(locker);
    let seal_key = f.state.vault.key_for(&subject).expect("vault");
    let mobile = PersonalData::Mobile(MobileNumber::parse("9811100001").expect("mobile"));
    let (personal, sealed) =
        ledger::crypto::seal_personal(&seal_key, subject, [1; 24], [2; 32], &mobile).expect("seal");
    let registration = Payload::CitizenRegistered(CitizenRegistered {
        locker,
        username: Username::parse("other.citizen").expect("username"),
        mobile_ref: Digest32([9; 32]),
        key: public_key_entry(&key.verifying_key()),
        personal,
    });
    crate::routes::platform_append_sealed(&f, [41; 16], registration, Some(sealed)).await;
    let reference = aadhaar_ref(&f.state.platform_secret, &aadhaar);
    let old_link = Payload::AadhaarLinked(AadhaarLinked { locker, aadhaar: reference.clone() });
    crate::routes::platform_append(&f, [42; 16], old_link).await;
    f.state.accounts.bind_aadhaar(&reference.keyed_hash, locker).expect("bind");
    assert!(
        certificate_uris(&f, &stranger).await.contains(&"in.gov.boardx-SSCER-2019-42".to_owned())
    );

    let token = asha_token(&f).await;
    let (status, linked) = link(&f, &token, ASHA).await;
    assert_eq!(status, StatusCode::CREATED, "{linked}");
    assert_eq!(linked["reclaimed"], true);
    assert!(certificate_uris(&f, &token).await.contains(&"in.gov.boardx-SSCER-2019-42".to_owned()));
    assert!(certificate_uris(&f, &stranger).await.is_empty(), "the documents moved");
    let profile = f.state.views.profile(&locker).expect("profile").expect("stranger");
    assert!(profile.aadhaar_hash.is_none());
    assert_eq!(f.state.views.anomalies().expect("anomalies"), 0);
}

/// An answer signed by any key but the authority's proves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_not_signed_by_the_authority_is_refused() {
    let f = fixture().await;
    let clock: std::sync::Arc<dyn ledger::clock::Clock> = f.clock.clone();
    let rogue = ed25519_dalek::SigningKey::from_bytes(&[62; 32]);
    let (rogue_url, mut texts) = crate::routes::start_authority(&rogue, clock.clone()).await;
    // Trusting the real authority's key, talking to the rogue one.
    let provider = server::app::kyc::HttpKyc::new(
        &rogue_url,
        &crate::routes::hex(f.authority_key.verifying_key().as_bytes()),
        crate::routes::TEST_AUA,
        clock,
    )
    .expect("provider");
    use server::app::kyc::KycProvider;
    let aadhaar = Aadhaar::parse(ASHA).expect("aadhaar");
    provider.send_otp(&aadhaar, "t-1").await.expect("code sent");
    let text = texts.recv().await.expect("text");
    let code =
        text["message"].as_str().expect("message").split(' ').next().expect("code").to_owned();
    let refused = provider.ekyc(&aadhaar, "t-1", &code).await.expect_err("a rogue signature");
    assert_eq!(refused, kyc::KycError::BadSignature);
}

/// Two links racing for one locker, with different numbers (the attack that once froze a
/// whole partition): one is linked, the other refused, and every partition keeps applying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_links_of_two_numbers_link_one_and_halt_nothing() {
    let f = fixture().await;
    let token = asha_token(&f).await;
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
    let mut codes = Vec::new();
    for number in [RAVI, ASHA] {
        let (status, answer, text) = ask_code(&f, &token, number).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        codes.push((answer["txn"].as_str().expect("txn").to_owned(), text.expect("text").1));
    }
    let calls = codes.iter().map(|(txn, code)| send_code(&f, &token, txn, code));
    let results = futures_util::future::join_all(calls).await;
    let mut statuses: Vec<StatusCode> = results.iter().map(|(status, _)| *status).collect();
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT], "{results:?}");
    slow.abort();
    f.projector.catch_up().await.expect("no partition halts");
    let health = f.projector.status().await.expect("status");
    assert!(health.iter().all(|p| p.halt.is_none()), "{health:?}");
    assert_eq!(f.state.views.anomalies().expect("anomalies"), 0);
}
