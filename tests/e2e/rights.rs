//! The citizen's rights on a real port (issue 20): consent on Account Aggregator terms (a
//! fetch past the frequency and one during a pause refused, both told to the requester's
//! stream), the signed consent artefact checked by an independent JOSE verifier (Node's
//! OpenSSL), the export zip opened by Python's zipfile and every bundle in it checked by `locker
//! verify-bundle`, and closing the locker: afterwards the audit passes, a bundle from before
//! still verifies, and a search of every file and every RocksDB of the data folder (and the
//! server's log) finds neither the citizen's name, mobile number, Aadhaar number nor upload.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client::citizen::{Citizen, Decision, Public};
use tokio::sync::mpsc;
use wire::dto::SignupBody;

use crate::journey::{Server, gateway, locker, owned, serve_on_folder_with};

const NAME: &str = "Ravi Kumar";
const MOBILE: &str = "9123400011";
const AADHAAR: &str = "4991 1866 5246";
const USERNAME: &str = "rk2024";
const PASSWORD: &str = "correct horse battery";
/// The upload's bytes name the citizen: closing must remove them from the store.
const UPLOAD: &[u8] = b"%PDF-1.7\n% rent agreement of Ravi Kumar, tenant\n";
const UPLOAD_NAME: &str = "rent-agreement-ravi.pdf";
const HSCER: &str = "in.gov.cbse-HSCER-2024-9000001";

/// The next SMS's code.
async fn code(sms: &mut mpsc::UnboundedReceiver<serde_json::Value>) -> String {
    let message = tokio::time::timeout(Duration::from_secs(10), sms.recv())
        .await
        .expect("an SMS within 10 s")
        .expect("gateway open");
    message["message"].as_str().expect("text").split(' ').next().expect("code").to_owned()
}

async fn sign_up(public: &Public, sms: &mut mpsc::UnboundedReceiver<serde_json::Value>) -> Citizen {
    public.signup_otp(MOBILE).await.expect("a sign-up code");
    let otp = code(sms).await;
    let body = SignupBody {
        mobile: MOBILE.to_owned(),
        otp,
        username: USERNAME.to_owned(),
        password: PASSWORD.to_owned(),
    };
    public.sign_up(&body).await.expect("signed up")
}

async fn link(citizen: &Citizen, sms: &mut mpsc::UnboundedReceiver<serde_json::Value>) {
    let asked = citizen.aadhaar_otp(AADHAAR).await.expect("a code from the authority");
    let otp = code(sms).await;
    let linked = citizen.link_aadhaar(&asked.txn, &otp).await.expect("linked");
    assert_eq!(linked.kyc.name, NAME);
}

/// `locker issue` by the demo's exam board, to `to` (`--locker ID` or `--aadhaar N`).
async fn issue(
    url: &str,
    keys: &Path,
    to: [&str; 2],
    doc: [&str; 2],
    pdf: &Path,
) -> (bool, String) {
    let key = keys.join("in.gov.cbse.key");
    let (ok, out, err) = locker(owned(&[
        "issue",
        "--server",
        url,
        "--key",
        key.to_str().expect("path"),
        "--issuer",
        "in.gov.cbse",
        to[0],
        to[1],
        "--doc-type",
        doc[0],
        "--doc-id",
        doc[1],
        "--name",
        "Marksheet",
        "--issued-on",
        "2024-05-13",
        "--holder",
        NAME,
        "--field",
        "Physics=88",
        "--content",
        pdf.to_str().expect("path"),
    ]))
    .await;
    (ok, format!("{out} {err}"))
}

/// `locker requester ...` as the demo's bank.
fn as_bank(url: &str, keys: &Path, args: &[&str]) -> Vec<String> {
    let key = keys.join("in.co.sbi.key");
    let mut all = owned(&[
        "requester",
        "--server",
        url,
        "--id",
        "in.co.sbi",
        "--key",
        key.to_str().expect("k"),
    ]);
    all.extend(owned(args));
    all
}

