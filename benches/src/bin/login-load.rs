//! Password guessing against the real HTTP service over loopback: how many login attempts it
//! answers per second while `GUESSERS` clients send wrong passwords as fast as they can, and
//! what that does to a citizen reading My Certificates at the same time, against the same
//! reader with nobody guessing, in the same run.
//!
//! Each guess names another unknown username, so every one costs a full argon2 check (the
//! decoy hash) and none is cut short by a lock-out. argon2 runs on the blocking pool, at most
//! on all cores but one (`Accounts::hashing_turn`): the async workers keep serving.
//!
//! Usage: login-load [SECONDS] [GUESSERS]   (defaults 5 and 64)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

type Http = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// One reader timing My Certificates until `stop`: the latencies in microseconds.
async fn read_until(client: Http, url: String, token: String, stop: Arc<AtomicBool>) -> Vec<u64> {
    let mut latencies = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let request = hyper::Request::get(url.as_str())
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(Bytes::new()))
            .expect("request");
        let sent = Instant::now();
        if let Ok(response) = client.request(request).await
            && response.status().is_success()
            && response.into_body().collect().await.is_ok()
        {
            latencies.push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
        }
        // A citizen clicking, not a load generator: a read every 10 ms.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    latencies
}

fn percentile_ms(latencies: &[u64], permille: usize) -> f64 {
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    let last = sorted.len().saturating_sub(1);
    sorted.get((last * permille / 1000).min(last)).copied().unwrap_or_default() as f64 / 1000.0
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let guessers: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(64);
    let dir = tempfile::tempdir()?;
    let server = locker_benches::DemoServer::start(dir.path())?;
    let clients = locker_benches::client_runtime()?;
    clients.block_on(async {
        server.ready().await?;
        let token = server.demo_session().await?.token().to_owned();
        let client: Http = Client::builder(TokioExecutor::new()).build_http();
        let certificates = format!("{}/v1/citizen/certificates", server.base);
        let login = format!("{}/v1/citizen/login", server.base);

        // The reader alone.
        let stop = Arc::new(AtomicBool::new(false));
        let quiet = tokio::spawn(read_until(client.clone(), certificates.clone(), token.clone(), Arc::clone(&stop)));
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let quiet = quiet.await?;

        // The reader while `guessers` clients guess.
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for guesser in 0..guessers {
            let (client, login, stop) = (client.clone(), login.clone(), Arc::clone(&stop));
            let (answered, refused) = (Arc::clone(&answered), Arc::clone(&refused));
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let body = serde_json::json!({ "username": format!("guess-{guesser}-{n}"), "password": "not the password" });
                    let request = hyper::Request::post(login.as_str())
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(body.to_string())))
                        .expect("request");
                    if let Ok(response) = client.request(request).await {
                        let status = response.status();
                        let _ = response.into_body().collect().await;
                        if status == hyper::StatusCode::UNAUTHORIZED {
                            answered.fetch_add(1, Ordering::Relaxed);
                        } else {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        let started = Instant::now();
        let reader = tokio::spawn(read_until(client.clone(), certificates, token, Arc::clone(&stop)));
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let loaded = reader.await?;
        let elapsed = started.elapsed().as_secs_f64();
        for task in tasks {
            task.await?;
        }
        let checked = answered.load(Ordering::Relaxed);
        println!("login-load: {guessers} clients guessing passwords for {seconds} s, loopback");
        println!(
            "  wrong passwords checked (argon2, 401): {:.0}/s; answered busy (503, no hash): {:.0}/s",
            checked as f64 / elapsed,
            refused.load(Ordering::Relaxed) as f64 / elapsed
        );
        for (name, latencies) in [("My Certificates, nobody guessing", &quiet), ("My Certificates, while guessing", &loaded)] {
            println!(
                "  {name:<36} {:>5} reads   p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>7.2} ms",
                latencies.len(),
                percentile_ms(latencies, 500),
                percentile_ms(latencies, 990),
                percentile_ms(latencies, 1000)
            );
        }
        println!("  (goal: p99 while guessing < 10 ms)");
        anyhow::ensure!(!loaded.is_empty() && checked > 0, "nothing was measured");
        Ok::<(), anyhow::Error>(())
    })?;
    server.stop()
}
