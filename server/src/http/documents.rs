//! A citizen's documents beyond listing them: upload (streamed, sniffed, bounded, quota'd),
//! download (checked against the hash on every read), delete, e-sign, and share links with
//! their public pages. Every change is an event signed with the citizen's custodial key (a
//! share view is the platform's), taken in the citizen partition's write turn.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use schemas::*;
use serde::{Deserialize, Serialize};

use crate::app::json::json;
use crate::app::lookup::DocumentSelector;
use crate::app::lookup::doc_text;
use crate::app::lookup::doc_uri;
use crate::app::lookup::file_error;
use crate::app::lookup::read_content;
use crate::app::lookup::resolve;
use crate::app::lookup::upload_id;
use crate::app::write::internal;
use crate::http::answer::content as content_response;
use crate::http::session::Citizen;
use crate::http::shares::VisitQuery;
use crate::http::shares::open_share;
use crate::limits::{
    SHARE_MINUTES_DEFAULT, SHARE_MINUTES_MAX, UPLOAD_SIZE_BYTES_MAX, UPLOAD_TYPES,
};
use crate::store::files::FileError;
use crate::{AppError, AppState};
use wire::ErrorCode;
use wire::dto::{ShareBody, ShareDto, SharedDto, UploadedDto};

fn json_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, AppError> {
    json(body)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadQuery {
    name: Option<String>,
}

fn invalid_filetype(message: String) -> AppError {
    AppError::new(ErrorCode::InvalidFiletype, message)
}

fn quota_exceeded(used: i64, quota: i64, size: u64) -> AppError {
    AppError::new(
        ErrorCode::QuotaExceeded,
        format!("{size} more bytes would exceed your {quota}-byte storage ({used} bytes used)"),
    )
}

/// `POST /v1/citizen/uploads?name=FILE`: the body is the file's bytes, streamed to disk.
#[utoipa::path(post, path = "/v1/citizen/uploads", tag = "citizen", security(("session" = [])), params(("name" = String, Query, description = "The file name (pdf, jpg, jpeg, png, bmp or gif)", pattern = r"^[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]{0,194}\.(?:pdf|jpg|jpeg|png|bmp|gif)$")), request_body(content = crate::openapi::FileBytes, content_type = "application/octet-stream", description = "The file's bytes, streamed; the type is recognised by content"), responses((status = 422, description = "`invalid_filesize`: the file is empty", body = crate::openapi::ErrorDto), (status = 201, body = UploadedDto), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 413, description = "`invalid_filesize` (over 10 MB), `quota_exceeded` (over 1 GB)", body = crate::openapi::ErrorDto), (status = 415, description = "`invalid_filetype`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn upload(
    State(state): State<AppState>,
    citizen: Citizen,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let query = query.map_err(|e| AppError::new(ErrorCode::InvalidQuery, e.body_text()))?;
    let name = query.0.name.ok_or_else(|| {
        AppError::new(ErrorCode::MissingFileName, "send the file's name as ?name=")
    })?;
    let label = Label::parse(&name)
        .map_err(|e| AppError::new(ErrorCode::InvalidFileName, e.to_string()))?;
    let named = wire::media::extension_types(&name)
        .filter(|types| types.iter().any(|t| UPLOAD_TYPES.contains(t)))
        .ok_or_else(|| {
            invalid_filetype(format!("{name:?}: uploads are pdf, jpg, jpeg, png, bmp or gif files"))
        })?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let storage = state.views.storage(&citizen.locker)?;
    if let Some(declared) = declared {
        if declared > UPLOAD_SIZE_BYTES_MAX {
            return Err(file_error(FileError::TooLarge { max_bytes: UPLOAD_SIZE_BYTES_MAX }));
        }
        if storage.used_bytes.saturating_add(i64::try_from(declared).unwrap_or(i64::MAX))
            > storage.quota_bytes
        {
            return Err(quota_exceeded(storage.used_bytes, storage.quota_bytes, declared));
        }
    }
    let incoming = receive(&state, body).await?;
    if incoming.size_bytes() == 0 {
        return Err(AppError::new(
            ErrorCode::InvalidFilesizeAsUnprocessableEntity,
            "the file is empty",
        ));
    }
    let media_type = incoming.sniffed().filter(|t| UPLOAD_TYPES.contains(t)).ok_or_else(|| {
        invalid_filetype(format!("{name:?} is not a pdf, jpeg, png, bmp or gif file"))
    })?;
    if !named.contains(&media_type) {
        return Err(invalid_filetype(format!(
            "{name:?} is named as another type, but its content is {}",
            media_type.mime()
        )));
    }
    // Until the views count this upload, its bytes must not look unnamed to the sweeper.
    let _storing = state.files.storing().await;
    let _turn = state.writes.turn(&PartitionKey::Locker(citizen.locker)).await?;
    // The quota is checked before the bytes leave their temporary file: a refused upload
    // (over quota, or streamed without a length) leaves nothing behind.
    let storage = state.views.storage(&citizen.locker)?;
    let size_bytes = incoming.size_bytes();
    if storage.used_bytes.saturating_add(i64::try_from(size_bytes).unwrap_or(i64::MAX))
        > storage.quota_bytes
    {
        return Err(quota_exceeded(storage.used_bytes, storage.quota_bytes, size_bytes));
    }
    let stored = state.files.finish(incoming).await.map_err(file_error)?;
    let personal = PersonalData::Upload(UploadPersonal { file_name: label });
    let (commitment, sealed) = crate::app::write::seal_for(&state, &citizen.locker, &personal)?;
    let id = Id16(state.accounts.random().map_err(internal)?);
    let content = ContentRef { hash: stored.hash, media_type, size_bytes: stored.size_bytes };
    let payload = Payload::DocumentUploaded(DocumentUploaded {
        locker: citizen.locker,
        upload_id: id,
        content,
        personal: commitment,
    });
    crate::app::write::as_citizen(&state, &citizen.locker, payload, Some(sealed)).await?;
    let answer = UploadedDto {
        id: id.to_hex(),
        file_name: name,
        media_type: media_type.mime().to_owned(),
        size_bytes: stored.size_bytes,
        content_hash: stored.hash.to_hex(),
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// Streams an upload's bytes into a temporary file: memory stays at one chunk whatever the
/// client sends, and a client that pauses too long is cut off.
async fn receive(
    state: &AppState,
    mut body: Body,
) -> Result<crate::store::files::Incoming, AppError> {
    let tag = schemas::to_hex(&state.accounts.random::<16>().map_err(internal)?);
    let mut incoming = state.files.incoming(&tag, UPLOAD_SIZE_BYTES_MAX).map_err(file_error)?;
    let idle = std::time::Duration::from_millis(crate::limits::BODY_IDLE_MS);
    while let Some(frame) = tokio::time::timeout(idle, body.frame())
        .await
        .map_err(|_| crate::http::body::too_slow("an upload"))?
    {
        let frame = frame.map_err(|e| {
            AppError::new(ErrorCode::UploadInterrupted, format!("the upload broke off: {e}"))
        })?;
        if let Ok(chunk) = frame.into_data() {
            incoming.write(&chunk).map_err(file_error)?;
        }
    }
    Ok(incoming)
}

/// `GET /v1/citizen/uploads/{id}/content`
#[utoipa::path(get, path = "/v1/citizen/uploads/{id}/content", tag = "citizen", security(("session" = [])), params(("id" = String, Path, description = "The upload id, 32 hex digits", pattern = r"^[0-9a-fA-F]{32}$")), responses((status = 200, description = "The bytes, checked against their BLAKE3 hash", content_type = "application/octet-stream", body = Vec<u8>), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_document`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn upload_content(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let resolved = resolve(&state, &citizen.locker, &DocRef::Uploaded(upload_id(&id)?))?;
    let bytes = read_content(&state.files, resolved.hash).await?;
    Ok(content_response(bytes, &resolved))
}

/// `GET /v1/citizen/certificates/{uri}/content`
#[utoipa::path(get, path = "/v1/citizen/certificates/{uri}/content", tag = "citizen", security(("session" = [])), params(("uri" = String, Path, description = "The document URI", pattern = r"^[a-z](?:[a-z0-9]|\.[a-z]){2,31}-[A-Z0-9]{5}-[A-Za-z0-9._/-]{1,100}$")), responses((status = 200, description = "The bytes, checked against their BLAKE3 hash", content_type = "application/octet-stream", body = Vec<u8>), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_document`, `content_not_stored`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn certificate_content(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(uri): Path<String>,
) -> Result<Response, AppError> {
    let resolved = resolve(&state, &citizen.locker, &DocRef::Issued(doc_uri(&uri)?))?;
    let bytes = read_content(&state.files, resolved.hash).await?;
    Ok(content_response(bytes, &resolved))
}

