//! Results day: an exam board publishes ROWS marksheets through `POST /v1/issuer/batches` to
//! a real `locker serve` process (release build, demo data, embedded log or Kafka), while
//! citizens read My Certificates. Side by side in the same run: the raw parallel Ed25519
//! batch-verify rate of this machine, the physical limit of ingest.
//!
//! The rows are signed in advance (the issuer's signing cost stays out of the server's
//! budget): students known by Aadhaar, marksheets with five subject marks as sealed fields.
//! Then the load is timed from the first batch sent to the last verdict, and until every
//! document is in the views. The server's peak memory comes from /proc. Meanwhile the demo
//! citizen's My Certificates is read READS_PER_S times a second, open loop: each read starts
//! on its schedule whether the ones before have answered or not, and its latency counts from
//! that scheduled moment (a slow server is not excused by readers that wait for it).
//!
//! With `batch` as third argument the board signs each batch of 2,000 once (batch-signed
//! issuance): then signatures stop being the limit, and the rate is also reported against
//! raw BLAKE3 hashing and raw RocksDB batched puts of rows of the same size, same run.
//!
//! Rows go as `locker issue bulk` sends them, binary (`wire::rows`); `ndjson` as fourth
//! argument sends the same rows as NDJSON lines, to compare.
//!
//! Usage: bulk-load [ROWS] [READS_PER_S] [single|batch] [binary|ndjson]
//!   (defaults 100,000, 1,000, single, binary)
//!   KAFKA_BOOTSTRAP=host:port bulk-load ...   puts the events on Kafka instead.
//!
//! Needs `target/release/locker` (`cargo build --release -p cli --bin locker`).

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use client::http::JsonClient;
use rayon::prelude::*;
use schemas::*;

const BATCH_ROWS: usize = 2_000;
const IN_FLIGHT: usize = 4;
const RAW_SIGNATURES: usize = 200_000;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn aadhaar(n: u64) -> String {
    let base = (20_000_000_000 + n).to_string();
    let check = verhoeff::check_digit(&base).unwrap_or_default();
    format!("{base}{check}")
}

