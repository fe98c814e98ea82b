//! The citizen's own locker over HTTP: login and logout, then My Profile, My Certificates
//! (issued and uploaded, storage), My Issuer, My Requester, consents and activity. Every
//! read is keyed by the session's locker, so a citizen cannot name another's.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use projections::views::{Accessor, ConsentState};
use schemas::PartitionKey;
use schemas::{DocRef, LockerId};
use serde::{Deserialize, Serialize};

use crate::app::dto::state_name;
use crate::app::dto::status_name;
use crate::http::list::{ListQuery, list_query};
use crate::http::session::Citizen;
use crate::http::session::hashing_busy;
use crate::http::session::source_of;
use crate::store::accounts::LoginError;
use crate::{AppError, AppState};
use wire::ErrorCode;
use wire::dto::KycDto;
use wire::dto::{
    CertificateDto, ListDto, LoginBody, MyIssuerDto, MyRequesterDto, SessionDto, SessionKind,
    StorageDto,
};

#[utoipa::path(post, path = "/v1/citizen/login", tag = "citizen", request_body = LoginBody, responses((status = 200, body = SessionDto), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "`invalid_credentials`", body = crate::openapi::ErrorDto), (status = 423, description = "`locked_out`", body = crate::openapi::ErrorDto), (status = 429, description = "`too_many_attempts`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn login(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
    crate::http::body::JsonBody(body): crate::http::body::JsonBody<LoginBody>,
) -> Result<Response, AppError> {
    // A username's guesses are counted on one node of a cluster.
    state.writes.owner_here_for(&guesses_key(&body.username))?;
    let now = state.clock.now();
    let source = source_of(&extensions);
    let _turn = state.accounts.hashing_turn().await.ok_or_else(hashing_busy)?;
    let accounts = std::sync::Arc::clone(&state.accounts);
    let username = body.username.clone();
    let password = body.password.clone();
    // argon2 takes tens of milliseconds of CPU: on the blocking pool, never on the async
    // workers that serve everyone else.
    let checked = tokio::task::spawn_blocking(move || {
        accounts.login_from(&username, &password, &source, now)
    })
    .await
    .map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?;
    let (token, expires) = checked.map_err(login_error)?;
    let locker = state
        .accounts
        .session(&token, now)
        .ok()
        .flatten()
        .map(|l| l.to_string())
        .unwrap_or_default();
    session_answer(&token, expires, locker, body.session, now, &headers)
}

/// Where a username's password guesses are counted (`WriteGuard::owner_here_for`).
fn guesses_key(username: &str) -> Vec<u8> {
    format!("guesses:{username}").into_bytes()
}

fn session_answer(
    token: &str,
    expires: schemas::TimestampMs,
    locker: String,
    kind: SessionKind,
    now: schemas::TimestampMs,
    headers: &axum::http::HeaderMap,
) -> Result<Response, AppError> {
    if kind == SessionKind::Cookie {
        let dto = SessionDto {
            token: None,
            csrf_token: Some(crate::http::session::csrf_token(token)),
            expires_at_ms: expires.0,
            locker,
        };
        let max_age_s = (expires.0 - now.0).max(0) / 1000;
        let cookie = crate::http::session::session_cookie(
            token,
            max_age_s,
            crate::http::session::over_tls(headers),
        );
        return Ok(([(axum::http::header::SET_COOKIE, cookie)], Json(dto)).into_response());
    }
    let dto = SessionDto {
        token: Some(token.to_owned()),
        csrf_token: None,
        expires_at_ms: expires.0,
        locker,
    };
    Ok(Json(dto).into_response())
}