/// Follows the bank's consent events into a string.
fn follow(url: &str, keys: &Path) -> (Arc<Mutex<String>>, tokio::task::JoinHandle<()>) {
    let client = client::requester::RequesterClient::new(
        url,
        schemas::RequesterId::parse("in.co.sbi").expect("id"),
        ledger::keyfile::read(&keys.join("in.co.sbi.key")).expect("bank key"),
        Arc::new(ledger::clock::SystemClock),
    );
    let text = Arc::new(Mutex::new(String::new()));
    let into = Arc::clone(&text);
    let task = tokio::spawn(async move {
        let _ = client
            .events(None, |chunk| {
                into.lock().expect("lock").push_str(chunk);
                true
            })
            .await;
    });
    (text, task)
}

async fn stream_shows(text: &Mutex<String>, wanted: &[&str]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = text.lock().expect("lock").clone();
        if wanted.iter().all(|w| now.contains(w)) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "wanted {wanted:?} in: {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The bank asks on terms (3 fetches a day, kept 30 days); the citizen sees the terms,
/// grants; the 4th fetch of the day is refused, so is one during a pause, and the stream says
/// both. Returns the consent id.
async fn consent_on_terms(url: &str, keys: &Path, citizen: &Citizen, dir: &Path) -> String {
    let (stream, following) = follow(url, keys);
    let (ok, out, err) = locker(as_bank(
        url,
        keys,
        &[
            "request",
            "--username",
            USERNAME,
            "--doc",
            "in.gov.cbse/HSCER",
            "--purpose",
            "loan_application",
            "--text",
            "Education loan",
            "--fetches",
            "3",
            "--per",
            "day",
            "--data-life-days",
            "30",
            "--access-days",
            "60",
        ],
    ))
    .await;
    assert!(ok, "{out} {err}");
    let consent = out.split("consent ").nth(1).and_then(|r| r.split(' ').next()).expect("id");
    let listed = citizen.consents().await.expect("consents");
    let terms = &listed[0]["terms"];
    assert_eq!((terms["fetches"].as_u64(), terms["per"].as_str()), (Some(3), Some("day")));
    assert_eq!(terms["data_life_days"], 30, "{listed}");
    assert_eq!(listed[0]["purpose_code"], "loan_application", "{listed}");
    citizen.decide(consent, Decision::Grant).await.expect("granted");
    let out_dir = dir.join("fetched");
    let fetch = as_bank(url, keys, &["fetch", consent, "--out", out_dir.to_str().expect("path")]);
    for n in 1..=3 {
        let (ok, out, err) = locker(fetch.clone()).await;
        assert!(ok, "fetch {n} of 3 a day: {out} {err}");
    }
    let (ok, _, err) = locker(fetch.clone()).await;
    assert!(!ok && err.contains("frequency_exceeded"), "the 4th fetch of the day: {err}");
    citizen.decide(consent, Decision::Pause).await.expect("paused");
    let (ok, _, err) = locker(fetch.clone()).await;
    assert!(!ok && err.contains("consent_paused"), "a fetch while paused: {err}");
    citizen.decide(consent, Decision::Resume).await.expect("resumed");
    let (ok, _, err) = locker(fetch).await;
    assert!(!ok && err.contains("frequency_exceeded"), "resuming resets nothing: {err}");
    // Refused three times, on the record twice: a refusal is logged once per reason and period
    // (a requester that keeps asking does not fill the citizen's log).
    let listed = citizen.consents().await.expect("consents");
    assert_eq!(
        (listed[0]["state"].as_str(), listed[0]["refusals"].as_u64()),
        (Some("active"), Some(2))
    );
    stream_shows(
        &stream,
        &[
            "event: consent_paused",
            "event: consent_resumed",
            "event: fetch_refused",
            "\"reason\":\"frequency_exceeded\"",
            "\"reason\":\"consent_paused\"",
        ],
    )
    .await;
    following.abort();
    consent.to_owned()
}

/// The artefact's JWS checked by Node's crypto (OpenSSL), not by this workspace's code.
async fn artefact_verifies_independently(citizen: &Citizen, consent: &str, dir: &Path) {
    let signed = citizen.artefact(consent).await.expect("artefact");
    let detail = &signed["consent_artefact"]["ConsentDetail"];
    assert_eq!(detail["Frequency"], serde_json::json!({ "unit": "DAY", "value": 3 }), "{signed}");
    assert_eq!(detail["DataLife"], serde_json::json!({ "unit": "DAY", "value": 30 }), "{signed}");
    assert_eq!(detail["Purpose"]["code"], "loan_application");
    let script = r#"
        const crypto = require('crypto');
        const signed = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'));
        const [h, p, s] = signed.signature.split('.');
        const key = crypto.createPublicKey({ key: signed.signer.jwk, format: 'jwk' });
        const header = JSON.parse(Buffer.from(h, 'base64url'));
        const ok = header.alg === 'EdDSA' &&
            crypto.verify(null, Buffer.from(h + '.' + p), key, Buffer.from(s, 'base64url'));
        const payload = JSON.parse(Buffer.from(p, 'base64url'));
        const same = JSON.stringify(payload) === JSON.stringify(signed.consent_artefact);
        console.log(ok && same ? 'verified' : 'NOT VERIFIED');
    "#;
    let path = dir.join("artefact.json");
    std::fs::write(&path, serde_json::to_vec(&signed).expect("json")).expect("write");
    let run = |path: PathBuf| {
        let output = std::process::Command::new("node")
            .args(["-e", script, path.to_str().expect("path")])
            .output()
            .expect("node (the machine has it: README)");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    assert_eq!(run(path.clone()), "verified");
    let forged =
        serde_json::to_string(&signed).expect("json").replace("\"value\":3", "\"value\":30");
    std::fs::write(&path, forged).expect("write");
    assert_eq!(run(path), "NOT VERIFIED", "an artefact changed after signing");
}

/// The export: a zip Python's zipfile tests, whose manifest hashes every file, whose bundles
/// `locker verify-bundle` checks against the documents beside them. Returns the marksheet's
/// bundle.
async fn export_checks_out(citizen: &Citizen, ledger_key: &str, dir: &Path) -> PathBuf {
    use std::io::Read;
    let zip_bytes = citizen.export().await.expect("export");
    let zip_path = dir.join("export.zip");
    std::fs::write(&zip_path, &zip_bytes).expect("write zip");
    let tested = std::process::Command::new("python3")
        .args(["-m", "zipfile", "-t", zip_path.to_str().expect("path")])
        .output()
        .expect("python3");
    assert!(tested.status.success(), "{}", String::from_utf8_lossy(&tested.stderr));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).expect("a zip");
    let mut files = std::collections::BTreeMap::new();
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).expect("entry");
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).expect("read entry");
        files.insert(file.name().expect("a UTF-8 name").to_string(), bytes);
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&files["manifest.json"]).expect("json");
    for listed in manifest["files"].as_array().expect("files") {
        let name = listed["name"].as_str().expect("name");
        let hash = blake3::hash(&files[name]).to_hex().to_string();
        assert_eq!(listed["blake3"].as_str(), Some(hash.as_str()), "{name}");
    }
    let documents: serde_json::Value =
        serde_json::from_slice(&files["documents.json"]).expect("json");
    assert_eq!(documents.as_array().expect("list").len(), 3, "two marksheets and an upload");
    let profile: serde_json::Value = serde_json::from_slice(&files["profile.json"]).expect("json");
    assert_eq!(profile["kyc"]["name"], NAME, "{profile}");
    let mut marksheet = None;
    for doc in documents.as_array().expect("list") {
        let bundle = doc["bundle_file"].as_str().expect("every document has its bundle");
        let content = doc["content_file"].as_str().expect("and its bytes");
        let (bundle_path, content_path) = (dir.join("bundle.json"), dir.join("content"));
        std::fs::write(&bundle_path, &files[bundle]).expect("write");
        std::fs::write(&content_path, &files[content]).expect("write");
        let (ok, out, err) = locker(owned(&[
            "verify-bundle",
            bundle_path.to_str().expect("p"),
            "--ledger-key",
            ledger_key,
            "--document",
            content_path.to_str().expect("p"),
        ]))
        .await;
        assert!(ok && out.starts_with("authentic"), "{bundle}: {out} {err}");
        if doc["uri"] == HSCER {
            let kept = dir.join("marksheet.locker-bundle.json");
            std::fs::write(&kept, &files[bundle]).expect("write");
            marksheet = Some(kept);
        }
    }
    marksheet.expect("the marksheet's bundle")
}

