//! Brokers die (SIGKILL) in the middle of a stream of appends and come back. Every append the
//! producer acknowledged is read back exactly once; every other one returned an error to its
//! caller; appends resume; and retrying the failed ones leaves each event exactly once. With one
//! broker the outage fails appends; with three (replication 3, `min.insync.replicas` 2) appends
//! go on while one is down.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ledger::{AppendRequest, Appended, KafkaLog, KafkaSettings, Log, Position};
use schemas::{Digest32, EventId};

/// A private cluster (own ports and data folder), so killing a broker disturbs no other test.
pub(crate) struct Brokers {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) port: u16,
    pub(crate) count: u32,
}

fn script() -> PathBuf {
    // Where cargo runs the test from, not where it was compiled (a shared target directory).
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf(), PathBuf::from)
        .join("../scripts/kafka")
}

impl Brokers {
    fn command(&self) -> Command {
        let mut command = Command::new(script());
        command
            .env("LOCKER_KAFKA_DIR", self.dir.path())
            .env("LOCKER_KAFKA_PORT", self.port.to_string())
            .env("LOCKER_KAFKA_BROKERS", self.count.to_string())
            .env("LOCKER_KAFKA_HEAP_MB", "384");
        command
    }

    pub(crate) fn run(&self, args: &[&str]) -> String {
        let output = self.command().args(args).output().expect("run scripts/kafka");
        assert!(
            output.status.success(),
            "scripts/kafka {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// With three brokers, as a cluster of nodes runs: replicated, and the topic owned (each
    /// partition appended in transactions by its claimant, so an append that failed leaves
    /// nothing a reader sees, even when its records reached the broker).
    fn settings(&self, bootstrap: &str, index: &Path) -> KafkaSettings {
        let mut settings = KafkaSettings::single_broker(bootstrap, index);
        if self.count >= 3 {
            settings.replication_factor = 3;
            settings.min_insync_replicas = 2;
            settings.owned_topics = vec!["faults".to_owned()];
        }
        settings
    }
}

impl Drop for Brokers {
    fn drop(&mut self) {
        let _ = self.command().arg("stop").status();
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
    let brokers = Brokers { dir: tempfile::tempdir().expect("tempdir"), port: 19392, count: 1 };
    let report = survive_a_broker_crash(&brokers).await;
    assert!(report.failed > 0, "the outage produced no error: the test did not test anything");
}

/// Three brokers, one killed: appends go on (the partitions' leaders move), and nothing an
/// append acknowledged is lost, including what only the dead broker led when it died.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_brokers_lose_no_acknowledged_append_when_one_dies() {
    if crate::kafka_bootstrap().is_none() {
        return;
    }
    let _heavy = crate::HEAVY.lock().await;
    let brokers = Brokers { dir: tempfile::tempdir().expect("tempdir"), port: 19400, count: 3 };
    let report = survive_a_broker_crash(&brokers).await;
    assert!(report.during_outage >= 200, "appends stopped while one broker of three was down");
}

struct Report {
    failed: usize,
    /// Appends acknowledged while the broker was down.
    during_outage: usize,
}

async fn survive_a_broker_crash(brokers: &Brokers) -> Report {
    let bootstrap = brokers.run(&["start"]);
    let index = tempfile::tempdir().expect("tempdir");
    let mut settings = brokers.settings(&bootstrap, index.path());
    // Short, so that appends during the outage fail instead of waiting for it to end.
    settings.delivery_timeout_ms = 3000;
    let log = Arc::new(KafkaLog::open(settings).await.expect("open"));
    log.create_topic("faults", 2).await.expect("topic");
    if brokers.count >= 3 {
        for partition in 0..2 {
            log.claim("faults", partition).await.expect("claim");
        }
    }

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
    brokers.run(&["kill", "1"]);
    let killed = count_ok();
    if brokers.count > 1 {
        wait_until(killed + 200).await;
    } else {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let during_outage = count_ok() - killed;
    brokers.run(&["start-broker", "1"]);
    wait_until(killed + during_outage + 200).await;
    stop.store(true, Ordering::SeqCst);
    writer.await.expect("writer");

    let outcomes = outcomes.lock().expect("lock").clone();
    let failed: Vec<u32> = outcomes.iter().filter(|(_, o)| o.is_err()).map(|(n, _)| *n).collect();
    let acknowledged: HashMap<u32, Position> =
        outcomes.iter().filter_map(|(n, o)| o.as_ref().ok().map(|p| (*n, *p))).collect();

    // Every acknowledged append is there, at its position, exactly once.
    let seen = copies_of(&log).await;
    for (n, position) in &acknowledged {
        let copies = &seen[&request(*n).value];
        assert_eq!(copies, &vec![*position], "event {n}: acknowledged at {position:?}");
    }

    // Retrying the failed appends settles each of them exactly once.
    let retries: Vec<AppendRequest> = failed.iter().map(|n| request(*n)).collect();
    for result in log.append("faults", retries).await.expect("retry") {
        assert!(matches!(result, Ok(Appended::New(_) | Appended::Existing(_))), "{result:?}");
    }
    let copies = copies_of(&log).await;
    let twice: Vec<(String, &Vec<Position>)> = copies
        .iter()
        .filter(|(_, at)| at.len() > 1)
        .map(|(value, at)| (String::from_utf8_lossy(value).into_owned(), at))
        .collect();
    let failed_at: Vec<(u32, String)> =
        outcomes.iter().filter_map(|(n, o)| o.as_ref().err().map(|e| (*n, e.clone()))).collect();
    assert!(twice.is_empty(), "written twice: {twice:?}; failed appends: {failed_at:?}");
    assert_eq!(copies.len(), outcomes.len(), "every event exactly once after the retries");
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "kafka faults, {} broker(s): {} acknowledged ({during_outage} while one was down), \
             {} failed during the outage and were retried\n",
            brokers.count,
            acknowledged.len(),
            failed.len()
        )
        .as_bytes(),
    );
    Report { failed: failed.len(), during_outage }
}

/// Where each record value sits in the test topic, every copy of it.
async fn copies_of(log: &KafkaLog) -> HashMap<Vec<u8>, Vec<Position>> {
    let mut copies: HashMap<Vec<u8>, Vec<Position>> = HashMap::new();
    for partition in 0..2 {
        let mut from = 0;
        loop {
            let batch = log.read_batch("faults", partition, from, 1000).await.expect("read");
            if batch.next_offset == from {
                break;
            }
            from = batch.next_offset;
            for record in batch.records {
                copies.entry(record.value).or_default().push(record.position);
            }
        }
    }
    copies
}
