//! The ledger's transparency side in the service: it keeps each partition's Merkle tree
//! current and signs checkpoints (`DATA/merkle`, topic `<prefix>.checkpoints`, platform key),
//! and answers what outside parties need to hold the ledger to its word:
//!
//! - `GET /v1/ledger/checkpoints`: the latest signed checkpoint of every partition;
//! - `GET /v1/ledger/consistency`: a consistency proof between two checkpointed sizes, so a
//!   monitor that saw an earlier checkpoint can check the log only grew;
//! - proof bundles of a citizen's documents (and of a live share link's), which
//!   `locker verify-bundle` and the web page's Verify section check offline with only the
//!   ledger's public key (crate `verifier`, which also owns the bundle file's JSON form).
//!
//! A bundle needs a checkpoint that covers its records. For a document logged since the last
//! one, the request wakes the checkpointer (at most one checkpoint per partition per
//! `limits::CHECKPOINT_ASKED_MS_MIN`) and waits for it, up to `limits::BUNDLE_WAIT_MS`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use projections::views::LogPoint;
use schemas::{Digest32, DocRef, Id16};
use serde::Deserialize;

use crate::app::lookup::resolve;
use crate::app::write::internal;
use crate::http::session::Citizen;
use crate::{AppError, AppState};
use wire::ErrorCode;
use wire::dto::{CheckpointDto, CheckpointsDto, ConsistencyDto, DocumentStatusDto};

async fn bundle_of(
    state: &AppState,
    locker: &schemas::LockerId,
    doc: &DocRef,
) -> Result<Response, AppError> {
    let resolved = resolve(state, locker, doc)?;
    let bundle = state.proofs.bundle(&state.views, resolved.origin).await?;
    let name = match doc {
        DocRef::Issued(uri) => uri.to_string(),
        DocRef::Uploaded(id) => id.to_hex(),
    };
    Ok(crate::http::answer::bundle_response(state, &bundle, &name))
}

/// `GET /v1/citizen/certificates/{uri}/bundle`
#[utoipa::path(get, path = "/v1/citizen/certificates/{uri}/bundle", tag = "citizen", security(("session" = [])), params(("uri" = String, Path, description = "The document URI", pattern = r"^[a-z](?:[a-z0-9]|\.[a-z]){2,31}-[A-Z0-9]{5}-[A-Za-z0-9._/-]{1,100}$")), description = "The document's proof bundle: its event, the key records back to the platform, inclusion proofs and signed checkpoints. `locker verify-bundle` checks it offline.", responses((status = 200, body = verifier::BundleDto), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_document`", body = crate::openapi::ErrorDto), (status = 503, description = "`not_yet_checkpointed`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn certificate_bundle(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(uri): Path<String>,
) -> Result<Response, AppError> {
    bundle_of(&state, &citizen.locker, &DocRef::Issued(crate::app::lookup::doc_uri(&uri)?)).await
}

/// `GET /v1/citizen/uploads/{id}/bundle`
#[utoipa::path(get, path = "/v1/citizen/uploads/{id}/bundle", tag = "citizen", security(("session" = [])), params(("id" = String, Path, description = "The upload id, 32 hex digits", pattern = r"^[0-9a-fA-F]{32}$")), responses((status = 200, body = verifier::BundleDto), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_document`", body = crate::openapi::ErrorDto), (status = 503, description = "`not_yet_checkpointed`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn upload_bundle(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = Id16::from_hex(&id)
        .map_err(|_| AppError::new(ErrorCode::InvalidUploadId, "an upload id is 32 hex digits"))?;
    bundle_of(&state, &citizen.locker, &DocRef::Uploaded(id)).await
}

/// `GET /v1/shared/{locker}/{share}/bundle`: a live share link's document, provable.
#[utoipa::path(get, path = "/v1/shared/{locker}/{share}/bundle", tag = "public", params(("locker" = String, Path, description = "The locker id (a UUID)", pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"), ("share" = String, Path, description = "The share id, 32 hex digits", pattern = r"^[0-9a-fA-F]{32}$"), crate::http::shares::VisitQuery), responses((status = 400, description = "`invalid_query`", body = crate::openapi::ErrorDto), (status = 200, body = verifier::BundleDto), (status = 404, description = "`unknown_share`", body = crate::openapi::ErrorDto), (status = 410, description = "`share_expired`, `share_revoked`", body = crate::openapi::ErrorDto), (status = 429, description = "`too_many_views`", body = crate::openapi::ErrorDto), (status = 503, description = "`not_yet_checkpointed`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn shared_bundle(
    State(state): State<AppState>,
    Path((locker, share)): Path<(String, String)>,
    query: Result<Query<crate::http::shares::VisitQuery>, axum::extract::rejection::QueryRejection>,
    extensions: axum::http::Extensions,
) -> Result<Response, AppError> {
    let visit = crate::http::shares::VisitQuery::of(query)?;
    let (resolved, _, _, _) =
        crate::http::shares::open_share(&state, &locker, &share, &extensions, visit.as_deref())
            .await?;
    let bundle = state.proofs.bundle(&state.views, resolved.origin).await?;
    Ok(crate::http::answer::bundle_response(&state, &bundle, &share))
}

