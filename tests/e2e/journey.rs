//! The whole product on a real port, as its users meet it: the real `locker` binary serves
//! (embedded log, and Kafka when a broker is available); a citizen signs up with an OTP
//! delivered to a real local SMS gateway, links Aadhaar, receives a marksheet pushed with
//! `locker issue`, uploads and shares a PDF; a bank asks with `locker requester`, is granted,
//! reads the marksheet, follows the consent events, and is refused after the revocation.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client::citizen::Decision;
use tokio::sync::mpsc;
use wire::dto::{ShareBody, SignupBody};

/// The `locker` binary of this build. Cargo builds another package's binaries only when that
/// package's tests run too, so build it (a no-op when fresh) before the first use.
pub(crate) fn locker_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test executable");
            let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let mut build = Command::new(cargo);
            build.args(["build", "--quiet", "-p", "cli", "--bin", "locker"]);
            if profile_dir.file_name().is_some_and(|name| name == "release") {
                build.arg("--release");
            }
            let status = build.status().expect("run cargo build");
            assert!(status.success(), "cargo build -p cli --bin locker failed");
            profile_dir.join("locker")
        })
        .clone()
}

pub(crate) struct Server {
    child: Child,
    pub(crate) address: String,
    /// What it printed on stdout up to its address (how it started: snapshots, replays).
    pub(crate) startup: Vec<String>,
    /// The server's log (stderr), shown when a test fails while it runs.
    log: std::path::PathBuf,
}

/// Lines of a server's log a failing test shows.
const SERVER_LOG_TAIL_LINES: usize = 40;

impl Server {
    /// Sends SIGTERM, as a service manager stops the service, and waits for the process to
    /// end (at most a minute); returns how it ended.
    pub(crate) fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        assert!(sent.success(), "kill -TERM {pid}");
        let asked = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                asked.elapsed() < Duration::from_secs(60),
                "still running a minute after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(SERVER_LOG_TAIL_LINES)..];
            eprintln!(
                "--- the server's log ({}), last lines:\n{}",
                self.log.display(),
                tail.join("\n")
            );
        }
    }
}

/// The S3 bucket `scripts/test` runs (its endpoint and credentials are in the environment),
/// under a prefix of this data folder's own, so a restart finds its files and no other test
/// sees them; none when no S3 server runs (which CI never allows).
pub(crate) fn bucket_for(data: &Path) -> Option<String> {
    use std::hash::{Hash, Hasher};
    if std::env::var_os("LOCKER_S3_ENDPOINT").is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI runs without LOCKER_S3_ENDPOINT");
        return None;
    }
    let bucket = std::env::var("LOCKER_S3_BUCKET").unwrap_or("locker-test".to_owned());
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut hasher);
    Some(format!("s3://{bucket}/e2e-{}-{:016x}", std::process::id(), hasher.finish()))
}

/// `locker serve --demo` on `data`, with its document bytes in the S3 bucket when one runs
/// (as in CI), so every end-to-end test runs on the store a cluster shares.
pub(crate) fn serve(data: &Path, gateway: &str, kafka: Option<(&str, &str)>) -> Server {
    serve_with(data, gateway, kafka, bucket_for(data))
}

/// `locker serve --demo` with the document bytes in the data folder.
pub(crate) fn serve_on_folder(data: &Path, gateway: &str) -> Server {
    serve_with(data, gateway, None, None)
}

/// `locker serve --demo` with the document bytes in the data folder, on Kafka if given.
pub(crate) fn serve_on_folder_with(
    data: &Path,
    gateway: &str,
    kafka: Option<(&str, &str)>,
) -> Server {
    serve_with(data, gateway, kafka, None)
}

