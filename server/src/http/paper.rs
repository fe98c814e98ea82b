//! QR codes and the verification slip (issue 21, `app::paper`):
//! - `GET /v1/citizen/certificates/{uri}/qr.svg` and `.../slip.pdf`: the owner's document, as a
//!   code that opens the Verify page with its proof reference, and as a printable slip;
//! - `GET /v1/shared/{locker}/{share}/qr.svg`: a share link's code (made from the path alone:
//!   nothing is looked up, so it tells its caller nothing new);
//! - `GET /v1/proofs/{reference}`: the proof bundle a reference opens, for anyone holding it.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use schemas::DocRef;

use crate::app::paper;
use crate::http::session::Citizen;
use crate::{AppError, AppState};
use wire::ErrorCode;

/// The address the codes open: the operator's (`--public-url`) when configured, else this
/// service as the caller reached it (`Host`, and `X-Forwarded-Proto: https` behind a proxy
/// that ends TLS).
fn base_url(configured: Option<&str>, headers: &HeaderMap) -> Result<String, AppError> {
    if let Some(url) = configured {
        return Ok(url.trim_end_matches('/').to_owned());
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if host.is_empty() || host.len() > 255 || !host.chars().all(plain) {
        return Err(AppError::new(ErrorCode::InvalidQuery, "the Host header is not a host name"));
    }
    let https = headers.get("x-forwarded-proto").is_some_and(|p| p.as_bytes() == b"https");
    Ok(format!("{}://{host}", if https { "https" } else { "http" }))
}

fn svg(body: String) -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-store")], body)
        .into_response()
}

/// The owner's document: its resolution and its proof reference's address.
async fn verify_url(
    state: &AppState,
    citizen: &Citizen,
    uri: &str,
    headers: &HeaderMap,
) -> Result<(crate::app::lookup::Resolved, String), AppError> {
    let doc = DocRef::Issued(crate::app::lookup::doc_uri(uri)?);
    let resolved = crate::app::lookup::resolve(state, &citizen.locker, &doc)?;
    let record =
        state.proofs.record_at(resolved.origin).await?.ok_or_else(|| {
            crate::app::write::internal("a document's event is missing from the log")
        })?;
    let reference = paper::proof_ref(resolved.origin, &record)?;
    let base = base_url(state.public_url.as_deref(), headers)?;
    Ok((resolved, format!("{base}/#/verify/ref/{reference}")))
}

/// `GET /v1/citizen/certificates/{uri}/qr.svg`
#[utoipa::path(get, path = "/v1/citizen/certificates/{uri}/qr.svg", tag = "citizen", security(("session" = [])), params(("uri" = String, Path, description = "The document URI", pattern = r"^[a-z](?:[a-z0-9]|\.[a-z]){2,31}-[A-Z0-9]{5}-[A-Za-z0-9._/-]{1,100}$")), description = "A QR code (SVG) that opens the Verify page with the document's proof reference: a phone's camera checks a printed or shown copy.", responses((status = 200, content_type = "image/svg+xml", body = String), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_document`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn certificate_qr(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(uri): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (_, url) = verify_url(&state, &citizen, &uri, &headers).await?;
    Ok(svg(paper::qr_svg(&url)?))
}

/// `GET /v1/citizen/certificates/{uri}/slip.pdf`
#[utoipa::path(get, path = "/v1/citizen/certificates/{uri}/slip.pdf", tag = "citizen", security(("session" = [])), params(("uri" = String, Path, description = "The document URI", pattern = r"^[a-z](?:[a-z0-9]|\.[a-z]){2,31}-[A-Z0-9]{5}-[A-Za-z0-9._/-]{1,100}$")), description = "A one-page verification slip (PDF): the document's title, issuer, URI, date, content hash and the ledger key's fingerprint beside a QR code that opens its verification.", responses((status = 200, content_type = "application/pdf", body = String), (status = 401, description = "Missing, unknown or expired session (`invalid_token`)", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_document`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn certificate_slip(
    State(state): State<AppState>,
    citizen: Citizen,
    Path(uri): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (resolved, url) = verify_url(&state, &citizen, &uri, &headers).await?;
    let fingerprint = ledger::crypto::key_id_of(&state.proofs.ledger_key()).to_string();
    let issuer = resolved.issuer.clone().unwrap_or_default();
    let issuer_name = state.views.issuer(&issuer)?.map(|i| i.name);
    let slip = paper::Slip {
        title: resolved.name,
        issuer: issuer_name.map_or(issuer.clone(), |name| format!("{name} ({issuer})")),
        uri,
        issued_on: resolved.issued_on.unwrap_or_default(),
        content_hash: resolved.hash.to_hex(),
        ledger_key_fingerprint: fingerprint,
        verify_url: url,
    };
    let file = format!("attachment; filename=\"{}.slip.pdf\"", safe_name(&slip.uri));
    let pdf = paper::slip_pdf(&slip)?;
    let headers = [
        (header::CONTENT_TYPE, "application/pdf".to_owned()),
        (header::CONTENT_DISPOSITION, file),
        (header::CACHE_CONTROL, "no-store".to_owned()),
    ];
    Ok((headers, pdf).into_response())
}

