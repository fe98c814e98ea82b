//! "Take everything along": one zip, streamed, with every document and upload of a locker
//! (its bytes, where the service holds them, and its proof bundle, which `locker
//! verify-bundle` and the Verify page check offline), the profile, the consents with their
//! terms, the share links and the activity, as JSON, and a manifest naming every file with its
//! BLAKE3.
//!
//! The zip is written on a blocking thread (the zip crate writes synchronously) from entries an
//! async task gathers, through bounded channels both ways: memory holds a few entries and a
//! few chunks, however large the locker; a client that goes away stops both.

use bytes::Bytes;
use projections::views::ConsentView;
use schemas::*;
use serde_json::{Value, json};
use std::io::Write;

use crate::app::lookup::{Resolved, doc_text, resolve};
use crate::limits::{EXPORT_CHUNK_BYTES, EXPORT_ENTRIES_IN_FLIGHT, EXPORT_IDLE_MS, LIST_ITEMS_MAX};
use crate::{AppError, AppState};

/// One file of the zip.
struct Entry {
    name: String,
    bytes: Bytes,
    /// Deflate it (JSON); documents are stored as they are (PDFs and images are compressed).
    deflate: bool,
}

/// The export of `locker` as a stream of zip bytes.
pub(crate) fn zip_stream(
    state: AppState,
    locker: LockerId,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let (entries, entries_rx) = tokio::sync::mpsc::channel::<Entry>(EXPORT_ENTRIES_IN_FLIGHT);
    let (out, out_rx) = tokio::sync::mpsc::channel(EXPORT_ENTRIES_IN_FLIGHT);
    let failed = out.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = write_zip(entries_rx, Chunks { out: out.clone(), buffer: Vec::new() }) {
            let _ = out.blocking_send(Err(e));
        }
    });
    tokio::spawn(async move {
        // Held until everything is gathered (or the client left and the writer stopped).
        let _permit = permit;
        if let Err(e) = gather(&state, locker, &entries).await {
            tracing::warn!(code = e.code.code(), "an export stopped");
            let _ = failed.send(Err(std::io::Error::other(e.message))).await;
        }
    });
    futures_util::stream::unfold(out_rx, |mut rx| async move {
        let chunk = rx.recv().await?;
        Some((chunk, rx))
    })
}

/// Bytes the zip writer writes, sent on in chunks of `EXPORT_CHUNK_BYTES`.
struct Chunks {
    out: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
}

impl Chunks {
    /// Sends what is buffered, waiting at most `EXPORT_IDLE_MS` for the client to take it.
    fn send(&mut self) -> std::io::Result<()> {
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(EXPORT_IDLE_MS);
        let mut item = Ok(chunk);
        loop {
            match self.out.try_send(item) {
                Ok(()) => return Ok(()),
                Err(tokio::sync::mpsc::error::TrySendError::Full(back)) => item = back,
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::BrokenPipe,
                        "the client left",
                    ));
                }
            }
            if std::time::Instant::now() >= deadline {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the client stopped reading",
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(EXPORT_POLL_MS));
        }
    }
}

/// How often a full channel is looked at again (a reader slower than this is a slow network).
const EXPORT_POLL_MS: u64 = 5;

impl Write for Chunks {
    /// At most `EXPORT_CHUNK_BYTES` are buffered, however large the write (a 10 MB document).
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let room = EXPORT_CHUNK_BYTES.saturating_sub(self.buffer.len()).max(1);
        let taken = bytes.len().min(room);
        self.buffer.extend_from_slice(&bytes[..taken]);
        if self.buffer.len() >= EXPORT_CHUNK_BYTES {
            self.send()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buffer.is_empty() {
            self.send()?;
        }
        Ok(())
    }
}

fn write_zip(
    mut entries: tokio::sync::mpsc::Receiver<Entry>,
    chunks: Chunks,
) -> std::io::Result<()> {
    use zip::write::SimpleFileOptions;
    let mut zip = zip::ZipWriter::new_stream(chunks);
    while let Some(entry) = entries.blocking_recv() {
        let method = if entry.deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let options = SimpleFileOptions::default().compression_method(method).large_file(
            u64::try_from(entry.bytes.len()).unwrap_or(u64::MAX) >= u64::from(u32::MAX),
        );
        zip.start_file(entry.name, options).map_err(std::io::Error::other)?;
        zip.write_all(&entry.bytes)?;
    }
    let mut chunks = zip.finish().map_err(std::io::Error::other)?.into_inner();
    chunks.flush()
}

/// What the manifest says of each file.
struct Listed {
    files: Vec<Value>,
}

