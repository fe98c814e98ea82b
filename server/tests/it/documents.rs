use axum::http::StatusCode;
use schemas::TimestampMs;

use crate::routes::{Fixture, NOW_MS, asha_token, citizen_records, fixture, json, send};

fn pdf(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.resize(size.max(9), b'x');
    bytes
}

async fn call_json(
    f: &Fixture,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let body = if body.is_null() { vec![] } else { body.to_string().into_bytes() };
    let (status, _, bytes) = send(&f.state, method, path, token, body).await;
    let value = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        json(&String::from_utf8_lossy(&bytes))
    };
    (status, value)
}

async fn upload(
    f: &Fixture,
    token: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    let (status, _, body) =
        send(&f.state, "POST", &format!("/v1/citizen/uploads?name={name}"), Some(token), bytes)
            .await;
    (status, json(&String::from_utf8_lossy(&body)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_download_delete_with_quota_accounting() {
    let f = fixture().await;
    let token = asha_token(&f);
    let content = pdf(50_000);
    let (status, answer) = upload(&f, &token, "rent-agreement.pdf", content.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["media_type"], "application/pdf");
    assert_eq!(answer["content_hash"], blake3::hash(&content).to_hex().as_str());
    let id = answer["id"].as_str().expect("id").to_owned();

    let (_, listing) =
        call_json(&f, "GET", "/v1/citizen/uploads", Some(&token), serde_json::Value::Null).await;
    assert_eq!(listing["items"][0]["file_name"], "rent-agreement.pdf");
    let (_, storage) =
        call_json(&f, "GET", "/v1/citizen/storage", Some(&token), serde_json::Value::Null).await;
    assert_eq!(storage["used_bytes"], 50_000);

    let (status, headers, bytes) =
        send(&f.state, "GET", &format!("/v1/citizen/uploads/{id}/content"), Some(&token), vec![])
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(bytes, content);

    let (status, _, _) =
        send(&f.state, "DELETE", &format!("/v1/citizen/uploads/{id}"), Some(&token), vec![]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, storage) =
        call_json(&f, "GET", "/v1/citizen/storage", Some(&token), serde_json::Value::Null).await;
    assert_eq!(storage["used_bytes"], 0);
    let (status, answer) = call_json(
        &f,
        "DELETE",
        &format!("/v1/citizen/uploads/{id}"),
        Some(&token),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["code"], "unknown_document");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_judged_by_content_size_and_quota_and_write_nothing_when_refused() {
    let f = fixture().await;
    let token = asha_token(&f);
    let before = citizen_records(&f).await;
    let png = b"\x89PNG\r\n\x1a\n0000000000".to_vec();
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        ("marks.pdf", png.clone(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_filetype"),
        ("setup.exe", pdf(100), StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_filetype"),
        (
            "notes.pdf",
            b"just text, not a pdf".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_filetype",
        ),
        (
            "data.json",
            b"{\"a\":1}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_filetype",
        ),
        ("empty.pdf", vec![], StatusCode::UNPROCESSABLE_ENTITY, "invalid_filesize"),
        ("big.pdf", pdf(10 * 1024 * 1024 + 1), StatusCode::PAYLOAD_TOO_LARGE, "invalid_filesize"),
    ];
    for (name, bytes, status, code) in cases {
        let (got, answer) = upload(&f, &token, name, bytes).await;
        assert_eq!(got, status, "{name}: {answer}");
        assert_eq!(answer["code"], code, "{name}: {answer}");
    }
    let (status, _, body) =
        send(&f.state, "POST", "/v1/citizen/uploads", Some(&token), pdf(10)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json(&String::from_utf8_lossy(&body))["code"], "missing_file_name");
    let (status, _, _) =
        send(&f.state, "POST", "/v1/citizen/uploads?name=a.pdf", None, pdf(10)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Exactly 10 MB is allowed; the name's case does not matter; png content under .png.
    let (status, answer) = upload(&f, &token, "Scan.PDF", pdf(10 * 1024 * 1024)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, answer) = upload(&f, &token, "photo.png", png).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(citizen_records(&f).await, before + 2, "refused uploads write nothing");
    // No temporary files are left behind by the refusals.
    let temps = std::fs::read_dir(f._dir.path().join("files/tmp")).expect("tmp").count();
    assert_eq!(temps, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_is_one_gigabyte() {
    let f = fixture().await;
    let token = asha_token(&f);
    // 102 files of 10 MB make 1020 MiB; the 103rd would pass 1 GiB.
    for i in 0u8..102 {
        let mut bytes = pdf(10 * 1024 * 1024);
        bytes[20] = i;
        let (status, answer) = upload(&f, &token, &format!("f{i}.pdf"), bytes).await;
        assert_eq!(status, StatusCode::CREATED, "{i}: {answer}");
    }
    let (status, answer) = upload(&f, &token, "last.pdf", pdf(10 * 1024 * 1024)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(answer["code"], "quota_exceeded");
    let (status, answer) = upload(&f, &token, "small.pdf", pdf(1000)).await;
    assert_eq!(status, StatusCode::CREATED, "room is left for a small one: {answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_altered_on_disk_is_refused_not_served() {
    let f = fixture().await;
    let token = asha_token(&f);
    let content = pdf(1000);
    let (_, answer) = upload(&f, &token, "a.pdf", content.clone()).await;
    let id = answer["id"].as_str().expect("id").to_owned();
    let hash = blake3::hash(&content).to_hex().to_string();
    let path = f._dir.path().join("files").join(&hash[..2]).join(&hash[2..]);
    let mut altered = content.clone();
    altered[500] ^= 1;
    std::fs::write(&path, altered).expect("tamper");
    let (status, _, body) =
        send(&f.state, "GET", &format!("/v1/citizen/uploads/{id}/content"), Some(&token), vec![])
            .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(json(&String::from_utf8_lossy(&body))["code"], "content_corrupt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_citizens_upload_is_not_found() {
    let f = fixture().await;
    let token = asha_token(&f);
    let (status, answer) = call_json(
        &f,
        "GET",
        "/v1/citizen/uploads/00112233445566778899aabbccddeeff/content",
        Some(&token),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["code"], "unknown_document");
    let (status, answer) = call_json(
        &f,
        "GET",
        "/v1/citizen/uploads/zz/content",
        Some(&token),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["code"], "invalid_upload_id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esignatures_verify_with_the_citizens_public_key() {
    let f = fixture().await;
    let token = asha_token(&f);
    let (_, certificates) =
        call_json(&f, "GET", "/v1/citizen/certificates", Some(&token), serde_json::Value::Null)
            .await;
    let uri = certificates["items"][0]["uri"].as_str().expect("uri").to_owned();
    let (status, signed) =
        call_json(&f, "POST", "/v1/citizen/esign", Some(&token), serde_json::json!({ "uri": uri }))
            .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    // Anyone can check it with nothing but the public key, the hash and the domain.
    let public: [u8; 32] = hex::decode(signed["public_key"].as_str().expect("key"))
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    let key = ed25519_dalek::VerifyingKey::from_bytes(&public).expect("key");
    let signature: [u8; 64] = hex::decode(signed["esignature"].as_str().expect("sig"))
        .expect("hex")
        .try_into()
        .expect("64 bytes");
    let mut message = signed["domain"].as_str().expect("domain").as_bytes().to_vec();
    message.extend(hex::decode(signed["content_hash"].as_str().expect("hash")).expect("hex"));
    key.verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&signature))
        .expect("the e-signature verifies");
    assert_eq!(signed["content_hash"], certificates["items"][0]["content_hash"]);
    // My Certificates says when.
    assert_eq!(certificates["items"][0]["esigned_at_ms"], serde_json::Value::Null);
    let (_, certificates) =
        call_json(&f, "GET", "/v1/citizen/certificates", Some(&token), serde_json::Value::Null)
            .await;
    let signed_item = certificates["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["uri"] == uri.as_str())
        .expect("the signed document");
    assert_eq!(signed_item["esigned_at_ms"], serde_json::json!(NOW_MS), "{signed_item}");
    for (body, status, code) in [
        (serde_json::json!({}), StatusCode::BAD_REQUEST, "invalid_document"),
        (
            serde_json::json!({"uri": "in.gov.cbse-HSCER-2099000000"}),
            StatusCode::NOT_FOUND,
            "unknown_document",
        ),
        (serde_json::json!({"uri": "nonsense"}), StatusCode::BAD_REQUEST, "invalid_uri"),
        (serde_json::json!({"uri": uri, "extra": 1}), StatusCode::BAD_REQUEST, "invalid_json"),
    ] {
        let (got, answer) =
            call_json(&f, "POST", "/v1/citizen/esign", Some(&token), body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(answer["code"], code, "{body}: {answer}");
    }

    // An upload too, and its list says when.
    let (_, uploaded) = upload(&f, &token, "degree.pdf", pdf(1500)).await;
    let id = uploaded["id"].as_str().expect("id").to_owned();
    let body = serde_json::json!({ "upload_id": id });
    let (status, signed) = call_json(&f, "POST", "/v1/citizen/esign", Some(&token), body).await;
    assert_eq!((status, signed["upload_id"].as_str()), (StatusCode::OK, Some(id.as_str())));
    let (_, uploads) =
        call_json(&f, "GET", "/v1/citizen/uploads", Some(&token), serde_json::Value::Null).await;
    assert_eq!(uploads["items"][0]["esigned_at_ms"], serde_json::json!(NOW_MS), "{uploads}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_links_open_count_views_expire_and_revoke() {
    let f = fixture().await;
    let token = asha_token(&f);
    let content = pdf(2000);
    let (_, uploaded) = upload(&f, &token, "degree.pdf", content.clone()).await;
    let upload_id = uploaded["id"].as_str().expect("id").to_owned();
    let (status, share) = call_json(
        &f,
        "POST",
        "/v1/citizen/shares",
        Some(&token),
        serde_json::json!({ "upload_id": upload_id, "expires_in_minutes": 60 }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{share}");
    let url = share["url"].as_str().expect("url").to_owned();
    // Anyone holding the link, without logging in.
    let (status, page) = call_json(&f, "GET", &url, None, serde_json::Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["name"], "degree.pdf");
    let (status, _, bytes) =
        send(&f.state, "GET", page["content_url"].as_str().expect("content url"), None, vec![])
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, content);
    let views = || async {
        let (_, shares) =
            call_json(&f, "GET", "/v1/citizen/shares", Some(&token), serde_json::Value::Null).await;
        assert_eq!(shares[0]["live"], true);
        shares[0]["views"].as_u64().expect("views")
    };
    // The page, then its content and bundle within the visit: one access.
    let (status, _, _) =
        send(&f.state, "GET", page["bundle_url"].as_str().expect("bundle url"), None, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(views().await, 1);
    // Without the visit, with another one, or after the visit's window: each is an access.
    let content = format!("{url}/content");
    let visit = page["visit"].as_str().expect("visit");
    let other = format!("{url}/content?visit={}", "0".repeat(32));
    for path in [content.as_str(), other.as_str()] {
        let (status, _, _) = send(&f.state, "GET", path, None, vec![]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    assert_eq!(views().await, 3);
    f.clock.set(TimestampMs(NOW_MS + server::limits::SHARE_VISIT_MS));
    let (status, _, _) =
        send(&f.state, "GET", &format!("{content}?visit={visit}"), None, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(views().await, 3, "the last window's visit still holds");
    f.clock.set(TimestampMs(NOW_MS + 2 * server::limits::SHARE_VISIT_MS));
    let (status, _, _) =
        send(&f.state, "GET", &format!("{content}?visit={visit}"), None, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(views().await, 4, "a visit ends");
    let (status, answer) =
        call_json(&f, "GET", &format!("{content}?viewer=me"), None, serde_json::Value::Null).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")));
    let (_, activity) =
        call_json(&f, "GET", "/v1/citizen/activity", Some(&token), serde_json::Value::Null).await;
    assert_eq!(activity["items"].as_array().expect("items").len(), 4, "{activity}");

    // Expired an hour later.
    f.clock.set(TimestampMs(NOW_MS + 60 * 60 * 1000));
    let (status, answer) = call_json(&f, "GET", &url, None, serde_json::Value::Null).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(answer["code"], "share_expired");
    f.clock.set(TimestampMs(NOW_MS));

    let id = share["id"].as_str().expect("id");
    let (status, _, _) =
        send(&f.state, "POST", &format!("/v1/citizen/shares/{id}/revoke"), Some(&token), vec![])
            .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, answer) = call_json(&f, "GET", &url, None, serde_json::Value::Null).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(answer["code"], "share_revoked");
    let (status, answer) = call_json(
        &f,
        "POST",
        &format!("/v1/citizen/shares/{id}/revoke"),
        Some(&token),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(answer["code"], "share_revoked");
    // Guessing links: unknown, malformed.
    let locker = f.citizen.to_string();
    for path in [
        format!("/v1/shared/{locker}/00000000000000000000000000000000"),
        format!("/v1/shared/{locker}/nothex"),
        "/v1/shared/not-a-locker/00000000000000000000000000000000".to_owned(),
    ] {
        let (status, answer) = call_json(&f, "GET", &path, None, serde_json::Value::Null).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(answer["code"], "unknown_share");
    }
    for (body, code) in [
        (serde_json::json!({ "upload_id": upload_id, "expires_in_minutes": 0 }), "invalid_expiry"),
        (
            serde_json::json!({ "upload_id": upload_id, "expires_in_minutes": 50_000 }),
            "invalid_expiry",
        ),
        (
            serde_json::json!({ "upload_id": upload_id, "uri": "in.gov.cbse-SSCER-1" }),
            "invalid_document",
        ),
    ] {
        let (status, answer) =
            call_json(&f, "POST", "/v1/citizen/shares", Some(&token), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(answer["code"], code);
    }
}

/// A deleted upload's bytes go once no upload names them: not while another upload of the
/// same bytes lives, not before the deletion is `FILE_SWEEP_AFTER_MS` old, never when an issuer
/// pushed the same bytes; and the same bytes uploaded again are stored again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_uploads_files_are_removed_once_nothing_names_them() {
    let f = fixture().await;
    let token = asha_token(&f);
    let cursor = f._dir.path().join("files-swept");
    let content = pdf(3000);
    let hash = schemas::Digest32(*blake3::hash(&content).as_bytes());
    let mut ids = Vec::new();
    for name in ["a.pdf", "b.pdf"] {
        let (status, uploaded) = upload(&f, &token, name, content.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{uploaded}");
        ids.push(uploaded["id"].as_str().expect("id").to_owned());
    }
    let delete = |id: String| {
        let state = f.state.clone();
        let token = token.clone();
        async move {
            let path = format!("/v1/citizen/uploads/{id}");
            let (status, _, _) = send(&state, "DELETE", &path, Some(&token), vec![]).await;
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
    };
    let sweep = || server::jobs::sweep::sweep(&f.state, &cursor);
    let later = |ms: i64| f.clock.set(TimestampMs(NOW_MS + ms));

    delete(ids[0].clone()).await;
    assert_eq!(sweep().await.expect("sweep").checked, 0, "too recent a deletion");
    later(server::limits::FILE_SWEEP_AFTER_MS);
    let swept = sweep().await.expect("sweep");
    assert_eq!((swept.checked, swept.removed), (1, 0), "b.pdf still names the bytes");
    assert!(f.state.files.contains(&hash).await.expect("contains"));
    let (status, _, bytes) = send(
        &f.state,
        "GET",
        &format!("/v1/citizen/uploads/{}/content", ids[1]),
        Some(&token),
        vec![],
    )
    .await;
    assert_eq!((status, bytes), (StatusCode::OK, content.clone()));

    delete(ids[1].clone()).await;
    later(2 * server::limits::FILE_SWEEP_AFTER_MS);
    let swept = sweep().await.expect("sweep");
    assert_eq!((swept.checked, swept.removed), (1, 1), "nothing names them now");
    assert!(!f.state.files.contains(&hash).await.expect("contains"), "the file is gone");
    let (_, metrics) = crate::routes::get(&f.state, "/metrics").await;
    assert!(metrics.contains("\nlocker_files_removed_total 1\n"), "{metrics}");
    assert_eq!(
        sweep().await.expect("again"),
        server::jobs::sweep::Swept::default(),
        "past the cursor"
    );

    // Uploaded again: stored again, and no earlier deletion removes it.
    let (status, again) = upload(&f, &token, "c.pdf", content.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert!(f.state.files.contains(&hash).await.expect("contains"));
    later(3 * server::limits::FILE_SWEEP_AFTER_MS);
    assert_eq!(sweep().await.expect("sweep").removed, 0);
    assert!(f.state.files.contains(&hash).await.expect("contains"));

    // The bytes of an issued document (pushed, so pinned), uploaded and deleted: they stay.
    let (_, certificates) =
        call_json(&f, "GET", "/v1/citizen/certificates", Some(&token), serde_json::Value::Null)
            .await;
    let uri = certificates["items"][0]["uri"].as_str().expect("uri").to_owned();
    let path = format!("/v1/citizen/certificates/{uri}/content");
    let (status, _, issued) = send(&f.state, "GET", &path, Some(&token), vec![]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, copy) = upload(&f, &token, "copy.pdf", issued.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{copy}");
    delete(copy["id"].as_str().expect("id").to_owned()).await;
    later(4 * server::limits::FILE_SWEEP_AFTER_MS);
    let swept = sweep().await.expect("sweep");
    assert_eq!((swept.checked, swept.removed), (1, 0), "pinned");
    let (status, _, still) = send(&f.state, "GET", &path, Some(&token), vec![]).await;
    assert_eq!((status, still), (StatusCode::OK, issued));
}

/// Each view of a share link is an event, so a link records at most `SHARE_VIEWS_PER_HOUR`
/// views an hour; past that it answers 429 and serves nothing, until the budget refills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_link_records_so_many_views_an_hour() {
    let f = fixture().await;
    let token = asha_token(&f);
    let (_, uploaded) = upload(&f, &token, "degree.pdf", pdf(1000)).await;
    let body = serde_json::json!({ "upload_id": uploaded["id"] });
    let (status, share) = call_json(&f, "POST", "/v1/citizen/shares", Some(&token), body).await;
    assert_eq!(status, StatusCode::CREATED, "{share}");
    let content = format!("{}/content", share["url"].as_str().expect("url"));
    for _ in 0..server::limits::SHARE_VIEWS_PER_HOUR {
        let (status, _, _) = send(&f.state, "GET", &content, None, vec![]).await;
        assert_eq!(status, StatusCode::OK);
    }
    let records = citizen_records(&f).await;
    let (status, answer) = call_json(&f, "GET", &content, None, serde_json::Value::Null).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_views"))
    );
    assert!(answer["message"].as_str().expect("message").contains("in 60 s"), "{answer}");
    assert_eq!(citizen_records(&f).await, records, "a refused view writes nothing");
    // A minute later, one more.
    f.clock.set(TimestampMs(NOW_MS + 60_000));
    let (status, _, _) = send(&f.state, "GET", &content, None, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = send(&f.state, "GET", &content, None, vec![]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

/// Uploads and the file sweep take turns: an upload waits while a sweep holds the files, and
/// a sweep with work to do waits while an upload is between storing and being counted (so a
/// sweep never removes bytes an upload is about to name).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_and_sweeps_take_turns_on_the_files() {
    let f = fixture().await;
    let token = asha_token(&f);
    let upload_of = |name: &'static str| {
        let (state, token) = (f.state.clone(), token.clone());
        tokio::spawn(async move {
            let path = format!("/v1/citizen/uploads?name={name}");
            send(&state, "POST", &path, Some(&token), pdf(1200)).await.0
        })
    };
    let held = std::time::Duration::from_millis(300);

    let sweeping = f.state.files.sweeping().await;
    let upload = upload_of("a.pdf");
    tokio::time::sleep(held).await;
    assert!(!upload.is_finished(), "the upload waits for the sweep");
    drop(sweeping);
    assert_eq!(upload.await.expect("upload"), StatusCode::CREATED);

    // A deletion due for sweeping, then an upload in flight: the sweep waits for it.
    let (_, uploads) =
        call_json(&f, "GET", "/v1/citizen/uploads", Some(&token), serde_json::Value::Null).await;
    let id = uploads["items"][0]["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/citizen/uploads/{id}");
    let (status, _, _) = send(&f.state, "DELETE", &path, Some(&token), vec![]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    f.clock.set(TimestampMs(NOW_MS + server::limits::FILE_SWEEP_AFTER_MS));
    let storing = f.state.files.storing().await;
    let sweep = {
        let (state, cursor) = (f.state.clone(), f._dir.path().join("files-swept"));
        tokio::spawn(async move { server::jobs::sweep::sweep(&state, &cursor).await })
    };
    tokio::time::sleep(held).await;
    assert!(!sweep.is_finished(), "the sweep waits for the upload");
    drop(storing);
    assert_eq!(sweep.await.expect("sweep").expect("swept").removed, 1);
}
