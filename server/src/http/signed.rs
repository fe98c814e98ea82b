//! Requests signed by organisations (RFC 9421 with Ed25519): the signature, the key in the
//! ledger's registry, the clock window and the replay memory. The body is read (bounded) only
//! to check its Content-Digest; nothing is parsed, looked up or stored before all of it passes.

use axum::extract::Request;
use schemas::*;
use wire::rfc9421::{self, Message};

use crate::app::error::ledger_error;
use crate::app::write::internal;
use crate::limits::REQUEST_BODY_BYTES_MAX;
use crate::limits::SIGNATURE_AGE_S_MAX;
use crate::{AppError, AppState};
use wire::ErrorCode;

fn unauthorized(code: ErrorCode, message: impl Into<String>) -> AppError {
    debug_assert_eq!(code.status(), 401);
    AppError::new(code, message)
}

/// Checks the request's HTTP message signature; returns the requester and the body it covers.
pub(crate) async fn authenticate(
    state: &AppState,
    request: Request,
) -> Result<(RequesterId, axum::body::Bytes), AppError> {
    let (principal, body) = authenticate_as(state, request, |who| {
        RequesterId::parse(who).map(Principal::Requester).map_err(|e| e.to_string())
    })
    .await?;
    match principal {
        Principal::Requester(id) => Ok((id, body)),
        _ => Err(internal("a requester was parsed")),
    }
}

/// Checks an HTTP message signature by the organisation `principal` names in the keyid.
pub(crate) async fn authenticate_as(
    state: &AppState,
    request: Request,
    principal: impl Fn(&str) -> Result<Principal, String>,
) -> Result<(Principal, axum::body::Bytes), AppError> {
    let (parts, body) = request.into_parts();
    let body =
        crate::http::body::read_bounded(body, REQUEST_BODY_BYTES_MAX, "a request body").await?;
    let header = |name: &str| -> Option<String> {
        let values: Vec<&str> =
            parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        (!values.is_empty()).then(|| values.join(", "))
    };
    let (Some(input), Some(signature)) = (header("signature-input"), header("signature")) else {
        return Err(unauthorized(
            ErrorCode::MissingSignature,
            "sign the request (RFC 9421): Signature-Input and Signature headers, Ed25519, keyid \"<organisation id>:<key id>\"",
        ));
    };
    let bad = |e: rfc9421::SignatureError| unauthorized(ErrorCode::BadSignature, e.0);
    let input = rfc9421::parse_signature_input(&input).map_err(bad)?;
    let signature = rfc9421::parse_signature(&signature, &input.label).map_err(bad)?;
    covers_enough(&input, &body, &header)?;
    if input.alg.as_deref().is_some_and(|alg| alg != "ed25519") {
        return Err(unauthorized(ErrorCode::BadSignature, "alg must be ed25519"));
    }
    let now_s = state.clock.now().0.div_euclid(1000);
    let created = signed_within(&input, now_s)?;
    let keyid = input.keyid.as_deref().unwrap_or_default();
    let (who, key_hex) = keyid.rsplit_once(':').ok_or_else(|| {
        unauthorized(ErrorCode::BadSignature, "keyid must be \"<organisation id>:<key id in hex>\"")
    })?;
    let who =
        principal(who).map_err(|e| unauthorized(ErrorCode::BadSignature, format!("keyid: {e}")))?;
    let key_id = KeyId::from_hex(key_hex)
        .map_err(|e| unauthorized(ErrorCode::BadSignature, format!("keyid: {e}")))?;
    let key = state.appender.active_key(&who, &key_id).await.map_err(ledger_error)?;
    let authority = parts
        .headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or_default();
    let message = Message {
        method: parts.method.as_str(),
        authority,
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or_default(),
        header: &header,
    };
    let base = rfc9421::signature_base(&message, &input).map_err(bad)?;
    key.verify_strict(base.as_bytes(), &ed25519_dalek::Signature::from_bytes(&signature))
        .map_err(|_| unauthorized(ErrorCode::BadSignature, "the signature does not verify"))?;
    // Only once verified is a signature remembered: strangers cannot fill the memory.
    let until_s = created.saturating_add(SIGNATURE_AGE_S_MAX);
    state.seen_signatures.first_use(&signature, until_s, now_s).map_err(|e| match e {
        crate::store::replay::Replay::Seen => unauthorized(
            ErrorCode::ReplayedSignature,
            "this signature was already used; sign each request anew",
        ),
        crate::store::replay::Replay::Full => AppError::new(
            ErrorCode::Busy,
            "too many signed requests in the last minutes; retry shortly",
        ),
    })?;
    Ok((who, body))
}

/// The signature covers what a locker request must: method, authority, path, query, and the
/// body through a Content-Digest that matches it.
fn covers_enough(
    input: &rfc9421::SignatureInput,
    body: &[u8],
    header: &dyn Fn(&str) -> Option<String>,
) -> Result<(), AppError> {
    for required in ["@method", "@authority", "@path", "@query"] {
        if !input.components.iter().any(|c| c == required) {
            return Err(unauthorized(
                ErrorCode::BadSignature,
                format!("the signature must cover {required}"),
            ));
        }
    }
    if !body.is_empty() {
        if !input.components.iter().any(|c| c == "content-digest") {
            return Err(unauthorized(
                ErrorCode::BadSignature,
                "a request with a body must cover content-digest",
            ));
        }
        let digest = header("content-digest").ok_or_else(|| {
            unauthorized(ErrorCode::BadSignature, "Content-Digest header is missing")
        })?;
        rfc9421::check_content_digest(&digest, body)
            .map_err(|e| AppError::new(ErrorCode::DigestMismatch, e.0))?;
    }
    Ok(())
}

/// The signature's `created` time, within `SIGNATURE_AGE_S_MAX` of the server's clock, and
/// not expired.
fn signed_within(input: &rfc9421::SignatureInput, now_s: i64) -> Result<i64, AppError> {
    let created = input.created.ok_or_else(|| {
        unauthorized(ErrorCode::BadSignature, "the signature needs a `created` time")
    })?;
    // Apart as u64: `created` is the caller's, and any i64 must not overflow a subtraction.
    let apart_s = now_s.abs_diff(created);
    if apart_s > SIGNATURE_AGE_S_MAX.unsigned_abs() {
        return Err(unauthorized(
            ErrorCode::StaleSignature,
            format!(
                "created {created} is {apart_s} s from the server's clock; at most {SIGNATURE_AGE_S_MAX} allowed"
            ),
        ));
    }
    if input.expires.is_some_and(|expires| now_s > expires) {
        return Err(unauthorized(ErrorCode::StaleSignature, "the signature has expired"));
    }
    Ok(created)
}
