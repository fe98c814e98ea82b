//! Sign-up: a mobile number proven by a one-time password, then a username and a password.
//! The platform signs `CitizenRegistered` (the mobile number sealed under the new citizen's
//! key); the citizen's signing key is created here and kept in the vault (custodial), for the
//! consents, shares and e-signatures they make later.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ed25519_dalek::SigningKey;
use ledger::Appended;
use ledger::crypto::{key_id_of, mobile_ref, public_key_entry, seal_personal, sign_event};
use schemas::*;

use crate::store::accounts::{OtpError, check_password};
use crate::{AppError, AppState};
use wire::ErrorCode;
use wire::dto::{OtpBody, OtpSent, SignedUp, SignupBody};

fn internal(e: impl std::fmt::Debug) -> AppError {
    AppError::new(ErrorCode::Internal, format!("{e:?}"))
}

fn mobile_of(text: &str) -> Result<MobileNumber, AppError> {
    MobileNumber::parse(text).map_err(|e| AppError::new(ErrorCode::InvalidMobile, e.to_string()))
}

fn otp_error(e: OtpError) -> AppError {
    match e {
        OtpError::RateLimited { retry_after_ms } => AppError::new(
            ErrorCode::RateLimited,
            format!(
                "too many codes for this number; try again in {} s",
                (retry_after_ms + 999) / 1000
            ),
        ),
        OtpError::NoChallenge => {
            AppError::new(ErrorCode::OtpNotRequested, "request a code for this number first")
        }
        OtpError::Expired => {
            AppError::new(ErrorCode::OtpExpired, "the code expired; request a new one")
        }
        OtpError::Invalid => AppError::new(ErrorCode::InvalidOtp, "wrong code"),
        OtpError::TooManyAttempts => {
            AppError::new(ErrorCode::OtpLocked, "too many wrong codes; request a new one")
        }
        OtpError::Store(e) => internal(e),
    }
}

/// Where a number's sign-up codes are counted (`WriteGuard::owner_here_for`).
fn code_key(reference: &schemas::Digest32) -> Vec<u8> {
    [b"codes:".as_slice(), reference.as_bytes()].concat()
}

#[utoipa::path(post, path = "/v1/citizen/signup/otp", tag = "citizen", request_body = OtpBody, responses((status = 202, body = OtpSent), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 429, description = "`otp_rate_limited`", body = crate::openapi::ErrorDto), (status = 502, description = "`otp_delivery_failed`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn request_otp(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    crate::http::body::JsonBody(body): crate::http::body::JsonBody<OtpBody>,
) -> Result<Response, AppError> {
    let mobile = mobile_of(&body.mobile)?;
    // A number's codes are sent and checked on one node of a cluster.
    state.writes.owner_here_for(&code_key(&mobile_ref(&state.platform_secret, &mobile)))?;
    let source = crate::http::session::source_of(&extensions);
    state.otp_limits.take(&source, state.clock.now()).map_err(|seconds| {
        AppError::new(
            ErrorCode::RateLimited,
            format!("too many codes asked for from here; try again in {seconds} s"),
        )
    })?;
    let reference = mobile_ref(&state.platform_secret, &mobile);
    let (code, expires) = state
        .accounts
        .start_otp(&reference, &state.platform_secret, state.clock.now())
        .map_err(otp_error)?;
    state.otp.send(&mobile, &code).await.map_err(|e| {
        AppError::new(ErrorCode::OtpDeliveryFailed, format!("the code could not be sent: {e}"))
    })?;
    Ok((StatusCode::ACCEPTED, Json(OtpSent { sent_to: mobile.masked(), expires_at_ms: expires.0 }))
        .into_response())
}

