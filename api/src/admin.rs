//! Operators: registering issuers and requesters, rotating and revoking their keys,
//! suspending and reinstating them. Each is an event signed with the platform key; the
//! `locker admin` command signs it where the key is kept and POSTs it to
//! `/v1/admin/events`, which accepts only directory events signed by the platform (the
//! ledger checks the signature against the platform key the log was started with).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ed25519_dalek::SigningKey;
use ledger::crypto::{key_id_of, sign_event};
use schemas::*;
use serde::Deserialize;

use crate::push::ledger_error;
use crate::{ApiError, AppState};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminBody {
    /// The signed directory event in its JSON form (`sealed` null)
    #[schema(schema_with = crate::openapi::event::directory_envelope)]
    envelope: Envelope,
}

/// `POST /v1/admin/events`: `{envelope}` of a directory event signed by the platform.
#[utoipa::path(post, path = "/v1/admin/events", tag = "operator", request_body(content = AdminBody, description = "A directory event signed with the platform key"), responses((status = 422, description = "`invalid_event` (not a directory event), `stale_event` (its time is more than 5 minutes from the server's)", body = crate::openapi::ErrorDto), (status = 201, description = "Accepted", body = crate::write::Accepted), (status = 200, description = "Already present", body = crate::write::Accepted), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "`bad_signature`, `unknown_key`", body = crate::openapi::ErrorDto), (status = 403, description = "`not_permitted`", body = crate::openapi::ErrorDto), (status = 409, description = "`already_registered`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn submit_event(
    State(state): State<AppState>,
    crate::body::JsonBody(body): crate::body::JsonBody<AdminBody>,
) -> Result<Response, ApiError> {
    let AdminBody { envelope } = body;
    if envelope.event.actor != Actor::Platform {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_permitted",
            "only the platform's key signs directory changes",
        ));
    }
    if envelope.event.payload.partition_key() != PartitionKey::Directory {
        return Err(ApiError::unprocessable(
            "invalid_event",
            format!("{} is not a directory event", envelope.event.payload.kind_name()),
        ));
    }
    if envelope.sealed.is_some() {
        return Err(ApiError::unprocessable("invalid_event", "directory events seal nothing"));
    }
    crate::push::check_window(&state, &envelope.event)?;
    // Directory events have no citizen views to wait for.
    let (status, answer) = crate::write::submit(&state, &envelope, false, ledger_error).await?;
    Ok((status, Json(answer)).into_response())
}

/// Signs a directory `payload` as the platform, with a fresh random id.
pub fn platform_envelope(
    platform: &SigningKey,
    payload: Payload,
    now: TimestampMs,
) -> Result<Envelope, String> {
    let mut id = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
    let event = Event {
        id: EventId(id),
        occurred_at_ms: now,
        actor: Actor::Platform,
        key_id: key_id_of(&platform.verifying_key()),
        payload,
    };
    sign_event(event, platform, None).map_err(|e| e.to_string())
}

/// Parses a public key given in hex (as `locker keys generate` prints it).
pub fn public_key(hex_text: &str) -> Result<PublicKeyEntry, String> {
    let bytes =
        PublicKeyBytes::from_hex(hex_text.trim()).map_err(|e| format!("public key: {e}"))?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(bytes.as_bytes())
        .map_err(|e| format!("public key: {e}"))?;
    Ok(ledger::crypto::public_key_entry(&key))
}

/// Submits a platform-signed directory event to the service.
pub async fn submit(
    server: &str,
    platform: &SigningKey,
    payload: Payload,
    now: TimestampMs,
) -> Result<(u16, String), String> {
    let url = crate::client::JsonClient::parse_url(&format!(
        "{}/v1/admin/events",
        server.trim_end_matches('/')
    ))?;
    let envelope = platform_envelope(platform, payload, now)?;
    let body = serde_json::json!({ "envelope": envelope }).to_string();
    crate::client::JsonClient::new(std::time::Duration::from_secs(30)).post(&url, body).await
}
