//! Pulling documents and checking paper copies on a real port (issue 21): the exam board
//! declares its Class XII marksheet (marks of 0 to 100, pulled by roll number and year) and
//! serves pulls with `locker issuer serve` (its own process) from a results file. The demo
//! citizen pulls her marksheet (her name matched tolerantly), and each refusal is seen:
//! no record, a name that does not match, a result withheld, the board's endpoint down, and
//! an endpoint answering with a document signed by a key the board never registered. Every
//! pull is in her activity; no identifier she typed is in the server's log. An endpoint that
//! answers without end is cut off at a push's size; one that never answers times out. A bulk file with
//! marks of 101 is refused row by row, naming the field. The document's QR code, read back by
//! an independent decoder, opens a proof bundle that `locker verify-bundle` accepts, and the
//! slip is a PDF naming the document.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use client::citizen::{Citizen, Public};

use crate::journey::{gateway, locker, locker_binary, owned, serve_on_folder};

const RESULTS: &str = "roll_no,year,name,Physics,Chemistry,Mathematics,status
2024-5000001,2024,ASHA  KUMARI,88,91,97,
2024-5000002,2024,Ravi Kumar,70,65,72,
2024-5000003,2024,Asha Kumari,,,,withheld
2024-5000005,2024,Asha Kumari,88,91,101,
";

/// Its fields and pull, with the endpoint filled in.
fn declaration(endpoint: &str) -> String {
    serde_json::json!({
        "fields": [
            {"key": "Physics", "label": "Physics", "kind": {"integer": {"min": 0, "max": 100}}, "required": true},
            {"key": "Chemistry", "label": "Chemistry", "kind": {"integer": {"min": 0, "max": 100}}, "required": true},
            {"key": "Mathematics", "label": "Mathematics", "kind": {"integer": {"min": 0, "max": 100}}, "required": true}
        ],
        "pull": {"endpoint": endpoint, "identifiers": [
            {"key": "roll_no", "label": "Roll number", "kind": {"text": {"max_chars": 20}}, "required": true},
            {"key": "year", "label": "Year", "kind": {"integer": {"min": 2000, "max": 2030}}, "required": true}
        ]}
    })
    .to_string()
}

/// `locker issuer serve` for the board's Class XII results, signing with `key`.
struct Board {
    child: Child,
    url: String,
}