/// `GET /v1/ledger/checkpoints`
#[utoipa::path(get, path = "/v1/ledger/checkpoints", tag = "public", description = "The latest signed checkpoint of every partition.", responses((status = 200, body = CheckpointsDto)))]
pub(crate) async fn checkpoints(State(state): State<AppState>) -> Json<CheckpointsDto> {
    let checkpoints = state
        .proofs
        .checkpoints()
        .into_iter()
        .map(|signed| {
            let note = String::from_utf8_lossy(&signed.to_note()).into_owned();
            let c = signed.checkpoint;
            CheckpointDto {
                topic: c.topic,
                partition: c.partition,
                size: c.size,
                root: c.root.to_hex(),
                at_ms: c.at_ms.0,
                note,
            }
        })
        .collect();
    Json(CheckpointsDto { ledger_key: verifier::hex_key(&state.proofs.ledger_key()), checkpoints })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsistencyQuery {
    topic: String,
    partition: u32,
    first: u64,
    second: u64,
}

/// `GET /v1/ledger/consistency`
#[utoipa::path(get, path = "/v1/ledger/consistency", tag = "public", params(ConsistencyQuery), description = "A consistency proof between two sizes of a partition's tree (RFC 9162 2.1.4), up to its latest checkpoint.", responses((status = 422, description = "`invalid_sizes`, `beyond_checkpoint`", body = crate::openapi::ErrorDto), (status = 200, body = ConsistencyDto), (status = 400, description = "`invalid_query`, `invalid_sizes`, `beyond_checkpoint`", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_partition`", body = crate::openapi::ErrorDto), (status = 503, description = "`not_yet_checkpointed`: the partition's tree is catching up with the log", body = crate::openapi::ErrorDto)))]
pub(crate) async fn consistency(
    State(state): State<AppState>,
    query: Result<Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ConsistencyDto>, AppError> {
    let Query(q) = query.map_err(|e| AppError::new(ErrorCode::InvalidQuery, e.body_text()))?;
    let proof = state.proofs.consistency(&q.topic, q.partition, q.first, q.second)?;
    Ok(Json(ConsistencyDto {
        topic: q.topic,
        partition: q.partition,
        first: q.first,
        second: q.second,
        proof: proof.iter().map(Digest32::to_hex).collect(),
    }))
}

fn revocation_reason(reason: schemas::RevocationReason) -> &'static str {
    match reason {
        schemas::RevocationReason::IssuedInError => "issued_in_error",
        schemas::RevocationReason::Superseded => "superseded",
        schemas::RevocationReason::Cancelled => "cancelled",
        schemas::RevocationReason::Fraud => "fraud",
        schemas::RevocationReason::Other => "other",
    }
}

/// `POST /v1/ledger/status`: what a proof bundle's document is now. A bundle proves that a
/// document was issued; whether it was revoked or updated since is a later event it cannot
/// hold, so a verifier asks. Holding the bundle is what entitles the asker to the answer.
#[utoipa::path(post, path = "/v1/ledger/status", tag = "public", request_body(content = verifier::BundleDto, description = "A proof bundle file, as the bundle endpoints give it"), description = "The current status of the document a proof bundle proves: the bundle is checked against the ledger key first.", responses((status = 200, body = DocumentStatusDto), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 422, description = "`invalid_bundle` (the file does not decode), `bundle_not_verified`: its proofs or signatures do not hold against this ledger's key", body = crate::openapi::ErrorDto), (status = 503, description = "`views_behind`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn document_status(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<DocumentStatusDto>, AppError> {
    let bundle = verifier::parse_bundle(&body)
        .map_err(|e| AppError::new(ErrorCode::InvalidBundle, e.to_string()))?;
    let proven = ledger::merkle::verify_bundle(&bundle, &state.proofs.ledger_key())
        .map_err(|e| AppError::new(ErrorCode::BundleNotVerified, e.to_string()))?;
    let now = state.clock.now();
    let not_yet = || {
        AppError::new(
            ErrorCode::ViewsBehind,
            "the views do not hold this document yet; ask again in a moment",
        )
    };
    let mut answer = DocumentStatusDto {
        status: "present".to_owned(),
        current: true,
        uri: None,
        upload_id: None,
        revoked_reason: None,
        valid_to: None,
        checked_at_ms: now.0,
    };
    let (recipient, uri) = match &proven.envelope.event.payload {
        schemas::Payload::DocumentIssued(e) => (&e.recipient, &e.uri),
        schemas::Payload::DocumentUpdated(e) => (&e.recipient, &e.uri),
        schemas::Payload::DocumentUploaded(e) => {
            answer.upload_id = Some(e.upload_id.to_hex());
            if state.views.upload(&e.locker, &e.upload_id)?.is_none() {
                answer.status = "deleted".to_owned();
                answer.current = false;
            }
            return Ok(Json(answer));
        }
        other => return Err(internal(format!("a bundle proved a {}", other.kind_name()))),
    };
    let owner = match recipient {
        schemas::Recipient::Locker(locker) => projections::views::Owner::Locker(*locker),
        schemas::Recipient::Aadhaar(aadhaar) => {
            projections::views::Owner::Aadhaar(aadhaar.keyed_hash)
        }
    };
    let doc = state.views.document(&owner, &uri.to_string())?.ok_or_else(not_yet)?;
    answer.uri = Some(uri.to_string());
    answer.status =
        crate::app::dto::status_name(projections::certificate_status(&doc, now)).to_owned();
    if let projections::views::DocStatus::Revoked(reason) = doc.status {
        answer.revoked_reason = Some(revocation_reason(reason).to_owned());
    }
    answer.valid_to = doc.valid_to.map(|d| d.to_string());
    let proved = LogPoint { partition: bundle.document.partition, offset: bundle.document.offset };
    answer.current = doc.origin == proved;
    Ok(Json(answer))
}
