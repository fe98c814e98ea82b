use axum::http::StatusCode;

use crate::routes::{Fixture, asha_token, fixture, json, send};

async fn get_json(f: &Fixture, path: &str, token: Option<&str>) -> (StatusCode, serde_json::Value) {
    let (status, _, body) = send(&f.state, "GET", path, token, vec![]).await;
    (status, json(&String::from_utf8_lossy(&body)))
}

/// What `locker verify-bundle` prints, or why it refuses.
fn verify_bundle_file(
    bundle: &[u8],
    key: &ed25519_dalek::VerifyingKey,
    document: Option<&[u8]>,
) -> Result<String, String> {
    verifier::verify_bundle_file(bundle, key, document)
        .map(|verified| verified.report())
        .map_err(|e| e.to_string())
}

fn pdf(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.resize(size, b'x');
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificates_bundle_verifies_offline_and_names_its_content() {
    let f = fixture().await;
    let token = asha_token(&f);
    let (_, page) = get_json(&f, "/v1/citizen/certificates", Some(&token)).await;
    let uri = page["items"][0]["uri"].as_str().expect("a demo certificate").to_owned();
    let (status, headers, bundle) = send(
        &f.state,
        "GET",
        &format!("/v1/citizen/certificates/{uri}/bundle"),
        Some(&token),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&bundle));
    let disposition = headers["content-disposition"].to_str().expect("ascii");
    assert!(disposition.contains(".locker-bundle.json"), "{disposition}");
    let key = f.platform.verifying_key();
    let summary = verify_bundle_file(&bundle, &key, None).expect("the bundle verifies");
    assert!(summary.starts_with(&format!("authentic: document {uri}")), "{summary}");
    assert!(summary.contains("a key the platform registered"), "{summary}");

    // With the document's bytes: the same content, or a clear refusal.
    let (status, _, content) = send(
        &f.state,
        "GET",
        &format!("/v1/citizen/certificates/{uri}/content"),
        Some(&token),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let summary = verify_bundle_file(&bundle, &key, Some(&content)).expect("the content matches");
    assert!(summary.contains("exactly this content"), "{summary}");
    let mut other = content.clone();
    other.push(b'\n');
    let refused = verify_bundle_file(&bundle, &key, Some(&other)).expect_err("other bytes");
    assert!(refused.contains("not this document"), "{refused}");

    // Another ledger key, a changed byte, a file that is no bundle.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[8; 32]).verifying_key();
    let refused = verify_bundle_file(&bundle, &stranger, None).expect_err("other key");
    assert!(refused.contains("not the ledger's key"), "{refused}");
    let mut value = json(&String::from_utf8_lossy(&bundle));
    value["document"]["leaf_index"] =
        serde_json::json!(value["document"]["leaf_index"].as_u64().expect("index") + 1);
    let refused =
        verify_bundle_file(value.to_string().as_bytes(), &key, None).expect_err("moved leaf");
    assert!(refused.contains("not in the checkpointed log"), "{refused}");
    for (bad, says) in [
        (b"{}".to_vec(), "not a proof bundle"),
        (
            br#"{"code":"unknown_document","message":"x is not in your locker"}"#.to_vec(),
            "an error from the service: x is not in your locker (unknown_document)",
        ),
        (b"\xff".to_vec(), "not a proof bundle"),
        (vec![b' '; verifier::limits::BUNDLE_BYTES_MAX + 1], "at most"),
    ] {
        let refused = verify_bundle_file(&bad, &key, None).expect_err("bad");
        assert!(refused.contains(says), "{refused}");
    }
    let mut value = json(&String::from_utf8_lossy(&bundle));
    value["format"] = serde_json::json!("locker-proof-bundle/v9");
    let refused = verify_bundle_file(value.to_string().as_bytes(), &key, None).expect_err("format");
    assert!(refused.contains("locker-proof-bundle/v1"), "{refused}");

    // Only the owner gets a bundle.
    let (status, answer) =
        get_json(&f, &format!("/v1/citizen/certificates/{uri}/bundle"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    let (status, answer) = get_json(
        &f,
        "/v1/citizen/certificates/in.gov.cbse-HSCER-1999-0000000/bundle",
        Some(&token),
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_document"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_upload_and_its_share_link_get_bundles_once_checkpointed() {
    let f = fixture().await;
    let token = asha_token(&f);
    let content = pdf(3000);
    let (status, _, body) = send(
        &f.state,
        "POST",
        "/v1/citizen/uploads?name=degree.pdf",
        Some(&token),
        content.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = json(&String::from_utf8_lossy(&body))["id"].as_str().expect("id").to_owned();
    // The request waits for the checkpointer to cover the new record.
    let (status, _, bundle) =
        send(&f.state, "GET", &format!("/v1/citizen/uploads/{id}/bundle"), Some(&token), vec![])
            .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&bundle));
    let key = f.platform.verifying_key();
    let summary =
        verify_bundle_file(&bundle, &key, Some(&content)).expect("the upload's bundle verifies");
    assert!(summary.contains(&format!("signed by citizen {}", f.citizen)), "{summary}");

    let (status, share) = {
        let body = serde_json::json!({ "upload_id": id }).to_string().into_bytes();
        let (status, _, answer) =
            send(&f.state, "POST", "/v1/citizen/shares", Some(&token), body).await;
        (status, json(&String::from_utf8_lossy(&answer)))
    };
    assert_eq!(status, StatusCode::CREATED, "{share}");
    let url = share["url"].as_str().expect("url");
    let (status, _, public) = send(&f.state, "GET", &format!("{url}/bundle"), None, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    verify_bundle_file(&public, &key, Some(&content))
        .expect("anyone holding the link can check the document");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_sees_signed_checkpoints_and_proves_the_log_only_grew() {
    let f = fixture().await;
    let key = f.platform.verifying_key();
    // Wait for the first round of checkpoints.
    let mut checkpoints = serde_json::Value::Null;
    for _ in 0..100 {
        let (_, answer) = get_json(&f, "/v1/ledger/checkpoints", None).await;
        if answer["checkpoints"].as_array().is_some_and(|c| !c.is_empty()) {
            checkpoints = answer;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(checkpoints["ledger_key"].as_str(), Some(verifier::hex_key(&key).as_str()));
    let parse = |c: &serde_json::Value| {
        let signed = ledger::merkle::SignedCheckpoint::from_note(
            c["note"].as_str().expect("note").as_bytes(),
        )
        .expect("a checkpoint note");
        signed.verify(&key).expect("signed by the ledger");
        signed
    };
    let citizen_topic = f.ledger.config().citizen_topic.clone();
    let before: std::collections::HashMap<u32, ledger::merkle::SignedCheckpoint> =
        checkpoints["checkpoints"]
            .as_array()
            .expect("list")
            .iter()
            .map(parse)
            .filter(|c| c.checkpoint.topic == citizen_topic)
            .map(|c| (c.checkpoint.partition, c))
            .collect();

    // The citizen's partition grows; its next checkpoint is consistent with the earlier one.
    let token = asha_token(&f);
    let (status, _, _) =
        send(&f.state, "POST", "/v1/citizen/uploads?name=a.pdf", Some(&token), pdf(500)).await;
    assert_eq!(status, StatusCode::CREATED);
    let mut grown = None;
    for _ in 0..100 {
        let (_, answer) = get_json(&f, "/v1/ledger/checkpoints", None).await;
        grown = answer["checkpoints"].as_array().expect("list").iter().map(parse).find_map(|c| {
            let old = before.get(&c.checkpoint.partition)?;
            (c.checkpoint.topic == citizen_topic && c.checkpoint.size > old.checkpoint.size)
                .then(|| (old.clone(), c))
        });
        if grown.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (before, after) = grown.expect("a later checkpoint of the citizen's partition");
    let partition = after.checkpoint.partition;
    let (first, second) = (before.checkpoint.size, after.checkpoint.size);
    let (status, answer) = get_json(
        &f,
        &format!("/v1/ledger/consistency?topic={citizen_topic}&partition={partition}&first={first}&second={second}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let proof: Vec<schemas::Digest32> = answer["proof"]
        .as_array()
        .expect("proof")
        .iter()
        .map(|h| schemas::Digest32::from_hex(h.as_str().expect("hex")).expect("hash"))
        .collect();
    ledger::merkle::verify_consistency(
        first,
        second,
        &before.checkpoint.root,
        &after.checkpoint.root,
        &proof,
    )
    .expect("the log only grew");

    for (query, status, code) in [
        (
            format!("topic={citizen_topic}&partition={partition}&first=0&second={second}"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_sizes",
        ),
        (
            format!("topic={citizen_topic}&partition={partition}&first={second}&second={first}"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_sizes",
        ),
        (
            format!(
                "topic={citizen_topic}&partition={partition}&first=1&second={}",
                second + 1_000_000
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "beyond_checkpoint",
        ),
        (
            "topic=elsewhere&partition=0&first=1&second=2".to_owned(),
            StatusCode::NOT_FOUND,
            "unknown_partition",
        ),
        (
            format!("topic={citizen_topic}&partition=9999&first=1&second=2"),
            StatusCode::NOT_FOUND,
            "unknown_partition",
        ),
        (
            format!("topic={citizen_topic}&partition=x&first=1&second=2"),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            format!("topic={citizen_topic}&first=1&second=2"),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
    ] {
        let (got, answer) = get_json(&f, &format!("/v1/ledger/consistency?{query}"), None).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{query}: {answer}");
    }
}

/// With no checkpoint covering the document (the checkpointer is not running here), a bundle
/// request waits its bound and answers `not_yet_checkpointed`, a 503 to retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_waits_its_bound_for_a_checkpoint_then_says_so() {
    use server::app::proofs::Proofs;
    let f = fixture().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let idle = server::app::proofs::Transparency::open(
        std::sync::Arc::clone(f.ledger.log()),
        &dir.path().join("merkle"),
        f.ledger.config(),
        "idle.checkpoints".to_owned(),
        f.platform.verifying_key(),
        ledger::merkle::CheckpointPolicy { every_records: u64::MAX, every_ms: i64::MAX },
        50,
    )
    .await
    .expect("transparency")
    .with_bundle_wait_ms(300);
    let (_, page) = get_json(&f, "/v1/citizen/certificates", Some(&asha_token(&f))).await;
    let uri = page["items"][0]["uri"].as_str().expect("a demo certificate");
    let view = f
        .state
        .views
        .document(&projections::views::Owner::Locker(f.citizen), uri)
        .expect("views")
        .expect("the demo certificate");
    let started = std::time::Instant::now();
    let refused = idle.bundle(&f.state.views, view.origin).await.expect_err("no checkpoint");
    assert_eq!(
        (StatusCode::from_u16(refused.code.status()).expect("a status"), refused.code.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "not_yet_checkpointed")
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(300), "it waited its bound");
}

/// A bundle proves issuance; `POST /v1/ledger/status` says what became of the document since:
/// updated (the old bundle is no longer current), revoked (and why), an upload deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundles_document_status_follows_updates_revocations_and_deletions() {
    use schemas::*;
    let f = fixture().await;
    let token = asha_token(&f);
    let issuer = crate::push::register_issuer(&f, "in.gov.statusboard").await;
    let push = crate::push::Push { doc_id: "2024-77", ..crate::push::Push::default() };
    let (status, answer) = crate::push::post(&f, crate::push::body(&f, &issuer, &push)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let uri = DocUri::parse("in.gov.statusboard-HSCER-2024-77").expect("uri");
    let bundle = || async {
        let path = format!("/v1/citizen/certificates/{uri}/bundle");
        let (status, _, bundle) = send(&f.state, "GET", &path, Some(&token), vec![]).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&bundle));
        bundle
    };
    let status_of = |bundle: Vec<u8>| async {
        let (status, _, answer) = send(&f.state, "POST", "/v1/ledger/status", None, bundle).await;
        (status, json(&String::from_utf8_lossy(&answer)))
    };
    let first = bundle().await;
    let (status, answer) = status_of(first.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["status"].as_str(), answer["current"].as_bool()),
        (Some("active"), Some(true))
    );
    assert_eq!(answer["uri"], uri.to_string());

    let update = crate::push::reevaluated(&f, &issuer, 40, &uri);
    let (status, answer) = crate::push::post(&f, update).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (_, answer) = status_of(first.clone()).await;
    assert_eq!(
        (answer["status"].as_str(), answer["current"].as_bool()),
        (Some("updated"), Some(false))
    );
    let (_, answer) = status_of(bundle().await).await;
    assert_eq!(
        (answer["status"].as_str(), answer["current"].as_bool()),
        (Some("updated"), Some(true))
    );

    let revoke = crate::push::plain(
        &issuer,
        41,
        Payload::DocumentRevoked(DocumentRevoked {
            uri: uri.clone(),
            recipient: Recipient::Locker(f.citizen),
            reason: RevocationReason::Fraud,
            detail: None,
        }),
    );
    let (status, answer) = crate::push::post(&f, revoke).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (_, answer) = status_of(first.clone()).await;
    assert_eq!(
        (answer["status"].as_str(), answer["revoked_reason"].as_str()),
        (Some("revoked"), Some("fraud"))
    );

    // Not this ledger's, or not a bundle.
    let mut altered = json(&String::from_utf8_lossy(&first));
    altered["document"]["leaf_index"] =
        serde_json::json!(altered["document"]["leaf_index"].as_u64().expect("index") + 1);
    let (status, answer) = status_of(altered.to_string().into_bytes()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("bundle_not_verified"))
    );
    assert!(answer["message"].as_str().expect("message").contains("not in the checkpointed log"));
    let (status, answer) = status_of(b"{}".to_vec()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_bundle"))
    );

    // An upload: present, then deleted.
    let (status, _, uploaded) =
        send(&f.state, "POST", "/v1/citizen/uploads?name=a.pdf", Some(&token), pdf(2000)).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = json(&String::from_utf8_lossy(&uploaded))["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/citizen/uploads/{id}/bundle");
    let (status, _, upload_bundle) = send(&f.state, "GET", &path, Some(&token), vec![]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, answer) = status_of(upload_bundle.clone()).await;
    assert_eq!(
        (answer["status"].as_str(), answer["upload_id"].as_str()),
        (Some("present"), Some(id.as_str()))
    );
    let (status, _, _) =
        send(&f.state, "DELETE", &format!("/v1/citizen/uploads/{id}"), Some(&token), vec![]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, answer) = status_of(upload_bundle).await;
    assert_eq!(answer["status"], "deleted");
}
