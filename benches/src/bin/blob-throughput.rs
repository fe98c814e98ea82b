//! The blob store's throughput for 10 MB documents, against a local folder and against a real
//! S3 server (`scripts/s3 start`, endpoint in `LOCKER_S3_ENDPOINT`), side by side, with the
//! same machine's raw BLAKE3 and raw file write/read in the same run as baselines (every put
//! and get hashes the bytes, and the folder store writes files).
//!
//! Then the same documents over HTTP: uploaded by the demo citizen to a real `locker serve`
//! (in this process) and downloaded again, with its files in a folder and in the bucket.
//!
//! Usage: blob-throughput [FILES]   (default 20 files of 10 MB; without LOCKER_S3_ENDPOINT the
//! bucket column is skipped and says so)

use std::time::Instant;

use bytes::Bytes;
use server::store::blobs::{BlobSettings, Blobs, S3Settings};

const FILE_BYTES: usize = 10 * 1000 * 1000;

/// `files` distinct 10 MB documents (distinct hashes, so nothing is stored twice).
fn documents(files: usize) -> Vec<Bytes> {
    (0..files)
        .map(|n| {
            let mut bytes = vec![0u8; FILE_BYTES];
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = (i.wrapping_mul(31) ^ n).to_le_bytes()[0];
            }
            // A PDF by its first bytes, so the service takes it as an upload.
            bytes[..9].copy_from_slice(b"%PDF-1.4\n");
            bytes.into()
        })
        .collect()
}

fn mb_per_s(bytes: usize, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds
}

/// Uploads then downloads every document as the demo citizen of a server whose files are in
/// `store`; MB/s each way.
async fn over_http(
    data: &std::path::Path,
    store: Option<BlobSettings>,
    documents: &[Bytes],
) -> anyhow::Result<(f64, f64)> {
    let server = locker_benches::DemoServer::start_with(data, store)?;
    let measured = async {
        server.ready().await?;
        let asha = server.demo_session().await?;
        let total = documents.len() * FILE_BYTES;
        let start = Instant::now();
        let mut ids = Vec::new();
        for (n, document) in documents.iter().enumerate() {
            ids.push(asha.upload(&format!("scan-{n}.pdf"), document.to_vec()).await?.id);
        }
        let up = mb_per_s(total, start.elapsed().as_secs_f64());
        let start = Instant::now();
        for id in &ids {
            anyhow::ensure!(asha.upload_content(id).await?.len() == FILE_BYTES, "a short read");
        }
        Ok((up, mb_per_s(total, start.elapsed().as_secs_f64())))
    }
    .await;
    // Its runtime is stopped and dropped off this one's threads.
    tokio::task::spawn_blocking(move || server.stop()).await??;
    measured
}

/// Puts then gets every document; MB/s each way.
async fn round(blobs: &Blobs, documents: &[Bytes]) -> anyhow::Result<(f64, f64)> {
    let total = documents.len() * FILE_BYTES;
    let start = Instant::now();
    let mut hashes = Vec::new();
    for document in documents {
        hashes.push(blobs.put(document.clone()).await?);
    }
    let put = mb_per_s(total, start.elapsed().as_secs_f64());
    let start = Instant::now();
    for hash in &hashes {
        anyhow::ensure!(blobs.get(hash).await?.len() == FILE_BYTES, "a short read");
    }
    let get = mb_per_s(total, start.elapsed().as_secs_f64());
    for hash in &hashes {
        blobs.delete(hash).await?;
    }
    Ok((put, get))
}

fn raw_baselines(documents: &[Bytes], dir: &std::path::Path) -> anyhow::Result<(f64, f64, f64)> {
    let total = documents.len() * FILE_BYTES;
    let start = Instant::now();
    let mut sink = 0u8;
    for document in documents {
        sink ^= blake3::hash(document).as_bytes()[0];
    }
    let hash = mb_per_s(total, start.elapsed().as_secs_f64());
    let start = Instant::now();
    for (n, document) in documents.iter().enumerate() {
        std::fs::write(dir.join(format!("raw-{n}")), document)?;
    }
    let write = mb_per_s(total, start.elapsed().as_secs_f64());
    let start = Instant::now();
    for n in 0..documents.len() {
        sink ^= std::fs::read(dir.join(format!("raw-{n}")))?[0];
    }
    let read = mb_per_s(total, start.elapsed().as_secs_f64());
    std::hint::black_box(sink);
    Ok((hash, write, read))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let files: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(20);
    let documents = documents(files);
    let dir = tempfile::tempdir()?;
    let (hash, write, read) = raw_baselines(&documents, dir.path())?;
    println!("blob-throughput: {files} files of 10 MB, one at a time");
    println!(
        "  raw (same run): BLAKE3 {hash:.0} MB/s, file write {write:.0} MB/s, file read {read:.0} MB/s"
    );
    let folder = Blobs::open(&BlobSettings::Local(dir.path().join("blobs")))?;
    let (put, get) = round(&folder, &documents).await?;
    println!(
        "  folder:  put {put:6.0} MB/s   get {get:6.0} MB/s   ({:.0}% / {:.0}% of raw file write / read)",
        100.0 * put / write,
        100.0 * get / read
    );
    let bucket = if std::env::var_os("LOCKER_S3_ENDPOINT").is_none() {
        println!(
            "  bucket:  not measured (start one with scripts/s3 start and set LOCKER_S3_ENDPOINT)"
        );
        None
    } else {
        let settings = |prefix: &str| {
            S3Settings::from_env(
                std::env::var("LOCKER_S3_BUCKET").unwrap_or("locker-test".to_owned()),
                Some(prefix.to_owned()),
                |name| std::env::var(name).ok(),
            )
        };
        let s3 = Blobs::open(&BlobSettings::S3(settings("blob-throughput")?))?;
        let (s3_put, s3_get) = round(&s3, &documents).await?;
        println!(
            "  bucket:  put {s3_put:6.0} MB/s   get {s3_get:6.0} MB/s   ({:.0}% / {:.0}% of the folder's)",
            100.0 * s3_put / put,
            100.0 * s3_get / get
        );
        Some(settings("blob-throughput-http")?)
    };
    let (up, down) = over_http(&dir.path().join("http-folder"), None, &documents).await?;
    println!("  HTTP, files in a folder:  upload {up:6.0} MB/s   download {down:6.0} MB/s");
    if let Some(bucket) = bucket {
        let data = dir.path().join("http-bucket");
        let (s3_up, s3_down) = over_http(&data, Some(BlobSettings::S3(bucket)), &documents).await?;
        println!(
            "  HTTP, files in the bucket: upload {s3_up:6.0} MB/s   download {s3_down:6.0} MB/s   ({:.0}% / {:.0}% of the folder's)",
            100.0 * s3_up / up,
            100.0 * s3_down / down
        );
    }
    Ok(())
}
