//! The locker service: an axum `Router` over the projections (reads) and, with issue 5's write
//! side, the ledger. `app(state)` is tested in-process with `oneshot`; `server` runs it.
//!
//! **Architecture invariant:** only this crate knows HTTP and JSON. It converts views into its
//! own DTOs by hand, and every error becomes `{code, message}` with a stable code.

pub mod aadhaar;
pub mod accounts;
pub mod admin;
pub mod audit;
pub mod body;
mod bulk;
pub mod cache;
mod citizen;
mod consent;
pub mod demo;
mod documents;
mod dto;
mod error;
pub mod expiry;
pub mod files;
pub mod guard;
pub mod inbox;
mod issuance;
pub mod jobs;
pub mod limits;
mod lookup;
mod metrics;
pub mod openapi;
pub mod otp;
pub mod push;
pub mod quota;
pub mod replay;
mod requester;
pub mod server;
mod session;
mod shares;
mod signed;
mod signup;
pub mod sweep;
pub mod topics;
pub mod transparency;
pub mod uidai;
pub mod vault;
pub mod web;
mod write;

use std::sync::{Arc, RwLock};

use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use projections::{PartitionStatus, Views};
use serde::{Deserialize, Serialize};
use wire::ErrorCode;

pub use error::ApiError;
pub use metrics::Metrics;
pub use write::Appender;

/// What handlers share: one allocation, so the per-request clones axum makes cost one
/// reference count, not one per service.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// The service's parts.
pub struct Services {
    pub views: Arc<Views>,
    pub metrics: Arc<Metrics>,
    /// Projection health, refreshed in the background (see `server`).
    pub partitions: Arc<RwLock<Vec<PartitionStatus>>>,
    /// The write side: `Ledger::append` of one record.
    pub appender: Arc<dyn write::Appender>,
    pub vault: Arc<vault::Vault>,
    pub clock: Arc<dyn ledger::clock::Clock>,
    pub nonces: Arc<Nonces>,
    pub accounts: Arc<accounts::Accounts>,
    pub otp: Arc<dyn otp::OtpSender>,
    /// Codes sent per source address and in all (`limits::OTP_SENDS_PER_HOUR`).
    pub otp_limits: Arc<otp::SendLimits>,
    /// The Aadhaar authority (OTP and e-KYC); none: Aadhaar linking is unavailable.
    pub kyc: Option<Arc<dyn aadhaar::KycProvider>>,
    /// Codes asked of the authority and not yet answered.
    pub aadhaar_challenges: Arc<aadhaar::Challenges>,
    /// Signed requests already served (`limits::SIGNATURES_SEEN_MAX`): none is served twice.
    pub seen_signatures: Arc<replay::SeenSignatures>,
    /// Signs what the platform vouches for (citizen registrations).
    pub platform: Arc<ed25519_dalek::SigningKey>,
    /// Keys the platform's hashes of mobile numbers and one-time passwords.
    pub platform_secret: [u8; 32],
    pub signup_lock: Arc<tokio::sync::Mutex<()>>,
    /// One write at a time per citizen partition, checked against caught-up views.
    pub writes: Arc<guard::WriteGuard>,
    /// Document bytes, content-addressed.
    pub files: Arc<files::Files>,
    /// Open event streams (`limits::SSE_STREAMS_MAX`, `limits::SSE_STREAMS_PER_REQUESTER_MAX`).
    pub streams: Arc<quota::StreamSlots>,
    /// Rendered My Certificates pages, stamped with the log positions they reflect.
    pub pages: cache::PageCache,
    /// Merkle trees, signed checkpoints and proof bundles.
    pub proofs: Arc<dyn transparency::Proofs>,
    /// One permit per bulk batch being processed (`limits::BULK_BATCHES_IN_FLIGHT`).
    pub bulk: Arc<tokio::sync::Semaphore>,
    /// Aadhaar references each issuer may ask for (`limits::AADHAAR_REFERENCES_PER_HOUR`).
    pub aadhaar_quota: Arc<quota::Quota>,
    /// Views each share link may record per hour (`limits::SHARE_VIEWS_PER_HOUR`).
    pub share_views: Arc<quota::Quota<schemas::Id16>>,
}

