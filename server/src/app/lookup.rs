//! Documents and uploads as the routes find them: a reference resolved in a locker's views,
//! its bytes read from the file store (hash checked), and their names in answers.

use projections::views::{DocStatus, Owner};
use schemas::*;
use serde::Deserialize;

use crate::app::write::internal;
use crate::store::files::{FileError, Files};
use crate::{AppError, AppState};
use wire::ErrorCode;

/// A document of the caller's locker, whichever kind.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub doc: DocRef,
    pub name: String,
    pub issuer: Option<String>,
    pub issued_on: Option<String>,
    pub holder_name: Option<String>,
    pub hash: Digest32,
    pub media_type: MediaType,
    pub size_bytes: u64,
    pub revoked: bool,
    /// Issued to the citizen's Aadhaar before the locker linked it.
    pub via_aadhaar: bool,
    /// The event behind the current version, in the citizen topic.
    pub origin: projections::views::LogPoint,
}

fn unknown_document(what: &str) -> AppError {
    AppError::not_found(format!("{what} is not in your locker"))
        .with_code(ErrorCode::UnknownDocument)
}

/// Finds `doc` in `locker` (issued to the locker or to its linked Aadhaar, or uploaded).
pub(crate) fn resolve(
    state: &AppState,
    locker: &LockerId,
    doc: &DocRef,
) -> Result<Resolved, AppError> {
    match doc {
        DocRef::Uploaded(id) => {
            let upload =
                state.views.upload(locker, id)?.ok_or_else(|| unknown_document(&id.to_hex()))?;
            Ok(Resolved {
                doc: doc.clone(),
                name: upload.file_name.unwrap_or_else(|| "uploaded document".to_owned()),
                issuer: None,
                issued_on: None,
                holder_name: None,
                hash: upload.content_hash,
                media_type: upload.media_type,
                size_bytes: upload.size_bytes,
                revoked: false,
                via_aadhaar: false,
                origin: upload.origin,
            })
        }
        DocRef::Issued(uri) => {
            let text = uri.to_string();
            let mut found =
                state.views.document(&Owner::Locker(*locker), &text)?.map(|d| (d, false));
            if found.is_none()
                && let Some(hash) = state.views.profile(locker)?.and_then(|p| p.aadhaar_hash)
            {
                found = state.views.document(&Owner::Aadhaar(hash), &text)?.map(|d| (d, true));
            }
            let (view, via_aadhaar) = found.ok_or_else(|| unknown_document(&text))?;
            let holder_name = view.holder_name(state.vault.as_ref());
            Ok(Resolved {
                doc: doc.clone(),
                name: view.name,
                issuer: Some(view.issuer),
                issued_on: Some(view.issued_on.to_string()),
                holder_name,
                hash: view.content_hash,
                media_type: view.media_type,
                size_bytes: view.size_bytes,
                revoked: matches!(view.status, DocStatus::Revoked(_)),
                via_aadhaar,
                origin: view.origin,
            })
        }
    }
}

/// Names a document in a request body: exactly one of `uri` and `upload_id`.
#[derive(Deserialize, Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DocumentSelector {
    pub(crate) uri: Option<String>,
    pub(crate) upload_id: Option<String>,
}

impl DocumentSelector {
    pub(crate) fn doc_ref(&self) -> Result<DocRef, AppError> {
        match (&self.uri, &self.upload_id) {
            (Some(uri), None) => doc_uri(uri).map(DocRef::Issued),
            (None, Some(id)) => Ok(DocRef::Uploaded(upload_id(id)?)),
            _ => Err(AppError::new(
                ErrorCode::InvalidDocument,
                "name the document with exactly one of `uri` and `upload_id`",
            )),
        }
    }
}

/// A document URI from a path or a body (`invalid_uri` when it is not one).
pub(crate) fn doc_uri(text: &str) -> Result<DocUri, AppError> {
    DocUri::parse(text).map_err(|e| AppError::new(ErrorCode::InvalidUri, e.to_string()))
}

pub(crate) fn doc_text(doc: &DocRef) -> (Option<String>, Option<String>) {
    match doc {
        DocRef::Issued(uri) => (Some(uri.to_string()), None),
        DocRef::Uploaded(id) => (None, Some(id.to_hex())),
    }
}

pub(crate) fn file_error(e: FileError) -> AppError {
    match e {
        FileError::Missing(hash) => AppError::not_found(format!(
            "the issuer registered content {hash} but never sent its bytes"
        ))
        .with_code(ErrorCode::ContentNotStored),
        FileError::Corrupt { .. } => AppError::new(ErrorCode::ContentCorrupt, e.to_string()),
        FileError::TooLarge { max_bytes } => AppError::new(
            ErrorCode::InvalidFilesize,
            format!("a file may have at most {max_bytes} bytes"),
        ),
        FileError::Io(_) | FileError::Store(_) => internal(e),
    }
}

/// Reads stored bytes, checked against their hash.
pub(crate) async fn read_content(files: &Files, hash: Digest32) -> Result<bytes::Bytes, AppError> {
    files.read(&hash).await.map_err(file_error)
}

pub(crate) fn upload_id(text: &str) -> Result<Id16, AppError> {
    Id16::from_hex(text)
        .map_err(|_| AppError::new(ErrorCode::InvalidUploadId, "an upload id is 32 hex digits"))
}
