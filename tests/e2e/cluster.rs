//! Issue 18 end to end: three `locker serve` nodes (`--cluster-address`) on three Kafka
//! brokers and one S3 bucket. The citizen, issuer and requester journey goes through
//! different nodes; under a steady stream of pushes a node is SIGKILLed (its partitions take
//! writes again on the survivors), a node is paused past its session (SIGSTOP) and resumed
//! (its claims are fenced: its next write reaches the new owner and lands once), and a broker
//! is killed. Afterwards every acknowledged document is in its locker exactly once in the
//! log, and `locker audit verify` passes on every node, its views equal to a rebuild.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client::citizen::{Citizen, Decision, Public};
use schemas::{LockerId, PartitionKey};
use wire::dto::SignupBody;

use crate::journey::{bucket_for, gateway, generate_key, locker, locker_binary, owned};
use crate::kafka_faults::Brokers;

const PREFIX: &str = "cluster";
/// The service's citizen partitions (`LedgerConfig`'s default), and with the directory's.
const PARTITIONS: u32 = 8;
const OWNED_TOTAL: usize = PARTITIONS as usize + 1;
const BOARD: &str = "in.gov.cbse";
const BANK: &str = "in.co.sbi";

struct Node {
    child: Option<Child>,
    port: u16,
    data: PathBuf,
    log: PathBuf,
}

/// What every node is started with.
struct Cluster {
    bootstrap: String,
    platform_key: PathBuf,
    bucket: String,
    gateway: String,
    nodes: Vec<Node>,
}

/// A port free now, below the kernel's ephemeral range (32768 and up): a port `bind(0)` or
/// an outgoing connection got could be taken by anyone again before the node binds it, and
/// the other tests running beside this one make many (a node then died at start on CI).
fn free_port() -> u16 {
    let offset = u16::try_from(std::process::id() % 4000).unwrap_or(0);
    (0..8000u16)
        .map(|i| 22000 + (offset + i * 7) % 8000)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port below the ephemeral range")
}

impl Node {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> String {
        self.child.as_ref().expect("running").id().to_string()
    }

    fn signal(&self, signal: &str) {
        let sent = Command::new("kill").args([signal, &self.pid()]).status().expect("kill");
        assert!(sent.success(), "kill {signal}");
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            if std::thread::panicking() {
                let log = self.log_text();
                let lines: Vec<&str> = log.lines().collect();
                let tail = lines[lines.len().saturating_sub(30)..].join("\n");
                eprintln!("--- node {} log, last lines:\n{tail}", self.port);
            }
        }
    }
}

