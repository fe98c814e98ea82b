//! The same load on a cluster of 1, 2 or 3 nodes (`scripts/cluster start N`): closed-loop
//! signed document pushes, each to its own Aadhaar number (so they spread over every
//! partition), sent to the nodes in turn (a push for another node's partition is forwarded).
//! Prints acknowledged pushes per second and each node's CPU per push (from `/proc`, by the
//! pid files `scripts/cluster` keeps): on one machine the nodes share its cores, so CPU per
//! push is what says what N machines would do.
//!
//! Usage: cluster-load [SECONDS] [CONCURRENCY]   (defaults 20 and 16)
//! Environment: LOCKER_CLUSTER_DIR and LOCKER_CLUSTER_PORT as `scripts/cluster` reads them.

// Linked for its allocator (the one `locker` runs with).
extern crate locker_benches;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use schemas::*;

fn cluster_dir() -> PathBuf {
    std::env::var_os("LOCKER_CLUSTER_DIR").map_or_else(
        || {
            let cache = std::env::var_os("XDG_CACHE_HOME").map_or_else(
                || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"),
                PathBuf::from,
            );
            cache.join("locker/cluster")
        },
        PathBuf::from,
    )
}

/// The running nodes: (index, url, pid).
fn nodes(dir: &std::path::Path) -> anyhow::Result<Vec<(u32, String, u32)>> {
    let base: u32 =
        std::env::var("LOCKER_CLUSTER_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8080);
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).context("the cluster's folder (scripts/cluster start)")? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(index) = name.strip_prefix("node").and_then(|n| n.strip_suffix(".pid")) {
            let index: u32 = index.parse()?;
            let pid: u32 = std::fs::read_to_string(dir.join(&name))?.trim().parse()?;
            found.push((index, format!("http://127.0.0.1:{}", base + index), pid));
        }
    }
    found.sort();
    anyhow::ensure!(!found.is_empty(), "no node runs: scripts/cluster start N");
    Ok(found)
}

/// CPU time (user + system) of a process, in clock ticks (100 a second).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // Fields 14 and 15 of stat; 12 and 13 after the command name's closing parenthesis.
    field(11) + field(12)
}

/// The n-th Aadhaar number with a valid Verhoeff check digit (not starting 0 or 1).
fn aadhaar(n: u64) -> Aadhaar {
    let body = 20_000_000_000 + n * 7;
    (0..10)
        .find_map(|check| Aadhaar::parse(&format!("{body:011}{check}")).ok())
        .expect("one check digit fits")
}

async fn register(
    server: &str,
    platform: &ed25519_dalek::SigningKey,
) -> anyhow::Result<(IssuerId, ed25519_dalek::SigningKey)> {
    let mut seed = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let issuer =
        // A fresh issuer each run (one byte of the seed met an earlier run's within a few).
        IssuerId::parse(&format!("in.gov.bench{}", schemas::to_hex(&seed[..6])))
            .map_err(anyhow::Error::msg)?;
    let payload = Payload::IssuerRegistered(IssuerRegistered {
        issuer: issuer.clone(),
        name: Label::parse("Load Board").map_err(anyhow::Error::msg)?,
        doc_types: vec![DocTypeEntry {
            code: DocTypeCode::parse("MARKS").map_err(anyhow::Error::msg)?,
            name: Label::parse("Marks").map_err(anyhow::Error::msg)?,
        }],
        keys: vec![ledger::crypto::public_key_entry(&key.verifying_key())],
        endpoint: None,
    });
    let now = ledger::clock::Clock::now(&ledger::clock::SystemClock);
    let (status, answer) = client::admin::submit(server, platform, payload, now).await?;
    anyhow::ensure!((200..300).contains(&status), "register the load's issuer: {status} {answer}");
    Ok((issuer, key))
}

async fn push(
    server: &str,
    issuer: &IssuerId,
    key: &ed25519_dalek::SigningKey,
    run: u64,
    n: u64,
) -> bool {
    let request = client::issue::IssueRequest {
        server: server.to_owned(),
        key: key.clone(),
        issuer: issuer.clone(),
        to: client::issue::To::Aadhaar(aadhaar(n)),
        doc_type: DocTypeCode::parse("MARKS").expect("code"),
        doc_id: DocId::parse(&format!("{run}-{n}")).expect("id"),
        name: Label::parse("Marks").expect("name"),
        issued_on: CivilDate::parse("2024-05-13").expect("date"),
        valid_from: None,
        valid_to: None,
        holder: Label::parse("Load Student").expect("holder"),
        fields: Vec::new(),
        content: format!("%PDF-1.4\n% load {run}-{n}\n").into_bytes(),
        hash_only: true,
        now: ledger::clock::Clock::now(&ledger::clock::SystemClock),
    };
    matches!(client::issue::issue(request).await, Ok((status, _)) if (200..300).contains(&status))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let concurrency: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(16);
    let dir = cluster_dir();
    let nodes = nodes(&dir)?;
    let platform = ledger::keyfile::read(&dir.join("platform.key")).map_err(anyhow::Error::msg)?;
    let (issuer, key) = register(&nodes[0].1, &platform).await?;
    // The registration reaches every node's registry within its follow interval.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let run = u64::from(rand_core::RngCore::next_u32(&mut rand_core::OsRng));
    let urls: Arc<Vec<String>> = Arc::new(nodes.iter().map(|n| n.1.clone()).collect());
    let (acked, failed, next) =
        (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let before: Vec<u64> = nodes.iter().map(|n| cpu_ticks(n.2)).collect();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (urls, issuer, key) = (Arc::clone(&urls), issuer.clone(), key.clone());
        let (acked, failed, next) = (Arc::clone(&acked), Arc::clone(&failed), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let server = &urls[usize::try_from(n).unwrap_or(0) % urls.len()];
                if push(server, &issuer, &key, run, n).await {
                    acked.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let acked = acked.load(Ordering::Relaxed);
    println!(
        "cluster-load: {} node(s), {concurrency} clients, {elapsed:.1} s: {acked} pushes acknowledged ({:.0}/s), {} failed",
        nodes.len(),
        acked as f64 / elapsed,
        failed.load(Ordering::Relaxed)
    );
    for ((index, url, pid), before) in nodes.iter().zip(before) {
        let ticks = cpu_ticks(*pid).saturating_sub(before);
        let cpu_s = ticks as f64 / 100.0;
        println!(
            "cluster-load:   node {index} ({url}): {cpu_s:.1} s of CPU ({:.0}% of a core), {:.2} ms of CPU per acknowledged push",
            100.0 * cpu_s / elapsed,
            1000.0 * cpu_s / acked.max(1) as f64
        );
    }
    Ok(())
}
