//! The citizen's rights at a thousand documents, on the real service over loopback: the
//! export (one streamed zip of every document with its proof bundle) beside reading the same
//! documents one request at a time, and closing the locker (consents ended, keys destroyed,
//! views dropped and compacted).
//!
//! The server runs in this process on its own runtime (the embedded log, the demo data, and
//! DOCUMENTS marksheets of DOCUMENT_BYTES each pushed through the issuer endpoint); the client
//! runs on another runtime.
//!
//! Usage: rights-time [DOCUMENTS]   (default 1000)

use std::time::{Duration, Instant};

const DOCUMENT_BYTES: usize = 20 * 1024;

fn main() -> anyhow::Result<()> {
    let documents: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let server = locker_benches::DemoServer::start(&data)?;
    let clients = locker_benches::client_runtime()?;
    clients.block_on(async {
        server.ready().await?;
        let asha = server.demo_session().await?;
        push(&server.base, &data, asha.locker(), documents).await?;
        // Bundles need the documents in a signed checkpoint.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let uris: Vec<String> = all_uris(&asha).await?;
        anyhow::ensure!(uris.len() >= documents, "{} documents", uris.len());

        let started = Instant::now();
        let mut read_bytes = 0;
        for uri in &uris {
            read_bytes += asha.content(uri).await?.len();
        }
        let one_by_one = started.elapsed();

        let started = Instant::now();
        let zip = asha.export().await?;
        let exported = started.elapsed();
        let archive = zip::ZipArchive::new(std::io::Cursor::new(zip.clone()))?;
        let bundles = archive.file_names().filter(|n| n.as_ref().is_ok_and(|n| n.ends_with(".locker-bundle.json"))).count();

        let started = Instant::now();
        let closed = asha.close(server::app::demo::DEMO_PASSWORD).await?;
        let closing = started.elapsed();

        println!("rights-time: a locker of {} documents ({} KiB each), loopback", uris.len(), DOCUMENT_BYTES / 1024);
        println!(
            "  export:  {:.2} s, {:.1} MiB zip, {} files, {bundles} proof bundles ({:.0} documents/s)",
            exported.as_secs_f64(),
            zip.len() as f64 / (1024.0 * 1024.0),
            archive.len(),
            uris.len() as f64 / exported.as_secs_f64()
        );
        println!(
            "  baseline: the same documents' bytes one request at a time: {:.2} s, {:.1} MiB (export / baseline = {:.2})",
            one_by_one.as_secs_f64(),
            read_bytes as f64 / (1024.0 * 1024.0),
            exported.as_secs_f64() / one_by_one.as_secs_f64()
        );
        println!(
            "  close:   {:.2} s ({} consents ended, keys destroyed, views dropped and compacted)",
            closing.as_secs_f64(),
            closed["consents_ended"]
        );
        anyhow::Ok(())
    })?;
    server.stop()
}

async fn push(
    base: &str,
    data: &std::path::Path,
    locker: &str,
    documents: usize,
) -> anyhow::Result<()> {
    let key = ledger::keyfile::read(&data.join("demo-keys/in.gov.cbse.key"))
        .map_err(anyhow::Error::msg)?;
    let locker = schemas::LockerId::parse(locker)?;
    for i in 0..documents {
        let mut content = format!("%PDF-1.4\n% marksheet {i}\n").into_bytes();
        content.resize(DOCUMENT_BYTES, b' ');
        let request = client::issue::IssueRequest {
            server: base.to_owned(),
            key: key.clone(),
            issuer: schemas::IssuerId::parse("in.gov.cbse")?,
            to: client::issue::To::Locker(locker),
            doc_type: schemas::DocTypeCode::parse("HSCER")?,
            doc_id: schemas::DocId::parse(&format!("RIGHTS-{i:05}"))?,
            name: schemas::Label::parse("Class XII Marksheet")?,
            issued_on: schemas::CivilDate::from_ymd(2024, 5, 13)?,
            valid_from: None,
            valid_to: None,
            holder: schemas::Label::parse("Asha Kumari")?,
            fields: vec![],
            content,
            hash_only: false,
            now: ledger::clock::Clock::now(&ledger::clock::SystemClock),
        };
        let (status, answer) = client::issue::issue(request).await.map_err(anyhow::Error::msg)?;
        anyhow::ensure!(status == 201, "push {i}: {answer}");
    }
    Ok(())
}

async fn all_uris(citizen: &client::citizen::Citizen) -> anyhow::Result<Vec<String>> {
    let mut uris = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = citizen.certificates_page(200, cursor.as_deref()).await?;
        uris.extend(page.items.into_iter().map(|c| c.uri));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(uris),
        }
    }
}