/// What must not be found anywhere after closing, as text.
fn secrets() -> Vec<Vec<u8>> {
    [NAME, MOBILE, "499118665246", AADHAAR, UPLOAD_NAME, "Lucknow", "02-01-2005"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([UPLOAD.to_vec()])
        .collect()
}

/// Every file under `root` but the reference Aadhaar authority's (`DATA/uidai`: the demo's
/// stand-in for UIDAI, whose resident records are the authority's, not the locker's) and the
/// demo exam board's (`DATA/pullbox`: its results file is the board's records).
fn files_under(root: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(root).expect("read dir").flatten() {
        let path = entry.path();
        if path.ends_with("uidai") || path.ends_with("pullbox") {
            continue;
        }
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every file's bytes, and every key and value of every RocksDB (decompressed), searched.
fn leftovers(data: &Path, log: &Path) -> Vec<String> {
    let secrets = secrets();
    let found_in = |bytes: &[u8], what: &str, found: &mut Vec<String>| {
        for secret in &secrets {
            if bytes.windows(secret.len()).any(|w| w == secret.as_slice()) {
                found.push(format!("{} in {what}", String::from_utf8_lossy(secret)));
            }
        }
    };
    let mut found = Vec::new();
    let mut files = vec![log.to_owned()];
    files_under(data, &mut files);
    for file in &files {
        found_in(&std::fs::read(file).unwrap_or_default(), &file.display().to_string(), &mut found);
    }
    let databases = files.iter().filter(|f| f.ends_with("CURRENT")).filter_map(|f| f.parent());
    for path in databases {
        let db = crate::audit::raw_views(path);
        let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), path).expect("cfs");
        for family in &families {
            let handle = db.cf_handle(family).expect("family");
            for item in db.iterator_cf(handle, rocksdb::IteratorMode::Start) {
                let (key, value) = item.expect("read");
                let what = format!("{}/{family}", path.display());
                found_in(&key, &what, &mut found);
                found_in(&value, &what, &mut found);
            }
        }
    }
    found
}

/// Every record of every topic of the deployment (`prefix`), from the start, searched.
fn topic_leftovers(brokers: &str, prefix: &str) -> Vec<String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("{prefix}-leftovers"))
        .set("enable.auto.commit", "false")
        // Aborted transactions' records too: whatever the broker holds.
        .set("isolation.level", "read_uncommitted")
        .create()
        .expect("a consumer");
    let timeout = Duration::from_secs(10);
    let metadata = consumer.fetch_metadata(None, timeout).expect("metadata");
    let mut assignment = rdkafka::TopicPartitionList::new();
    for topic in metadata.topics().iter().filter(|t| t.name().starts_with(prefix)) {
        for partition in topic.partitions() {
            assignment
                .add_partition_offset(topic.name(), partition.id(), rdkafka::Offset::Beginning)
                .expect("assign");
        }
    }
    assert!(assignment.count() > 0, "no topic named {prefix}*");
    consumer.assign(&assignment).expect("assign");
    let secrets = secrets();
    let mut found = Vec::new();
    let (mut records, mut idle) = (0, 0);
    // Until nothing more arrives for three seconds.
    while idle < 30 {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                idle = 0;
                records += 1;
                for bytes in
                    [message.payload().unwrap_or_default(), message.key().unwrap_or_default()]
                {
                    for secret in &secrets {
                        if bytes.windows(secret.len()).any(|w| w == secret.as_slice()) {
                            found.push(format!(
                                "{} in {}/{}@{}",
                                String::from_utf8_lossy(secret),
                                message.topic(),
                                message.partition(),
                                message.offset()
                            ));
                        }
                    }
                }
            }
            Some(Err(e)) => panic!("reading the topics: {e}"),
            None => idle += 1,
        }
    }
    assert!(records > 20, "only {records} records read from the topics");
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_takes_everything_along_then_closes_and_is_forgotten() {
    rights(None).await;
}

