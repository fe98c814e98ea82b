//! Any node answers any request (issue 18): a write refused here because another node owns
//! its partition (`not_owner`, which names the partition only inside the response's
//! extensions) is sent on to that owner, found from the group's membership, and its answer
//! returned as it is. The request goes on unchanged, `Host` included (an RFC 9421 signature
//! covers `@authority`), so the owner authenticates and authorizes it again from scratch; a
//! node never vouches for a caller.
//!
//! The body is held in memory to send it twice, so only bodies up to
//! `FORWARD_BODY_BYTES_MAX` with a stated length are forwardable; another (a bulk batch)
//! passes through, and a `not_owner` for it reaches the client, which retries. A request
//! forwarded once is never forwarded again (the owner moved meanwhile: the client retries).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::AppState;
use crate::http::error::Elsewhere;
use crate::limits::{FORWARD_BODY_BYTES_MAX, FORWARD_TIMEOUT_MS};

/// Marks a request a node forwarded (its value: the forwarding node's address).
pub const FORWARDED_BY: &str = "x-locker-forwarded-by";

/// The client nodes forward with (one pool of connections to the others).
#[derive(Debug, Clone)]
pub struct Forwarder {
    client: Client<HttpConnector, Full<Bytes>>,
    holding: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Default for Forwarder {
    fn default() -> Self {
        Forwarder {
            client: Client::builder(TokioExecutor::new()).build_http(),
            holding: std::sync::Arc::new(tokio::sync::Semaphore::new(
                crate::limits::FORWARD_BODIES_HELD_MAX,
            )),
        }
    }
}

/// Headers of one connection, not of the request (RFC 9110, section 7.6.1).
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
    )
}

/// The largest body a route takes (a push carries the document, an upload is one), so holding
/// a request to forward it never takes more than the route itself would read.
fn body_limit(path: &str) -> usize {
    if path == "/v1/issuer/documents" || path == "/v1/citizen/uploads" {
        FORWARD_BODY_BYTES_MAX
    } else {
        crate::limits::REQUEST_BODY_BYTES_MAX
    }
}

/// Whether the whole body can be held to send it again.
fn forwardable(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    match length {
        Some(bytes) => bytes <= body_limit(path),
        None => {
            matches!(*method, Method::GET | Method::HEAD | Method::DELETE)
                && !headers.contains_key(header::TRANSFER_ENCODING)
        }
    }
}

pub(crate) async fn to_owner(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(address) = state.cluster.address().map(str::to_owned) else {
        return next.run(request).await;
    };
    let path = request.uri().path().to_owned();
    if request.headers().contains_key(FORWARDED_BY)
        || !forwardable(request.method(), &path, request.headers())
    {
        return next.run(request).await;
    }
    // Bodies held at once are bounded: past the bound a request goes on unheld (a `not_owner`
    // for it reaches its client, which retries). A request without a body holds nothing.
    let bodiless = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_none_or(|length| length.as_bytes() == b"0");
    let _held = if bodiless {
        None
    } else {
        match state.forwarder.holding.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => return next.run(request).await,
        }
    };
    let (parts, body) = request.into_parts();
    let bytes =
        match crate::http::body::read_bounded(body, body_limit(&path), "the request body").await {
            Ok(bytes) => bytes,
            Err(e) => return e.into_response(),
        };
    let (method, uri, headers) = (parts.method.clone(), parts.uri.clone(), parts.headers.clone());
    let response = next.run(Request::from_parts(parts, Body::from(bytes.clone()))).await;
    let Some(Elsewhere(topic, partition)) = response.extensions().get::<Elsewhere>().cloned()
    else {
        return response;
    };
    let Some(owner) = state.cluster.owner_of(&topic, partition).await else {
        return response;
    };
    let sent = send(&state.forwarder, &owner, &address, method, &uri, &headers, bytes).await;
    match sent {
        Ok(answer) => {
            state.metrics.add(crate::app::metrics::Job::Forwarded, 1);
            answer
        }
        Err(reason) => {
            tracing::warn!(%topic, partition, %owner, %reason, "cannot forward to the owner");
            response
        }
    }
}

