//! Doc types and pulls (issue 21):
//! - `POST /v1/issuer/doc-types`: an issuer's signed `DocTypeDeclared` (its fields, and how a
//!   citizen pulls one), authenticated by that signature alone, as a push is;
//! - `GET /v1/citizen/pull/doc-types`: what a citizen can pull, and what each asks for;
//! - `POST /v1/citizen/pulls`: pull one (`app::pull`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use schemas::{Actor, Envelope, Payload};
use serde::{Deserialize, Serialize};

use crate::app::error::{invalid_event, ledger_error};
use crate::http::session::Citizen;
use crate::{AppError, AppState};
use wire::ErrorCode;
use wire::dto::ListDto;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeclareBody {
    /// The issuer's signed doc_type_declared event in its JSON form (`sealed` null).
    #[schema(schema_with = crate::openapi::event::doc_type_declared_envelope)]
    envelope: Envelope,
}

/// `POST /v1/issuer/doc-types`
#[utoipa::path(post, path = "/v1/issuer/doc-types", tag = "issuer", request_body = DeclareBody, description = "An issuer declares one of its doc types: the fields its documents carry (pushes, bulk rows and pull answers that break them are refused `invalid_field`) and, optionally, how a citizen pulls one. The signature authenticates the issuer; a later declaration replaces an earlier one.", responses((status = 201, description = "Accepted", body = wire::dto::Accepted), (status = 200, description = "Already present (a retry)", body = wire::dto::Accepted), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "`bad_signature`, `unknown_key`, `key_revoked`", body = crate::openapi::ErrorDto), (status = 403, description = "`not_permitted`: another issuer's doc type, or one not registered", body = crate::openapi::ErrorDto), (status = 422, description = "`invalid_event`, `stale_event`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn declare(
    State(state): State<AppState>,
    crate::http::body::JsonBody(body): crate::http::body::JsonBody<DeclareBody>,
) -> Result<Response, AppError> {
    let envelope = body.envelope;
    let event = &envelope.event;
    if !matches!((&event.actor, &event.payload), (Actor::Issuer(_), Payload::DocTypeDeclared(_))) {
        return Err(invalid_event("an issuer's doc_type_declared event is expected here"));
    }
    if envelope.sealed.is_some() {
        return Err(invalid_event("a declaration has nothing to seal"));
    }
    crate::app::issuance::check_window(&state, event)?;
    // Nothing is looked up or stored for a caller whose signature has not passed.
    crate::app::issuance::authenticate(&state, &envelope).await?;
    check_endpoint(&state, &envelope.event.payload)?;
    let answer = crate::app::write::submit(&state, &envelope, false, ledger_error).await?;
    // Settled: this node's next push of the type is checked against it.
    let position = ledger::Position { partition: answer.partition, offset: answer.offset };
    state.writes.settle_directory(position).await?;
    Ok(crate::http::answer::accepted(answer))
}

/// A declared pull endpoint is at the origin the platform registered for the issuer
/// (`app::pull::endpoint_approved`), said to the issuer at once rather than to its citizens.
fn check_endpoint(state: &AppState, payload: &Payload) -> Result<(), AppError> {
    let Payload::DocTypeDeclared(declared) = payload else { return Ok(()) };
    let Some(pull) = &declared.pull else { return Ok(()) };
    let registered = state.views.issuer(declared.issuer.as_str())?.and_then(|i| i.endpoint);
    if crate::app::pull::endpoint_approved(
        state.pull_private_endpoints,
        registered.as_deref(),
        pull.endpoint.as_str(),
    ) {
        return Ok(());
    }
    Err(invalid_event(format!(
        "the pull endpoint must be at the address the platform registered for {} ({})",
        declared.issuer,
        registered.as_deref().unwrap_or("none: ask the platform to register one")
    )))
}

/// A doc type a citizen can pull, and what it asks for.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PullableDto {
    issuer: String,
    issuer_name: String,
    doc_type: String,
    doc_type_name: String,
    /// The identifiers to give: `key`, `label`, `kind` (`{"text":{"max_chars":N}}`,
    /// `{"integer":{"min":A,"max":B}}`, `{"choice":{"values":[...]}}` or `"date"`), `required`.
    #[schema(value_type = Vec<Object>)]
    identifiers: Vec<schemas::FieldSpec>,
}

/// `GET /v1/citizen/pull/doc-types`
#[utoipa::path(get, path = "/v1/citizen/pull/doc-types", tag = "citizen", security(("session" = [])), description = "Every doc type an issuer (not suspended) offers to pull, with the identifiers it asks for.", responses((status = 200, body = ListDto<PullableDto>), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto)))]
pub(crate) async fn pullable(
    State(state): State<AppState>,
    _citizen: Citizen,
) -> Result<Json<ListDto<PullableDto>>, AppError> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = state.views.issuers(cursor.as_deref(), crate::limits::LIST_ITEMS_MAX)?;
        for issuer in page.items.into_iter().filter(|i| !i.suspended) {
            items.extend(pullable_of(&issuer, state.pull_private_endpoints));
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(Json(ListDto { items, next_cursor: None })),
        }
    }
}

