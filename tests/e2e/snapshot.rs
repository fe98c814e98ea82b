//! Snapshots of derived state on a real deployment (issue 17): an operator takes one with
//! `locker admin snapshot`; a node that lost its views starts from it and replays only the
//! log after it, and its key registry comes from it too; the views then equal a rebuild from
//! the log (`locker audit verify`). A snapshot corrupted in the object store is refused, said
//! so, and the views are rebuilt from the log instead, losing nothing.
//!
//! Under CI the objects are in the S3 bucket (`journey::serve` puts them there), so this runs
//! against the store a cluster shares.

use std::path::Path;

use client::citizen::{Citizen, Public};
use server::store::blobs::{BlobSettings, Blobs, S3Settings};

use crate::journey::{Server, bucket_for, gateway, locker, owned, serve};

async fn login(base: &str) -> Citizen {
    let public = Public::new(base).expect("server url");
    public.log_in("asha", server::app::demo::DEMO_PASSWORD).await.expect("login")
}

/// A PDF no other upload has.
fn pdf(label: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% snapshot test: {label}\n%%EOF\n").into_bytes()
}

/// The object store the server keeps its snapshots in, opened as the server opens it.
fn snapshot_store(data: &Path) -> Blobs {
    let settings = match bucket_for(data) {
        Some(url) => BlobSettings::parse(&url, |bucket, prefix| {
            S3Settings::from_env(bucket, prefix, |name| std::env::var(name).ok())
        })
        .expect("bucket"),
        None => BlobSettings::Local(data.join("snapshots")),
    };
    Blobs::open(&settings).expect("snapshot store")
}

fn stop(mut server: Server) {
    let status = server.terminate();
    assert!(status.success(), "locker serve exits 0 on SIGTERM, not {status}");
}

/// Restarts the server on `data` without its views; returns it and what it said on start.
fn restart_without_views(data: &Path, sms: &str) -> (Server, String) {
    std::fs::remove_dir_all(data.join("views")).expect("remove the views");
    let server = serve(data, sms, None);
    let said = server.startup.join("\n");
    (server, said)
}

/// Every upload is there, byte for byte.
async fn all_uploads_are_there(base: &str, uploads: &[(String, Vec<u8>)]) {
    let asha = login(base).await;
    for (id, bytes) in uploads {
        let read = asha.upload_content(id).await.unwrap_or_else(|e| panic!("upload {id}: {e}"));
        assert_eq!(&read, bytes, "upload {id}");
    }
}

async fn audit_says_the_views_match(data: &Path) {
    let (ok, out, err) =
        locker(owned(&["audit", "verify", "--data", data.to_str().expect("path")])).await;
    assert!(ok && out.contains("views match a rebuild from the log"), "{out}\n{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_views_starts_from_the_latest_snapshot_and_refuses_a_corrupt_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (sms, _texts) = gateway().await;
    let server = serve(&data, &sms, None);
    let base = format!("http://{}", server.address);
    let asha = login(&base).await;
    let mut uploads = Vec::new();
    let before = pdf("before the snapshot");
    uploads.push((asha.upload("before.pdf", before.clone()).await.expect("upload").id, before));

    // Only the platform's key may ask; a stranger's signature is refused.
    let stranger = dir.path().join("stranger.key");
    ledger::keyfile::write_new(&stranger, &ed25519_dalek::SigningKey::from_bytes(&[9; 32]))
        .expect("stranger key");
    let key = |path: &Path| path.to_str().expect("path").to_owned();
    let ask = |platform_key: String| {
        owned(&["admin", "--server", &base, "--platform-key", &platform_key, "snapshot"])
    };
    let (ok, out, err) = locker(ask(key(&stranger))).await;
    assert!(!ok && err.contains("unknown_key"), "a stranger's snapshot request: {out} {err}");
    let (ok, out, err) = locker(ask(key(&data.join("platform.key")))).await;
    assert!(ok && out.starts_with("snapshot "), "{out} {err}");
    let id = out.split_whitespace().nth(1).expect("id").trim_end_matches(':').to_owned();

    // After the snapshot: the tail a restored node replays.
    let after = pdf("after the snapshot");
    uploads.push((asha.upload("after.pdf", after.clone()).await.expect("upload").id, after));
    stop(server);

    let (server, said) = restart_without_views(&data, &sms);
    assert!(said.contains(&format!("key registry from snapshot {id}")), "{said}");
    assert!(said.contains(&format!("views restored from snapshot {id}")), "{said}");
    all_uploads_are_there(&format!("http://{}", server.address), &uploads).await;
    stop(server);
    audit_says_the_views_match(&data).await;

    // One byte of one stored file of the views changed: refused, rebuilt from the log.
    let store = snapshot_store(&data);
    let files = store.list_objects(&format!("snapshots/{id}/views")).await.expect("list");
    let (name, _) = files.iter().max_by_key(|(_, size)| *size).expect("a views file");
    let mut bytes = store.get_object(name).await.expect("get").expect("stored").to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    store.put_object(name, bytes.into()).await.expect("corrupt it");

    let (server, said) = restart_without_views(&data, &sms);
    assert!(said.contains(&format!("snapshot {id} is refused")), "{said}");
    assert!(said.contains("rebuilding the views from the log instead"), "{said}");
    all_uploads_are_there(&format!("http://{}", server.address), &uploads).await;
    stop(server);
    audit_says_the_views_match(&data).await;
}