#[utoipa::path(post, path = "/v1/citizen/signup", tag = "citizen", request_body = SignupBody, responses((status = 201, body = SignedUp), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "`invalid_otp`", body = crate::openapi::ErrorDto), (status = 409, description = "`username_taken`, `mobile_registered`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn sign_up(
    State(state): State<AppState>,
    crate::http::body::JsonBody(body): crate::http::body::JsonBody<SignupBody>,
) -> Result<Response, AppError> {
    let mobile = mobile_of(&body.mobile)?;
    let username = Username::parse(&body.username)
        .map_err(|e| AppError::new(ErrorCode::InvalidUsername, e.to_string()))?;
    check_password(&body.password).map_err(|e| AppError::new(ErrorCode::WeakPassword, e))?;
    let reference = mobile_ref(&state.platform_secret, &mobile);
    state.writes.owner_here_for(&code_key(&reference))?;
    let now = state.clock.now();
    // The code first: whether a number has a locker, or a username is taken, is told only to
    // whoever proved they hold that number. A right code stays usable until the sign-up
    // succeeds, so a taken username can be changed and sent again.
    state
        .accounts
        .check_otp(&reference, &state.platform_secret, &body.otp, now)
        .map_err(otp_error)?;
    // One sign-up at a time: the username and mobile checks and the append must not interleave.
    let _serialised = state.signup_lock.lock().await;
    if state.accounts.username_taken(username.as_str()).map_err(internal)? {
        return Err(AppError::new(ErrorCode::UsernameTaken, format!("{username} is taken")));
    }
    if state.accounts.mobile_locker(&reference).map_err(internal)?.is_some() {
        return Err(AppError::new(
            ErrorCode::MobileRegistered,
            "this number already has a locker; log in",
        ));
    }
    let locker = owned_locker_id(&state)?;
    // The username is taken for this locker before anything is written (across a cluster, the
    // shared store creates it once), and given back if the sign-up fails.
    let password_hash = hash_new_password(&state, &body.password).await?;
    if !state.accounts.create_user(username.as_str(), locker, password_hash).map_err(internal)? {
        return Err(AppError::new(ErrorCode::UsernameTaken, format!("{username} is taken")));
    }
    // The number likewise: two sign-ups with one code on two nodes get one locker.
    if !state.accounts.claim_mobile(&reference, locker).map_err(internal)? {
        let _ = state.accounts.remove_user(username.as_str());
        return Err(AppError::new(
            ErrorCode::MobileRegistered,
            "this number already has a locker; log in",
        ));
    }
    let id = EventId(state.accounts.random().map_err(internal)?);
    let registered = register(&state, id, &reference, &username, locker, mobile, now).await;
    if let Err(e) = registered {
        // Given back only if the registration is surely not in the log (an append whose
        // outcome is unknown may have landed).
        if state.writes.is_logged(&id).await.unwrap_or(true) {
            tracing::warn!("a sign-up failed after its registration may have been logged");
        } else if let Err(undo) = state
            .accounts
            .remove_user(username.as_str())
            .and_then(|()| state.accounts.release_mobile(&reference))
        {
            tracing::error!(error = ?undo, "a failed sign-up's username stays taken");
        }
        return Err(e);
    }
    let (token, expires) = state.accounts.open_session(locker, now).map_err(internal)?;
    let answer = SignedUp { locker: locker.to_string(), token, expires_at_ms: expires.0 };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// A new locker id in a partition this node appends to (alone: any; in a cluster: one of
/// the node's own, so a sign-up never has to be forwarded).
fn owned_locker_id(state: &AppState) -> Result<LockerId, AppError> {
    for _ in 0..crate::limits::SIGNUP_LOCKER_TRIES {
        let locker = LockerId::from_random_bytes(state.accounts.random().map_err(internal)?);
        if state.writes.owns(&schemas::PartitionKey::Locker(locker)) {
            return Ok(locker);
        }
    }
    // Owning nothing now (starting, or between rebalances): the client retries.
    Err(AppError::new(ErrorCode::NotOwner, "this node owns no partition yet"))
}

/// argon2 on the blocking pool, never on the async workers, one core left free.
async fn hash_new_password(state: &AppState, password: &str) -> Result<String, AppError> {
    let _turn =
        state.accounts.hashing_turn().await.ok_or_else(crate::http::session::hashing_busy)?;
    let accounts = std::sync::Arc::clone(&state.accounts);
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || accounts.hash_new(&password))
        .await
        .map_err(internal)?
        .map_err(internal)
}

/// The locker's registration in the log and the mobile number's binding.
async fn register(
    state: &AppState,
    id: EventId,
    reference: &schemas::Digest32,
    username: &Username,
    locker: LockerId,
    mobile: MobileNumber,
    now: schemas::TimestampMs,
) -> Result<(), AppError> {
    state.accounts.use_otp(reference).map_err(otp_error)?;
    let citizen_key = SigningKey::from_bytes(&state.accounts.random().map_err(internal)?);
    state.vault.store_signing_key(&locker, &citizen_key).map_err(internal)?;
    let subject = SealSubject::Locker(locker);
    let seal_key = state.vault.key_for(&subject).map_err(internal)?;
    let salt = state.accounts.random().map_err(internal)?;
    let (personal, sealed) =
        seal_personal(&seal_key, subject, state.nonces.next(), salt, &PersonalData::Mobile(mobile))
            .map_err(crate::app::error::ledger_error)?;
    let event = Event {
        id,
        occurred_at_ms: now,
        actor: Actor::Platform,
        key_id: key_id_of(&state.platform.verifying_key()),
        payload: Payload::CitizenRegistered(CitizenRegistered {
            locker,
            username: username.clone(),
            mobile_ref: *reference,
            key: public_key_entry(&citizen_key.verifying_key()),
            personal,
        }),
    };
    let envelope = sign_event(event, &state.platform, Some(sealed))
        .map_err(crate::app::error::ledger_error)?;
    let record = encode_record(&envelope).map_err(|e| crate::app::error::ledger_error(e.into()))?;
    match state.appender.append_record(record).await.map_err(crate::app::error::ledger_error)? {
        Appended::New(_) => {}
        Appended::Existing(_) => {
            return Err(internal("a fresh registration was already in the log"));
        }
    }
    Ok(())
}
