//! SIGTERM while a citizen uploads, as a service manager stops the service: it stops
//! accepting, finishes what is in flight, stops its jobs and exits 0. After a restart every
//! upload it acknowledged is there, whole, and the file store holds no half-written file
//! (on the folder store, whose files the test reads directly).

use std::path::Path;

use client::citizen::{Citizen, Public};

use crate::journey::{gateway, serve_on_folder};

const UPLOADS: usize = 24;
const UPLOAD_BYTES: usize = 256 * 1024;

async fn login(base: &str) -> Citizen {
    let public = Public::new(base).expect("server url");
    public.log_in("asha", server::app::demo::DEMO_PASSWORD).await.expect("login")
}

/// A PDF of `UPLOAD_BYTES` that no other upload has.
fn pdf(n: usize) -> Vec<u8> {
    let mut bytes = format!("%PDF-1.4\n% upload {n}\n").into_bytes();
    bytes.resize(UPLOAD_BYTES, b"0123456789"[n % 10]);
    bytes
}

/// Every stored file's bytes hash to its name (`ab/cdef...`), and no temporary is left.
fn every_stored_file_is_whole(files: &Path) {
    let temporaries = std::fs::read_dir(files.join("tmp")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(temporaries, 0, "a temporary upload was left in {}", files.display());
    for shard in std::fs::read_dir(files).expect("files") {
        let shard = shard.expect("entry").path();
        let name = shard.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if name.len() != 2 || !shard.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&shard).expect("shard") {
            let file = file.expect("entry").path();
            let rest = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let bytes = std::fs::read(&file).expect("read");
            assert_eq!(
                blake3::hash(&bytes).to_hex().as_str(),
                format!("{name}{rest}"),
                "{} is not whole",
                file.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_uploads_loses_nothing_acknowledged_and_exits_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (sms, _texts) = gateway().await;
    let mut server = serve_on_folder(&data, &sms);
    let base = format!("http://{}", server.address);
    let asha = login(&base).await;

    let (first, mut first_done) = tokio::sync::mpsc::channel::<()>(UPLOADS);
    let mut uploads = tokio::task::JoinSet::new();
    for n in 0..UPLOADS {
        let (asha, first) = (asha.clone(), first.clone());
        uploads.spawn(async move {
            let body = pdf(n);
            let hash = blake3::hash(&body).to_hex().to_string();
            let answer = asha.upload(&format!("u{n}.pdf"), body).await;
            let _ = first.send(()).await;
            (hash, answer)
        });
    }
    // The first answer is in: the rest are on their way when the service is told to stop.
    first_done.recv().await.expect("an upload answered");
    let asked = std::time::Instant::now();
    let (server, status) = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (server, status)
    })
    .await
    .expect("join");
    assert!(status.success(), "locker serve exits 0 on SIGTERM, not {status}");
    let stopped_ms = asked.elapsed().as_millis();
    drop(server);

    let mut acknowledged = Vec::new();
    while let Some(done) = uploads.join_next().await {
        let (hash, answer) = done.expect("join");
        // Refused (503, connection closed) is fine; acknowledged must survive.
        if let Ok(uploaded) = answer {
            acknowledged.push((uploaded.id, hash));
        }
    }
    assert!(!acknowledged.is_empty(), "at least the first upload was acknowledged");
    every_stored_file_is_whole(&data.join("files"));

    let server = serve_on_folder(&data, &sms);
    let base = format!("http://{}", server.address);
    let asha = login(&base).await;
    for (id, hash) in &acknowledged {
        let bytes = asha.upload_content(id).await.unwrap_or_else(|e| {
            panic!("acknowledged upload {id} after the restart: {e}");
        });
        assert_eq!(&blake3::hash(&bytes).to_hex().to_string(), hash, "upload {id} is whole");
    }
    println!(
        "shutdown: stopped {stopped_ms} ms after SIGTERM; {} of {UPLOADS} uploads acknowledged, \
         all readable after the restart",
        acknowledged.len()
    );
}