fn safe_name(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
        .take(100)
        .collect()
}

/// `GET /v1/shared/{locker}/{share}/qr.svg`
#[utoipa::path(get, path = "/v1/shared/{locker}/{share}/qr.svg", tag = "public", params(("locker" = String, Path, description = "The locker id (a UUID)", pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"), ("share" = String, Path, description = "The share id, 32 hex digits", pattern = r"^[0-9a-fA-F]{32}$")), description = "A QR code (SVG) that opens the Verify page for this share link.", responses((status = 200, content_type = "image/svg+xml", body = String), (status = 400, description = "`invalid_share_id`", body = crate::openapi::ErrorDto), (status = 404, description = "`unknown_share`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn shared_qr(
    State(state): State<AppState>,
    Path((locker, share)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let locker = schemas::LockerId::parse(&locker).map_err(|_| {
        AppError::not_found("no such share link").with_code(ErrorCode::UnknownShare)
    })?;
    let share = schemas::Id16::from_hex(&share)
        .map_err(|_| AppError::new(ErrorCode::InvalidShareId, "a share id is 32 hex digits"))?;
    let base = base_url(state.public_url.as_deref(), &headers)?;
    let url = format!("{base}/#/verify/shared/{locker}/{}", share.to_hex());
    Ok(svg(paper::qr_svg(&url)?))
}

/// `GET /v1/proofs/{reference}`
#[utoipa::path(get, path = "/v1/proofs/{reference}", tag = "public", params(("reference" = String, Path, description = "A proof reference, `<partition>.<offset>.<32 hex digits>`, as a document's QR code carries it", pattern = r"^[0-9]{1,10}\.[0-9]{1,20}\.[0-9a-fA-F]{32}$")), description = "The proof bundle of the document event a reference names: checked against the record's event hash before anything is proved.", responses((status = 200, body = verifier::BundleDto), (status = 404, description = "`unknown_proof`", body = crate::openapi::ErrorDto), (status = 503, description = "`not_yet_checkpointed`", body = crate::openapi::ErrorDto)))]
pub(crate) async fn proof(
    State(state): State<AppState>,
    Path(reference): Path<String>,
) -> Result<Response, AppError> {
    let unknown = || AppError::new(ErrorCode::UnknownProof, "no document has this proof reference");
    let (point, prefix) = paper::parse_ref(&reference).ok_or_else(unknown)?;
    let record = state.proofs.record_at(point).await?.ok_or_else(unknown)?;
    if !paper::opens(&record, &prefix) {
        return Err(unknown());
    }
    let bundle = state.proofs.bundle(&state.views, point).await?;
    Ok(crate::http::answer::bundle_response(&state, &bundle, &reference))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_open_the_configured_address_else_the_callers() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "locker.example:8080".parse().expect("host"));
        let configured = Some("https://locker.gov.in/");
        assert_eq!(base_url(configured, &headers).expect("url"), "https://locker.gov.in");
        assert_eq!(base_url(None, &headers).expect("url"), "http://locker.example:8080");
        headers.insert("x-forwarded-proto", "https".parse().expect("proto"));
        assert_eq!(base_url(None, &headers).expect("url"), "https://locker.example:8080");
        headers.insert(header::HOST, "evil.example/@x".parse().expect("host"));
        assert!(base_url(None, &headers).is_err(), "a Host that is not a host name");
    }
}