/// CPU seconds (user and system) the process has used so far: per event, a cost that other
/// tenants of this shared machine disturb far less than wall time.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the file, 12 and 13 after the name; the kernel
    // counts them in USER_HZ, 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn issued_by_cbse(stats: &serde_json::Value) -> i64 {
    stats["issued_by"]
        .as_array()
        .and_then(|list| list.iter().find(|i| i["issuer"] == "in.gov.cbse"))
        .and_then(|i| i["documents"].as_i64())
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let rows: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(100_000);
    let reads_per_s: u32 = std::env::args().nth(2).map(|s| s.parse()).transpose()?.unwrap_or(1_000);
    let batch_signed = std::env::args().nth(3).is_some_and(|mode| mode == "batch");
    let format = if std::env::args().nth(4).is_some_and(|f| f == "ndjson") {
        client::bulk::Format::Ndjson
    } else {
        client::bulk::Format::Binary
    };
    let kafka = std::env::var("KAFKA_BOOTSTRAP").ok().filter(|s| !s.is_empty());

    // The physical limit, measured first, on the same machine, in this run.
    let raw = locker_benches::raw_verify_rate(RAW_SIGNATURES)?;
    let cores = rayon::current_num_threads() as f64;

    // The service, as its users run it.
    let exe = std::env::current_exe()?;
    let binary =
        exe.parent().map(|dir| dir.join("locker")).ok_or_else(|| anyhow::anyhow!("no exe dir"))?;
    anyhow::ensure!(
        binary.exists(),
        "{} is missing: cargo build --release -p cli --bin locker",
        binary.display()
    );
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut command = Command::new(&binary);
    command
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(brokers) = &kafka {
        let prefix = format!("bulk{}", std::process::id());
        command.args(["--kafka", brokers, "--topic-prefix", &prefix]);
    }
    let mut child = command.spawn()?;
    let pid = child.id();
    let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let server = Server(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let address = loop {
        let line = lines.next().ok_or_else(|| anyhow::anyhow!("the server stopped"))??;
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split(' ').next().unwrap_or_default().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let url = format!("http://{address}");
    let client = JsonClient::new(Duration::from_secs(300));
    let key = ledger::keyfile::read(&data.join("demo-keys/in.gov.cbse.key"))
        .map_err(anyhow::Error::msg)?;
    let issuer = IssuerId::parse("in.gov.cbse")?;

    // Sign every row in advance: Aadhaar references asked in batches, signatures on all cores.
    eprintln!("signing {rows} marksheets...");
    let signing = Instant::now();
    let doc_type = DocTypeCode::parse("HSCER")?;
    let name = Label::parse("Class XII Marksheet 2024")?;
    let signer = client::bulk::RowSigner {
        key: &key,
        issuer: &issuer,
        doc_type: &doc_type,
        name: &name,
        issued_on: CivilDate::from_ymd(2024, 5, 13)?,
        valid_to: None,
    };
    let subjects = ["Physics", "Chemistry", "Mathematics", "English", "Biology"];
    let now = ledger::clock::Clock::now(&ledger::clock::SystemClock);
    let mut batches: Vec<Vec<u8>> = Vec::with_capacity(rows.div_ceil(BATCH_ROWS));
    for first in (0..rows).step_by(BATCH_ROWS) {
        let count = BATCH_ROWS.min(rows - first);
        let numbers: Vec<String> = (first..first + count).map(|i| aadhaar(i as u64)).collect();
        let body = serde_json::json!({ "aadhaar_numbers": numbers }).to_string().into_bytes();
        let path = "/v1/issuer/aadhaar-reference-batches";
        let keyid = format!("{issuer}:{}", ledger::crypto::key_id_of(&key.verifying_key()));
        let target = wire::rfc9421::Target { method: "POST", authority: &address, path, query: "" };
        let signed =
            wire::rfc9421::sign_request(&key, &keyid, now.0.div_euclid(1000), target, &body);
        let headers = signed.into_headers();
        let answer: wire::dto::AadhaarBatchDto =
            client.typed("POST", &format!("{url}{path}"), &headers, body).await?;
        let references: Vec<AadhaarRef> = answer
            .references
            .into_iter()
            .map(|r| {
                Ok(AadhaarRef {
                    keyed_hash: Digest32::from_hex(r.keyed_hash.as_deref().unwrap_or_default())?,
                    last4: Last4::parse(r.last4.as_deref().unwrap_or_default())?,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let documents: Vec<(DocId, Label, Vec<DocumentField>, Recipient)> = references
            .into_par_iter()
            .enumerate()
            .map(|(k, reference)| {
                let i = first + k;
                let fields: Vec<DocumentField> = subjects
                    .iter()
                    .enumerate()
                    .map(|(s, subject)| DocumentField {
                        key: FieldKey::parse(subject)
                            .unwrap_or_else(|_| unreachable!("a valid key")),
                        value: FieldValue::parse(&(35 + (i * 7 + s * 13) % 65).to_string())
                            .unwrap_or_else(|_| unreachable!("a valid value")),
                    })
                    .collect();
                let doc_id = DocId::parse(&format!("2024{i:07}"))
                    .unwrap_or_else(|_| unreachable!("a valid id"));
                let holder = Label::parse(&format!("Student {i}"))
                    .unwrap_or_else(|_| unreachable!("a valid name"));
                (doc_id, holder, fields, Recipient::Aadhaar(reference))
            })
            .collect();
        let rows: Vec<Vec<u8>> = if batch_signed {
            signer.sign_batch_as(format, documents, now).map_err(anyhow::Error::msg)?
        } else {
            documents
                .into_par_iter()
                .map(|(doc_id, holder, fields, recipient)| {
                    signer
                        .sign_as(format, &doc_id, &holder, &fields, recipient, now)
                        .unwrap_or_else(|e| unreachable!("signs: {e}"))
                })
                .collect()
        };
        batches.push(format.join(rows.iter().map(Vec::as_slice)));
    }
    let row_bytes: usize = batches.iter().map(Vec::len).sum();
    eprintln!(
        "signed in {:.1} s ({} bytes per row); loading...",
        signing.elapsed().as_secs_f64(),
        row_bytes / rows.max(1)
    );

    // The storm: the demo citizen opening her locker on a fixed schedule during the load.
    let public = client::citizen::Public::new(&url)?;
    let asha = public.log_in("asha", server::app::demo::DEMO_PASSWORD).await?;
    let before = issued_by_cbse(&public.get("/v1/stats").await?);
    let loading = Arc::new(AtomicBool::new(true));
    let storm = tokio::spawn(read_storm(asha, reads_per_s, Arc::clone(&loading)));

    // The load: IN_FLIGHT batches on the wire at once.
    let batches = Arc::new(batches);
    let start = Instant::now();
    let cpu_before = cpu_seconds(pid);
    let (accepted, present, _) = send_all(&client, &url, (format, &batches)).await?;
    let ingest = start.elapsed().as_secs_f64();
    // Until every document is in the views (My Issuer, the lockers).
    loop {
        let count = issued_by_cbse(&public.get("/v1/stats").await?);
        if count >= before + rows as i64 {
            break;
        }
        anyhow::ensure!(start.elapsed() < Duration::from_secs(3600), "views stuck at {count}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let visible = start.elapsed().as_secs_f64();
    let cpu_us_per_event = 1e6 * (cpu_seconds(pid) - cpu_before) / rows as f64;
    loading.store(false, Ordering::Relaxed);
    let (mut latencies, failed) = storm.await?;
    latencies.sort_unstable();
    let p99_ms = latencies.get(latencies.len().saturating_sub(1) * 99 / 100).copied().unwrap_or(0)
        as f64
        / 1000.0;
    anyhow::ensure!(accepted == rows as u64, "{accepted} accepted, {present} present, of {rows}");
    // Results day again: the same file sent a second time adds nothing.
    let start = Instant::now();
    let (again, present, rejected) = send_all(&client, &url, (format, &batches)).await?;
    let rerun = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        again == 0 && present == rows as u64 && rejected == 0,
        "the re-run: {again} accepted, {present} already present, {rejected} rejected"
    );
    let after = issued_by_cbse(&public.get("/v1/stats").await?);
    anyhow::ensure!(after == before + rows as i64, "issued by the board: {after}");
    let rss = peak_rss_mib(pid);
    let sources = projection_sources(&client, &url).await?;
    drop(server);
    let rate = rows as f64 / ingest;
    println!(
        "bulk-load: {rows} marksheets on {}, {}, rows as {}",
        kafka.as_deref().map_or_else(|| "the embedded log".to_owned(), |b| format!("Kafka at {b}")),
        if batch_signed { "each batch of 2,000 signed once" } else { "each signed alone" },
        format.media_type()
    );
    if batch_signed {
        let (hashes, puts) = raw_hash_and_put_rates(row_bytes / rows.max(1))?;
        println!(
            "  raw BLAKE3 of a row: {hashes:.0}/s, raw RocksDB batched puts of a row: {puts:.0}/s (same run): ingest is {:.1}% and {:.1}% of them",
            100.0 * rate / hashes,
            100.0 * rate / puts
        );
    }
    println!("  raw parallel batch verify: {raw:.0} signatures/s (same run)");
    println!(
        "  ingest (first batch sent to last verdict): {ingest:.1} s = {rate:.0} events/s = {:.0}% of raw",
        100.0 * rate / raw
    );
    println!(
        "  all in the views after {visible:.1} s; 1.5 million at this rate: {:.0} s",
        1.5e6 / rate
    );
    println!(
        "  server CPU until all in the views: {cpu_us_per_event:.1} µs per event (raw verify: {:.1} µs of CPU per signature on {} cores)",
        1e6 * cores / raw,
        cores
    );
    println!("  server peak memory (VmHWM): {rss:.0} MiB");
    println!("  records the views applied: {sources}");
    println!(
        "  My Certificates during the load: {} reads at {reads_per_s}/s (open loop), p99 {p99_ms:.1} ms, {failed} failed",
        latencies.len()
    );
    println!("  the same file again: 0 added, {rows} already present, in {rerun:.1} s");
    Ok(())
}

/// Reads My Certificates `per_s` times a second until `loading` ends, each on its schedule
/// (at most `STORM_IN_FLIGHT_MAX` outstanding; past it a read counts as failed). Returns each
/// answered read's latency from its scheduled start, in µs, and how many failed.
/// Where the views found the records they applied (`/metrics`): this process's appends kept
/// in memory, or read back from the log.
async fn projection_sources(client: &JsonClient, url: &str) -> anyhow::Result<String> {
    let metrics_url = JsonClient::parse_url(&format!("{url}/metrics"))?;
    let (_, metrics) = client.send("GET", &metrics_url, &[], vec![]).await?;
    let count = |source: &str| {
        let prefix = format!("locker_projection_records_total{{source=\"{source}\"}} ");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .unwrap_or("?")
            .to_owned()
    };
    Ok(format!(
        "{} from the tail in memory, {} read back from the log",
        count("tail"),
        count("log")
    ))
}

async fn read_storm(
    asha: client::citizen::Citizen,
    per_s: u32,
    loading: Arc<AtomicBool>,
) -> (Vec<u64>, u64) {
    const STORM_IN_FLIGHT_MAX: usize = 4_096;
    let mut latencies = Vec::new();
    let mut failed = 0u64;
    if per_s == 0 {
        return (latencies, failed);
    }
    let period = Duration::from_secs(1) / per_s;
    let start = tokio::time::Instant::now();
    let mut reads = tokio::task::JoinSet::new();
    let mut k = 0u32;
    while loading.load(Ordering::Relaxed) {
        let scheduled = start + period * k;
        k += 1;
        tokio::time::sleep_until(scheduled).await;
        while let Some(done) = reads.try_join_next() {
            match done {
                Ok(Some(us)) => latencies.push(us),
                _ => failed += 1,
            }
        }
        if reads.len() >= STORM_IN_FLIGHT_MAX {
            failed += 1;
            continue;
        }
        let asha = asha.clone();
        reads.spawn(async move {
            let answered = asha.certificates().await.is_ok();
            answered.then(|| u64::try_from(scheduled.elapsed().as_micros()).unwrap_or(u64::MAX))
        });
    }
    while let Some(done) = reads.join_next().await {
        match done {
            Ok(Some(us)) => latencies.push(us),
            _ => failed += 1,
        }
    }
    (latencies, failed)
}

/// Raw BLAKE3 hashes and raw RocksDB batched puts (1,000 a batch, unsynced) of rows of this
/// size, per second, on this machine now.
fn raw_hash_and_put_rates(row_bytes: usize) -> anyhow::Result<(f64, f64)> {
    const COUNT: usize = 300_000;
    let mut row = vec![7u8; row_bytes.max(1)];
    let start = Instant::now();
    let mut sink = 0u8;
    for i in 0..COUNT {
        row[0] = u8::try_from(i % 251).unwrap_or_default();
        sink ^= blake3::hash(&row).as_bytes()[0];
    }
    let hashes = COUNT as f64 / start.elapsed().as_secs_f64();
    let dir = tempfile::tempdir()?;
    let db = rocksdb::DB::open_default(dir.path())?;
    let start = Instant::now();
    for first in (0..COUNT).step_by(1000) {
        let mut batch = rocksdb::WriteBatch::default();
        for i in first..first + 1000 {
            row[0] = sink ^ u8::try_from(i % 251).unwrap_or_default();
            batch.put((i as u64).to_be_bytes(), &row);
        }
        db.write(batch)?;
    }
    let puts = COUNT as f64 / start.elapsed().as_secs_f64();
    Ok((hashes, puts))
}

/// Sends every batch, `IN_FLIGHT` at once; returns the rows accepted, already present and
/// rejected.
async fn send_all(
    client: &JsonClient,
    url: &str,
    (format, batches): (client::bulk::Format, &Arc<Vec<Vec<u8>>>),
) -> anyhow::Result<(u64, u64, u64)> {
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut sending = tokio::task::JoinSet::new();
    for index in 0..batches.len() {
        let permit = Arc::clone(&slots).acquire_owned().await?;
        let (client, url, batches) = (client.clone(), url.to_owned(), Arc::clone(batches));
        sending.spawn(async move {
            let headers = [("content-type", format.media_type().to_owned())];
            let body = batches[index].clone();
            let answer: Result<wire::dto::BatchResult, _> =
                client.typed("POST", &format!("{url}/v1/issuer/batches"), &headers, body).await;
            drop(permit);
            answer
        });
    }
    let (mut accepted, mut present, mut rejected) = (0, 0, 0);
    while let Some(done) = sending.join_next().await {
        let answer = done??;
        accepted += answer.accepted as u64;
        present += answer.already_present as u64;
        rejected += answer.rejected as u64;
    }
    Ok((accepted, present, rejected))
}