async fn send(
    forwarder: &Forwarder,
    owner: &str,
    address: &str,
    method: Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    bytes: Bytes,
) -> Result<Response, String> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let target: axum::http::Uri =
        format!("{}{path}", owner.trim_end_matches('/')).parse().map_err(|e| format!("{e}"))?;
    let mut builder = axum::http::Request::builder().method(method).uri(target);
    for (name, value) in headers {
        if !hop_by_hop(name) && name.as_str() != FORWARDED_BY {
            builder = builder.header(name, value);
        }
    }
    let by = HeaderValue::from_str(address).map_err(|e| e.to_string())?;
    let request =
        builder.header(FORWARDED_BY, by).body(Full::new(bytes)).map_err(|e| e.to_string())?;
    let answer = tokio::time::timeout(
        Duration::from_millis(FORWARD_TIMEOUT_MS),
        forwarder.client.request(request),
    )
    .await
    .map_err(|_| format!("no answer within {FORWARD_TIMEOUT_MS} ms"))?
    .map_err(|e| e.to_string())?;
    let (mut parts, body) = answer.into_parts();
    let hop: Vec<HeaderName> = parts.headers.keys().filter(|n| hop_by_hop(n)).cloned().collect();
    for name in hop {
        parts.headers.remove(name);
    }
    Ok(Response::from_parts(parts, Body::new(body)))
}

/// Sends the rows of a bulk batch that were refused because another node owns their partition
/// (`not_owner`, with the partition) on to their owners, one sub-batch per owner at once, and
/// puts the owners' verdicts in their place (renumbered as this batch's rows). Each row is
/// authenticated by its own signature, so the owner checks it again from scratch. Rows whose
/// owner is unknown or does not answer keep their refusal: the client retries those rows.
pub(crate) async fn route_rows(
    state: &AppState,
    headers: &HeaderMap,
    lines: &[&[u8]],
    results: &mut [wire::dto::RowResult],
) {
    let Some(address) = state.cluster.address().map(str::to_owned) else { return };
    if headers.contains_key(FORWARDED_BY) {
        return;
    }
    let topic = state.writes.config().citizen_topic.clone();
    let not_owner = wire::ErrorCode::NotOwner.code();
    let mut by_partition: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for (index, verdict) in results.iter().enumerate() {
        if verdict.code.as_deref() == Some(not_owner)
            && let Some(partition) = verdict.partition
        {
            by_partition.entry(partition).or_default().push(index);
        }
    }
    let mut by_owner: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for (partition, rows) in by_partition {
        if let Some(owner) = state.cluster.owner_of(&topic, partition).await {
            by_owner.entry(owner).or_default().extend(rows);
        }
    }
    let sends = by_owner.into_iter().map(|(owner, mut rows)| {
        rows.sort_unstable();
        let body: Vec<u8> = rows.iter().flat_map(|&i| [lines[i], b"\n"].concat()).collect();
        let address = address.clone();
        async move {
            let answer = send_batch(&state.forwarder, &owner, &address, body).await;
            (owner, rows, answer)
        }
    });
    for (owner, rows, answer) in futures_util::future::join_all(sends).await {
        match answer {
            Ok(batch) if batch.results.len() == rows.len() => {
                state.metrics.add(crate::app::metrics::Job::Forwarded, 1);
                for (index, mut verdict) in rows.into_iter().zip(batch.results) {
                    verdict.row = index + 1;
                    results[index] = verdict;
                }
            }
            Ok(batch) => tracing::warn!(
                %owner,
                sent = rows.len(),
                answered = batch.results.len(),
                "an owner answered a sub-batch with another number of rows"
            ),
            Err(reason) => tracing::warn!(%owner, %reason, "cannot send rows on to their owner"),
        }
    }
}

async fn send_batch(
    forwarder: &Forwarder,
    owner: &str,
    address: &str,
    body: Vec<u8>,
) -> Result<wire::dto::BatchResult, String> {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    let uri = axum::http::Uri::from_static("/v1/issuer/batches");
    let answer =
        send(forwarder, owner, address, Method::POST, &uri, &headers, Bytes::from(body)).await?;
    let status = answer.status();
    let bytes = axum::body::to_bytes(answer.into_body(), crate::limits::BULK_ANSWER_BYTES_MAX)
        .await
        .map_err(|e| format!("its answer: {e}"))?;
    if !status.is_success() {
        return Err(format!("it answered {status}: {}", String::from_utf8_lossy(&bytes)));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("its answer: {e}"))
}