fn serve_with(
    data: &Path,
    gateway: &str,
    kafka: Option<(&str, &str)>,
    blob_store: Option<String>,
) -> Server {
    // Beside the data folder, in the test's own temporary folder.
    let log = data.with_extension("server.log");
    let mut command = Command::new(locker_binary());
    command
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--otp-gateway", gateway, "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log).expect("server log")));
    if let Some((brokers, prefix)) = kafka {
        command.args(["--kafka", brokers, "--topic-prefix", prefix]);
    }
    if let Some(blob_store) = blob_store {
        command.args(["--blob-store", &blob_store]);
    }
    let mut child = command.spawn().expect("start locker serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut startup = Vec::new();
    let address = loop {
        let line = lines.next().expect("the server printed its address").expect("read");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split(' ').next().expect("address").to_owned();
        }
        startup.push(line);
    };
    std::thread::spawn(move || lines.for_each(drop));
    Server { child, address, startup, log }
}

/// A real HTTP endpoint standing in for the SMS gateway.
pub(crate) async fn gateway() -> (String, mpsc::UnboundedReceiver<serde_json::Value>) {
    let (sent, received) = mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/sms",
        axum::routing::post(move |axum::Json(message): axum::Json<serde_json::Value>| {
            let sent = sent.clone();
            async move {
                let _ = sent.send(message);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/sms"), received)
}

/// Runs the `locker` command; returns whether it succeeded, and its stdout and stderr.
pub(crate) async fn locker(args: Vec<String>) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let output = Command::new(locker_binary()).args(&args).output().expect("run locker");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
    .await
    .expect("join")
}

pub(crate) fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

async fn journey(kafka: Option<(&str, &str)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (gateway_url, mut sms) = gateway().await;
    let server = serve(&data, &gateway_url, kafka);
    let server_url = format!("http://{}", server.address);
    let public = client::citizen::Public::new(&server_url).expect("server url");
    let keys = data.join("demo-keys");

    // Sign up with an OTP that arrives at the gateway.
    public.signup_otp("9123456780").await.expect("a sign-up code");
    let message = tokio::time::timeout(Duration::from_secs(10), sms.recv())
        .await
        .expect("an SMS within 10 s")
        .expect("gateway open");
    let code =
        message["message"].as_str().expect("text").split(' ').next().expect("code").to_owned();
    let ravi = public
        .sign_up(&SignupBody {
            mobile: "9123456780".to_owned(),
            otp: code,
            username: "ravi".to_owned(),
            password: "correct horse battery".to_owned(),
        })
        .await
        .expect("signed up");
    let locker_id = ravi.locker().to_owned();

    // The board knew Ravi only by Aadhaar: his Class X marksheet waits for the link.
    let class_x = dir.path().join("class-x.pdf");
    std::fs::write(&class_x, b"%PDF-1.4\n% Class X\n").expect("write pdf");
    let (ok, out, err) = locker(owned(&[
        "issue",
        "--server",
        &server_url,
        "--key",
        keys.join("in.gov.cbse.key").to_str().expect("path"),
        "--issuer",
        "in.gov.cbse",
        "--aadhaar",
        "4991 1866 5246",
        "--doc-type",
        "SSCER",
        "--doc-id",
        "2022-9000001",
        "--name",
        "Class X Marksheet 2022",
        "--issued-on",
        "2022-05-20",
        "--holder",
        "Ravi Kumar",
        "--content",
        class_x.to_str().expect("path"),
    ]))
    .await;
    assert!(ok, "locker issue --aadhaar failed: {out} {err}");
    let before_link = ravi.certificates().await.expect("My Certificates");
    assert!(before_link.items.is_empty(), "{before_link:?}");

    // Link Aadhaar: the demo's reference Aadhaar authority (its own process, started by
    // `locker serve --demo`) texts a code to the mobile it holds for the number, through the
    // same gateway; the code back proves the number is Ravi's.
    let asked = ravi.aadhaar_otp("4991 1866 5246").await.expect("a code from the authority");
    let message = tokio::time::timeout(Duration::from_secs(10), sms.recv())
        .await
        .expect("the authority's SMS within 10 s")
        .expect("gateway open");
    assert_eq!(message["mobile"], "9811122233", "to the mobile the authority holds");
    let code =
        message["message"].as_str().expect("text").split(' ').next().expect("code").to_owned();
    let linked = ravi.link_aadhaar(&asked.txn, &code).await.expect("linked");
    assert_eq!(linked.kyc.name, "Ravi Kumar", "{linked:?}");

    // The exam board pushes a marksheet with `locker issue`.
    let marksheet = dir.path().join("marksheet.pdf");
    let pdf = b"%PDF-1.4\n% Class XII marksheet of Ravi\n".to_vec();
    std::fs::write(&marksheet, &pdf).expect("write pdf");
    let (ok, out, err) = locker(owned(&[
        "issue",
        "--server",
        &server_url,
        "--key",
        keys.join("in.gov.cbse.key").to_str().expect("path"),
        "--issuer",
        "in.gov.cbse",
        "--locker",
        &locker_id,
        "--doc-type",
        "HSCER",
        "--doc-id",
        "2024-9000001",
        "--name",
        "Class XII Marksheet 2024",
        "--issued-on",
        "2024-05-13",
        "--holder",
        "Ravi Kumar",
        "--field",
        "Physics=88",
        "--content",
        marksheet.to_str().expect("path"),
    ]))
    .await;
    assert!(ok, "locker issue failed: {out} {err}");
    let uri = "in.gov.cbse-HSCER-2024-9000001";

    // The citizen sees it, My Issuer counts it, and it downloads byte for byte.
    let certificates = ravi.certificates().await.expect("My Certificates").items;
    let mine = certificates.iter().find(|c| c.uri == uri).expect("the pushed marksheet");
    assert_eq!(mine.holder_name.as_deref(), Some("Ravi Kumar"));
    assert!(
        certificates.iter().any(|c| c.uri == "in.gov.cbse-SSCER-2022-9000001"),
        "the marksheet issued to the Aadhaar joined the locker: {certificates:?}"
    );
    let issuers = ravi.issuers().await.expect("My Issuers");
    assert_eq!(issuers[0].issuer, "in.gov.cbse", "{issuers:?}");
    assert_eq!(issuers[0].documents, 2, "{issuers:?}");
    assert_eq!(ravi.content(uri).await.expect("download"), pdf);

    // Its proof bundle checks out offline, with the ledger key and nothing else.
    let bundle = String::from_utf8(ravi.bundle(uri).await.expect("bundle")).expect("a JSON file");
    let bundle_path = dir.path().join("marksheet.locker-bundle.json");
    std::fs::write(&bundle_path, &bundle).expect("write bundle");
    let ledger_key = public.checkpoints().await.expect("checkpoints").ledger_key;
    let bundle_arg = bundle_path.to_str().expect("path");
    let (ok, out, err) = locker(owned(&[
        "verify-bundle",
        bundle_arg,
        "--ledger-key",
        &ledger_key,
        "--document",
        marksheet.to_str().expect("path"),
    ]))
    .await;
    assert!(ok, "locker verify-bundle: {out} {err}");
    assert!(out.starts_with(&format!("authentic: document {uri}")), "{out}");
    assert!(out.contains("exactly this content"), "{out}");
    let (ok, out, _) =
        locker(owned(&["verify-bundle", bundle_arg, "--data", data.to_str().expect("path")])).await;
    assert!(ok, "trusting DATA/platform.key: {out}");
    // And what became of it since, on the service's word.
    let (ok, out, err) = locker(owned(&[
        "verify-bundle",
        bundle_arg,
        "--ledger-key",
        &ledger_key,
        "--status-from",
        &server_url,
    ]))
    .await;
    assert!(ok, "{out} {err}");
    assert!(out.contains(&format!("status now: active (as {server_url} reports it)")), "{out}");
    // The same bundle pointing at another leaf is refused.
    let forged = bundle.replacen("\"leaf_index\": ", "\"leaf_index\": 1", 1);
    std::fs::write(&bundle_path, forged).expect("write forged bundle");
    let (ok, out, _) =
        locker(owned(&["verify-bundle", bundle_arg, "--ledger-key", &ledger_key])).await;
    assert!(!ok && out.starts_with("NOT VERIFIED"), "{out}");

    // Upload a PDF and share it; the public link opens without a login.
    let upload = b"%PDF-1.7\n% rent agreement\n".to_vec();
    let uploaded = ravi.upload("rent.pdf", upload).await.expect("uploaded");
    let share = ravi
        .share(&ShareBody { uri: None, upload_id: Some(uploaded.id), expires_in_minutes: Some(30) })
        .await
        .expect("shared");
    let page = public.shared(&share.url).await.expect("the share link's page");
    assert_eq!(page.document.name, "rent.pdf");

    // The bank follows its consent events, then asks for the marksheet.
    let bank_key = keys.join("in.co.sbi.key");
    let as_bank = |args: &[&str]| -> Vec<String> {
        let common = ["requester", "--server", &server_url, "--id", "in.co.sbi", "--key"];
        let mut all = owned(&common);
        all.push(bank_key.to_str().expect("path").to_owned());
        all.extend(owned(args));
        all
    };
    let client = client::requester::RequesterClient::new(
        &server_url,
        schemas::RequesterId::parse("in.co.sbi").expect("id"),
        ledger::keyfile::read(&bank_key).expect("bank key"),
        Arc::new(ledger::clock::SystemClock),
    );
    let stream = Arc::new(Mutex::new(String::new()));
    let following = {
        let (client, stream) = (client.clone(), Arc::clone(&stream));
        tokio::spawn(async move {
            client
                .events(None, |text| {
                    stream.lock().expect("lock").push_str(text);
                    true
                })
                .await
        })
    };
    let args = as_bank(&[
        "request",
        "--username",
        "ravi",
        "--doc",
        "in.gov.cbse/HSCER",
        "--purpose",
        "account_opening",
        "--text",
        "Savings account",
    ]);
    let (ok, out, err) = locker(args).await;
    assert!(ok, "locker requester request failed: {out} {err}");
    let consent = out
        .split("consent ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .expect("consent id")
        .to_owned();

    // The citizen grants it.
    let granted = ravi.decide(&consent, Decision::Grant).await.expect("granted");
    assert_eq!(granted.documents, [uri]);

    // The bank reads it with `locker requester fetch`, byte for byte.
    let out_dir = dir.path().join("fetched");
    let fetch = as_bank(&["fetch", &consent, "--out", out_dir.to_str().expect("path")]);
    let (ok, out, err) = locker(fetch.clone()).await;
    assert!(ok, "locker requester fetch failed: {out} {err}");
    assert_eq!(std::fs::read(out_dir.join(uri)).expect("fetched file"), pdf);
    let requesters = ravi.requesters().await.expect("My Requesters");
    let row = requesters.iter().find(|r| r.requester == "in.co.sbi").expect("bank row");
    assert_eq!(row.accessed, 1, "{requesters:?}");

    // The stream showed the request, the grant and the access.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = stream.lock().expect("lock").clone();
        if text.contains("event: document_accessed") {
            let request = text.find("event: consent_requested").expect("request in stream");
            let grant = text.find("event: consent_granted").expect("grant in stream");
            assert!(request < grant, "{text}");
            assert!(text.contains(&consent));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "stream so far: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Revoked: the next read is refused.
    ravi.decide(&consent, Decision::Revoke).await.expect("revoked");
    let (ok, out, err) = locker(fetch).await;
    assert!(!ok, "a fetch after revocation must fail: {out}");
    assert!(err.contains("consent_revoked"), "{err}");
    following.abort();

    // The auditor: once the service has signed checkpoints, stop it and replay everything.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    drop(server);
    let report_path = dir.path().join("audit.json");
    let mut audit = owned(&["audit", "verify", "--data", data.to_str().expect("path"), "--report"]);
    audit.push(report_path.to_str().expect("path").to_owned());
    if let Some((brokers, prefix)) = kafka {
        audit.extend(owned(&["--kafka", brokers, "--topic-prefix", prefix]));
    }
    let (ok, out, err) = locker(audit).await;
    assert!(ok, "locker audit verify: {out} {err}");
    assert!(out.contains("locker audit: OK"), "{out}");
    assert!(out.contains("views match a rebuild from the log"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).expect("report"))
            .expect("json");
    assert_eq!(report["ok"], true);
    assert!(report["records"].as_u64().expect("records") >= 20, "{report}");
    assert!(report["checkpoints_verified"].as_u64().expect("checkpoints") >= 1, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_on_the_embedded_log() {
    journey(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_on_kafka() {
    let Some(brokers) = crate::kafka_bootstrap() else { return };
    let prefix = format!("journey{}", std::process::id());
    journey(Some((&brokers, &prefix))).await;
}

/// `locker keys generate`: the key file, and the public key and key id it prints.
pub(crate) async fn generate_key(path: &Path) -> (String, String) {
    let (ok, out, err) =
        locker(owned(&["keys", "generate", "--out", path.to_str().expect("path")])).await;
    assert!(ok, "{err}");
    let field = |name: &str| {
        out.lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|rest| rest.trim().split(' ').next().unwrap_or_default().to_owned())
            .expect("printed")
    };
    (field("public key:"), field("key id:"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_register_suspend_rotate_and_revoke_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (gateway_url, _sms) = gateway().await;
    let server = serve(&data, &gateway_url, None);
    let server_url = format!("http://{}", server.address);
    let platform = data.join("platform.key");
    let admin = |args: &[&str]| -> Vec<String> {
        let mut all = owned(&["admin", "--server", &server_url, "--platform-key"]);
        all.push(platform.to_str().expect("path").to_owned());
        all.extend(owned(args));
        all
    };
    let as_bank = |key: &Path| -> Vec<String> {
        let mut all =
            owned(&["requester", "--server", &server_url, "--id", "in.co.newbank", "--key"]);
        all.push(key.to_str().expect("path").to_owned());
        all.push("consents".to_owned());
        all
    };
    let first = dir.path().join("first.key");
    let (first_public, first_id) = generate_key(&first).await;
    let (ok, out, err) = locker(admin(&[
        "register-requester",
        "--id",
        "in.co.newbank",
        "--name",
        "New Bank",
        "--kind",
        "bank",
        "--key",
        &first_public,
    ]))
    .await;
    assert!(ok, "{out} {err}");
    let (ok, _, err) = locker(as_bank(&first)).await;
    assert!(ok, "a registered requester reads its consents: {err}");
    let (ok, _, err) = locker(admin(&[
        "register-requester",
        "--id",
        "in.co.newbank",
        "--name",
        "Again",
        "--kind",
        "bank",
        "--key",
        &first_public,
    ]))
    .await;
    assert!(!ok && err.contains("already_registered"), "{err}");

    let (ok, _, err) =
        locker(admin(&["suspend", "--requester", "in.co.newbank", "--reason", "under audit"]))
            .await;
    assert!(ok, "{err}");
    let (ok, _, err) = locker(as_bank(&first)).await;
    assert!(!ok && err.contains("suspended"), "{err}");
    let (ok, _, err) = locker(admin(&["reinstate", "--requester", "in.co.newbank"])).await;
    assert!(ok, "{err}");
    let (ok, _, err) = locker(as_bank(&first)).await;
    assert!(ok, "{err}");

    let second = dir.path().join("second.key");
    let (second_public, second_id) = generate_key(&second).await;
    let (ok, _, err) = locker(admin(&[
        "rotate-key",
        "--requester",
        "in.co.newbank",
        "--new-key",
        &second_public,
        "--retire",
        &first_id,
    ]))
    .await;
    assert!(ok, "{err}");
    let (ok, _, err) = locker(as_bank(&first)).await;
    assert!(!ok && err.contains("key_revoked"), "the retired key signs nothing: {err}");
    let (ok, _, err) = locker(as_bank(&second)).await;
    assert!(ok, "{err}");
    let (ok, _, err) = locker(admin(&[
        "revoke-key",
        "--requester",
        "in.co.newbank",
        "--key-id",
        &second_id,
        "--reason",
        "laptop stolen",
    ]))
    .await;
    assert!(ok, "{err}");
    let (ok, _, err) = locker(as_bank(&second)).await;
    assert!(!ok && err.contains("key_revoked"), "{err}");

    // Only the platform's key administers.
    let (ok, _, err) = locker(owned(&[
        "admin",
        "--server",
        &server_url,
        "--platform-key",
        first.to_str().expect("path"),
        "suspend",
        "--issuer",
        "in.gov.cbse",
        "--reason",
        "x",
    ]))
    .await;
    assert!(!ok && err.contains("unknown_key"), "{err}");
    drop(server);
}
