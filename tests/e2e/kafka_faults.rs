//! The broker dies (SIGKILL) in the middle of a stream of appends and comes back. Every append
//! the producer acknowledged is read back exactly once; every other one returned an error to
//! its caller; appends resume; and retrying the failed ones leaves each event exactly once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ledger::{AppendRequest, Appended, KafkaLog, KafkaSettings, Log, Position};
use schemas::{Digest32, EventId};

/// A private broker (own port and data folder), so killing it disturbs no other test.
struct Broker {
    dir: tempfile::TempDir,
    port: u16,
}

fn script() -> PathBuf {
    // Where cargo runs the test from, not where it was compiled (a shared target directory).
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf(), PathBuf::from)
        .join("../scripts/kafka")
}

impl Broker {
    fn run(&self, command: &str) -> String {
        let output = Command::new(script())
            .arg(command)
            .env("LOCKER_KAFKA_DIR", self.dir.path())
            .env("LOCKER_KAFKA_PORT", self.port.to_string())
            .env("LOCKER_KAFKA_HEAP_MB", "384")
            .output()
            .expect("run scripts/kafka");
        assert!(
            output.status.success(),
            "scripts/kafka {command} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    fn kill_9(&self) {
        let pid = std::fs::read_to_string(self.dir.path().join("broker.pid")).expect("pid");
        let status = Command::new("kill").args(["-9", pid.trim()]).status().expect("kill");
        assert!(status.success());
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .env("LOCKER_KAFKA_DIR", self.dir.path())
            .env("LOCKER_KAFKA_PORT", self.port.to_string())
            .status();
    }
}

fn request(n: u32) -> AppendRequest {
    let mut id = [0u8; 16];
    id[..4].copy_from_slice(&n.to_le_bytes());
    let value = format!("event-{n}").into_bytes();
    AppendRequest {
        id: EventId(id),
        digest: Digest32(*blake3::hash(&value).as_bytes()),
        key: format!("citizen-{}", n % 7).into_bytes(),
        value,
    }
}

type Outcomes = Arc<Mutex<Vec<(u32, Result<Position, String>)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_a_broker_crash_exactly_once() {
    if crate::kafka_bootstrap().is_none() {
        return;
    }
    let broker = Broker { dir: tempfile::tempdir().expect("tempdir"), port: 19392 };
    let bootstrap = broker.run("start");
    let index = tempfile::tempdir().expect("tempdir");
    let mut settings = KafkaSettings::single_broker(&bootstrap, index.path());
    // Short, so that appends during the outage fail instead of waiting for it to end.
    settings.delivery_timeout_ms = 3000;
    let log = Arc::new(KafkaLog::open(settings).await.expect("open"));
    log.create_topic("faults", 2).await.expect("topic");

    let outcomes: Outcomes = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (log, outcomes, stop) = (Arc::clone(&log), Arc::clone(&outcomes), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let outcome = match log.append("faults", vec![request(n)]).await {
                    Ok(mut results) => match results.pop().expect("one result") {
                        Ok(Appended::New(position)) => Ok(position),
                        Ok(Appended::Existing(position)) => Err(format!("already at {position:?}")),
                        Err(e) => Err(e.to_string()),
                    },
                    Err(e) => Err(e.to_string()),
                };
                outcomes.lock().expect("lock").push((n, outcome));
                n += 1;
            }
        })
    };
    let count_ok = || outcomes.lock().expect("lock").iter().filter(|(_, o)| o.is_ok()).count();
    let wait_until = |target: usize| async move {
        for _ in 0..600 {
            if count_ok() >= target {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("appends stalled below {target}");
    };
    wait_until(200).await;
    broker.kill_9();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let during = count_ok();
    assert_eq!(broker.run("start"), bootstrap);
    wait_until(during + 200).await;
    stop.store(true, Ordering::SeqCst);
    writer.await.expect("writer");

    let outcomes = outcomes.lock().expect("lock").clone();
    let failed: Vec<u32> = outcomes.iter().filter(|(_, o)| o.is_err()).map(|(n, _)| *n).collect();
    assert!(!failed.is_empty(), "the outage produced no error: the test did not test anything");
    let acknowledged: HashMap<u32, Position> =
        outcomes.iter().filter_map(|(n, o)| o.as_ref().ok().map(|p| (*n, *p))).collect();

    // Every acknowledged append is there, at its position, exactly once.
    let mut seen: HashMap<Vec<u8>, Vec<Position>> = HashMap::new();
    for partition in 0..2 {
        let mut from = 0;
        loop {
            let batch = log.read("faults", partition, from, 1000).await.expect("read");
            let Some(last) = batch.last() else { break };
            from = last.position.offset + 1;
            for record in batch {
                seen.entry(record.value).or_default().push(record.position);
            }
        }
    }
    for (n, position) in &acknowledged {
        let copies = &seen[&request(*n).value];
        assert_eq!(copies, &vec![*position], "event {n}: acknowledged at {position:?}");
    }

    // Retrying the failed appends settles each of them exactly once.
    let retries: Vec<AppendRequest> = failed.iter().map(|n| request(*n)).collect();
    for result in log.append("faults", retries).await.expect("retry") {
        assert!(matches!(result, Ok(Appended::New(_) | Appended::Existing(_))), "{result:?}");
    }
    let mut total = 0u64;
    for partition in 0..2 {
        total += log.end_offset("faults", partition).await.expect("end");
    }
    assert_eq!(total, outcomes.len() as u64, "every event exactly once after the retries");
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "kafka faults: {} acknowledged, {} failed during the outage and were retried\n",
            acknowledged.len(),
            failed.len()
        )
        .as_bytes(),
    );
}