impl Drop for Board {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn board(records: &Path, key: &Path, platform_key: &str) -> Board {
    let mut child = Command::new(locker_binary())
        .args(["issuer", "serve", "--listen", "127.0.0.1:0", "--exit-with-stdin"])
        .args(["--issuer", "in.gov.cbse", "--doc-type", "HSCER", "--name", "Class XII Marksheet"])
        .args(["--issued-on", "2024-05-13", "--identifier", "roll_no", "--identifier", "year"])
        .args(["--platform-key", platform_key, "--name-rule", "tolerant"])
        .arg("--records")
        .arg(records)
        .arg("--key")
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start locker issuer serve");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("read");
    let url = line.split(" answers pulls at ").nth(1).expect("its address").trim().to_owned();
    Board { child, url }
}

async fn declare(url: &str, keys: &Path, spec: &Path, endpoint: &str) {
    std::fs::write(spec, declaration(endpoint)).expect("write the declaration");
    let key = keys.join("in.gov.cbse.key");
    let (ok, out, err) = locker(owned(&[
        "issuer",
        "declare",
        "--server",
        url,
        "--key",
        key.to_str().expect("path"),
        "--issuer",
        "in.gov.cbse",
        "--doc-type",
        "HSCER",
        spec.to_str().expect("path"),
    ]))
    .await;
    assert!(ok, "declare: {out} {err}");
}

/// A pull's refusal code (the answer must be a refusal).
async fn refused(citizen: &Citizen, roll: &str, year: &str) -> (String, u16) {
    let error = citizen
        .pull("in.gov.cbse", "HSCER", &[("roll_no", roll), ("year", year)])
        .await
        .expect_err("refused");
    let client::ClientError::Refused { code, status, .. } = &error else {
        panic!("not a refusal: {error}")
    };
    (code.map(|c| c.code().to_owned()).unwrap_or_default(), *status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_pulls_her_marksheet_and_a_phone_checks_the_paper() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (gateway_url, _sms) = gateway().await;
    let server = serve_on_folder(&data, &gateway_url);
    let url = format!("http://{}", server.address);
    let public = Public::new(&url).expect("url");
    let keys = data.join("demo-keys");
    let platform_key = public.checkpoints().await.expect("checkpoints").ledger_key;
    let records = dir.path().join("results.csv");
    std::fs::write(&records, RESULTS).expect("write results");
    let spec = dir.path().join("hscer.json");
    let good = board(&records, &keys.join("in.gov.cbse.key"), &platform_key);
    declare(&url, &keys, &spec, &good.url).await;

    let asha = public.log_in("asha", server::app::demo::DEMO_PASSWORD).await.expect("login");
    let offered = asha.pullable().await.expect("pullable").to_string();
    assert!(offered.contains("\"HSCER\"") && offered.contains("Roll number"), "{offered}");

    // Her marksheet: "ASHA  KUMARI" on the board's record is her name, tolerantly.
    let pulled = asha
        .pull("in.gov.cbse", "HSCER", &[("roll_no", "2024-5000001"), ("year", "2024")])
        .await
        .expect("pulled");
    let uri = "in.gov.cbse-HSCER-2024-5000001";
    assert_eq!((pulled["status"].as_str(), pulled["uri"].as_str()), (Some("issued"), Some(uri)));
    let again = asha
        .pull("in.gov.cbse", "HSCER", &[("roll_no", "2024-5000001"), ("year", "2024")])
        .await
        .expect("pulled again");
    assert_eq!(again["status"], "already_present");
    let fields =
        asha.bytes(&format!("/v1/citizen/certificates/{uri}/fields")).await.expect("fields");
    assert!(String::from_utf8_lossy(&fields).contains("\"97\""), "the marks came with it");

    // Each refusal, in the board's words.
    assert_eq!(refused(&asha, "2024-5999999", "2024").await, ("no_record".to_owned(), 404));
    assert_eq!(refused(&asha, "2024-5000002", "2024").await, ("name_mismatch".to_owned(), 422));
    assert_eq!(refused(&asha, "2024-5000003", "2024").await, ("try_later".to_owned(), 503));
    // The board's own answer breaks its declaration (marks of 101): not taken.
    assert_eq!(refused(&asha, "2024-5000005", "2024").await, ("invalid_answer".to_owned(), 502));
    assert_eq!(
        refused(&asha, "2024-5000001", "1999").await,
        ("invalid_identifier".to_owned(), 422)
    );

    // Nobody but the platform is served by the board.
    let unsigned = client::http::JsonClient::new(std::time::Duration::from_secs(5))
        .post(
            &client::http::JsonClient::parse_url(&good.url).expect("url"),
            r#"{"request_id":"x","locker":"x","doc_type":"HSCER","identifiers":{},"name":"x"}"#
                .to_owned(),
        )
        .await
        .expect("the board answers");
    assert_eq!(unsigned.0, 401, "{}", unsigned.1);

    // An endpoint that signs with a key the board never registered: nothing lands.
    let forged_key = dir.path().join("forged.key");
    let (ok, _, err) =
        locker(owned(&["keys", "generate", "--out", forged_key.to_str().expect("p")])).await;
    assert!(ok, "{err}");
    let forger = board(&records, &forged_key, &platform_key);
    declare(&url, &keys, &spec, &forger.url).await;
    let mut forged_roll = RESULTS.to_owned();
    forged_roll.push_str("2024-5000004,2024,Asha Kumari,50,50,50,\n");
    drop(forger);
    std::fs::write(&records, &forged_roll).expect("write results");
    let forger = board(&records, &forged_key, &platform_key);
    declare(&url, &keys, &spec, &forger.url).await;
    assert_eq!(refused(&asha, "2024-5000004", "2024").await, ("invalid_answer".to_owned(), 502));

    // An endpoint that answers without end: read up to a push's size, then refused.
    let flood = flooding_endpoint().await;
    declare(&url, &keys, &spec, &flood).await;
    assert_eq!(refused(&asha, "2024-5000001", "2024").await, ("invalid_answer".to_owned(), 502));

    // An endpoint that takes the request and never answers: each attempt times out.
    let silent = silent_endpoint().await;
    declare(&url, &keys, &spec, &silent).await;
    assert_eq!(
        refused(&asha, "2024-5000001", "2024").await,
        ("issuer_unavailable".to_owned(), 502)
    );

    // The board's endpoint down: the citizen hears so, nothing changes.
    let down = forger.url.clone();
    drop(forger);
    declare(&url, &keys, &spec, &down).await;
    assert_eq!(
        refused(&asha, "2024-5000001", "2024").await,
        ("issuer_unavailable".to_owned(), 502)
    );
    let held = asha.certificates().await.expect("certificates");
    assert!(!held.items.iter().any(|c| c.uri == "in.gov.cbse-HSCER-2024-5000004"));

    // Every pull is in her activity, with what became of it.
    let activity = asha.activity().await.expect("activity").to_string();
    for outcome in [
        "issued",
        "no_record",
        "name_mismatch",
        "try_later",
        "invalid_answer",
        "issuer_unavailable",
    ] {
        assert!(activity.contains(&format!("\"outcome\":\"{outcome}\"")), "{outcome}: {activity}");
    }

    // Declared fields in bulk: marks of 101 are refused, naming the field; the rest land. A
    // push with a subject the board never declared is refused too.
    bulk_refuses_undeclared_marks(dir.path(), &url, &keys).await;
    push_refuses_an_undeclared_subject(dir.path(), &url, &keys, asha.locker()).await;

    // The paper copy: the QR code, read by a decoder of its own, opens a bundle that verifies.
    paper_copy(&asha, &public, uri, dir.path(), &platform_key).await;

    let log = std::fs::read_to_string(data.with_extension("server.log")).expect("server log");
    for typed in ["2024-5999999", "2024-5000002", "2024-5000003"] {
        assert!(!log.contains(typed), "the server's log holds an identifier typed: {typed}");
    }
    drop(good);
}

/// An issuer endpoint (in this process) that never answers.
async fn silent_endpoint() -> String {
    let never = || std::future::pending::<&'static str>();
    let router = axum::Router::new().route("/pull", axum::routing::post(never));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}/pull")
}

/// A hostile issuer endpoint (in this process): 200 and an endless body.
async fn flooding_endpoint() -> String {
    let endless = || async {
        let chunk = axum::body::Bytes::from(vec![b'a'; 1 << 20]);
        let stream =
            futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        axum::response::Response::new(axum::body::Body::from_stream(stream))
    };
    let router = axum::Router::new().route("/pull", axum::routing::post(endless));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}/pull")
}