/// The same on Kafka: the search then reads every record of every topic, too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_is_forgotten_on_kafka_too() {
    let Some(brokers) = crate::kafka_bootstrap() else { return };
    let prefix = format!("rights{}", std::process::id());
    rights(Some((&brokers, &prefix))).await;
}

fn start(data: &Path, gateway: &str, kafka: Option<(&str, &str)>) -> Server {
    serve_on_folder_with(data, gateway, kafka)
}

async fn rights(kafka: Option<(&str, &str)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (gateway_url, mut sms) = gateway().await;
    let server = start(&data, &gateway_url, kafka);
    let url = format!("http://{}", server.address);
    let public = Public::new(&url).expect("url");
    let keys = data.join("demo-keys");
    let pdf = dir.path().join("marksheet.pdf");
    std::fs::write(&pdf, b"%PDF-1.4\n% a marksheet\n").expect("write");

    // A locker with a document issued to the Aadhaar before the link, one after, an upload,
    // and e-KYC data from the authority.
    let citizen = sign_up(&public, &mut sms).await;
    let locker_id = citizen.locker().to_owned();
    let (ok, out) =
        issue(&url, &keys, ["--aadhaar", AADHAAR], ["SSCER", "2022-9000001"], &pdf).await;
    assert!(ok, "{out}");
    link(&citizen, &mut sms).await;
    let (ok, out) =
        issue(&url, &keys, ["--locker", &locker_id], ["HSCER", "2024-9000001"], &pdf).await;
    assert!(ok, "{out}");
    citizen.upload(UPLOAD_NAME, UPLOAD.to_vec()).await.expect("uploaded");
    assert_eq!(citizen.certificates().await.expect("certificates").items.len(), 2);

    let consent = consent_on_terms(&url, &keys, &citizen, dir.path()).await;
    artefact_verifies_independently(&citizen, &consent, dir.path()).await;
    // Bundles need the documents in a signed checkpoint (every second or so).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let ledger_key = public.checkpoints().await.expect("checkpoints").ledger_key;
    let bundle = export_checks_out(&citizen, &ledger_key, dir.path()).await;

    // Closing: the password again, wrong then right.
    let (stream, following) = follow(&url, &keys);
    let wrong = citizen.close("not my password").await.expect_err("a wrong password");
    assert!(wrong.to_string().contains("invalid_credentials"), "{wrong}");
    let closed = citizen.close(PASSWORD).await.expect("closed");
    assert_eq!(closed["consents_ended"], 1, "{closed}");
    stream_shows(&stream, &["event: consent_revoked"]).await;
    following.abort();
    closed_for_good(&url, &keys, &public, &citizen, &consent, &pdf).await;
    let (ok, out, err) =
        locker(owned(&["verify-bundle", bundle.to_str().expect("p"), "--ledger-key", &ledger_key]))
            .await;
    assert!(ok && out.starts_with("authentic"), "a bundle from before the closing: {out} {err}");
    assert!(!out.contains(NAME) && !std::fs::read_to_string(&bundle).expect("read").contains(NAME));

    // The auditor replays everything; then nothing readable is left anywhere.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    drop(server);
    let mut audit = owned(&["audit", "verify", "--data", data.to_str().expect("path")]);
    if let Some((brokers, prefix)) = kafka {
        audit.extend(owned(&["--kafka", brokers, "--topic-prefix", prefix]));
    }
    let (ok, out, err) = locker(audit).await;
    assert!(ok && out.contains("views match a rebuild from the log"), "{out} {err}");
    keys_destroyed(&data.join("vault"), &locker_id);
    let mut found = leftovers(&data, &data.with_extension("server.log"));
    if let Some((brokers, prefix)) = kafka {
        found.extend(topic_leftovers(brokers, prefix));
    }
    assert!(found.is_empty(), "left after closing:\n{}", found.join("\n"));

    // A document issued to the Aadhaar later waits as for anyone: the number, and the mobile,
    // are free for a new locker, which sees only what came after.
    let server = start(&data, &gateway_url, kafka);
    let url = format!("http://{}", server.address);
    let public = Public::new(&url).expect("url");
    let (ok, out) =
        issue(&url, &keys, ["--aadhaar", AADHAAR], ["SSCER", "2025-9000009"], &pdf).await;
    assert!(ok, "{out}");
    let again = sign_up(&public, &mut sms).await;
    assert_ne!(again.locker(), locker_id);
    link(&again, &mut sms).await;
    let uris: Vec<String> = again
        .certificates()
        .await
        .expect("certificates")
        .items
        .into_iter()
        .map(|c| c.uri)
        .collect();
    assert_eq!(uris, ["in.gov.cbse-SSCER-2025-9000009"]);
}

