//! `locker issue bulk` against a real `locker serve`: an exam board's 20,000 results with bad
//! rows of every kind, each reported with its line and reason while the good ones land; a
//! re-run adds nothing; the fixed rows alone are added after; a revoked key and a doc type
//! the board may not issue are refused row by row.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use client::http::JsonClient;

use crate::journey::{gateway, locker, owned, serve};

const ROWS: usize = 20_000;

/// A valid Aadhaar number (Verhoeff check digit), distinct for each `n`.
fn aadhaar(n: u64) -> String {
    let base = (20_000_000_000 + n).to_string();
    let check = schemas::verhoeff::check_digit(&base).expect("digits");
    format!("{base}{check}")
}

/// `locker serve --demo` on a fresh data folder, with the demo citizen logged in.
struct Demo {
    dir: tempfile::TempDir,
    data: std::path::PathBuf,
    server: crate::journey::Server,
    url: String,
    service: Service,
    _sms: tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
}

impl Demo {
    async fn start(kafka: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let (gateway_url, sms) = gateway().await;
        // The reference Aadhaar authority's residents: the demo's, and the demo citizen as
        // the holder of `aadhaar(7)` (the number the board's file gives her).
        let residents = data.join("uidai");
        std::fs::create_dir_all(&residents).expect("uidai dir");
        let asha = format!(
            r#"{{"aadhaar": "{}", "mobile": "9876543210", "name": "Asha Kumari", "dob": "15-08-2006", "gender": "F"}}"#,
            aadhaar(7)
        );
        std::fs::write(
            residents.join("residents.jsonl"),
            format!("{}\n{asha}\n", server::http::uidai::DEMO_RESIDENTS),
        )
        .expect("residents");
        let server = serve(&data, &gateway_url, kafka);
        let url = format!("http://{}", server.address);
        let service = Service::asha(&url).await;
        Demo { dir, data, server, url, service, _sms: sms }
    }
}

struct Service {
    asha: client::citizen::Citizen,
}

impl Service {
    /// The demo citizen, logged in.
    async fn asha(url: &str) -> Self {
        let public = client::citizen::Public::new(url).expect("server url");
        let asha = public.log_in("asha", server::app::demo::DEMO_PASSWORD).await.expect("login");
        Service { asha }
    }

    /// A public answer (the platform's statistics).
    async fn get(&self, path: &str) -> serde_json::Value {
        self.asha.public().get(path).await.unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The citizen's locker id.
    async fn locker(&self) -> schemas::LockerId {
        schemas::LockerId::parse(self.asha.locker()).expect("locker id")
    }

    /// The URIs on the first page of My Certificates.
    async fn certificate_uris(&self) -> Vec<String> {
        let mine = self.asha.certificates().await.expect("My Certificates");
        mine.items.into_iter().map(|c| c.uri).collect()
    }
}

fn bulk(url: &str, data: &Path, file: &Path, report: &Path, doc_type: &str) -> Vec<String> {
    owned(&[
        "issue",
        "bulk",
        file.to_str().expect("path"),
        "--server",
        url,
        "--key",
        data.join("demo-keys/in.gov.cbse.key").to_str().expect("path"),
        "--issuer",
        "in.gov.cbse",
        "--doc-type",
        doc_type,
        "--name",
        "Class XII Marksheet 2024",
        "--issued-on",
        "2024-05-13",
        "--report",
        report.to_str().expect("path"),
    ])
}

/// The rejected rows of a report: (line, code).
fn report_rows(report: &Path) -> Vec<(u64, String)> {
    let mut reader = csv::Reader::from_path(report).expect("report");
    reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            (r[0].parse().expect("line"), r[2].to_owned())
        })
        .collect()
}

