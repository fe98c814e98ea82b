//! Load on the real HTTP service over loopback: My Certificates for a citizen with 50
//! documents, side by side with a trivial endpoint (`/healthz`) of the same server in the same
//! run. Keep-alive connections, a fixed number of concurrent clients, every request timed.
//!
//! The server runs in this process on its own runtime (the embedded log, the demo data, 46
//! more marksheets pushed through the issuer endpoint); the clients run on another runtime.
//! Both share the machine's cores, as a server and a load generator on one machine do.
//!
//! My Certificates is served from a page cache stamped with log positions (`server::store::cache`), so
//! a citizen reading an unchanged locker repeatedly, as here, is served the rendered page.
//! Before that cache, on this machine, the same run gave 16% of the trivial endpoint (the
//! render of 50 documents to JSON costs about 90 us of CPU).
//!
//! Usage: api-load [SECONDS_PER_ROUND] [CONNECTIONS]   (defaults 5 and 16)

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const DOCUMENTS: usize = 50;

struct Round {
    requests: usize,
    failures: usize,
    seconds: f64,
    latencies_us: Vec<u64>,
}

impl Round {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
    fn percentile_ms(&self, permille: usize) -> f64 {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        // Nearest rank, in thousandths.
        let last = sorted.len().saturating_sub(1);
        let index = (last * permille / 1000).min(last);
        sorted.get(index).copied().unwrap_or_default() as f64 / 1000.0
    }
}

async fn round(url: &str, token: Option<&str>, seconds: u64, connections: usize) -> Round {
    let client: Client<_, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).pool_max_idle_per_host(connections).build_http();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, url, token) = (client.clone(), url.to_owned(), token.map(str::to_owned));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0;
            while Instant::now() < deadline {
                let mut request = hyper::Request::get(url.as_str());
                if let Some(token) = &token {
                    request = request.header("authorization", format!("Bearer {token}"));
                }
                let request = request.body(Empty::new()).expect("request");
                let sent = Instant::now();
                match client.request(request).await {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        let body = response.into_body().collect().await;
                        if ok && body.is_ok() {
                            latencies.push(
                                u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX),
                            );
                        } else {
                            failures += 1;
                        }
                    }
                    Err(_) => failures += 1,
                }
            }
            (latencies, failures)
        }));
    }
    let mut all = Round { requests: 0, failures: 0, seconds: 0.0, latencies_us: Vec::new() };
    for task in tasks {
        let (latencies, failures) = task.await.expect("client task");
        all.requests += latencies.len();
        all.failures += failures;
        all.latencies_us.extend(latencies);
    }
    all.seconds = start.elapsed().as_secs_f64();
    all
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let connections: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(16);
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_path_buf();
    let server = locker_benches::DemoServer::start(&data)?;
    let clients = locker_benches::client_runtime()?;
    clients.block_on(async {
        let base = server.base.clone();
        server.ready().await?;
        let asha = server.demo_session().await?;
        let token = asha.token().to_owned();
        let locker = schemas::LockerId::parse(asha.locker())?;
        let key = ledger::keyfile::read(&data.join("demo-keys/in.gov.cbse.key")).map_err(anyhow::Error::msg)?;
        for i in 4..DOCUMENTS {
            let request = client::issue::IssueRequest {
                server: base.clone(),
                key: key.clone(),
                issuer: schemas::IssuerId::parse("in.gov.cbse")?,
                to: client::issue::To::Locker(locker),
                doc_type: schemas::DocTypeCode::parse("HSCER")?,
                doc_id: schemas::DocId::parse(&format!("LOAD-{i:04}"))?,
                name: schemas::Label::parse("Class XII Marksheet")?,
                issued_on: schemas::CivilDate::from_ymd(2024, 5, 13)?,
                valid_from: None,
                valid_to: None,
                holder: schemas::Label::parse("Asha Kumari")?,
                fields: vec![],
                content: format!("%PDF-1.4\n% marksheet {i}\n").into_bytes(),
                hash_only: false,
                now: ledger::clock::Clock::now(&ledger::clock::SystemClock),
            };
            let (status, answer) = client::issue::issue(request).await.map_err(anyhow::Error::msg)?;
            anyhow::ensure!(status == 201, "push {i}: {answer}");
        }
        let count = asha.certificates_page(DOCUMENTS, None).await?.items.len();
        let certificates = format!("{base}/v1/citizen/certificates?limit={DOCUMENTS}");
        anyhow::ensure!(count == DOCUMENTS, "the locker holds {count} documents, not {DOCUMENTS}");

        println!("api-load: {connections} keep-alive connections, {seconds} s per round, loopback, 2 rounds each");
        let health_url = format!("{base}/healthz");
        let mut trivial = Vec::new();
        let mut mine = Vec::new();
        // Warm up both, then alternate so drift in the machine's load hits both alike.
        round(&health_url, None, 1, connections).await;
        round(&certificates, Some(&token), 1, connections).await;
        for _ in 0..2 {
            trivial.push(round(&health_url, None, seconds, connections).await);
            mine.push(round(&certificates, Some(&token), seconds, connections).await);
        }
        let merge = |rounds: Vec<Round>| {
            let mut all = Round { requests: 0, failures: 0, seconds: 0.0, latencies_us: Vec::new() };
            for r in rounds {
                all.requests += r.requests;
                all.failures += r.failures;
                all.seconds += r.seconds;
                all.latencies_us.extend(r.latencies_us);
            }
            all
        };
        let (trivial, mine) = (merge(trivial), merge(mine));
        for (name, r) in [("GET /healthz (trivial)", &trivial), ("GET /v1/citizen/certificates (50 docs)", &mine)] {
            println!(
                "  {name:<42} {:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>7.2} ms   failures {}",
                r.rate(),
                r.percentile_ms(500),
                r.percentile_ms(990),
                r.percentile_ms(1000),
                r.failures
            );
        }
        println!(
            "  My Certificates / trivial throughput: {:.0}% (goal >= 30%); p99 {:.2} ms (goal < 10 ms)",
            100.0 * mine.rate() / trivial.rate(),
            mine.percentile_ms(990)
        );
        anyhow::ensure!(trivial.failures + mine.failures == 0, "requests failed under load");
        Ok(())
    })?;
    server.stop()
}