/// Crypto-shredding: the vault marks the locker's sealing key, its signing key and the
/// Aadhaar's sealing key erased, and holds none of them.
fn keys_destroyed(vault: &Path, locker: &str) {
    let locker = schemas::LockerId::parse(locker).expect("locker id");
    let db = crate::audit::raw_views(vault);
    let names: Vec<Vec<u8>> = db
        .iterator(rocksdb::IteratorMode::Start)
        .map(|item| item.expect("read").0.to_vec())
        .collect();
    // A marker is `X`, the closing event's id (16 bytes), then the erased key's name.
    let erased: Vec<&[u8]> = names.iter().filter(|n| n[0] == b'X').map(|n| &n[17..]).collect();
    let sealing = [&b"L"[..], &locker.0].concat();
    let signing = [&b"S"[..], &locker.0].concat();
    assert!(erased.contains(&sealing.as_slice()) && erased.contains(&signing.as_slice()));
    assert!(erased.iter().any(|name| name[0] == b'A'), "the Aadhaar's key too");
    for name in erased {
        assert!(!names.iter().any(|n| n == name), "a destroyed key is still in the vault");
    }
}

/// After closing: no session, no login, no fetch, no issuing to the locker.
async fn closed_for_good(
    url: &str,
    keys: &Path,
    public: &Public,
    citizen: &Citizen,
    consent: &str,
    pdf: &Path,
) {
    let refused = citizen.certificates().await.expect_err("the session ended");
    assert!(refused.to_string().contains("invalid_token"), "{refused}");
    let login = public.log_in(USERNAME, PASSWORD).await.expect_err("no such user any more");
    assert!(login.to_string().contains("invalid_credentials"), "{login}");
    let (ok, _, err) = locker(as_bank(url, keys, &["fetch", consent])).await;
    assert!(!ok, "a fetch after closing: {err}");
    let to = ["--locker", citizen.locker()];
    let (ok, out) = issue(url, keys, to, ["HSCER", "2024-9000002"], pdf).await;
    assert!(!ok && out.contains("locker_closed"), "issuing to a closed locker: {out}");
}