/// The personal fields of an issued document, opened for its owner.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct FieldsDto {
    holder_name: String,
    date_of_birth: Option<String>,
    /// The structured results, in the issuer's order (a marksheet's subjects and marks).
    fields: Vec<FieldDto>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct FieldDto {
    key: String,
    value: String,
}

/// `GET /v1/citizen/certificates/{uri}/fields`: read from the document's event in the log and
/// opened with the owner's sealing key, so the views never hold them.
#[utoipa::path(get, path = "/v1/citizen/certificates/{uri}/fields", tag = "citizen", security(("session" = [])), params(("uri" = String, Path, description = "The document URI", pattern = r"^[a-z](?:[a-z0-9]|\.[a-z]){2,31}-[A-Z0-9]{5}-[A-Za-z0-9._/-]{1,100}$")), responses((status = 200, body = FieldsDto), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_document`, `no_personal_fields`", body = crate::openapi::ErrorDto), (status = 410, description = "`fields_erased`: the sealing key is gone", body = crate::openapi::ErrorDto)))]
pub(crate) async fn certificate_fields(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(uri): Path<String>,
) -> Result<Json<FieldsDto>, AppError> {
    let resolved = resolve(&state, &citizen.locker, &DocRef::Issued(doc_uri(&uri)?))?;
    let topic = state.writes.config().citizen_topic.clone();
    let envelope = state
        .appender
        .logged_at(topic, resolved.origin.partition, resolved.origin.offset)
        .await
        .map_err(crate::app::error::ledger_error)?;
    let Some(commitment) = envelope.event.payload.personal_commitment() else {
        return Err(AppError::not_found(
            "the issuer sent this version of the document without personal fields",
        )
        .with_code(ErrorCode::NoPersonalFields));
    };
    let erased = || {
        AppError::new(
            ErrorCode::FieldsErased,
            "the document's personal fields can no longer be opened (their key was erased)",
        )
    };
    let sealed = envelope.sealed.as_ref().ok_or_else(erased)?;
    let key =
        projections::SealKeys::key(state.vault.as_ref(), &sealed.subject).ok_or_else(erased)?;
    let personal = ledger::crypto::open_sealed(&key, sealed, commitment).map_err(|e| {
        internal(format!("the sealed fields of {} do not open: {e}", resolved.name))
    })?;
    let PersonalData::Document(document) = personal else {
        return Err(internal(format!("{} holds no document fields", resolved.name)));
    };
    Ok(Json(FieldsDto {
        holder_name: document.holder_name.to_string(),
        date_of_birth: document.date_of_birth.map(|d| d.to_string()),
        fields: document
            .fields
            .into_iter()
            .map(|f| FieldDto { key: f.key.to_string(), value: f.value.to_string() })
            .collect(),
    }))
}

