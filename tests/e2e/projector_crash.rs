//! SIGKILL a real projector process while it applies; after restarts the views equal a fresh
//! rebuild, and every counter is exact: no event applied twice or lost.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use ledger::world::World;
use ledger::{Appended, EmbeddedLog, Ledger};
use projections::{Projector, Views};

const SEED: u64 = 77;
const CITIZENS: usize = 40;
const DOCUMENTS: usize = 4000;

/// Runs the worker; kills it once it has printed `kill_after` steps (or lets it finish).
fn run_worker(dir: &std::path::Path, kill_after: Option<usize>) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_projector-worker"))
        .arg(dir)
        .arg(SEED.to_string())
        .arg("3")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start projector-worker");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        let done = line.starts_with("DONE");
        lines.push(line);
        if kill_after.is_some_and(|n| lines.len() >= n) {
            child.kill().expect("SIGKILL");
            break;
        }
        if done {
            break;
        }
    }
    child.wait().expect("reap");
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_projector_resumes_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut world = World::new(SEED);
    {
        let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).expect("log"));
        let ledger = Ledger::open(log, world.config()).await.expect("ledger");
        let mut records = vec![world.register_issuer(), world.register_requester()];
        let mut citizens = Vec::new();
        for _ in 0..CITIZENS {
            let (citizen, record) = world.register_citizen();
            records.push(record);
            citizens.push(citizen);
        }
        for n in 0..DOCUMENTS {
            records.push(world.issue_marksheet(&citizens[n % CITIZENS], &format!("C-{n}")));
        }
        for chunk in records.chunks(1024) {
            for verdict in ledger.append(chunk.to_vec()).await.expect("append") {
                assert!(matches!(verdict, Ok(Appended::New(_))), "{verdict:?}");
            }
        }
    }
    // Two kills in the middle, then a run to the end.
    let first = run_worker(dir.path(), Some(150));
    assert!(!first.iter().any(|l| l.starts_with("DONE")), "killed too late to mean anything");
    let second = run_worker(dir.path(), Some(300));
    assert!(!second.iter().any(|l| l.starts_with("DONE")));
    let last = run_worker(dir.path(), None);
    assert!(last.last().is_some_and(|l| l.starts_with("DONE")), "{last:?}");

    let (views, _) = Views::open(dir.path().join("views")).expect("views");
    let stats = views.stats().expect("stats");
    assert_eq!(stats.issued_documents, DOCUMENTS as i64, "an issuance counted twice or lost");
    assert_eq!(stats.users, CITIZENS as i64);
    let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).expect("log"));
    let (fresh, _) = Views::open(dir.path().join("rebuilt")).expect("fresh views");
    let rebuilt = Projector::new(log, Arc::new(fresh), Arc::new(World::new(SEED)), &world.config());
    rebuilt.catch_up().await.expect("rebuild");
    assert_eq!(views.digest().expect("digest"), rebuilt.views().digest().expect("digest"));
}