/// What a deployment (or a test) provides; the rest of the services start from the limits.
pub struct Core {
    pub views: Arc<Views>,
    pub partitions: Arc<RwLock<Vec<PartitionStatus>>>,
    pub appender: Arc<dyn write::Appender>,
    pub vault: Arc<vault::Vault>,
    pub clock: Arc<dyn ledger::clock::Clock>,
    pub nonces: Arc<Nonces>,
    pub accounts: Arc<accounts::Accounts>,
    pub otp: Arc<dyn otp::OtpSender>,
    pub kyc: Option<Arc<dyn aadhaar::KycProvider>>,
    pub platform: ed25519_dalek::SigningKey,
    pub writes: Arc<guard::WriteGuard>,
    pub files: Arc<files::Files>,
    pub proofs: Arc<dyn transparency::Proofs>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").finish_non_exhaustive()
    }
}

impl Services {
    /// The services over `core`, with every bound, quota and memory at the service's limits
    /// (a test may lower one after).
    pub fn new(core: Core) -> Services {
        let Core {
            views,
            partitions,
            appender,
            vault,
            clock,
            nonces,
            accounts,
            otp,
            kyc,
            platform,
            writes,
            files,
            proofs,
        } = core;
        Services {
            views,
            metrics: Arc::new(Metrics::default()),
            partitions,
            appender,
            vault,
            clock,
            nonces,
            accounts,
            otp,
            otp_limits: Arc::new(otp::SendLimits::default()),
            kyc,
            aadhaar_challenges: Arc::new(aadhaar::Challenges::default()),
            seen_signatures: Arc::new(replay::SeenSignatures::default()),
            platform_secret: platform_secret(&platform),
            platform: Arc::new(platform),
            signup_lock: Arc::new(tokio::sync::Mutex::new(())),
            writes,
            files,
            streams: Arc::new(quota::StreamSlots::new(
                limits::SSE_STREAMS_MAX,
                limits::SSE_STREAMS_PER_REQUESTER_MAX,
            )),
            pages: Default::default(),
            proofs,
            bulk: Arc::new(tokio::sync::Semaphore::new(limits::BULK_BATCHES_IN_FLIGHT)),
            aadhaar_quota: Arc::new(quota::Quota::per_hour(limits::AADHAAR_REFERENCES_PER_HOUR)),
            share_views: Arc::new(quota::Quota::per_hour(limits::SHARE_VIEWS_PER_HOUR)),
        }
    }
}

/// The platform's keyed-hash secret, derived from its signing key.
pub fn platform_secret(platform: &ed25519_dalek::SigningKey) -> [u8; 32] {
    blake3::derive_key("locker platform references v1", &platform.to_bytes())
}

/// Randomness for seal nonces, injected: the server seeds it from the OS, tests from a seed.
#[derive(Debug)]
pub struct Nonces(std::sync::Mutex<rand_chacha::ChaCha20Rng>);

