//! The HTTP edge: the only module that names axum. Routers per resource, the extractors
//! for sessions and signed requests, and the rendering of `AppError` as `{code, message}`.

pub mod aadhaar;
pub mod admin;
pub(crate) mod answer;
pub mod body;
pub(crate) mod bulk;
pub(crate) mod citizen;
pub(crate) mod consent;
pub(crate) mod documents;
pub(crate) mod error;
pub mod forward;
pub(crate) mod list;
pub(crate) mod paper;
pub(crate) mod platform;
pub(crate) mod pull;
pub mod pullbox;
pub mod push;
pub(crate) mod requester;
pub(crate) mod rights;
pub(crate) mod serve;
pub(crate) mod session;
pub(crate) mod shares;
pub(crate) mod signed;
pub(crate) mod signup;
pub mod transparency;
pub mod uidai;
pub mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use wire::ErrorCode;

use crate::{AppError, AppState};

/// The service's routes. Each route is registered together with its OpenAPI description
/// (`utoipa_axum::routes!`), so the document served at `/openapi.json` lists exactly what the
/// router serves.
pub fn router(state: AppState) -> Router {
    use utoipa_axum::routes;
    let (router, document) = utoipa_axum::router::OpenApiRouter::with_openapi(
        <crate::openapi::ApiDoc as utoipa::OpenApi>::openapi(),
    )
    .routes(routes!(platform::healthz))
    .routes(routes!(platform::metrics))
    .routes(routes!(platform::issuers))
    .routes(routes!(platform::requesters))
    .routes(routes!(platform::stats))
    .routes(routes!(push::push_document))
    .routes(routes!(push::aadhaar_reference))
    .routes(routes!(push::aadhaar_reference_batch))
    .routes(routes!(bulk::ingest))
    .routes(routes!(admin::submit_event))
    .routes(routes!(admin::take_snapshot))
    .routes(routes!(signup::request_otp))
    .routes(routes!(signup::sign_up))
    .routes(routes!(aadhaar::request_otp))
    .routes(routes!(aadhaar::link))
    .routes(routes!(citizen::login))
    .routes(routes!(citizen::logout))
    .routes(routes!(citizen::logout_everywhere))
    .routes(routes!(citizen::change_password))
    .routes(routes!(citizen::close_locker))
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
    .routes(routes!(consent::pause))
    .routes(routes!(consent::resume))
    .routes(routes!(rights::artefact))
    .routes(routes!(rights::export))
    .routes(routes!(citizen::activity))
    .routes(routes!(pull::pullable))
    .routes(routes!(pull::pull))
    .routes(routes!(pull::declare))
    .routes(routes!(documents::esign))
    .routes(routes!(documents::shares, documents::create_share))
    .routes(routes!(documents::revoke_share))
    .routes(routes!(documents::shared))
    .routes(routes!(documents::shared_content))
    .routes(routes!(transparency::shared_bundle))
    .routes(routes!(transparency::certificate_bundle))
    .routes(routes!(transparency::upload_bundle))
    .routes(routes!(paper::certificate_qr))
    .routes(routes!(paper::certificate_slip))
    .routes(routes!(paper::shared_qr))
    .routes(routes!(paper::proof))
    .routes(routes!(transparency::checkpoints))
    .routes(routes!(transparency::consistency))
    .routes(routes!(transparency::document_status))
    .routes(routes!(requester::locker_of))
    .routes(routes!(requester::consents, requester::request_consent))
    .routes(routes!(requester::fetch))
    .routes(routes!(requester::events))
    .split_for_parts();
    let document = Arc::new(crate::openapi::finish(document));
    web::routes(router)
        .route(
            "/openapi.json",
            get(move || {
                let document = Arc::clone(&document);
                async move { axum::Json(document.as_ref().clone()) }
            }),
        )
        .fallback(platform::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), forward::to_owner))
        .layer(axum::middleware::from_fn(limit_headers))
        .layer(axum::middleware::from_fn(web::security_headers))
        .layer(axum::extract::DefaultBodyLimit::max(crate::limits::REQUEST_BODY_BYTES_MAX))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_requests))
        .with_state(state)
}

/// Refuses requests whose headers together exceed `crate::limits::HEADER_BYTES_MAX`, with the
/// usual JSON error (hyper itself cuts off far larger ones with a bare 431).
async fn limit_headers(request: Request, next: Next) -> Response {
    let bytes: usize =
        request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if bytes > crate::limits::HEADER_BYTES_MAX {
        return AppError::new(
            ErrorCode::HeadersTooLarge,
            format!("request headers are at most {} bytes", crate::limits::HEADER_BYTES_MAX),
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
