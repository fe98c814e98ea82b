//! Linking an Aadhaar, proven as the real system proves it: the Aadhaar authority sends a
//! one-time password to the mobile number *it* holds for that Aadhaar, and answers the code
//! with the resident's e-KYC data, signed. Knowing someone's Aadhaar number is no longer
//! enough to take their documents (anyone could link any number before).
//!
//! `POST /v1/citizen/aadhaar/otp` asks the authority for a code (a transaction the service
//! remembers for the caller's locker); `POST /v1/citizen/aadhaar` sends the code back, checks
//! the authority's signature, and logs a platform-signed `AadhaarVerified` with the e-KYC data
//! sealed. If another locker holds the number (linked before links were proven, or by the
//! same resident from another account), a platform-signed `AadhaarUnlinked` takes it from
//! there first: its documents move with the proof.
//!
//! The authority sits behind [`KycProvider`]; [`HttpKyc`] speaks the `kyc::wire` protocol
//! (UIDAI's OTP and e-KYC API shape) to the reference authority or a real gateway.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kyc::KycError;
use kyc::wire::codes;
use schemas::*;

use crate::app::write::internal;
use crate::limits::AADHAAR_OTP_TTL_MS;
use crate::{AppError, AppState};
use ::wire::ErrorCode;

use crate::app::kyc::{
    Challenge, already_linked, kyc_error, kyc_profile, record_link, unavailable,
};
use wire::dto::{AadhaarBody, AadhaarLinkedDto, AadhaarOtpBody, AadhaarOtpSent};

/// Asks the Aadhaar authority to send a one-time password to the mobile it holds for the
/// Aadhaar (not one the caller names).
#[utoipa::path(post, path = "/v1/citizen/aadhaar/otp", tag = "citizen", security(("session" = [])), request_body = AadhaarOtpBody, responses((status = 202, body = AadhaarOtpSent), (status = 400, description = "`invalid_aadhaar`, malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 409, description = "`aadhaar_already_linked`", body = crate::openapi::ErrorDto), (status = 422, description = "`aadhaar_suspended`, `aadhaar_no_mobile`", body = crate::openapi::ErrorDto), (status = 429, description = "`rate_limited`", body = crate::openapi::ErrorDto), (status = 502, description = "`kyc_unavailable`", body = crate::openapi::ErrorDto), (status = 503, description = "`kyc_unavailable`: no authority configured", body = crate::openapi::ErrorDto)))]
pub(crate) async fn request_otp(
    State(state): State<AppState>,
    citizen: crate::http::session::Citizen,
    crate::http::body::JsonBody(body): crate::http::body::JsonBody<AadhaarOtpBody>,
) -> Result<Response, AppError> {
    let aadhaar = Aadhaar::parse(&body.aadhaar)
        .map_err(|e| AppError::new(ErrorCode::InvalidAadhaar, e.to_string()))?;
    let provider = state.kyc.clone().ok_or_else(unavailable)?;
    // The code's transaction is kept where the link will be written: the locker's owner
    // (in a cluster the request is forwarded there, before anything is asked of UIDAI).
    state.writes.owner_here(&schemas::PartitionKey::Locker(citizen.locker))?;
    let reference = ledger::crypto::aadhaar_ref(&state.platform_secret, &aadhaar);
    if let Some(profile) = state.views.profile(&citizen.locker)?
        && profile.aadhaar_hash.is_some_and(|linked| linked != reference.keyed_hash)
    {
        return Err(already_linked());
    }
    let now = state.clock.now().0;
    state.aadhaar_challenges.count_send(&citizen.locker, now).map_err(|seconds| {
        AppError::new(
            ErrorCode::RateLimited,
            format!("too many codes asked for; try again in {seconds} s"),
        )
    })?;
    let txn = schemas::to_hex(&state.accounts.random::<16>().map_err(internal)?);
    let sent_to = provider.send_otp(&aadhaar, &txn).await.map_err(kyc_error)?;
    let expires_ms = now + AADHAAR_OTP_TTL_MS;
    let challenge = Challenge::new(citizen.locker, aadhaar, expires_ms);
    state.aadhaar_challenges.remember(txn.clone(), challenge, now)?;
    let answer = AadhaarOtpSent { txn, sent_to, expires_at_ms: expires_ms };
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// Links the Aadhaar the code was sent for, once the authority's signed e-KYC answer checks
/// out; takes it from another locker that holds it.
#[utoipa::path(post, path = "/v1/citizen/aadhaar", tag = "citizen", security(("session" = [])), request_body = AadhaarBody, responses((status = 201, body = AadhaarLinkedDto), (status = 400, description = "`otp_not_requested`, malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "`invalid_token`, `invalid_otp`, `otp_expired`", body = crate::openapi::ErrorDto), (status = 409, description = "`aadhaar_already_linked`", body = crate::openapi::ErrorDto), (status = 502, description = "`kyc_unavailable`, `kyc_not_verified`", body = crate::openapi::ErrorDto), (status = 503, description = "`kyc_unavailable`: no authority configured", body = crate::openapi::ErrorDto)))]
pub(crate) async fn link(
    State(state): State<AppState>,
    citizen: crate::http::session::Citizen,
    crate::http::body::JsonBody(body): crate::http::body::JsonBody<AadhaarBody>,
) -> Result<Response, AppError> {
    let provider = state.kyc.clone().ok_or_else(unavailable)?;
    // Before the code is used up: the owner holds the transaction and writes the link.
    state.writes.owner_here(&schemas::PartitionKey::Locker(citizen.locker))?;
    let now = state.clock.now().0;
    let aadhaar =
        state.aadhaar_challenges.find(&body.txn, &citizen.locker, now).ok_or_else(|| {
            AppError::new(
                ErrorCode::OtpNotRequested,
                "no live code for this transaction; ask for one first",
            )
        })?;
    let proven = match provider.ekyc(&aadhaar, &body.txn, &body.otp).await {
        Ok(proven) => proven,
        Err(KycError::Refused { code }) if code == codes::INVALID_OTP => {
            return Err(kyc_error(KycError::Refused { code }));
        }
        Err(e) => {
            // The authority's transaction is over (used up, expired, forged): so is ours.
            state.aadhaar_challenges.end(&body.txn);
            return Err(kyc_error(e));
        }
    };
    state.aadhaar_challenges.end(&body.txn);
    let profile = kyc_profile(&proven.answer)?;
    let reference = ledger::crypto::aadhaar_ref(&state.platform_secret, &aadhaar);
    let reclaimed = record_link(&state, citizen.locker, &reference, &proven, &profile).await?;
    let answer = AadhaarLinkedDto {
        aadhaar_last4: reference.last4.to_string(),
        reclaimed,
        kyc: crate::app::dto::kyc_from_profile(&profile, TimestampMs(now)),
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}