fn login_error(e: LoginError) -> AppError {
    match e {
        LoginError::InvalidCredentials => {
            AppError::new(ErrorCode::InvalidCredentials, "wrong username or password")
        }
        LoginError::LockedOut { until } => AppError::new(
            ErrorCode::LockedOut,
            format!(
                "too many failed attempts from this address; try again after {} (unix ms)",
                until.0
            ),
        ),
        LoginError::TooManyAttempts => AppError::new(
            ErrorCode::TooManyAttempts,
            "as many guesses as this address may make are being checked; wait for them",
        ),
        LoginError::Store(e) => AppError::new(ErrorCode::Internal, e),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordBody {
    current_password: String,
    /// 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    new_password: String,
    #[serde(default)]
    session: SessionKind,
}

/// Changes the password: the current one is checked (and counted like a login), every
/// session of the locker ends, and a new one is opened for the caller.
#[utoipa::path(post, path = "/v1/citizen/password", tag = "citizen", security(("session" = [])), request_body = PasswordBody, responses((status = 200, body = SessionDto), (status = 400, description = "`weak_password`, malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "`invalid_token`, `invalid_credentials`", body = crate::openapi::ErrorDto), (status = 423, description = "`locked_out`", body = crate::openapi::ErrorDto), (status = 429, description = "`too_many_attempts`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
    citizen: Citizen,
    crate::http::body::JsonBody(body): crate::http::body::JsonBody<PasswordBody>,
) -> Result<Response, AppError> {
    crate::store::accounts::check_password(&body.new_password)
        .map_err(|e| AppError::new(ErrorCode::WeakPassword, e))?;
    let username = state
        .views
        .profile(&citizen.locker)?
        .ok_or_else(|| AppError::not_found("the locker is not in the views yet"))?
        .username;
    state.writes.owner_here_for(&guesses_key(&username))?;
    let now = state.clock.now();
    let source = source_of(&extensions);
    let _turn = state.accounts.hashing_turn().await.ok_or_else(hashing_busy)?;
    let accounts = std::sync::Arc::clone(&state.accounts);
    let (current, new) = (body.current_password, body.new_password);
    let changed = tokio::task::spawn_blocking(move || {
        let locker = accounts.change_password(&username, &current, &new, &source, now)?;
        accounts.open_session(locker, now)
    })
    .await
    .map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?;
    let (token, expires) = changed.map_err(login_error)?;
    session_answer(&token, expires, citizen.locker.to_string(), body.session, now, &headers)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CloseBody {
    /// The citizen's password, entered again.
    password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ClosedDto {
    locker: String,
    closed_at_ms: i64,
    /// Consents that were live and ended (each requester's event stream says so).
    consents_ended: usize,
}

/// Closes the caller's locker for good, after checking the password again (counted like a
/// login): live consents end, the locker's sealing keys are destroyed, the views, the
/// account and the sessions drop it. Every signature in the log still verifies.
#[utoipa::path(post, path = "/v1/citizen/close", tag = "citizen", security(("session" = [])), request_body = CloseBody, responses((status = 200, body = ClosedDto), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "`invalid_token`, `invalid_credentials`", body = crate::openapi::ErrorDto), (status = 410, description = "`locker_closed`", body = crate::openapi::ErrorDto), (status = 423, description = "`locked_out`", body = crate::openapi::ErrorDto), (status = 429, description = "`too_many_attempts`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn close_locker(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
    citizen: Citizen,
    crate::http::body::JsonBody(body): crate::http::body::JsonBody<CloseBody>,
) -> Result<Response, AppError> {
    let Some(profile) = state.views.profile(&citizen.locker)? else {
        // Closed already: a closing cut short (an error, a crash) is finished now.
        crate::app::closing::finish_pending(&state).await?;
        return Err(AppError::new(ErrorCode::LockerClosed, "the locker is closed"));
    };
    let username = profile.username;
    // On the locker's owner, which appends the closing: its guesses are counted there (a
    // session is needed to make any, so they add little to a login's budget).
    state.writes.owner_here(&PartitionKey::Locker(citizen.locker))?;
    let now = state.clock.now();
    let source = source_of(&extensions);
    let checked = {
        let _turn = state.accounts.hashing_turn().await.ok_or_else(hashing_busy)?;
        let accounts = std::sync::Arc::clone(&state.accounts);
        let name = username.clone();
        tokio::task::spawn_blocking(move || {
            accounts.check_credentials(&name, &body.password, &source, now)
        })
        .await
        .map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?
        .map_err(login_error)?
    };
    if checked != citizen.locker {
        return Err(login_error(LoginError::InvalidCredentials));
    }
    let closed = crate::app::closing::close(&state, citizen.locker, &username).await?;
    let dto = ClosedDto {
        locker: citizen.locker.to_string(),
        closed_at_ms: closed.at.0,
        consents_ended: closed.consents_ended,
    };
    let cookie =
        crate::http::session::session_cookie("", 0, crate::http::session::over_tls(&headers));
    Ok(([(axum::http::header::SET_COOKIE, cookie)], Json(dto)).into_response())
}

/// Ends every session of the caller's locker, this one included (a lost phone, a shared
/// computer).
#[utoipa::path(post, path = "/v1/citizen/logout-everywhere", tag = "citizen", security(("session" = [])), responses((status = 204, description = "Every session ended"), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto)))]
pub(crate) async fn logout_everywhere(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    citizen: Citizen,
) -> Result<Response, AppError> {
    logged_out(state.accounts.logout_everywhere(&citizen.locker), &headers)
}

#[utoipa::path(post, path = "/v1/citizen/logout", tag = "citizen", security(("session" = [])), responses((status = 204, description = "Logged out"), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto)))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    citizen: Citizen,
) -> Result<Response, AppError> {
    logged_out(citizen.log_out(&state.accounts), &headers)
}

/// 204 with the session cookie cleared, once the sessions are ended.
fn logged_out(
    ended: Result<(), LoginError>,
    headers: &axum::http::HeaderMap,
) -> Result<Response, AppError> {
    ended.map_err(|e| AppError::new(ErrorCode::Internal, format!("{e:?}")))?;
    let cookie =
        crate::http::session::session_cookie("", 0, crate::http::session::over_tls(headers));
    Ok((StatusCode::NO_CONTENT, [(axum::http::header::SET_COOKIE, cookie)]).into_response())
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct WebSessionDto {
    locker: String,
    csrf_token: String,
}

/// The web page asks whether its cookie still holds a session (it cannot read the cookie).
#[utoipa::path(get, path = "/v1/citizen/session", tag = "citizen", security(("session" = [])), responses((status = 200, body = WebSessionDto), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto)))]
pub(crate) async fn session(citizen: Citizen) -> Json<WebSessionDto> {
    Json(WebSessionDto { locker: citizen.locker.to_string(), csrf_token: citizen.csrf_token() })
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ProfileDto {
    locker: String,
    username: String,
    mobile: Option<String>,
    aadhaar_linked: bool,
    aadhaar_last4: Option<String>,
    name: Option<String>,
    date_of_birth: Option<String>,
    email: Option<String>,
    /// The linked Aadhaar's data as available in the UIDAI database (its e-KYC answer).
    kyc: Option<KycDto>,
}

#[utoipa::path(get, path = "/v1/citizen/profile", tag = "citizen", security(("session" = [])), responses((status = 200, body = ProfileDto), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto)))]
pub(crate) async fn profile(
    State(state): State<AppState>,
    citizen: Citizen,
) -> Result<Response, AppError> {
    let profile = state
        .views
        .profile(&citizen.locker)?
        .ok_or_else(|| AppError::not_found("the locker is not in the views yet"))?;
    Ok(Json(ProfileDto {
        locker: profile.locker.to_string(),
        username: profile.username,
        mobile: profile.mobile_masked,
        aadhaar_linked: profile.aadhaar_hash.is_some(),
        aadhaar_last4: profile.aadhaar_last4,
        name: profile.full_name,
        date_of_birth: profile.date_of_birth.map(|d| d.to_string()),
        email: profile.email,
        kyc: profile.kyc.map(crate::app::dto::kyc_from_view),
    })
    .into_response())
}

/// The positions a locker's My Certificates depends on (see `cache`).
fn certificates_stamp(state: &AppState, locker: &LockerId) -> Result<Vec<u64>, AppError> {
    let config = state.writes.config();
    let partition = |key: schemas::PartitionKey| {
        ledger::partition::partition_for(&key.to_key_bytes(), config.citizen_partitions)
    };
    let mut stamp = vec![
        state.views.position(&config.directory_topic, 0)?,
        state
            .views
            .position(&config.citizen_topic, partition(schemas::PartitionKey::Locker(*locker)))?,
    ];
    if let Some(hash) = state.views.profile(locker)?.and_then(|p| p.aadhaar_hash) {
        let aadhaar = partition(schemas::PartitionKey::Aadhaar(hash));
        stamp.push(state.views.position(&config.citizen_topic, aadhaar)?);
    }
    Ok(stamp)
}

/// My Certificates, served from the page cache while the log has not moved under it.
#[utoipa::path(get, path = "/v1/citizen/certificates", tag = "citizen", security(("session" = [])), params(ListQuery), description = "My Certificates (issued). Revalidate with `If-None-Match` and the `ETag`.", responses((status = 422, description = "`invalid_cursor`: a cursor of another list", body = crate::openapi::ErrorDto), (status = 200, body = ListDto<CertificateDto>), (status = 304, description = "Unchanged since the ETag"), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto)))]
pub(crate) async fn certificates(
    State(state): State<AppState>,
    citizen: Citizen,
    headers: axum::http::HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let query = list_query(query)?;
    let now = state.clock.now();
    let key = crate::store::cache::PageKey {
        locker: citizen.locker,
        cursor: query.cursor.clone(),
        limit: query.limit()?,
        day: now.0.div_euclid(schemas::limits::DAY_MS),
    };
    let stamp = certificates_stamp(&state, &citizen.locker)?;
    let page = match state.pages.get(&key, &stamp) {
        Some(page) => page,
        None => {
            let body = serde_json::to_vec(&render_certificates(&state, &citizen, &query, now)?)
                .map_err(crate::app::write::internal)?;
            let page = crate::store::cache::Page {
                body: body.into(),
                etag: crate::store::cache::etag(&key, &stamp),
            };
            state.pages.put(key, stamp, page.clone());
            page
        }
    };
    let etag = (axum::http::header::ETAG, page.etag.clone());
    let cache_control = (axum::http::header::CACHE_CONTROL, "private, no-cache".to_owned());
    if headers
        .get(axum::http::header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == page.etag.as_bytes())
    {
        return Ok((StatusCode::NOT_MODIFIED, [etag, cache_control]).into_response());
    }
    let content_type = (axum::http::header::CONTENT_TYPE, "application/json".to_owned());
    Ok(([etag, cache_control, content_type], page.body).into_response())
}

fn render_certificates(
    state: &AppState,
    citizen: &Citizen,
    query: &ListQuery,
    now: schemas::TimestampMs,
) -> Result<ListDto<CertificateDto>, AppError> {
    let page =
        state.views.certificates(&citizen.locker, now, query.cursor.as_deref(), query.limit()?)?;
    let items = page
        .items
        .into_iter()
        .map(|c| CertificateDto {
            holder_name: c.doc.holder_name(state.vault.as_ref()),
            status: status_name(c.status).to_owned(),
            uri: c.doc.uri,
            name: c.doc.name,
            issuer: c.doc.issuer,
            issuer_name: c.issuer_name,
            doc_type: c.doc.doc_type,
            doc_type_name: c.doc_type_name,
            issued_on: c.doc.issued_on.to_string(),
            valid_from: c.doc.valid_from.map(|d| d.to_string()),
            valid_to: c.doc.valid_to.map(|d| d.to_string()),
            media_type: c.doc.media_type.mime().to_owned(),
            size_bytes: c.doc.size_bytes,
            content_hash: c.doc.content_hash.to_hex(),
            esigned_at_ms: c.doc.esigned_at_ms.map(|t| t.0),
        })
        .collect();
    Ok(ListDto { items, next_cursor: page.next })
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct UploadDto {
    id: String,
    file_name: Option<String>,
    media_type: &'static str,
    size_bytes: u64,
    uploaded_at_ms: i64,
    /// When the citizen last e-signed it, if she did.
    esigned_at_ms: Option<i64>,
}

#[utoipa::path(get, path = "/v1/citizen/uploads", tag = "citizen", security(("session" = [])), params(ListQuery), responses((status = 422, description = "`invalid_cursor`: a cursor of another list", body = crate::openapi::ErrorDto), (status = 200, body = ListDto<UploadDto>), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto)))]
pub(crate) async fn uploads(
    State(state): State<AppState>,
    citizen: Citizen,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ListDto<UploadDto>>, AppError> {
    let query = list_query(query)?;
    let page = state.views.uploads(&citizen.locker, query.cursor.as_deref(), query.limit()?)?;
    let items = page
        .items
        .into_iter()
        .map(|u| UploadDto {
            id: u.upload_id.to_hex(),
            file_name: u.file_name,
            media_type: u.media_type.mime(),
            size_bytes: u.size_bytes,
            uploaded_at_ms: u.uploaded_at_ms.0,
            esigned_at_ms: u.esigned_at_ms.map(|t| t.0),
        })
        .collect();
    Ok(Json(ListDto { items, next_cursor: page.next }))
}

#[utoipa::path(get, path = "/v1/citizen/storage", tag = "citizen", security(("session" = [])), responses((status = 200, body = StorageDto), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto)))]
pub(crate) async fn storage(
    State(state): State<AppState>,
    citizen: Citizen,
) -> Result<Json<StorageDto>, AppError> {
    let storage = state.views.storage(&citizen.locker)?;
    Ok(Json(StorageDto { used_bytes: storage.used_bytes, quota_bytes: storage.quota_bytes }))
}

#[utoipa::path(get, path = "/v1/citizen/issuers", tag = "citizen", security(("session" = [])), description = "My Issuer", responses((status = 200, body = Vec<MyIssuerDto>), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto)))]
pub(crate) async fn my_issuers(
    State(state): State<AppState>,
    citizen: Citizen,
) -> Result<Json<Vec<MyIssuerDto>>, AppError> {
    let issuers = state.views.my_issuers(&citizen.locker)?;
    Ok(Json(
        issuers
            .into_iter()
            .map(|i| MyIssuerDto { issuer: i.issuer, name: i.name, documents: i.documents })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/v1/citizen/requesters", tag = "citizen", security(("session" = [])), description = "My Requester", responses((status = 200, body = Vec<MyRequesterDto>), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto)))]
pub(crate) async fn my_requesters(
    State(state): State<AppState>,
    citizen: Citizen,
) -> Result<Json<Vec<MyRequesterDto>>, AppError> {
    let requesters = state.views.my_requesters(&citizen.locker)?;
    Ok(Json(
        requesters
            .into_iter()
            .map(|r| MyRequesterDto {
                requester: r.requester,
                name: r.name,
                requested: r.requested,
                accessed: r.accessed,
            })
            .collect(),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsentQuery {
    state: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ConsentDto {
    id: String,
    requester: String,
    state: &'static str,
    purpose: String,
    /// The purpose's code (`know_your_customer`, `loan_application`, ...).
    #[schema(value_type = String, example = "loan_application")]
    purpose_code: schemas::PurposeCode,
    requested_at_ms: i64,
    request_expires_at_ms: i64,
    access_expires_at_ms: Option<i64>,
    items: Vec<String>,
    accesses: u64,
    /// What the requester asked to be allowed (how often, how long it keeps the data, the
    /// access window), shown before the citizen grants.
    terms: Option<wire::dto::TermsDto>,
    /// Fetches refused for frequency or while paused.
    refusals: u64,
}

#[utoipa::path(get, path = "/v1/citizen/consents", tag = "citizen", security(("session" = [])), params(("state" = Option<String>, Query, description = "pending, active, paused, denied, revoked or expired", pattern = "^(?:pending|active|paused|denied|revoked|expired)$")), responses((status = 200, body = Vec<ConsentDto>), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto)))]
pub(crate) async fn consents(
    State(state): State<AppState>,
    citizen: Citizen,
    query: Result<Query<ConsentQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<ConsentDto>>, AppError> {
    let Query(query) = query.map_err(|e| AppError::new(ErrorCode::InvalidQuery, e.body_text()))?;
    let wanted = match query.state.as_deref() {
        None => None,
        Some(name) => Some(
            [
                ConsentState::Pending,
                ConsentState::Active,
                ConsentState::Denied,
                ConsentState::Revoked,
                ConsentState::Expired,
                ConsentState::Paused,
            ]
            .into_iter()
            .find(|s| state_name(*s) == name)
            .ok_or_else(|| {
                AppError::new(
                    ErrorCode::InvalidState,
                    "state is one of pending, active, paused, denied, revoked, expired",
                )
            })?,
        ),
    };
    let consents = state.views.consents(&citizen.locker, state.clock.now(), wanted)?;
    Ok(Json(
        consents
            .into_iter()
            .map(|c| ConsentDto {
                id: c.consent_id.to_hex(),
                requester: c.requester,
                state: state_name(c.state),
                purpose: c.purpose.text.to_string(),
                purpose_code: c.purpose.code,
                requested_at_ms: c.requested_at_ms.0,
                request_expires_at_ms: c.request_expires_at_ms.0,
                access_expires_at_ms: c.access_expires_at_ms.map(|t| t.0),
                items: c
                    .items
                    .iter()
                    .map(|item| match item {
                        schemas::ConsentItem::DocType { issuer, doc_type } => {
                            format!("{issuer}-{doc_type}")
                        }
                        schemas::ConsentItem::Document(uri) => uri.to_string(),
                    })
                    .collect(),
                accesses: c.accesses,
                terms: c.terms.as_ref().map(crate::app::dto::terms_dto),
                refusals: c.refusals,
            })
            .collect(),
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ActivityDto {
    at_ms: i64,
    by: String,
    consent_or_share: String,
    document: Option<String>,
    /// For `by: "pull"`: which doc type the citizen pulled, and what became of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pull: Option<PullActivityDto>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PullActivityDto {
    issuer: String,
    doc_type: String,
    /// `issued`, or the refusal's code (`no_record`, `name_mismatch`, `try_later`,
    /// `issuer_unavailable`, `invalid_answer`).
    outcome: String,
}

#[utoipa::path(get, path = "/v1/citizen/activity", tag = "citizen", security(("session" = [])), params(ListQuery), responses((status = 422, description = "`invalid_cursor`: a cursor of another list", body = crate::openapi::ErrorDto), (status = 200, body = ListDto<ActivityDto>), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto)))]
pub(crate) async fn activity(
    State(state): State<AppState>,
    citizen: Citizen,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ListDto<ActivityDto>>, AppError> {
    let query = list_query(query)?;
    let page = state.views.activity(&citizen.locker, query.cursor.as_deref(), query.limit()?)?;
    let items = page
        .items
        .into_iter()
        .map(|a| {
            let (by, via, pull) = match a.accessor {
                Accessor::Requester { requester, consent_id } => {
                    (requester, format!("consent {consent_id}"), None)
                }
                Accessor::ShareLink { share_id } => {
                    ("share link".to_owned(), format!("share {share_id}"), None)
                }
                Accessor::Pull { issuer, doc_type, outcome } => {
                    let outcome = crate::app::dto::pull_outcome_code(&outcome).to_owned();
                    (
                        "pull".to_owned(),
                        String::new(),
                        Some(PullActivityDto { issuer, doc_type, outcome }),
                    )
                }
            };
            let document = a.document.map(|d| match d {
                DocRef::Issued(uri) => uri.to_string(),
                DocRef::Uploaded(id) => format!("upload {id}"),
            });
            ActivityDto { at_ms: a.at_ms.0, by, consent_or_share: via, document, pull }
        })
        .collect();
    Ok(Json(ListDto { items, next_cursor: page.next }))
}