impl Nonces {
    pub fn from_seed(seed: u64) -> Self {
        Nonces(std::sync::Mutex::new(rand_core::SeedableRng::seed_from_u64(seed)))
    }
    pub fn from_os() -> Self {
        Nonces(std::sync::Mutex::new(
            rand_core::SeedableRng::from_rng(rand_core::OsRng).unwrap_or_else(|_| {
                panic!("the operating system has no randomness to seed seal nonces from")
            }),
        ))
    }
    pub fn next(&self) -> [u8; 24] {
        let mut nonce = [0u8; 24];
        let mut rng = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        rand_core::RngCore::fill_bytes(&mut *rng, &mut nonce);
        nonce
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

/// The service's routes. Each route is registered together with its OpenAPI description
/// (`utoipa_axum::routes!`), so the document served at `/openapi.json` lists exactly what the
/// router serves.
pub fn app(state: AppState) -> Router {
    use utoipa_axum::routes;
    let (router, document) = utoipa_axum::router::OpenApiRouter::with_openapi(
        <openapi::ApiDoc as utoipa::OpenApi>::openapi(),
    )
    .routes(routes!(healthz))
    .routes(routes!(metrics))
    .routes(routes!(issuers))
    .routes(routes!(requesters))
    .routes(routes!(stats))
    .routes(routes!(push::push_document))
    .routes(routes!(push::aadhaar_reference))
    .routes(routes!(push::aadhaar_reference_batch))
    .routes(routes!(bulk::ingest))
    .routes(routes!(admin::submit_event))
    .routes(routes!(signup::request_otp))
    .routes(routes!(signup::sign_up))
    .routes(routes!(aadhaar::request_otp))
    .routes(routes!(aadhaar::link))
    .routes(routes!(citizen::login))
    .routes(routes!(citizen::logout))
    .routes(routes!(citizen::logout_everywhere))
    .routes(routes!(citizen::change_password))
    .routes(routes!(citizen::session))
    .routes(routes!(citizen::profile))
    .routes(routes!(citizen::certificates))
    .routes(routes!(documents::certificate_content))
    .routes(routes!(documents::certificate_fields))
    .routes(routes!(citizen::uploads, documents::upload))
    .routes(routes!(documents::delete_upload))
    .routes(routes!(documents::upload_content))
    .routes(routes!(citizen::storage))
    .routes(routes!(citizen::my_issuers))
    .routes(routes!(citizen::my_requesters))
    .routes(routes!(citizen::consents))
    .routes(routes!(consent::grant))
    .routes(routes!(consent::deny))
    .routes(routes!(consent::revoke))
    .routes(routes!(citizen::activity))
    .routes(routes!(documents::esign))
    .routes(routes!(documents::shares, documents::create_share))
    .routes(routes!(documents::revoke_share))
    .routes(routes!(documents::shared))
    .routes(routes!(documents::shared_content))
    .routes(routes!(transparency::shared_bundle))
    .routes(routes!(transparency::certificate_bundle))
    .routes(routes!(transparency::upload_bundle))
    .routes(routes!(transparency::checkpoints))
    .routes(routes!(transparency::consistency))
    .routes(routes!(transparency::document_status))
    .routes(routes!(requester::locker_of))
    .routes(routes!(requester::consents, requester::request_consent))
    .routes(routes!(requester::fetch))
    .routes(routes!(requester::events))
    .split_for_parts();
    let document = Arc::new(openapi::finish(document));
    web::routes(router)
        .route(
            "/openapi.json",
            get(move || {
                let document = Arc::clone(&document);
                async move { Json(document.as_ref().clone()) }
            }),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn(limit_headers))
        .layer(axum::middleware::from_fn(web::security_headers))
        .layer(axum::extract::DefaultBodyLimit::max(limits::REQUEST_BODY_BYTES_MAX))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_requests))
        .with_state(state)
}

/// Refuses requests whose headers together exceed `limits::HEADER_BYTES_MAX`, with the
/// usual JSON error (hyper itself cuts off far larger ones with a bare 431).
async fn limit_headers(request: Request, next: Next) -> Response {
    let bytes: usize =
        request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if bytes > limits::HEADER_BYTES_MAX {
        return ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!("request headers are at most {} bytes", limits::HEADER_BYTES_MAX),
        )
        .into_response();
    }
    next.run(request).await
}

async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state.metrics.count(&route, status);
    // The route template, never the path: paths hold share and consent ids.
    tracing::debug!(%method, route, status, latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX), "request");
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

fn partitions(state: &AppState) -> Vec<PartitionStatus> {
    state.partitions.read().map(|p| p.clone()).unwrap_or_default()
}

/// Where a partition stopped. Its reason names lockers, documents or consents, so it goes
/// to the server's log for the operator, never to this public answer.
#[derive(Serialize, utoipa::ToSchema)]
struct HaltDto {
    topic: String,
    partition: u32,
    offset: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct HealthDto {
    status: &'static str,
    /// Records the views have not applied yet, over all partitions.
    projection_lag: u64,
    halted: Vec<HaltDto>,
    /// Events the views passed over instead of halting (contradictions an older log may
    /// hold, reported in the server's log as they are met).
    anomalies: i64,
}

/// 200 when every partition applies; 503 when one stopped at an event it cannot apply.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Every projection partition applies", body = HealthDto), (status = 503, description = "A partition stopped at an event it cannot apply", body = HealthDto)))]
async fn healthz(State(state): State<AppState>) -> Response {
    let partitions = partitions(&state);
    let halted: Vec<HaltDto> = partitions
        .iter()
        .filter_map(|p| p.halt.clone())
        .map(|h| HaltDto { topic: h.topic, partition: h.partition, offset: h.offset })
        .collect();
    let anomalies = state.views.anomalies().unwrap_or(0);
    let projection_lag = partitions.iter().map(|p| p.end.saturating_sub(p.position)).sum();
    let (status, code) = if halted.is_empty() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "degraded")
    };
    (status, Json(HealthDto { status: code, projection_lag, halted, anomalies })).into_response()
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(&partitions(&state));
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// The `next_cursor` of the page before.
    #[param(pattern = r"^(?:[0-9a-fA-F]{2})+$", max_length = 1024)]
    pub(crate) cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
}