impl Cluster {
    fn start(&self, port: u16, data: &Path) -> Node {
        let log = data.with_extension(format!("{}.log", std::process::id()));
        let address = format!("http://127.0.0.1:{port}");
        let mut command = Command::new(locker_binary());
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(data)
            .args(["--kafka", &self.bootstrap, "--kafka-replicas", "3", "--topic-prefix", PREFIX])
            .args(["--cluster-address", &address, "--platform-key"])
            .arg(&self.platform_key)
            .args(["--blob-store", &self.bucket, "--otp-gateway", &self.gateway])
            .env("RUST_LOG", "info")
            .env("LOCKER_FAULT_HOLD_COMMIT", hold_file(data))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log).expect("node log")));
        let mut child = command.spawn().expect("start locker serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        loop {
            let Some(line) = lines.next() else {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!("node {port} exited before listening; its log:\n{}", tail.join("\n"));
            };
            if line.expect("read").contains("listening on http://") {
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        Node { child: Some(child), port, data: data.to_path_buf(), log }
    }

    /// What each running node says it owns (a stopped or dead node: nothing).
    async fn owned(&self, skip: &[usize]) -> Vec<BTreeSet<String>> {
        let mut all = Vec::new();
        for (index, node) in self.nodes.iter().enumerate() {
            let owns = if skip.contains(&index) || node.child.is_none() {
                BTreeSet::new()
            } else {
                let public = Public::new(&node.url()).expect("url");
                match tokio::time::timeout(Duration::from_secs(2), public.health()).await {
                    Ok(Ok(health)) => health.owned.unwrap_or_default().into_iter().collect(),
                    _ => BTreeSet::new(),
                }
            };
            all.push(owns);
        }
        all
    }

    /// Waits until the running nodes but `skip` own every partition once between them, each
    /// at least one (`spread`); returns what each owns.
    async fn settled(&self, skip: &[usize], spread: bool) -> Vec<BTreeSet<String>> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let owned = self.owned(skip).await;
            let total: usize = owned.iter().map(BTreeSet::len).sum();
            let union: BTreeSet<&String> = owned.iter().flatten().collect();
            let live = (0..self.nodes.len()).filter(|i| !skip.contains(i));
            let everyone = live.clone().all(|i| !owned[i].is_empty());
            if total == OWNED_TOTAL && union.len() == OWNED_TOTAL && (!spread || everyone) {
                return owned;
            }
            assert!(Instant::now() < deadline, "ownership never settled: {owned:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// While this file exists, the node whose data folder is `data` holds each append to an owned
/// partition between its records' delivery and its commit (`KafkaSettings::hold_before_commit`).
fn hold_file(data: &Path) -> PathBuf {
    data.with_extension("hold")
}

fn partition_of(locker: &LockerId) -> String {
    let key = PartitionKey::Locker(*locker).to_key_bytes();
    format!("{PREFIX}.events/{}", ledger::partition::partition_for(&key, PARTITIONS))
}

fn owner_of(owned: &[BTreeSet<String>], partition: &str) -> usize {
    owned.iter().position(|set| set.contains(partition)).expect("an owner")
}

fn pdf(n: u64) -> Vec<u8> {
    format!("%PDF-1.4\n% document {n}\n").into_bytes()
}

/// Pushes document `n` to `to` through `server`: the service's status and answer. A retry
/// passes the same `now`, so it sends the very same event (the same id with another time
/// would be another event, refused as a second issue of the URI).
async fn push(
    server: &str,
    key: &Path,
    to: LockerId,
    n: u64,
    now: schemas::TimestampMs,
) -> Result<(u16, String), String> {
    let request = client::issue::IssueRequest {
        server: server.to_owned(),
        key: ledger::keyfile::read(key).expect("board key"),
        issuer: schemas::IssuerId::parse(BOARD).expect("issuer"),
        to: client::issue::To::Locker(to),
        doc_type: schemas::DocTypeCode::parse("HSCER").expect("doc type"),
        doc_id: schemas::DocId::parse(&format!("2024-{n:07}")).expect("doc id"),
        name: schemas::Label::parse("Class XII Marksheet").expect("name"),
        issued_on: schemas::CivilDate::parse("2024-05-13").expect("date"),
        valid_from: None,
        valid_to: None,
        holder: schemas::Label::parse("Ravi Kumar").expect("holder"),
        fields: Vec::new(),
        content: pdf(n),
        hash_only: false,
        now,
    };
    client::issue::issue(request).await.map_err(|e| e.to_string())
}

fn clock_now() -> schemas::TimestampMs {
    ledger::clock::Clock::now(&ledger::clock::SystemClock)
}

fn uri(n: u64) -> String {
    format!("{BOARD}-HSCER-2024-{n:07}")
}

/// A push the load acknowledged: its number, partition, when it was first sent and when
/// acknowledged, and how many attempts it took.
#[derive(Debug, Clone)]
struct Acked {
    n: u64,
    partition: String,
    sent: Instant,
    acked: Instant,
    attempts: u32,
}

/// Pushes to `lockers` in turn through the nodes `usable` allows, each retried (any node)
/// until acknowledged, until `stop`.
struct Load {
    acked: Arc<Mutex<Vec<Acked>>>,
    usable: Arc<Mutex<Vec<bool>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<u64>,
}

fn start_load(urls: Vec<String>, board_key: PathBuf, lockers: Vec<LockerId>, first: u64) -> Load {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let usable = Arc::new(Mutex::new(vec![true; urls.len()]));
    let stop = Arc::new(AtomicBool::new(false));
    let task = {
        let (acked, usable, stop) = (Arc::clone(&acked), Arc::clone(&usable), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut n = first;
            let mut turn = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let to = lockers[usize::try_from(n).unwrap_or(0) % lockers.len()];
                let sent = Instant::now();
                let now = ledger::clock::Clock::now(&ledger::clock::SystemClock);
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    turn += 1;
                    let node = {
                        let usable = usable.lock().expect("lock");
                        let live: Vec<usize> = (0..urls.len()).filter(|i| usable[*i]).collect();
                        live[turn % live.len()]
                    };
                    let answer = tokio::time::timeout(
                        Duration::from_secs(15),
                        push(&urls[node], &board_key, to, n, now),
                    )
                    .await;
                    if let Ok(Ok((status, _))) = &answer
                        && (200..300).contains(status)
                    {
                        break;
                    }
                    assert!(
                        sent.elapsed() < Duration::from_secs(60),
                        "push {n} never landed: {answer:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let partition = partition_of(&to);
                let record = Acked { n, partition, sent, acked: Instant::now(), attempts };
                acked.lock().expect("lock").push(record);
                n += 1;
            }
            n
        })
    };
    Load { acked, usable, stop, task }
}

async fn sign_up(
    cluster: &Cluster,
    sms: &mut tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
    i: usize,
) -> Citizen {
    let mobile = format!("91234567{:02}", 10 + i);
    let asked = Public::new(&cluster.nodes[i % 3].url()).expect("url");
    asked.signup_otp(&mobile).await.expect("a code");
    let message = tokio::time::timeout(Duration::from_secs(10), sms.recv())
        .await
        .expect("an SMS")
        .expect("gateway open");
    let code = message["message"].as_str().expect("text").split(' ').next().expect("code");
    let signing_up = Public::new(&cluster.nodes[(i + 1) % 3].url()).expect("url");
    let body = SignupBody {
        mobile,
        otp: code.to_owned(),
        username: format!("citizen{i}"),
        password: "correct horse battery".to_owned(),
    };
    // A node owns nothing for moments after a rebalance: `not_owner` is retried.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match signing_up.sign_up(&body).await {
            Ok(citizen) => return citizen,
            Err(e) if e.to_string().contains("not_owner") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("sign-up {i}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_serve_any_request_and_lose_nothing_when_one_dies() {
    if crate::kafka_bootstrap().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(bucket) = bucket_for(dir.path()) else { return };
    let _heavy = crate::HEAVY.lock().await;
    let brokers = Brokers { dir: tempfile::tempdir().expect("tempdir"), port: 19500, count: 3 };
    let bootstrap = brokers.run(&["start"]);
    let platform_key = dir.path().join("platform.key");
    let (platform_public, _) = generate_key(&platform_key).await;
    let (gateway_url, mut sms) = gateway().await;
    let mut cluster =
        Cluster { bootstrap, platform_key, bucket, gateway: gateway_url, nodes: Vec::new() };
    for i in 0..3 {
        let node = cluster.start(free_port(), &dir.path().join(format!("node{i}")));
        cluster.nodes.push(node);
    }
    cluster.settled(&[], true).await;
    let urls: Vec<String> = cluster.nodes.iter().map(Node::url).collect();

    // The directory, through node 0 (whichever node owns it appends).
    let board_key = dir.path().join("board.key");
    let (board_public, _) = generate_key(&board_key).await;
    let bank_key = dir.path().join("bank.key");
    let (bank_public, _) = generate_key(&bank_key).await;
    let admin = |args: &[&str]| {
        let mut all = owned(&["admin", "--server", &urls[0], "--platform-key"]);
        all.push(cluster.platform_key.to_str().expect("path").to_owned());
        all.extend(owned(args));
        all
    };
    let (ok, out, err) = locker(admin(&[
        "register-issuer",
        "--id",
        BOARD,
        "--name",
        "CBSE",
        "--doc-type",
        "HSCER=Class XII Marksheet",
        "--key",
        &board_public,
    ]))
    .await;
    assert!(ok, "register the board: {out} {err}");
    let (ok, out, err) = locker(admin(&[
        "register-requester",
        "--id",
        BANK,
        "--name",
        "SBI",
        "--kind",
        "bank",
        "--key",
        &bank_public,
    ]))
    .await;
    assert!(ok, "register the bank: {out} {err}");

    // Citizens: a code asked through one node, the sign-up through the next, a login through
    // the third (sessions and codes are the cluster's, not a node's).
    let mut citizens = Vec::new();
    for i in 0..4 {
        citizens.push(sign_up(&cluster, &mut sms, i).await);
    }
    let locker_of = |c: &Citizen| LockerId::parse(c.locker()).expect("locker");
    let mut lockers: Vec<LockerId> = citizens.iter().map(locker_of).collect();
    // A sign-up lands in a partition of its number's owner: more, until two nodes hold some.
    while lockers_on_nodes(&cluster, &lockers).await < 2 {
        assert!(citizens.len() < 16, "every sign-up landed on one node");
        let citizen = sign_up(&cluster, &mut sms, citizens.len()).await;
        lockers.push(locker_of(&citizen));
        citizens.push(citizen);
    }
    let ravi = Public::new(&urls[2])
        .expect("url")
        .log_in("citizen0", "correct horse battery")
        .await
        .expect("a login on another node");
    journey_through_nodes(&cluster, &urls, &board_key, &bank_key, &ravi, lockers[0], dir.path())
        .await;
    one_uri_one_locker(&cluster, &urls, &board_key, &lockers).await;
    // Its own citizen: the lock-out outlives the test's later logins of the others (it lives
    // on the username's owner until its partition moves).
    let guessed = citizens.len();
    sign_up(&cluster, &mut sms, guessed).await;
    guesses_counted_once(&urls, &format!("citizen{guessed}")).await;
    bulk_through_one_node(&urls, &board_key, &lockers, dir.path()).await;

    // Steady pushes; then the owner of citizen 1's partition dies.
    let load = start_load(urls.clone(), board_key.clone(), lockers.clone(), 1000);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = cluster.settled(&[], false).await;
    let victim = owner_of(&before, &partition_of(&lockers[1]));
    load.usable.lock().expect("lock")[victim] = false;
    eprintln!(
        "cluster: {} pushes acknowledged before the kill",
        load.acked.lock().expect("lock").len()
    );
    let killed_at = Instant::now();
    cluster.nodes[victim].signal("-KILL");
    let _ = cluster.nodes[victim].child.take().map(|mut child| child.wait());
    let after = cluster.settled(&[victim], false).await;
    let owned_all_s = killed_at.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    eprintln!(
        "cluster: {} pushes acknowledged 3 s after the partitions moved",
        load.acked.lock().expect("lock").len()
    );
    let failover = failover_report(&load.acked.lock().expect("lock"), &before[victim], killed_at);
    eprintln!(
        "cluster: node {victim} SIGKILLed; survivors owned its {} partitions after {owned_all_s:.1} s; {failover}",
        before[victim].len()
    );
    assert!(failover.worst_s < 20.0, "failover took too long: {failover}");
    drop(after);

    // It comes back on its data folder and takes a share again.
    let port = cluster.nodes[victim].port;
    let data = cluster.nodes[victim].data.clone();
    cluster.nodes[victim] = cluster.start(port, &data);
    load.usable.lock().expect("lock")[victim] = true;
    let back = cluster.settled(&[], true).await;

    // A paused owner, caught mid-append: its transaction is open when it stops, the group moves
    // its partitions, the new owner's claim fences it, and resumed, its commit is refused.
    let paused = owner_of(&back, &partition_of(&lockers[2]));
    load.usable.lock().expect("lock")[paused] = false;
    let hold = hold_file(&cluster.nodes[paused].data);
    std::fs::write(&hold, b"").expect("hold the node's commits");
    let held_at = clock_now();
    let held = {
        let (url, key, to) = (urls[paused].clone(), board_key.clone(), lockers[2]);
        tokio::spawn(async move { push(&url, &key, to, 2, held_at).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!held.is_finished(), "the push was not held in its transaction");
    cluster.nodes[paused].signal("-STOP");
    std::fs::remove_file(&hold).expect("release the hold");
    let without = cluster.settled(&[paused], false).await;
    assert!(without[paused].is_empty());
    // Writes wait in its socket meanwhile.
    let waiting: Vec<_> = (3..6)
        .map(|n| {
            let (url, key, to) = (urls[paused].clone(), board_key.clone(), lockers[2]);
            tokio::spawn(async move {
                let now = clock_now();
                let mut answer = push(&url, &key, to, n, now).await;
                // Refused `not_owner` until the resumed node hears who owns the partition now:
                // the same event again, as a client does on 503.
                for _ in 0..40 {
                    if !matches!(answer, Ok((503, _))) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    answer = push(&url, &key, to, n, now).await;
                }
                answer
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.nodes[paused].signal("-CONT");
    let (mut status, mut answer) = held.await.expect("join").expect("an answer");
    let mut retries = 0;
    while status == 503 && retries < 40 {
        // Refused `not_owner` (the node knew no other owner yet): the same event again.
        tokio::time::sleep(Duration::from_millis(250)).await;
        (status, answer) =
            push(&urls[paused], &board_key, lockers[2], 2, held_at).await.expect("an answer");
        retries += 1;
    }
    // 201, not 200 "already present": nothing of the fenced transaction was ever read.
    assert_eq!(status, 201, "the held push, after the fence: {answer}");
    let fenced = cluster.nodes[paused].log_text();
    assert!(
        fenced.contains("fenced: another node owns the partition now"),
        "the resumed node's commit was not refused by Kafka's fence"
    );
    for push in waiting {
        let (status, answer) = push.await.expect("join").expect("an answer from the resumed node");
        assert!((200..300).contains(&status), "{status} {answer}");
    }
    load.usable.lock().expect("lock")[paused] = true;
    eprintln!(
        "cluster: node {paused} paused mid-append and resumed: its commit was fenced, the push \
         landed once through the new owner ({retries} retries)"
    );
    cluster.settled(&[], true).await;

    // One broker of three dies under the load, and comes back.
    brokers.run(&["kill", "2"]);
    tokio::time::sleep(Duration::from_secs(8)).await;
    brokers.run(&["start-broker", "2"]);
    tokio::time::sleep(Duration::from_secs(3)).await;

    load.stop.store(true, Ordering::SeqCst);
    let last = load.task.await.expect("the load ran to its end");
    let acked = load.acked.lock().expect("lock").clone();
    eprintln!("cluster: {} pushes acknowledged (numbers 1000..{last})", acked.len());
    assert!(acked.len() > 20, "the load hardly ran: {}", acked.len());
    check_exactly_once(&cluster, &acked, &citizens, &urls).await;
    audit_every_node(&mut cluster, &platform_public).await;
}

/// Wrong passwords sent to the nodes in turn are counted on one node (the username's): the
/// fifth locks the username out across the cluster, even for the right password. A caller
/// posing as a node (to be believed about its address) is refused.
async fn guesses_counted_once(urls: &[String], username: &str) {
    for n in 0..5 {
        let public = Public::new(&urls[n % urls.len()]).expect("url");
        let wrong = public.log_in(username, "not the password at all").await;
        assert!(wrong.is_err(), "a wrong password let in");
    }
    let public = Public::new(&urls[2]).expect("url");
    let refused = public.log_in(username, "correct horse battery").await;
    let refused = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        refused.contains("locked_out") || refused.contains("too_many_attempts"),
        "five wrong passwords over three nodes did not lock the username out: {refused:?}"
    );
    let body = br#"{"username":"citizen2","password":"not the password at all"}"#;
    let (status, answer) = raw_post(
        &urls[0],
        "/v1/citizen/login",
        &[
            ("x-locker-forwarded-by", "http://127.0.0.1:9"),
            ("x-locker-forwarded-for", "203.0.113.7"),
        ],
        body,
    )
    .await;
    assert_eq!(status, 403, "a request posing as forwarded by a node: {answer}");
    assert!(answer.contains("not_permitted"), "{answer}");
    eprintln!(
        "cluster: 5 wrong passwords over 3 nodes locked the username out; a forged forward refused"
    );
}

/// A POST over plain HTTP/1.1 with extra headers: the status and the body.
async fn raw_post(base: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

/// How many nodes own the partitions of these lockers.
async fn lockers_on_nodes(cluster: &Cluster, lockers: &[LockerId]) -> usize {
    let owned = cluster.settled(&[], true).await;
    let owners: BTreeSet<usize> =
        lockers.iter().map(|l| owner_of(&owned, &partition_of(l))).collect();
    owners.len()
}

/// One URI pushed at the same moment to two lockers that two nodes own lands in one locker:
/// neither node's views or index know of the other's append (the claim in the bucket does).
async fn one_uri_one_locker(
    cluster: &Cluster,
    urls: &[String],
    board_key: &Path,
    lockers: &[LockerId],
) {
    let owned = cluster.settled(&[], true).await;
    let owners: Vec<usize> = lockers.iter().map(|l| owner_of(&owned, &partition_of(l))).collect();
    let (a, b) = (0..lockers.len())
        .flat_map(|a| (a + 1..lockers.len()).map(move |b| (a, b)))
        .find(|&(a, b)| owners[a] != owners[b])
        .expect("two lockers that two nodes own");
    for n in 100..106 {
        let now = clock_now();
        let (first, second) = tokio::join!(
            push(&urls[owners[a]], board_key, lockers[a], n, now),
            push(&urls[owners[b]], board_key, lockers[b], n, now),
        );
        let statuses = [first.expect("an answer").0, second.expect("an answer").0];
        let landed = statuses.iter().filter(|s| (200..300).contains(*s)).count();
        assert_eq!(landed, 1, "{} pushed to two lockers on two nodes: {statuses:?}", uri(n));
        assert!(statuses.contains(&409), "the other push is refused uri_exists: {statuses:?}");
    }
    eprintln!(
        "cluster: 6 URIs pushed at once to two lockers owned by nodes {} and {}: each landed once",
        owners[a], owners[b]
    );
}

/// A results file for lockers every node owns, sent through one node: the rows of the other
/// nodes' partitions go on to their owners, and every row is accepted.
async fn bulk_through_one_node(
    urls: &[String],
    board_key: &Path,
    lockers: &[LockerId],
    dir: &Path,
) {
    let file = dir.join("results.csv");
    let mut csv = String::from("roll_no,name,locker,Physics\n");
    for n in 0..20 {
        let locker = lockers[n % lockers.len()];
        csv.push_str(&format!("2025{n:06},Student {n},{locker},{}\n", 60 + n));
    }
    std::fs::write(&file, csv).expect("results file");
    let report = dir.join("bulk-report.csv");
    let (ok, out, err) = locker(owned(&[
        "issue",
        "bulk",
        file.to_str().expect("path"),
        "--server",
        &urls[0],
        "--key",
        board_key.to_str().expect("path"),
        "--issuer",
        BOARD,
        "--doc-type",
        "HSCER",
        "--name",
        "Class XII Marksheet 2025",
        "--issued-on",
        "2025-05-13",
        "--report",
        report.to_str().expect("path"),
    ]))
    .await;
    assert!(ok, "bulk through node 0: {out} {err}");
    let rejected = std::fs::read_to_string(&report).unwrap_or_default();
    assert!(rejected.lines().count() <= 1, "rows refused: {rejected}");
    assert!(out.contains("20 accepted") || err.contains("20 accepted"), "{out} {err}");
    eprintln!("cluster: 20 rows for lockers on every node, sent through node 0, all accepted");
}

/// Issuer, citizen and requester, each step through another node.
async fn journey_through_nodes(
    cluster: &Cluster,
    urls: &[String],
    board_key: &Path,
    bank_key: &Path,
    ravi: &Citizen,
    locker_id: LockerId,
    dir: &Path,
) {
    let (status, answer) =
        push(&urls[1], board_key, locker_id, 1, clock_now()).await.expect("push");
    assert!((200..300).contains(&status), "{status} {answer}");
    // Another node's views follow the owner's appends within moments.
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = loop {
        let mine = ravi.certificates().await.expect("My Certificates").items;
        if let Some(first) = mine.into_iter().find(|c| c.uri == uri(1)) {
            break first;
        }
        assert!(Instant::now() < deadline, "the pushed marksheet never showed on another node");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(first.holder_name.as_deref(), Some("Ravi Kumar"), "opened on another node");
    assert_eq!(ravi.content(&uri(1)).await.expect("download"), pdf(1));

    let bank = |server: &str, args: &[&str]| {
        let mut all = owned(&["requester", "--server", server, "--id", BANK, "--key"]);
        all.push(bank_key.to_str().expect("path").to_owned());
        all.extend(owned(args));
        all
    };
    let (ok, out, err) = locker(bank(
        &urls[0],
        &[
            "request",
            "--username",
            "citizen0",
            "--doc",
            "in.gov.cbse/HSCER",
            "--purpose",
            "account_opening",
            "--text",
            "Savings account",
        ],
    ))
    .await;
    assert!(ok, "request through node 0: {out} {err}");
    let consent =
        out.split("consent ").nth(1).and_then(|r| r.split(' ').next()).expect("consent id");
    let on_node_1 = Public::new(&urls[1])
        .expect("url")
        .log_in("citizen0", "correct horse battery")
        .await
        .expect("login on node 1");
    // A partition moving between nodes answers `not_owner` (503, Retry-After) for moments.
    let deadline = Instant::now() + Duration::from_secs(30);
    let granted = loop {
        match on_node_1.decide(consent, Decision::Grant).await {
            Ok(granted) => break granted,
            Err(e) if format!("{e:?}").contains("NotOwner") && Instant::now() < deadline => {
                eprintln!("cluster: the grant met a partition on the move; retried");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("granted on node 1: {e:?}"),
        }
    };
    assert_eq!(granted.documents, [uri(1)]);
    // Node 2's views learn of the grant within moments; until then it lists nothing to fetch.
    let out_dir = dir.join("fetched");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !out_dir.join(uri(1)).exists() {
        let fetch = bank(&urls[2], &["fetch", consent, "--out", out_dir.to_str().expect("path")]);
        let (ok, out, err) = locker(fetch).await;
        assert!(ok, "fetch through node 2: {out} {err}");
        assert!(Instant::now() < deadline, "node 2 never saw the grant: {out}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(std::fs::read(out_dir.join(uri(1))).expect("fetched"), pdf(1));
    let _ = cluster;
}

#[derive(Debug)]
struct Failover {
    worst_s: f64,
    p99_ms: u128,
    pushes: usize,
}

impl std::fmt::Display for Failover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "its partitions took writes again within {:.1} s; {} pushes acknowledged meanwhile, p99 {} ms",
            self.worst_s, self.pushes, self.p99_ms
        )
    }
}

/// When each of the dead node's partitions was written again, and the latency of pushes
/// in flight from the kill until then.
fn failover_report(acked: &[Acked], lost: &BTreeSet<String>, killed_at: Instant) -> Failover {
    let mut worst_s: f64 = 0.0;
    for partition in lost.iter().filter(|p| p.contains(".events/")) {
        let first = acked
            .iter()
            .filter(|a| &a.partition == partition && a.acked > killed_at)
            .map(|a| a.acked)
            .min();
        if let Some(first) = first {
            worst_s = worst_s.max((first - killed_at).as_secs_f64());
        }
    }
    let window = killed_at + Duration::from_secs_f64(worst_s);
    let mut latencies: Vec<u128> = acked
        .iter()
        .filter(|a| a.acked > killed_at && a.sent <= window)
        .map(|a| (a.acked - a.sent).as_millis())
        .collect();
    latencies.sort_unstable();
    let p99_ms = latencies.get(latencies.len() * 99 / 100).copied().unwrap_or(0);
    let retried = acked.iter().filter(|a| a.attempts > 1).count();
    eprintln!("cluster: {retried} pushes needed more than one attempt");
    Failover { worst_s, p99_ms, pushes: latencies.len() }
}

/// Every acknowledged push is in its locker, and the log holds each document once.
async fn check_exactly_once(
    cluster: &Cluster,
    acked: &[Acked],
    citizens: &[Citizen],
    urls: &[String],
) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for i in 0..citizens.len() {
        let again = Public::new(&urls[i % urls.len()])
            .expect("url")
            .log_in(&format!("citizen{i}"), "correct horse battery")
            .await
            .expect("login");
        let mut cursor: Option<String> = None;
        loop {
            let page = again.certificates_page(200, cursor.as_deref()).await.expect("a page");
            for item in page.items {
                *seen.entry(item.uri).or_default() += 1;
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    for push in acked {
        assert_eq!(
            seen.get(&uri(push.n)),
            Some(&1),
            "acknowledged push {} is not there once",
            push.n
        );
    }
    let index = tempfile::tempdir().expect("tempdir");
    let settings = ledger::KafkaSettings::single_broker(&cluster.bootstrap, index.path());
    let log = ledger::KafkaLog::open(settings).await.expect("read the log");
    let topic = format!("{PREFIX}.events");
    ledger::Log::create_topic(&log, &topic, PARTITIONS).await.expect("the topic is there");
    let mut issued: HashMap<String, usize> = HashMap::new();
    for partition in 0..PARTITIONS {
        let mut offset = 0;
        loop {
            let batch =
                ledger::Log::read_batch(&log, &topic, partition, offset, 1000).await.expect("read");
            for record in &batch.records {
                let envelope = ledger::decode_logged(&topic, record).expect("decode");
                if let schemas::Payload::DocumentIssued(doc) = &envelope.event.payload {
                    *issued.entry(doc.uri.to_string()).or_default() += 1;
                }
            }
            if batch.records.is_empty() {
                break;
            }
            offset = batch.next_offset;
        }
    }
    let twice: Vec<_> = issued.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "documents written twice: {twice:?}");
    for push in acked {
        assert_eq!(issued.get(&uri(push.n)), Some(&1), "push {} in the log", push.n);
    }
}

/// Stops every node and checks its views and the whole log with `locker audit verify`.
async fn audit_every_node(cluster: &mut Cluster, ledger_key: &str) {
    for node in &mut cluster.nodes {
        node.signal("-TERM");
        if let Some(mut child) = node.child.take() {
            let _ = child.wait();
        }
    }
    for node in &cluster.nodes {
        let (ok, out, err) = locker(owned(&[
            "audit",
            "verify",
            "--data",
            node.data.to_str().expect("path"),
            "--kafka",
            &cluster.bootstrap,
            "--topic-prefix",
            PREFIX,
            "--ledger-key",
            ledger_key,
        ]))
        .await;
        assert!(ok, "audit of node {}: {out} {err}", node.port);
    }
}