async fn bulk_refuses_undeclared_marks(dir: &Path, url: &str, keys: &Path) {
    let lockers = public_locker(url).await;
    let file = dir.join("hscer-bulk.csv");
    std::fs::write(
        &file,
        format!(
            "roll_no,name,locker,Physics,Chemistry,Mathematics\n\
             2024-6000001,Asha Kumari,{lockers},80,81,82\n\
             2024-6000002,Asha Kumari,{lockers},80,81,101\n"
        ),
    )
    .expect("write bulk file");
    let report = dir.join("report.csv");
    let key = keys.join("in.gov.cbse.key");
    let (ok, out, err) = locker(owned(&[
        "issue",
        "bulk",
        "--server",
        url,
        "--key",
        key.to_str().expect("path"),
        "--issuer",
        "in.gov.cbse",
        "--doc-type",
        "HSCER",
        "--name",
        "Class XII Marksheet",
        "--issued-on",
        "2024-05-13",
        "--report",
        report.to_str().expect("path"),
        file.to_str().expect("path"),
    ]))
    .await;
    assert!(!ok, "a bad row makes the run fail: {out} {err}");
    assert!(out.contains("1 accepted") && out.contains("1 rejected"), "{out}");
    let report = std::fs::read_to_string(&report).expect("report");
    assert!(
        report.contains("invalid_field")
            && report.contains("Mathematics")
            && report.contains("101"),
        "{report}"
    );
}

async fn push_refuses_an_undeclared_subject(dir: &Path, url: &str, keys: &Path, locker_id: &str) {
    let pdf = dir.join("marksheet.pdf");
    std::fs::write(&pdf, b"%PDF-1.4\n% a marksheet\n").expect("write");
    let key = keys.join("in.gov.cbse.key");
    let mut args = owned(&["issue", "--server", url, "--key", key.to_str().expect("path")]);
    args.extend(owned(&["--issuer", "in.gov.cbse", "--locker", locker_id, "--doc-type", "HSCER"]));
    args.extend(owned(&["--doc-id", "2024-6000009", "--name", "Marksheet", "--issued-on"]));
    args.extend(owned(&["2024-05-13", "--holder", "Asha Kumari", "--field", "Physics=80"]));
    args.extend(owned(&["--field", "Chemistry=81", "--field", "Mathematics=82"]));
    args.extend(owned(&["--field", "Sanskrit=90", "--content", pdf.to_str().expect("path")]));
    let (ok, out, err) = locker(args).await;
    assert!(!ok, "{out}");
    assert!(err.contains("invalid_field") && err.contains("Sanskrit"), "{out} {err}");
}

/// The demo citizen's locker id.
async fn public_locker(url: &str) -> String {
    let public = Public::new(url).expect("url");
    let asha = public.log_in("asha", server::app::demo::DEMO_PASSWORD).await.expect("login");
    asha.locker().to_owned()
}

async fn paper_copy(asha: &Citizen, public: &Public, uri: &str, dir: &Path, ledger_key: &str) {
    let svg = asha.bytes(&format!("/v1/citizen/certificates/{uri}/qr.svg")).await.expect("qr");
    let opened = crate::qr::svg_text(&String::from_utf8_lossy(&svg));
    let reference = opened.split("#/verify/ref/").nth(1).expect("a proof reference").to_owned();
    let bundle = public.get_bytes(&format!("/v1/proofs/{reference}")).await.expect("the bundle");
    let file = dir.join("pulled.bundle.json");
    std::fs::write(&file, &bundle).expect("write bundle");
    let (ok, out, err) =
        locker(owned(&["verify-bundle", file.to_str().expect("path"), "--ledger-key", ledger_key]))
            .await;
    assert!(ok, "the bundle a QR code opens verifies: {out} {err}");
    assert!(out.contains(uri), "{out}");
    // One digit changed, and the reference opens nothing.
    let mut forged = reference.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).expect("ascii");
    let refused = public.get_bytes(&format!("/v1/proofs/{forged}")).await.expect_err("refused");
    assert!(refused.to_string().contains("unknown_proof"), "{refused}");
    let slip = asha.bytes(&format!("/v1/citizen/certificates/{uri}/slip.pdf")).await.expect("slip");
    let text = String::from_utf8_lossy(&slip);
    assert!(text.starts_with("%PDF-1.4") && text.contains(uri), "a slip names its document");
}