impl Listed {
    async fn send(
        &mut self,
        entries: &tokio::sync::mpsc::Sender<Entry>,
        name: String,
        bytes: Bytes,
        deflate: bool,
    ) -> Result<(), AppError> {
        self.files.push(json!({
            "name": name,
            "size_bytes": bytes.len(),
            "blake3": blake3::hash(&bytes).to_hex().to_string(),
        }));
        entries
            .send(Entry { name, bytes, deflate })
            .await
            .map_err(|_| AppError::new(wire::ErrorCode::Internal, "the zip writer stopped"))
    }

    async fn json(
        &mut self,
        entries: &tokio::sync::mpsc::Sender<Entry>,
        name: &str,
        value: &Value,
    ) -> Result<(), AppError> {
        let bytes = serde_json::to_vec_pretty(value).map_err(crate::app::write::internal)?;
        self.send(entries, name.to_owned(), Bytes::from(bytes), true).await
    }
}

async fn gather(
    state: &AppState,
    locker: LockerId,
    entries: &tokio::sync::mpsc::Sender<Entry>,
) -> Result<(), AppError> {
    let mut listed = Listed { files: Vec::new() };
    let profile = state.views.profile(&locker)?;
    listed.json(entries, "profile.json", &profile_json(profile.as_ref())).await?;
    let mut documents = Vec::new();
    for doc in issued(state, &locker)?.into_iter().chain(uploaded(state, &locker)?) {
        documents
            .push(document(state, &locker, &doc, documents.len(), &mut listed, entries).await?);
    }
    listed.json(entries, "documents.json", &Value::Array(documents)).await?;
    let now = state.clock.now();
    let consents: Vec<Value> =
        state.views.consents(&locker, now, None)?.iter().map(consent_json).collect();
    listed.json(entries, "consents.json", &Value::Array(consents)).await?;
    listed.json(entries, "shares.json", &shares_json(state, &locker)?).await?;
    listed.json(entries, "activity.json", &activity_json(state, &locker)?).await?;
    let manifest = json!({
        "format": "locker-export/1",
        "locker": locker.to_string(),
        "exported_at_ms": now.0,
        "ledger_key": verifier::hex_key(&state.proofs.ledger_key()),
        "how_to_verify": "Each *.locker-bundle.json is a proof bundle: `locker verify-bundle FILE --ledger-key KEY` or the Verify page checks it offline. Each file's BLAKE3 is listed here.",
        "files": listed.files,
    });
    let bytes = serde_json::to_vec_pretty(&manifest).map_err(crate::app::write::internal)?;
    entries
        .send(Entry { name: "manifest.json".to_owned(), bytes: Bytes::from(bytes), deflate: true })
        .await
        .map_err(|_| AppError::new(wire::ErrorCode::Internal, "the zip writer stopped"))
}

/// Every issued document of the locker, page by page.
fn issued(state: &AppState, locker: &LockerId) -> Result<Vec<DocRef>, AppError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = state.views.certificates(
            locker,
            state.clock.now(),
            cursor.as_deref(),
            LIST_ITEMS_MAX,
        )?;
        out.extend(
            page.items.iter().filter_map(|c| DocUri::parse(&c.doc.uri).ok()).map(DocRef::Issued),
        );
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

fn uploaded(state: &AppState, locker: &LockerId) -> Result<Vec<DocRef>, AppError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = state.views.uploads(locker, cursor.as_deref(), LIST_ITEMS_MAX)?;
        out.extend(page.items.iter().map(|u| DocRef::Uploaded(u.upload_id)));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// One document's bytes and bundle into the zip; its line in `documents.json`.
async fn document(
    state: &AppState,
    locker: &LockerId,
    doc: &DocRef,
    index: usize,
    listed: &mut Listed,
    entries: &tokio::sync::mpsc::Sender<Entry>,
) -> Result<Value, AppError> {
    let resolved = resolve(state, locker, doc)?;
    let (uri, upload_id) = doc_text(doc);
    let stem = format!("documents/{:04}-{}", index + 1, file_stem(&resolved));
    let stored =
        state.files.contains(&resolved.hash).await.map_err(crate::app::lookup::file_error)?;
    let content = if stored {
        let bytes = crate::app::lookup::read_content(&state.files, resolved.hash).await?;
        let name = format!("{stem}.{}", extension(resolved.media_type));
        listed.send(entries, name.clone(), bytes, false).await?;
        Some(name)
    } else {
        None
    };
    // A document logged moments ago may not be in a signed checkpoint yet: said, not fatal.
    let bundle = match state.proofs.bundle(&state.views, resolved.origin).await {
        Ok(bundle) => {
            let text = verifier::bundle_json(&bundle, &state.proofs.ledger_key());
            let name = format!("{stem}.locker-bundle.json");
            listed.send(entries, name.clone(), Bytes::from(text), true).await?;
            Some(name)
        }
        Err(e) => {
            tracing::info!(code = e.code.code(), "an exported document has no bundle yet");
            None
        }
    };
    Ok(json!({
        "uri": uri,
        "upload_id": upload_id,
        "name": resolved.name,
        "issuer": resolved.issuer,
        "issued_on": resolved.issued_on,
        "holder_name": resolved.holder_name,
        "media_type": resolved.media_type.mime(),
        "size_bytes": resolved.size_bytes,
        "blake3": resolved.hash.to_hex(),
        "revoked_by_issuer": resolved.revoked,
        "content_file": content,
        "bundle_file": bundle,
    }))
}