/// `DELETE /v1/citizen/uploads/{id}`
#[utoipa::path(delete, path = "/v1/citizen/uploads/{id}", tag = "citizen", security(("session" = [])), params(("id" = String, Path, description = "The upload id, 32 hex digits", pattern = r"^[0-9a-fA-F]{32}$")), responses((status = 204, description = "Deleted"), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_document`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn delete_upload(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let id = upload_id(&id)?;
    let _turn = state.writes.turn(&PartitionKey::Locker(citizen.locker)).await?;
    resolve(&state, &citizen.locker, &DocRef::Uploaded(id))?;
    let payload = Payload::UploadDeleted(UploadDeleted { locker: citizen.locker, upload_id: id });
    crate::app::write::as_citizen(&state, &citizen.locker, payload, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ESignedDto {
    uri: Option<String>,
    upload_id: Option<String>,
    content_hash: String,
    /// Ed25519 over `domain || content_hash` (the hash's 32 raw bytes), in hex.
    esignature: String,
    /// The signed message's prefix, so a verifier can rebuild the message.
    domain: String,
    public_key: String,
    key_id: String,
    locker: String,
}

/// `POST /v1/citizen/esign` with `{uri}` or `{upload_id}`.
#[utoipa::path(post, path = "/v1/citizen/esign", tag = "citizen", security(("session" = [])), request_body = DocumentSelector, responses((status = 200, body = ESignedDto), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_document`", body = crate::openapi::ErrorDto), (status = 409, description = "`document_revoked`, `esign_unsupported`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn esign(
    State(state): State<AppState>,
    citizen: Citizen,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let selector: DocumentSelector = json_body(&body)?;
    let doc = selector.doc_ref()?;
    let _turn = state.writes.turn(&PartitionKey::Locker(citizen.locker)).await?;
    let resolved = resolve(&state, &citizen.locker, &doc)?;
    if resolved.revoked {
        return Err(AppError::new(
            ErrorCode::DocumentRevoked,
            "the issuer revoked this document; it cannot be e-signed",
        ));
    }
    if resolved.via_aadhaar {
        return Err(AppError::new(
            ErrorCode::EsignUnsupported,
            "documents issued to your Aadhaar before you linked it cannot be e-signed yet",
        ));
    }
    let key = crate::app::write::citizen_key(&state, &citizen.locker)?;
    let esignature = ledger::crypto::esign(&key, &resolved.hash);
    let payload = Payload::DocumentESigned(DocumentESigned {
        locker: citizen.locker,
        document: doc.clone(),
        content_hash: resolved.hash,
        esignature,
    });
    crate::app::write::as_citizen(&state, &citizen.locker, payload, None).await?;
    let (uri, upload_id) = doc_text(&doc);
    let public = key.verifying_key();
    Ok(Json(ESignedDto {
        uri,
        upload_id,
        content_hash: resolved.hash.to_hex(),
        esignature: esignature.to_hex(),
        domain: String::from_utf8_lossy(schemas::ESIGN_DOMAIN).into_owned(),
        public_key: schemas::to_hex(public.as_bytes()),
        key_id: ledger::crypto::key_id_of(&public).to_hex(),
        locker: citizen.locker.to_string(),
    })
    .into_response())
}