impl ListQuery {
    pub(crate) fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(limits::LIST_ITEMS_DEFAULT),
            Some(n) if (1..=limits::LIST_ITEMS_MAX).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::new(
                ErrorCode::InvalidLimit,
                format!("limit {n}: 1 to {} items per page", limits::LIST_ITEMS_MAX),
            )),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ListDto<T> {
    pub(crate) items: Vec<T>,
    pub(crate) next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct DocTypeDto {
    code: String,
    name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct IssuerDto {
    id: String,
    name: String,
    doc_types: Vec<DocTypeDto>,
    endpoint: Option<String>,
    suspended: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
struct RequesterDto {
    id: String,
    name: String,
    #[schema(value_type = String, example = "bank")]
    kind: schemas::RequesterKind,
    suspended: bool,
}

type ListResult<T> = Result<Json<ListDto<T>>, ApiError>;

pub(crate) fn list_query(
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<ListQuery, ApiError> {
    query.map(|Query(q)| q).map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.body_text()))
}

#[utoipa::path(get, path = "/v1/directory/issuers", tag = "directory", params(ListQuery), responses((status = 200, body = ListDto<IssuerDto>), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 422, description = "`invalid_cursor`: a cursor of another list", body = crate::openapi::ErrorDto)))]
async fn issuers(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ListResult<IssuerDto> {
    let query = list_query(query)?;
    let page = state.views.issuers(query.cursor.as_deref(), query.limit()?)?;
    let items = page
        .items
        .into_iter()
        .map(|i| IssuerDto {
            id: i.issuer,
            name: i.name,
            doc_types: i
                .doc_types
                .into_iter()
                .map(|(code, name)| DocTypeDto { code, name })
                .collect(),
            endpoint: i.endpoint,
            suspended: i.suspended,
        })
        .collect();
    Ok(Json(ListDto { items, next_cursor: page.next }))
}

#[utoipa::path(get, path = "/v1/directory/requesters", tag = "directory", params(ListQuery), responses((status = 200, body = ListDto<RequesterDto>), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 422, description = "`invalid_cursor`: a cursor of another list", body = crate::openapi::ErrorDto)))]
async fn requesters(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ListResult<RequesterDto> {
    let query = list_query(query)?;
    let page = state.views.requesters(query.cursor.as_deref(), query.limit()?)?;
    let items = page
        .items
        .into_iter()
        .map(|r| RequesterDto {
            id: r.requester,
            name: r.name,
            kind: r.kind,
            suspended: r.suspended,
        })
        .collect();
    Ok(Json(ListDto { items, next_cursor: page.next }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct IssuedByDto {
    issuer: String,
    documents: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct StatsDto {
    users: i64,
    issued_documents: i64,
    issuers: i64,
    requesters: i64,
    issued_by: Vec<IssuedByDto>,
}

/// Platform statistics, as DigiLocker publishes them.
#[utoipa::path(get, path = "/v1/stats", tag = "directory", responses((status = 200, description = "Platform statistics", body = StatsDto)))]
async fn stats(State(state): State<AppState>) -> Result<Json<StatsDto>, ApiError> {
    let stats = state.views.stats()?;
    Ok(Json(StatsDto {
        users: stats.users,
        issued_documents: stats.issued_documents,
        issuers: stats.issuers,
        requesters: stats.requesters,
        issued_by: stats
            .issued_by
            .into_iter()
            .map(|(issuer, documents)| IssuedByDto { issuer, documents })
            .collect(),
    }))
}