/// A file name from the document's URI or upload id: only characters safe everywhere.
fn file_stem(resolved: &Resolved) -> String {
    let (uri, upload_id) = doc_text(&resolved.doc);
    uri.or(upload_id)
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
        .take(120)
        .collect()
}

fn extension(media_type: MediaType) -> &'static str {
    match media_type {
        MediaType::Pdf => "pdf",
        MediaType::Jpeg => "jpg",
        MediaType::Png => "png",
        MediaType::Bmp => "bmp",
        MediaType::Gif => "gif",
        MediaType::Xml => "xml",
        MediaType::Json => "json",
    }
}

fn profile_json(profile: Option<&projections::views::ProfileView>) -> Value {
    let Some(p) = profile else { return Value::Null };
    json!({
        "locker": p.locker.to_string(),
        "username": p.username,
        "full_name": p.full_name,
        "date_of_birth": p.date_of_birth.map(|d| d.to_string()),
        "email": p.email,
        "mobile": p.mobile_masked,
        "aadhaar_last4": p.aadhaar_last4,
        "registered_at_ms": p.registered_at_ms.0,
        "kyc": p.kyc.clone().map(crate::app::dto::kyc_from_view),
    })
}

fn consent_json(c: &ConsentView) -> Value {
    json!({
        "id": c.consent_id.to_hex(),
        "requester": c.requester,
        "state": crate::app::dto::state_name(c.state),
        "purpose": c.purpose,
        "items": c.items,
        "terms": c.terms.as_ref().map(crate::app::dto::terms_dto),
        "requested_at_ms": c.requested_at_ms.0,
        "request_expires_at_ms": c.request_expires_at_ms.0,
        "access_expires_at_ms": c.access_expires_at_ms.map(|t| t.0),
        "granted": c.granted.iter().map(doc_json).collect::<Vec<_>>(),
        "fetches": c.accesses,
        "refused_fetches": c.refusals,
    })
}

fn doc_json(doc: &DocRef) -> Value {
    let (uri, upload_id) = doc_text(doc);
    json!({ "uri": uri, "upload_id": upload_id })
}

fn shares_json(state: &AppState, locker: &LockerId) -> Result<Value, AppError> {
    let shares = state.views.shares(locker, state.clock.now())?;
    Ok(Value::Array(
        shares
            .iter()
            .map(|(s, live)| {
                json!({
                    "id": s.share_id.to_hex(),
                    "document": doc_json(&s.document),
                    "created_at_ms": s.created_at_ms.0,
                    "expires_at_ms": s.expires_at_ms.0,
                    "revoked": s.revoked,
                    "live": live,
                    "views": s.views,
                })
            })
            .collect(),
    ))
}

fn activity_json(state: &AppState, locker: &LockerId) -> Result<Value, AppError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = state.views.activity(locker, cursor.as_deref(), LIST_ITEMS_MAX)?;
        for a in &page.items {
            let by = match &a.accessor {
                projections::views::Accessor::Requester { requester, consent_id } => {
                    json!({ "requester": requester, "consent": consent_id.to_hex() })
                }
                projections::views::Accessor::ShareLink { share_id } => {
                    json!({ "share_link": share_id.to_hex() })
                }
                projections::views::Accessor::Pull { issuer, doc_type, outcome } => json!({
                    "pull": { "issuer": issuer, "doc_type": doc_type,
                              "outcome": crate::app::dto::pull_outcome_code(outcome) }
                }),
            };
            out.push(json!({
                "at_ms": a.at_ms.0,
                "by": by,
                "document": a.document.as_ref().map(doc_json),
            }));
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(Value::Array(out)),
        }
    }
}