fn issued_by_cbse(stats: &serde_json::Value) -> i64 {
    stats["issued_by"]
        .as_array()
        .expect("issued_by")
        .iter()
        .find(|i| i["issuer"] == "in.gov.cbse")
        .and_then(|i| i["documents"].as_i64())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exam_boards_results_land_row_by_row_and_a_rerun_adds_nothing() {
    let Demo { dir, data, server, url, service, mut _sms } = Demo::start(None).await;
    let asha = service.locker().await;
    let before = issued_by_cbse(&service.get("/v1/stats").await);

    // 20,000 students known by Aadhaar, one by locker, and one bad row of each kind.
    let mut csv =
        String::from("roll_no,name,aadhaar,locker,issuer,Physics,Chemistry,Mathematics\n");
    for i in 0..ROWS {
        writeln!(
            csv,
            "2024{i:06},Student {i},{},,in.gov.cbse,{},{},{}",
            aadhaar(i as u64),
            40 + i % 60,
            35 + i % 65,
            50 + i % 50
        )
        .expect("write");
    }
    // Lines are counted from 1 with the header, so row i is on line i + 2.
    let mut line = ROWS as u64 + 1;
    let mut bad = Vec::new();
    let mut add = |csv: &mut String, row: &str, code: Option<&str>| {
        line += 1;
        csv.push_str(row);
        csv.push('\n');
        if let Some(code) = code {
            bad.push((line, code.to_owned()));
        }
    };
    add(&mut csv, &format!("2025000001,Asha Kumari,,{asha},in.gov.cbse,91,92,93"), None);
    add(&mut csv, "2024000005,Someone Else,,,in.gov.cbse,1,2,3", Some("duplicate_row"));
    let mut wrong = aadhaar(900_007);
    let last = wrong.pop().and_then(|d| d.to_digit(10)).expect("digit");
    wrong.push(char::from_digit((last + 1) % 10, 10).expect("digit"));
    add(
        &mut csv,
        &format!("2025000002,Bad Check,{wrong},,in.gov.cbse,1,2,3"),
        Some("invalid_aadhaar"),
    );
    add(
        &mut csv,
        &format!("2025000003,Other Board,{},,in.gov.other,1,2,3", aadhaar(900_001)),
        Some("other_issuer"),
    );
    add(
        &mut csv,
        "2025000004,No Locker,,00000000-0000-4000-8000-000000000001,in.gov.cbse,1,2,3",
        Some("unknown_locker"),
    );
    add(
        &mut csv,
        &format!("2025000005,,{},,in.gov.cbse,1,2,3", aadhaar(900_002)),
        Some("invalid_holder"),
    );
    // A truncated last line (the file was cut while being written).
    line += 1;
    csv.push_str("2025000006,Cut Off,");
    bad.push((line, "malformed_row".to_owned()));
    let file = dir.path().join("results.csv");
    std::fs::write(&file, &csv).expect("results file");
    let report = dir.path().join("rejected.csv");

    let (ok, out, err) = locker(bulk(&url, &data, &file, &report, "HSCER")).await;
    assert!(!ok, "rejected rows make the run fail: {out} {err}");
    let good = ROWS + 1;
    assert!(
        out.contains(&format!("{good} accepted, 0 already present, {} rejected", bad.len())),
        "{out} {err}"
    );
    assert_eq!(report_rows(&report), bad, "each bad row, by line and reason");

    // Every good row is in the views: the board's count, the locker, the Aadhaar's documents
    // once a citizen links it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let count = issued_by_cbse(&service.get("/v1/stats").await);
        if count == before + good as i64 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "issued by the board: {count}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Her Aadhaar, proven: the reference authority texts the code to her mobile.
    let asked = service.asha.aadhaar_otp(&aadhaar(7)).await.expect("a code from the authority");
    let message = tokio::time::timeout(Duration::from_secs(10), _sms.recv())
        .await
        .expect("the authority's SMS within 10 s")
        .expect("gateway open");
    let code =
        message["message"].as_str().expect("text").split(' ').next().expect("code").to_owned();
    service.asha.link_aadhaar(&asked.txn, &code).await.expect("linked");
    // The link is applied by the projector a moment after it is logged.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let uris = service.certificate_uris().await;
        assert!(
            uris.iter().any(|u| u == "in.gov.cbse-HSCER-2025000001"),
            "to her locker: {uris:?}"
        );
        if uris.iter().any(|u| u == "in.gov.cbse-HSCER-2024000007") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "to her Aadhaar: {uris:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The same file again: nothing new, the same rows refused.
    let (ok, out, _) = locker(bulk(&url, &data, &file, &report, "HSCER")).await;
    assert!(!ok);
    assert!(
        out.contains(&format!("0 accepted, {good} already present, {} rejected", bad.len())),
        "{out}"
    );

    // The bad rows fixed: only they are added.
    let fixed = format!(
        "roll_no,name,aadhaar,locker,issuer,Physics\n\
         2025000010,Someone Else,{},,in.gov.cbse,1\n\
         2025000002,Bad Check,{},,in.gov.cbse,1\n\
         2025000004,No Locker,{},,,1\n\
         2025000005,Named Now,{},,in.gov.cbse,1\n\
         2025000006,Cut Off,{},,in.gov.cbse,1\n",
        aadhaar(900_003),
        aadhaar(900_004),
        aadhaar(900_005),
        aadhaar(900_002),
        aadhaar(900_006),
    );
    let fixed_file = dir.path().join("fixed.csv");
    std::fs::write(&fixed_file, fixed).expect("fixed file");
    let (ok, out, err) = locker(bulk(&url, &data, &fixed_file, &report, "HSCER")).await;
    assert!(ok, "{out} {err}");
    assert!(out.contains("5 accepted, 0 already present, 0 rejected"), "{out}");

    // A doc type the board may not issue: refused row by row.
    let other = dir.path().join("licences.csv");
    std::fs::write(&other, format!("roll_no,name,aadhaar\nDL-1,A Driver,{}\n", aadhaar(900_010)))
        .expect("file");
    let (ok, out, _) = locker(bulk(&url, &data, &other, &report, "DRVLC")).await;
    assert!(!ok);
    assert_eq!(report_rows(&report), vec![(2, "not_permitted".to_owned())], "{out}");

    // The board's key revoked: its next rows are refused, none written.
    let board = ledger::keyfile::read(&data.join("demo-keys/in.gov.cbse.key")).expect("key");
    let key_id = ledger::crypto::key_id_of(&board.verifying_key()).to_string();
    let (ok, out, err) = locker(owned(&[
        "admin",
        "--server",
        &url,
        "--platform-key",
        data.join("platform.key").to_str().expect("path"),
        "revoke-key",
        "--issuer",
        "in.gov.cbse",
        "--key-id",
        &key_id,
        "--reason",
        "leaked",
    ]))
    .await;
    assert!(ok, "{out} {err}");
    let late = dir.path().join("late.csv");
    std::fs::write(
        &late,
        format!("roll_no,name,aadhaar\n2025000020,Late Student,{}\n", aadhaar(900_020)),
    )
    .expect("file");
    let (ok, out, _) = locker(bulk(&url, &data, &late, &report, "HSCER")).await;
    assert!(!ok);
    assert_eq!(report_rows(&report), vec![(2, "key_revoked".to_owned())], "{out}");

    // The views and the Merkle trees took the rows from the ledger's tail in memory, not read
    // back from the log (issue 19), and the views are exactly what a rebuild from the log gives.
    let kept = tail_count(&url, "locker_projection_records_total").await;
    assert!(kept > 0, "the views read every record back from the log");
    // The trees take their leaves when the checkpointer next looks: wait for it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tail_count(&url, "locker_merkle_leaves_total").await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Merkle trees took no leaf from the tail"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(server);
    let verify = owned(&["audit", "verify", "--data", data.to_str().expect("path")]);
    let (ok, out, err) = locker(verify).await;
    assert!(ok && out.contains("views match a rebuild from the log"), "{out} {err}");
}

/// The `source="tail"` sample of a counter on the service's `/metrics`.
async fn tail_count(url: &str, name: &str) -> u64 {
    let metrics = JsonClient::new(Duration::from_secs(10))
        .send("GET", &JsonClient::parse_url(&format!("{url}/metrics")).expect("url"), &[], vec![])
        .await
        .expect("metrics")
        .1;
    let prefix = format!("{name}{{source=\"tail\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .and_then(|count| count.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no {prefix}in {metrics}"))
}

