//! The citizen's rights over their data: take everything along (the export) and keep what
//! they agreed to (the signed consent artefact). Closing the locker is in `citizen.rs`, beside
//! the other steps that check the password again.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use schemas::Id16;

use crate::http::session::Citizen;
use crate::{AppError, AppState};
use wire::ErrorCode;

/// `GET /v1/citizen/export`: a zip of everything in the locker, streamed.
#[utoipa::path(get, path = "/v1/citizen/export", tag = "citizen", security(("session" = [])), description = "Everything in the locker as one zip, streamed: every document and upload with its proof bundle, the profile, consents (with their terms), share links and activity as JSON, and `manifest.json` naming every file with its BLAKE3.", responses((status = 200, description = "The zip", content_type = "application/zip"), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 410, description = "`locker_closed`", body = crate::openapi::ErrorDto), (status = 503, description = "`busy`: as many exports as the service makes at once are under way", body = crate::openapi::ErrorDto)))]
pub(crate) async fn export(
    State(state): State<AppState>,
    citizen: Citizen,
) -> Result<Response, AppError> {
    if state.views.profile(&citizen.locker)?.is_none() {
        return Err(AppError::new(ErrorCode::LockerClosed, "the locker is closed"));
    }
    let permit = std::sync::Arc::clone(&state.exports).try_acquire_owned().map_err(|_| {
        AppError::new(
            ErrorCode::Busy,
            "as many exports as the service makes at once are under way; retry in a minute",
        )
    })?;
    let day = chrono::DateTime::from_timestamp_millis(state.clock.now().0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let stream = crate::app::export::zip_stream(state, citizen.locker, permit);
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"locker-export-{day}.zip\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `GET /v1/citizen/consents/{id}/artefact`: the consent artefact, signed.
#[utoipa::path(get, path = "/v1/citizen/consents/{id}/artefact", tag = "citizen", security(("session" = [])), params(("id" = String, Path, description = "The consent id, 32 hex digits", pattern = r"^[0-9a-fA-F]{32}$")), description = "The consent as an Account Aggregator-style consent artefact, signed by the platform: `signature` is a compact JWS (EdDSA, RFC 8037) whose payload is `consent_artefact`; `signer.jwk` is the platform's public key.", responses((status = 200, description = "`{consent_artefact, signature, signer}`"), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_consent`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn artefact(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = Id16::from_hex(&id)
        .map_err(|_| AppError::new(ErrorCode::InvalidConsentId, "a consent id is 32 hex digits"))?;
    let now = state.clock.now();
    let consent = state.views.consent(&citizen.locker, &id, now)?.ok_or_else(|| {
        AppError::not_found(format!("no consent {id} in your locker"))
            .with_code(ErrorCode::UnknownConsent)
    })?;
    let signed =
        crate::app::artefact::signed(&state, crate::app::artefact::artefact(&consent, now))?;
    let body = serde_json::to_vec_pretty(&signed).map_err(crate::app::write::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"consent-{}.artefact.json\"", id.to_hex()),
            ),
        ],
        body,
    )
        .into_response())
}