fn share_url(locker: &LockerId, share: &Id16) -> String {
    format!("/v1/shared/{locker}/{}", share.to_hex())
}

/// `POST /v1/citizen/shares` with `{uri | upload_id, expires_in_minutes}`.
#[utoipa::path(post, path = "/v1/citizen/shares", tag = "citizen", security(("session" = [])), request_body = ShareBody, responses((status = 201, body = ShareDto), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_document`", body = crate::openapi::ErrorDto), (status = 409, description = "`document_revoked`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn create_share(
    State(state): State<AppState>,
    citizen: Citizen,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let body: ShareBody = json_body(&body)?;
    let doc = DocumentSelector { uri: body.uri, upload_id: body.upload_id }.doc_ref()?;
    let minutes = body.expires_in_minutes.unwrap_or(SHARE_MINUTES_DEFAULT);
    if !(1..=SHARE_MINUTES_MAX).contains(&minutes) {
        return Err(AppError::new(
            ErrorCode::InvalidExpiry,
            format!("a share link lasts 1 to {SHARE_MINUTES_MAX} minutes"),
        ));
    }
    let _turn = state.writes.turn(&PartitionKey::Locker(citizen.locker)).await?;
    let resolved = resolve(&state, &citizen.locker, &doc)?;
    if resolved.revoked {
        return Err(AppError::new(
            ErrorCode::DocumentRevoked,
            "the issuer revoked this document; it cannot be shared",
        ));
    }
    let now = state.clock.now();
    let share_id = Id16(state.accounts.random().map_err(internal)?);
    let expires_at_ms = TimestampMs(now.0 + i64::from(minutes) * 60_000);
    let payload = Payload::DocumentShared(DocumentShared {
        locker: citizen.locker,
        share_id,
        document: doc.clone(),
        expires_at_ms,
    });
    crate::app::write::as_citizen(&state, &citizen.locker, payload, None).await?;
    let (uri, upload_id) = doc_text(&doc);
    // The views now hold the share as logged (with the event's own time).
    let created_at_ms =
        state.views.share(&citizen.locker, &share_id)?.map_or(now, |s| s.created_at_ms);
    let answer = ShareDto {
        id: share_id.to_hex(),
        uri,
        upload_id,
        url: share_url(&citizen.locker, &share_id),
        created_at_ms: created_at_ms.0,
        expires_at_ms: expires_at_ms.0,
        revoked: false,
        live: true,
        views: 0,
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `GET /v1/citizen/shares`
#[utoipa::path(get, path = "/v1/citizen/shares", tag = "citizen", security(("session" = [])), responses((status = 200, body = Vec<ShareDto>), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto)))]
pub(crate) async fn shares(
    State(state): State<AppState>,
    citizen: Citizen,
) -> Result<Json<Vec<ShareDto>>, AppError> {
    let shares = state.views.shares(&citizen.locker, state.clock.now())?;
    Ok(Json(
        shares
            .into_iter()
            .map(|(share, live)| {
                let (uri, upload_id) = doc_text(&share.document);
                ShareDto {
                    id: share.share_id.to_hex(),
                    uri,
                    upload_id,
                    url: share_url(&citizen.locker, &share.share_id),
                    created_at_ms: share.created_at_ms.0,
                    expires_at_ms: share.expires_at_ms.0,
                    revoked: share.revoked,
                    live,
                    views: share.views,
                }
            })
            .collect(),
    ))
}

fn share_id(text: &str) -> Result<Id16, AppError> {
    Id16::from_hex(text)
        .map_err(|_| AppError::new(ErrorCode::InvalidShareId, "a share id is 32 hex digits"))
}

/// `POST /v1/citizen/shares/{id}/revoke`
#[utoipa::path(post, path = "/v1/citizen/shares/{id}/revoke", tag = "citizen", security(("session" = [])), params(("id" = String, Path, description = "The share id, 32 hex digits", pattern = r"^[0-9a-fA-F]{32}$")), responses((status = 204, description = "Revoked"), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_share`", body = crate::openapi::ErrorDto), (status = 409, description = "`share_revoked`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn revoke_share(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let id = share_id(&id)?;
    let _turn = state.writes.turn(&PartitionKey::Locker(citizen.locker)).await?;
    let share = state.views.share(&citizen.locker, &id)?.ok_or_else(|| {
        AppError::not_found(format!("no share {id} in your locker"))
            .with_code(ErrorCode::UnknownShare)
    })?;
    if share.revoked {
        return Err(AppError::new(ErrorCode::ShareRevoked, "already revoked"));
    }
    let payload = Payload::ShareRevoked(ShareRevoked { locker: citizen.locker, share_id: id });
    crate::app::write::as_citizen(&state, &citizen.locker, payload, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/shared/{locker}/{share}`: public, for whoever holds a live link.
#[utoipa::path(get, path = "/v1/shared/{locker}/{share}", tag = "public", params(("locker" = String, Path, description = "The locker id (a UUID)", pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"), ("share" = String, Path, description = "The share id, 32 hex digits", pattern = r"^[0-9a-fA-F]{32}$")), description = "A share link's public page; every view is recorded.", responses((status = 200, body = SharedDto), (status = 404, description = "`unknown_share`", body = crate::openapi::ErrorDto), (status = 410, description = "`share_expired`, `share_revoked`", body = crate::openapi::ErrorDto), (status = 429, description = "`too_many_views`: the link's views this hour are used up", body = crate::openapi::ErrorDto)))]
pub(crate) async fn shared(
    State(state): State<AppState>,
    Path((locker, share)): Path<(String, String)>,
    extensions: axum::http::Extensions,
) -> Result<Response, AppError> {
    let (resolved, view, locker, visit) =
        open_share(&state, &locker, &share, &extensions, None).await?;
    let url = share_url(&locker, &view.share_id);
    Ok(Json(SharedDto {
        document: resolved.into(),
        expires_at_ms: view.expires_at_ms.0,
        content_url: format!("{url}/content?visit={visit}"),
        bundle_url: format!("{url}/bundle?visit={visit}"),
        visit,
    })
    .into_response())
}

/// `GET /v1/shared/{locker}/{share}/content`
#[utoipa::path(get, path = "/v1/shared/{locker}/{share}/content", tag = "public", params(("locker" = String, Path, description = "The locker id (a UUID)", pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"), ("share" = String, Path, description = "The share id, 32 hex digits", pattern = r"^[0-9a-fA-F]{32}$"), VisitQuery), responses((status = 400, description = "`invalid_query`", body = crate::openapi::ErrorDto), (status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 404, description = "`unknown_share`", body = crate::openapi::ErrorDto), (status = 410, description = "`share_expired`, `share_revoked`", body = crate::openapi::ErrorDto), (status = 429, description = "`too_many_views`: the link's views this hour are used up", body = crate::openapi::ErrorDto)))]
pub(crate) async fn shared_content(
    State(state): State<AppState>,
    Path((locker, share)): Path<(String, String)>,
    query: Result<Query<VisitQuery>, axum::extract::rejection::QueryRejection>,
    extensions: axum::http::Extensions,
) -> Result<Response, AppError> {
    let visit = VisitQuery::of(query)?;
    let (resolved, _, _, _) =
        open_share(&state, &locker, &share, &extensions, visit.as_deref()).await?;
    let bytes = read_content(&state.files, resolved.hash).await?;
    Ok(content_response(bytes, &resolved))
}
