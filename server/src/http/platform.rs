//! The platform's public answers: health, metrics, the directory and statistics.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use projections::PartitionStatus;
use serde::Serialize;

use crate::http::list::{ListQuery, list_query};
use crate::{AppError, AppState};
use wire::dto::{HaltDto, HealthDto, ListDto};

pub(crate) async fn not_found() -> AppError {
    AppError::not_found("no such endpoint")
}

fn partitions(state: &AppState) -> Vec<PartitionStatus> {
    state.partitions.read().map(|p| p.clone()).unwrap_or_default()
}

/// 200 when every partition applies; 503 when one stopped at an event it cannot apply.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Every projection partition applies", body = HealthDto), (status = 503, description = "A partition stopped at an event it cannot apply", body = HealthDto)))]
pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
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
    let owned = state.cluster.owned().map(|owned| {
        owned.iter().map(|(topic, partition)| format!("{topic}/{partition}")).collect()
    });
    (status, Json(HealthDto { status: code.to_owned(), projection_lag, halted, anomalies, owned }))
        .into_response()
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(&partitions(&state), state.cluster.owned().as_deref());
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DocTypeDto {
    code: String,
    name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct IssuerDto {
    id: String,
    name: String,
    doc_types: Vec<DocTypeDto>,
    endpoint: Option<String>,
    suspended: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct RequesterDto {
    id: String,
    name: String,
    #[schema(value_type = String, example = "bank")]
    kind: schemas::RequesterKind,
    suspended: bool,
}

type ListResult<T> = Result<Json<ListDto<T>>, AppError>;

#[utoipa::path(get, path = "/v1/directory/issuers", tag = "directory", params(ListQuery), responses((status = 200, body = ListDto<IssuerDto>), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 422, description = "`invalid_cursor`: a cursor of another list", body = crate::openapi::ErrorDto)))]
pub(crate) async fn issuers(
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
pub(crate) async fn requesters(
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
pub(crate) struct IssuedByDto {
    issuer: String,
    documents: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct StatsDto {
    users: i64,
    issued_documents: i64,
    issuers: i64,
    requesters: i64,
    issued_by: Vec<IssuedByDto>,
}

/// Platform statistics, as DigiLocker publishes them.
#[utoipa::path(get, path = "/v1/stats", tag = "directory", responses((status = 200, description = "Platform statistics", body = StatsDto)))]
pub(crate) async fn stats(State(state): State<AppState>) -> Result<Json<StatsDto>, AppError> {
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
