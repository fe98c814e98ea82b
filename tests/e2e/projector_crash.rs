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

/// Runs the worker; kills it once it has printed `kill_after` lines (or lets it finish).
fn run_worker(
    dir: &std::path::Path,
    memtables_bytes: Option<usize>,
    kill_after: Option<usize>,
) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_projector-worker"))
        .arg(dir)
        .arg(SEED.to_string())
        .arg("3")
        .args(memtables_bytes.map(|bytes| bytes.to_string()))
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

/// The offsets the views held when a run began (its first line).
fn from(lines: &[String]) -> u64 {
    lines
        .first()
        .and_then(|line| line.strip_prefix("FROM "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no FROM line first: {lines:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_projector_resumes_exactly_once() {
    let (runs, _) = kill_and_compare(None, &[150, 300]).await;
    // The views write no WAL, and this load never fills their memtables: each kill loses all.
    assert!(runs.iter().all(|lines| from(lines) == 0), "{runs:?}");
}

/// With memtables small enough to flush every few batches, a kill finds some batches on disk
/// and loses the later ones. Every family must come back at the same batch: one flushed ahead
/// of the positions would be applied twice (a counter off, or an "issued twice" halt).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_killed_between_flushes_resumes_exactly_once() {
    let (runs, _) = kill_and_compare(Some(64 * 1024), &[150, 150, 150, 150]).await;
    let kept: Vec<u64> = runs.iter().map(|lines| from(lines)).collect();
    assert!(kept.iter().skip(1).all(|n| *n > 0), "no flush survived a kill: {kept:?}");
    // What each killed run had applied in all, against what the next found on disk.
    let reached: Vec<u64> = runs.iter().map(|lines| from(lines) + applied(lines)).collect();
    assert!(
        reached.iter().zip(kept.iter().skip(1)).any(|(reached, next)| next < reached),
        "no kill lost a batch, so nothing here ran without the WAL: {reached:?} {kept:?}"
    );
}

/// The records a run applied (its last `STEP` or `DONE`).
fn applied(lines: &[String]) -> u64 {
    lines
        .iter()
        .rev()
        .find_map(|line| line.strip_prefix("STEP ").or_else(|| line.strip_prefix("DONE ")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Loads a world into a log, runs the worker killing it after each of `kills` lines, lets a
/// last run finish, and checks the views against a fresh rebuild. Gives each run's lines.
async fn kill_and_compare(
    memtables_bytes: Option<usize>,
    kills: &[usize],
) -> (Vec<Vec<String>>, tempfile::TempDir) {
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
    let mut runs = Vec::new();
    for kill in kills {
        let lines = run_worker(dir.path(), memtables_bytes, Some(*kill));
        assert!(!lines.iter().any(|l| l.starts_with("DONE")), "killed too late to mean anything");
        runs.push(lines);
    }
    let last = run_worker(dir.path(), memtables_bytes, None);
    assert!(last.last().is_some_and(|l| l.starts_with("DONE")), "{last:?}");
    runs.push(last);

    let (views, _) = Views::open(dir.path().join("views")).expect("views");
    let stats = views.stats().expect("stats");
    assert_eq!(stats.issued_documents, DOCUMENTS as i64, "an issuance counted twice or lost");
    assert_eq!(stats.users, CITIZENS as i64);
    let log = Arc::new(EmbeddedLog::open(dir.path().join("log")).expect("log"));
    let (fresh, _) = Views::open(dir.path().join("rebuilt")).expect("fresh views");
    let rebuilt = Projector::new(log, Arc::new(fresh), Arc::new(World::new(SEED)), &world.config());
    rebuilt.catch_up().await.expect("rebuild");
    assert_eq!(views.digest().expect("digest"), rebuilt.views().digest().expect("digest"));
    drop(views);
    (runs, dir)
}
