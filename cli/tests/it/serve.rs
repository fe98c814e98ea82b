use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// Starts `locker serve --demo` on a free port and returns it with its address.
fn start(data: &std::path::Path) -> (Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_locker"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start locker");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // Lines before it say where the files are and how the registry was built.
    let demo = loop {
        let line = lines.next().expect("demo line").expect("read");
        if line.contains("demo data ready") {
            break line;
        }
    };
    let listening = loop {
        let line = lines.next().expect("listening line").expect("read");
        if line.contains("listening on") {
            break line;
        }
    };
    // Keep reading, as a supervisor would; the server must not depend on it though.
    std::thread::spawn(move || lines.for_each(drop));
    let address = listening
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect("address")
        .to_owned();
    (child, address, demo)
}

/// One plain HTTP/1.1 GET over a real socket.
fn http_get(address: &str, path: &str) -> (u16, String) {
    http(address, &format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"))
}

/// Sends a raw HTTP/1.1 request and returns the status and body.
fn http(address: &str, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

#[test]
fn the_demo_server_serves_and_restarts_idempotently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut first, address, demo) = start(dir.path());
    assert!(demo.contains("13 events added, 0 already present"), "{demo}");
    let (status, body) = http_get(&address, "/v1/stats");
    assert_eq!(status, 200);
    assert!(body.contains("\"issued_documents\":4"), "{body}");
    let (status, _) = http_get(&address, "/healthz");
    assert_eq!(status, 200);
    first.kill().expect("SIGKILL");
    first.wait().expect("reap");

    let (mut second, address, demo) = start(dir.path());
    assert!(demo.contains("0 events added, 13 already present"), "{demo}");
    let (status, body) = http_get(&address, "/v1/stats");
    assert_eq!(status, 200);
    assert!(body.contains("\"issued_documents\":4"), "counted twice after a restart: {body}");
    let (status, body) = http_get(&address, "/v1/directory/issuers?limit=1");
    assert_eq!(status, 200);
    assert!(body.contains("in.gov.cbse"), "{body}");
    // The demo citizen logs in with the password the server printed, and sees her locker.
    let login = r#"{"username":"asha","password":"asha-demo-2024"}"#;
    let (status, session) = http(
        &address,
        &format!(
            "POST /v1/citizen/login HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{login}",
            login.len()
        ),
    );
    assert_eq!(status, 200, "{session}");
    let token = session
        .split("\"token\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("token");
    let (status, body) = http(
        &address,
        &format!(
            "GET /v1/citizen/certificates HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
             Connection: close\r\n\r\n"
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Class XII Marksheet 2024") && body.contains("PAN Card"), "{body}");
    // On the real clock, the demo's consent request is still pending (a newcomer can decide it).
    let (status, body) = http(
        &address,
        &format!(
            "GET /v1/citizen/consents?state=pending HTTP/1.1\r\nHost: {address}\r\n\
             Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Opening a savings account"), "the demo request is not pending: {body}");
    second.kill().expect("SIGKILL");
    second.wait().expect("reap");
}

#[test]
fn the_server_survives_a_closed_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A free port, chosen here because the server's own announcement will not be read.
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_locker"))
        .args(["serve", "--demo", "--listen", &address, "--data"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start locker");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let _demo = lines.next().expect("demo line").expect("read");
    // The reader goes away before the server announces its address: that write hits a
    // closed pipe, and the server must carry on.
    drop(lines);
    let mut answered = false;
    for _ in 0..100 {
        if TcpStream::connect(&address).is_ok() {
            let (status, _) = http_get(&address, "/healthz");
            assert_eq!(status, 200);
            answered = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(answered, "the server never answered");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (status, _) = http_get(&address, "/healthz");
    assert_eq!(status, 200);
    assert!(child.try_wait().expect("status").is_none(), "the server died");
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
}

#[test]
fn locker_issue_pushes_a_document_to_a_running_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let locker = env!("CARGO_BIN_EXE_locker");
    // A new key pair prints what registration needs.
    let generated = Command::new(locker)
        .args(["keys", "generate", "--out"])
        .arg(dir.path().join("new.key"))
        .output()
        .expect("keys generate");
    let printed = String::from_utf8_lossy(&generated.stdout);
    assert!(
        generated.status.success()
            && printed.contains("public key:")
            && printed.contains("key id:"),
        "{printed}"
    );

    let data = dir.path().join("data");
    let (mut server, address, demo) = start(&data);
    let citizen = demo.split("locker ").last().expect("locker id").trim().to_owned();
    let content = dir.path().join("marksheet.pdf");
    std::fs::write(&content, b"%PDF-1.7\n% a Class X marksheet\n").expect("write pdf");
    let push = || {
        Command::new(locker)
            .args(["issue", "--server", &format!("http://{address}"), "--key"])
            .arg(data.join("demo-keys/in.gov.cbse.key"))
            .args(["--issuer", "in.gov.cbse", "--locker", &citizen, "--doc-type", "SSCER"])
            .args([
                "--doc-id",
                "2020-777",
                "--name",
                "Class X Marksheet 2020",
                "--issued-on",
                "2020-05-20",
            ])
            .args(["--holder", "Asha Kumari", "--field", "Mathematics=99", "--content"])
            .arg(&content)
            .output()
            .expect("locker issue")
    };
    let first = push();
    let answer = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{answer} {}", String::from_utf8_lossy(&first.stderr));
    assert!(answer.contains("\"accepted\""), "{answer}");
    // The same document again is refused, visibly.
    let second = push();
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("uri_exists"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    // A file that is not a PDF, XML or JSON document is refused before anything is sent.
    std::fs::write(&content, b"\x89PNG\r\n\x1a\n").expect("write png");
    let third = push();
    assert!(!third.status.success());
    assert!(String::from_utf8_lossy(&third.stderr).contains("PDF, XML or JSON"));

    let login = r#"{"username":"asha","password":"asha-demo-2024"}"#;
    let (_, session) = http(
        &address,
        &format!(
            "POST /v1/citizen/login HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{login}",
            login.len()
        ),
    );
    let token = session
        .split("\"token\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("token");
    let (_, body) = http(
        &address,
        &format!(
            "GET /v1/citizen/certificates HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(body.contains("in.gov.cbse-SSCER-2020-777"), "{body}");
    server.kill().expect("SIGKILL");
    server.wait().expect("reap");
}

/// The demo's reference Aadhaar authority is its own process on its own port, and goes away
/// with the service, even one killed with SIGKILL (its standard input closes).
#[test]
fn the_demo_authority_is_its_own_process_and_ends_with_the_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_locker"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start locker");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let authority = loop {
        let line = lines.next().expect("a line").expect("read");
        if let Some(rest) = line.split("demo Aadhaar authority at http://").nth(1) {
            break rest.split(' ').next().expect("address").to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let (status, body) = http_get(&authority, "/key");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("public_key"), "{body}");
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while TcpStream::connect(&authority).is_ok() {
        assert!(std::time::Instant::now() < deadline, "the authority outlived the service");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The reference authority stops when its standard input closes, even with a client stalled
/// half-way through a request: the requests in flight get their bound to finish, no more
/// (before, the process exited at once; graceful shutdown alone would wait for that client
/// forever).
#[test]
fn the_authority_stops_when_stdin_closes_despite_a_stalled_client() {
    let dir = tempfile::tempdir().expect("tempdir");
    let residents = dir.path().join("residents.jsonl");
    std::fs::write(&residents, "").expect("residents");
    let mut child = Command::new(env!("CARGO_BIN_EXE_locker"))
        .args(["uidai-reference", "--listen", "127.0.0.1:0", "--exit-with-stdin", "--residents"])
        .arg(&residents)
        .arg("--key")
        .arg(dir.path().join("authority.key"))
        .env("LOCKER_UIDAI_AUA", "test-aua:0123456789abcdef")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the authority");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = lines.next().expect("a line").expect("read");
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect("address")
        .to_owned();
    // Half a request, and then nothing.
    let mut stalled = TcpStream::connect(&address).expect("connect");
    stalled.write_all(b"POST /otp HTTP/1.1\r\nHost: x\r\n").expect("send");
    std::thread::sleep(std::time::Duration::from_millis(200));
    drop(child.stdin.take());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "the authority outlived its stdin");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(status.success(), "exits 0, not {status}");
    drop(stalled);
}

/// Each thread's nice value (field 19 of `/proc/PID/task/TID/stat`) by the thread's name.
fn thread_nice_values(pid: u32) -> Vec<(String, i32)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the server's threads");
    let mut values = Vec::new();
    for task in tasks {
        let path = task.expect("a thread").path();
        let Ok(name) = std::fs::read_to_string(path.join("comm")) else { continue };
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else { continue };
        // The fields after the name's closing parenthesis start at field 3.
        let nice = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split(' ').nth(16))
            .and_then(|nice| nice.parse().ok())
            .expect("a nice value");
        values.push((name.trim().to_owned(), nice));
    }
    values
}

/// The rayon pool (a bulk load's signatures, decoding and sealing) runs at a lower priority
/// than the threads that serve requests, so on a small machine a citizen's read is not queued
/// behind a results day.
#[test]
fn the_pool_runs_below_the_threads_that_serve_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, _, _) = start(dir.path());
    let threads = thread_nice_values(child.id());
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let pool: Vec<i32> =
        threads.iter().filter(|(name, _)| name.starts_with("pool-")).map(|(_, n)| *n).collect();
    let serving: Vec<i32> =
        threads.iter().filter(|(name, _)| name == "tokio-rt-worker").map(|(_, n)| *n).collect();
    assert!(!pool.is_empty() && !serving.is_empty(), "{threads:?}");
    assert!(pool.iter().all(|nice| *nice == 10), "{threads:?}");
    assert!(serving.iter().all(|nice| *nice == 0), "{threads:?}");
}