fn pullable_of(issuer: &projections::views::IssuerView, any_endpoint: bool) -> Vec<PullableDto> {
    let type_name = |code: &str| {
        let found = issuer.doc_types.iter().find(|(c, _)| c == code);
        found.map_or_else(|| code.to_owned(), |(_, name)| name.clone())
    };
    issuer
        .declared
        .iter()
        .filter_map(|d| {
            let pull = d.pull.as_ref()?;
            let registered = issuer.endpoint.as_deref();
            if !crate::app::pull::endpoint_approved(
                any_endpoint,
                registered,
                pull.endpoint.as_str(),
            ) {
                return None;
            }
            Some(PullableDto {
                issuer: issuer.issuer.clone(),
                issuer_name: issuer.name.clone(),
                doc_type: d.doc_type.to_string(),
                doc_type_name: type_name(d.doc_type.as_str()),
                identifiers: pull.identifiers.clone(),
            })
        })
        .collect()
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PullBody {
    #[schema(pattern = "^[a-z](?:[a-z0-9]|\\.[a-z])*$", min_length = 3, max_length = 64)]
    issuer: String,
    #[schema(pattern = "^[A-Z0-9]{5}$")]
    doc_type: String,
    /// The identifiers the doc type asks for, by key; every value a string.
    identifiers: BTreeMap<String, String>,
}

/// A pull that gave a document.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PulledDto {
    /// `issued`, or `already_present` when the locker held it already.
    status: String,
    uri: String,
    name: String,
}

/// `POST /v1/citizen/pulls`
#[utoipa::path(post, path = "/v1/citizen/pulls", tag = "citizen", security(("session" = [])), request_body = PullBody, description = "Asks the issuer for a document with the identifiers its doc type declares and the citizen's verified name; every pull is logged (`document_pulled`) and shown in the activity.", responses((status = 201, body = PulledDto), (status = 200, description = "The locker held it already", body = PulledDto), (status = 400, description = "Malformed request", body = crate::openapi::ErrorDto), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`not_pullable`, `no_record`", body = crate::openapi::ErrorDto), (status = 422, description = "`invalid_identifier`, `name_mismatch`, `name_required`", body = crate::openapi::ErrorDto), (status = 429, description = "`rate_limited`", body = crate::openapi::ErrorDto), (status = 502, description = "`issuer_unavailable`, `invalid_answer`", body = crate::openapi::ErrorDto), (status = 503, description = "`try_later`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn pull(
    State(state): State<AppState>,
    citizen: Citizen,
    crate::http::body::JsonBody(body): crate::http::body::JsonBody<PullBody>,
) -> Result<Response, AppError> {
    let invalid = |e: schemas::SchemaError| AppError::new(ErrorCode::InvalidJson, e.to_string());
    let ask = crate::app::pull::PullAsk {
        issuer: schemas::IssuerId::parse(&body.issuer).map_err(invalid)?,
        doc_type: schemas::DocTypeCode::parse(&body.doc_type).map_err(invalid)?,
        identifiers: body.identifiers,
    };
    // On its own task: a client that hangs up cannot cut a pull between the issuance and
    // its record.
    let task =
        tokio::spawn(async move { crate::app::pull::pull(&state, citizen.locker, ask).await });
    let pulled = task.await.map_err(crate::app::write::internal)??;
    let (status, word) = if pulled.new {
        (StatusCode::CREATED, "issued")
    } else {
        (StatusCode::OK, "already_present")
    };
    let dto = PulledDto { status: word.to_owned(), uri: pulled.uri.to_string(), name: pulled.name };
    Ok((status, Json(dto)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_declared_pulls_are_offered() {
        let declared = |code: &str, pull: bool| schemas::DocTypeDeclared {
            issuer: schemas::IssuerId::parse("in.gov.cbse").expect("test value"),
            doc_type: schemas::DocTypeCode::parse(code).expect("test value"),
            fields: vec![],
            pull: pull.then(|| schemas::PullSpec {
                endpoint: schemas::Endpoint::parse("http://127.0.0.1:1/pull").expect("test value"),
                identifiers: vec![],
            }),
        };
        let issuer = projections::views::IssuerView {
            issuer: "in.gov.cbse".to_owned(),
            name: "CBSE".to_owned(),
            doc_types: vec![("HSCER".to_owned(), "Class XII Marksheet".to_owned())],
            endpoint: None,
            suspended: false,
            declared: vec![declared("HSCER", true), declared("SSCER", false)],
        };
        let offered = pullable_of(&issuer, true);
        assert_eq!(offered.len(), 1);
        assert_eq!(offered[0].doc_type_name, "Class XII Marksheet");
        // Out of a demo, only at the origin the platform registered (none here).
        assert!(pullable_of(&issuer, false).is_empty());
    }
}