/// A marksheet row for the demo citizen, as the exam board signs it for its inbox.
fn inbox_row(key: &ed25519_dalek::SigningKey, asha: schemas::LockerId, doc_id: &str) -> String {
    client::bulk::RowSigner {
        key,
        issuer: &schemas::IssuerId::parse("in.gov.cbse").expect("issuer"),
        doc_type: &schemas::DocTypeCode::parse("HSCER").expect("type"),
        name: &schemas::Label::parse("Class XII Marksheet 2024").expect("name"),
        issued_on: schemas::CivilDate::from_ymd(2024, 5, 13).expect("date"),
        valid_to: None,
    }
    .sign(
        &schemas::DocId::parse(doc_id).expect("doc id"),
        &schemas::Label::parse("Asha Kumari").expect("holder"),
        &[],
        schemas::Recipient::Locker(asha),
        ledger::clock::Clock::now(&ledger::clock::SystemClock),
    )
    .expect("signed")
}

/// Produces records to partition 0 of `topic` with a plain Kafka client (no locker headers).
async fn produce(brokers: &str, topic: &str, records: &[String]) {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("a plain producer");
    for record in records {
        producer
            .send(
                FutureRecord::<[u8], [u8]>::to(topic).partition(0).payload(record.as_bytes()),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("produced");
    }
}

/// The inbox keeps records a week: what retention took before the service read it is lost,
/// counted and logged, and the rest lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_records_retention_took_before_they_were_read_are_counted_and_the_rest_land() {
    let Some(brokers) = crate::kafka_bootstrap() else { return };
    let prefix = format!("expired{}", std::process::id());
    let Demo { dir, data, server, url: _, service, _sms } =
        Demo::start(Some((&brokers, &prefix))).await;
    let asha = service.locker().await;
    // The service is down while the board produces three rows, and retention takes two.
    drop(server);
    let board = ledger::keyfile::read(&data.join("demo-keys/in.gov.cbse.key")).expect("key");
    let rows: Vec<String> = ["2026200001", "2026200002", "2026200003"]
        .iter()
        .map(|id| inbox_row(&board, asha, id))
        .collect();
    let inbox = format!("{prefix}.inbox");
    produce(&brokers, &inbox, &rows).await;
    let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
        rdkafka::ClientConfig::new().set("bootstrap.servers", &brokers).create().expect("admin");
    let mut taken = rdkafka::TopicPartitionList::new();
    taken.add_partition_offset(&inbox, 0, rdkafka::Offset::Offset(2)).expect("offset");
    admin
        .delete_records(&taken, &rdkafka::admin::AdminOptions::new())
        .await
        .expect("retention, by hand");

    let (gateway_url, _sms) = gateway().await;
    let server = serve(&data, &gateway_url, Some((&brokers, &prefix)));
    let service = Service::asha(&format!("http://{}", server.address)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let uris = service.certificate_uris().await;
        if uris.iter().any(|u| u == "in.gov.cbse-HSCER-2026200003") {
            assert!(
                !uris.iter().any(|u| u.starts_with("in.gov.cbse-HSCER-20262000")
                    && u != "in.gov.cbse-HSCER-2026200003"),
                "{uris:?}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the kept row lands: {uris:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = JsonClient::new(Duration::from_secs(10))
        .send(
            "GET",
            &JsonClient::parse_url(&format!("http://{}/metrics", server.address)).expect("url"),
            &[],
            vec![],
        )
        .await
        .expect("metrics")
        .1;
    assert!(metrics.contains("\nlocker_inbox_expired_total 2\n"), "{metrics}");
    drop(server);
    drop(dir);
}

/// An issuer inside the network produces its rows straight to `<prefix>.inbox` with a plain
/// Kafka client: the good rows land like HTTP ones, the refused ones (not JSON, signed with a
/// key the board does not hold) are in `<prefix>.dead-letter` with their inbox offsets and
/// reasons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_produced_straight_to_the_kafka_inbox_land_or_become_dead_letters() {
    use ledger::Log;
    let Some(brokers) = crate::kafka_bootstrap() else { return };
    let prefix = format!("inbox{}", std::process::id());
    let Demo { dir, data, server, url: _, service, _sms } =
        Demo::start(Some((&brokers, &prefix))).await;
    let asha = service.locker().await;

    let board = ledger::keyfile::read(&data.join("demo-keys/in.gov.cbse.key")).expect("key");
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let records = [
        inbox_row(&board, asha, "2026100001"),
        inbox_row(&board, asha, "2026100002"),
        "not json at all".to_owned(),
        inbox_row(&stranger, asha, "2026100003"),
    ];
    produce(&brokers, &format!("{prefix}.inbox"), &records).await;

    // The good rows reach the locker.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let uris = service.certificate_uris().await;
        let landed = ["in.gov.cbse-HSCER-2026100001", "in.gov.cbse-HSCER-2026100002"]
            .iter()
            .all(|u| uris.iter().any(|have| have == u));
        if landed {
            assert!(!uris.iter().any(|u| u == "in.gov.cbse-HSCER-2026100003"), "{uris:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "from the inbox: {uris:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The refused ones, with their positions and reasons.
    let reader = ledger::KafkaLog::open(ledger::KafkaSettings::single_broker(
        &brokers,
        dir.path().join("reader-index"),
    ))
    .await
    .expect("kafka");
    let dead = format!("{prefix}.dead-letter");
    reader.create_topic(&dead, server::limits::INBOX_PARTITIONS).await.expect("topic");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let letters = loop {
        let mut letters = Vec::new();
        for partition in 0..server::limits::INBOX_PARTITIONS {
            for record in reader.read(&dead, partition, 0, 100).await.expect("read") {
                let letter: server::jobs::inbox::DeadLetter =
                    serde_json::from_slice(&record.value).expect("a dead letter");
                // Kept like the ledger, so without the holder's name or marks.
                let kept = letter.record.clone().unwrap_or_default();
                assert!(!kept.contains("Asha Kumari"), "personal fields in a dead letter: {kept}");
                letters.push((letter.inbox_partition, letter.inbox_offset, letter.code));
            }
        }
        letters.sort();
        if letters.len() >= 2 || tokio::time::Instant::now() > deadline {
            break letters;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        letters,
        vec![(0, 2, "invalid_json".to_owned()), (0, 3, "unknown_key".to_owned())],
        "each refused inbox record, by position and reason"
    );
    drop(server);
}

/// Batch-signed issuance end to end: one signature per batch, every document verifiable
/// alone (its proof bundle checks offline), a re-run adds nothing, and the audit passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_signs_each_batch_once_and_every_document_still_verifies_alone() {
    let Demo { dir, data, server, url, service, _sms } = Demo::start(None).await;
    let asha = service.locker().await;
    let mut csv = String::from("roll_no,name,locker,aadhaar,Physics\n");
    for i in 0..300 {
        writeln!(csv, "2027{i:06},Asha Kumari,{asha},,{}", 50 + i % 50).expect("write");
    }
    let file = dir.path().join("batch.csv");
    std::fs::write(&file, csv).expect("file");
    let report = dir.path().join("rejected.csv");
    let mut args = bulk(&url, &data, &file, &report, "HSCER");
    args.extend(owned(&["--batch-sign", "--batch-rows", "128"]));
    let (ok, out, err) = locker(args.clone()).await;
    assert!(ok, "{out} {err}");
    assert!(out.contains("300 accepted, 0 already present, 0 rejected"), "{out}");
    let (ok, out, _) = locker(args).await;
    assert!(ok && out.contains("0 accepted, 300 already present"), "{out}");

    // One document of the second batch, proven alone.
    let uri = "in.gov.cbse-HSCER-2027000200";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let bundle = loop {
        match service.asha.bundle(uri).await {
            Ok(bundle) => break String::from_utf8(bundle).expect("a JSON file"),
            Err(e) => assert!(tokio::time::Instant::now() < deadline, "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let record =
        serde_json::from_str::<serde_json::Value>(&bundle).expect("json")["document"]["record"]
            .as_str()
            .expect("record")
            .to_owned();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(record).expect("base64");
    let envelope = schemas::decode_record(&bytes).expect("decodes");
    let proof = envelope.batch.expect("batch-signed");
    assert_eq!((proof.index, proof.size), (72, 128), "row 200 is the 73rd of the second batch");
    let bundle_path = dir.path().join("one.json");
    std::fs::write(&bundle_path, &bundle).expect("bundle");
    let (ok, out, err) = locker(owned(&[
        "verify-bundle",
        bundle_path.to_str().expect("path"),
        "--data",
        data.to_str().expect("path"),
    ]))
    .await;
    assert!(ok && out.starts_with(&format!("authentic: document {uri}")), "{out} {err}");

    drop(server);
    let (ok, out, err) =
        locker(owned(&["audit", "verify", "--data", data.to_str().expect("path")])).await;
    assert!(ok && out.contains("locker audit: OK"), "{out} {err}");
}
