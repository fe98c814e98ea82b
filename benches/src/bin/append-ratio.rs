//! Verified durable append throughput, as a ratio to the raw parallel Ed25519 batch-verify rate
//! measured in the same run on the same machine (signature checks are the physical limit).
//!
//! Usage: cargo run --release -p locker-benches --bin append-ratio [-- SCALE [FILTER]]
//! SCALE (default 1) multiplies the number of events of every measurement; FILTER runs only the
//! cases whose name contains it (for profiling one case).

use std::sync::Arc;
use std::time::Instant;

use ledger::Appended;
use ledger::crypto::{VerifyItem, verify_all};
use locker_benches::{Marksheets, ledger, signatures};

struct Case {
    name: &'static str,
    batch: usize,
    callers: usize,
    events: usize,
}

fn main() -> anyhow::Result<()> {
    let scale: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let filter = std::env::args().nth(2).unwrap_or_default();
    let cases = [
        Case { name: "batch 1, 1 caller", batch: 1, callers: 1, events: 500 * scale },
        Case { name: "batch 1, 64 callers", batch: 1, callers: 64, events: 8192 * scale },
        Case { name: "batch 64, 1 caller", batch: 64, callers: 1, events: 16384 * scale },
        Case { name: "batch 1024, 1 caller", batch: 1024, callers: 1, events: 32768 * scale },
        Case { name: "batch 1024, 2 callers", batch: 1024, callers: 2, events: 32768 * scale },
    ];
    let cases: Vec<Case> = cases.into_iter().filter(|case| case.name.contains(&filter)).collect();
    anyhow::ensure!(!cases.is_empty(), "no case matches {filter:?}");
    let mut source = Marksheets::new(1000);
    eprintln!("signing the workload in advance...");
    let workloads: Vec<Vec<Vec<u8>>> = cases.iter().map(|case| source.take(case.events)).collect();
    let sample_size_bytes = workloads[0][0].len();

    // The baseline: raw parallel batch verification of the same kind of events, measured again
    // right before each case because this machine is shared and its speed drifts.
    let sigs = signatures(&source.take(16384));
    let items: Vec<VerifyItem<'_>> =
        sigs.iter().map(|(m, s, k)| VerifyItem { message: m, signature: s, key: k }).collect();
    let raw_verify_rate = || {
        let mut best_s = f64::MAX;
        for _ in 0..3 {
            let start = Instant::now();
            assert!(verify_all(&items).iter().all(|ok| *ok));
            best_s = best_s.min(start.elapsed().as_secs_f64());
        }
        items.len() as f64 / best_s
    };
    println!("event size: {sample_size_bytes} bytes; cores: {}", rayon::current_num_threads());
    println!(
        "{:<24} {:>8} {:>9} {:>12} {:>13} {:>7}",
        "append (durable)", "events", "seconds", "events/s", "raw verify/s", "ratio"
    );
    for (case, records) in cases.iter().zip(workloads) {
        let dir = tempfile::tempdir()?;
        let ledger = Arc::new(runtime.block_on(ledger(dir.path(), &source.registrations)));
        let per_caller = records.len() / case.callers;
        let mut chunks: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut records = records.into_iter();
        for _ in 0..case.callers {
            chunks.push(records.by_ref().take(per_caller).collect());
        }
        let verify_rate = raw_verify_rate();
        let start = Instant::now();
        let appended: usize = runtime.block_on(async {
            let mut tasks = Vec::new();
            for chunk in chunks {
                let ledger = Arc::clone(&ledger);
                let batch = case.batch;
                tasks.push(tokio::spawn(async move {
                    let mut count = 0usize;
                    let mut chunk = chunk.into_iter();
                    loop {
                        let calls: Vec<Vec<u8>> = chunk.by_ref().take(batch).collect();
                        if calls.is_empty() {
                            break count;
                        }
                        for verdict in ledger.append(calls).await.expect("append") {
                            assert!(matches!(verdict, Ok(Appended::New(_))), "{verdict:?}");
                            count += 1;
                        }
                    }
                }));
            }
            let mut total = 0;
            for task in tasks {
                total += task.await.expect("caller");
            }
            total
        });
        let seconds = start.elapsed().as_secs_f64();
        let rate = appended as f64 / seconds;
        println!(
            "{:<24} {:>8} {:>9.3} {:>12.0} {:>13.0} {:>6.1}%",
            case.name,
            appended,
            seconds,
            rate,
            verify_rate,
            100.0 * rate / verify_rate
        );
    }
    Ok(())
}
