//! Operators: registering issuers and requesters, rotating and revoking their keys,
//! suspending and reinstating them. Each is an event signed with the platform key; the
//! `locker admin` command signs it where the key is kept and POSTs it to
//! `/v1/admin/events`, which accepts only directory events signed by the platform (the
//! ledger checks the signature against the platform key the log was started with).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use schemas::*;
use serde::Deserialize;

use crate::app::error::ledger_error;
use crate::{AppError, AppState};
use wire::ErrorCode;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminBody {
    /// The signed directory event in its JSON form (`sealed` null)
    #[schema(schema_with = crate::openapi::event::directory_envelope)]
    envelope: Envelope,
}

/// `POST /v1/admin/snapshots`: an RFC 9421 request signed with the platform key (keyid
/// `platform:<key id>`) makes the node snapshot its views and key registry now.
#[utoipa::path(post, path = "/v1/admin/snapshots", tag = "operator", description = "Snapshots this node's views and key registry into the object store now. Sign the request (RFC 9421, Ed25519) with the platform key, keyid `platform:<key id>`.", responses((status = 201, description = "Taken", body = wire::dto::SnapshotTaken), (status = 401, description = "`missing_signature`, `bad_signature`, `unknown_key`, `replayed_signature`", body = crate::openapi::ErrorDto), (status = 503, description = "`unavailable`: this deployment takes no snapshots", body = crate::openapi::ErrorDto)))]
pub(crate) async fn take_snapshot(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, AppError> {
    // Nothing is taken, and nothing said about snapshots, before the platform's signature passes.
    crate::http::signed::authenticate_as(&state, request, |who| match who {
        "platform" => Ok(Principal::Platform),
        other => Err(format!("only the platform takes snapshots, not {other:?}")),
    })
    .await?;
    let snapshots = state.snapshots.as_ref().ok_or_else(|| {
        AppError::new(ErrorCode::Unavailable, "this deployment takes no snapshots")
    })?;
    // Its own task: a client that hangs up does not stop a snapshot half-way through.
    let taking = Arc::clone(snapshots);
    let manifest = tokio::spawn(async move { taking.take().await })
        .await
        .map_err(crate::app::write::internal)?
        .map_err(crate::app::write::internal)?;
    let answer = wire::dto::SnapshotTaken {
        id: manifest.id.clone(),
        created_ms: manifest.created_ms,
        files: manifest.views.len() + 1,
        size_bytes: manifest.size_bytes(),
        stored_bytes: manifest.stored_bytes(),
        marks: manifest
            .marks
            .iter()
            .map(|m| format!("{}/{}@{}", m.topic, m.partition, m.next))
            .collect(),
    };
    Ok((axum::http::StatusCode::CREATED, axum::Json(answer)).into_response())
}

/// `POST /v1/admin/events`: `{envelope}` of a directory event signed by the platform.
#[utoipa::path(post, path = "/v1/admin/events", tag = "operator", request_body(content = AdminBody, description = "A directory event signed with the platform key"), responses((status = 422, description = "`invalid_event` (not a directory event), `stale_event` (its time is more than 5 minutes from the server's)", body = crate::openapi::ErrorDto), (status = 201, description = "Accepted", body = wire::dto::Accepted), (status = 200, description = "Already present", body = wire::dto::Accepted), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "`bad_signature`, `unknown_key`", body = crate::openapi::ErrorDto), (status = 403, description = "`not_permitted`", body = crate::openapi::ErrorDto), (status = 409, description = "`already_registered`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn submit_event(
    State(state): State<AppState>,
    crate::http::body::JsonBody(body): crate::http::body::JsonBody<AdminBody>,
) -> Result<Response, AppError> {
    let AdminBody { envelope } = body;
    if envelope.event.actor != Actor::Platform {
        return Err(AppError::new(
            ErrorCode::NotPermitted,
            "only the platform's key signs directory changes",
        ));
    }
    if envelope.event.payload.partition_key() != PartitionKey::Directory {
        return Err(AppError::new(
            ErrorCode::InvalidEvent,
            format!("{} is not a directory event", envelope.event.payload.kind_name()),
        ));
    }
    if envelope.sealed.is_some() {
        return Err(AppError::new(ErrorCode::InvalidEvent, "directory events seal nothing"));
    }
    crate::app::issuance::check_window(&state, &envelope.event)?;
    // Directory events have no citizen views to wait for.
    let answer = crate::app::write::submit(&state, &envelope, false, ledger_error).await?;
    Ok(crate::http::answer::accepted(answer))
}
