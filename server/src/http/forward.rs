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
/// The network address the forwarding node had the request from: the owner counts guesses
/// and tells viewers apart by it, believed only under a valid `FORWARD_MAC`.
pub const FORWARDED_FOR: &str = "x-locker-forwarded-for";
/// When the node forwarded it (ms since the epoch): a MAC is good for a short window only.
pub const FORWARDED_AT: &str = "x-locker-forwarded-at";
/// BLAKE3 keyed with a key derived from the platform key (which only the nodes hold) over
/// the method, path, the node it is for, `FORWARDED_BY`, `FORWARDED_FOR`, `FORWARDED_AT` and
/// the body's hash: a request that says it was forwarded without it is refused, so no caller
/// can claim another's address, nor reuse a node's MAC on another body or node.
pub const FORWARD_MAC: &str = "x-locker-forward-mac";

/// What a node vouches for when it forwards a request.
struct Vouched<'a> {
    method: &'a Method,
    path: &'a str,
    to: &'a str,
    by: &'a str,
    client: &'a str,
    at_ms: i64,
    body: blake3::Hash,
}

impl Vouched<'_> {
    fn mac(&self, platform_secret: &[u8; 32]) -> blake3::Hash {
        let key = blake3::derive_key("locker node forwarding v1", platform_secret);
        let Vouched { method, path, to, by, client, at_ms, body } = self;
        let text = format!("{method}\n{path}\n{to}\n{by}\n{client}\n{at_ms}\n{body}");
        blake3::keyed_hash(&key, text.as_bytes())
    }
}

/// For a request that says a node forwarded it: the client's address it vouches for, or a
/// refusal if the MAC does not hold (a caller posing as a node) or is out of its window.
/// `here` is this node's address, `now_ms` its clock.
fn vouched_client(
    platform_secret: &[u8; 32],
    here: &str,
    now_ms: i64,
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<std::net::IpAddr, crate::AppError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let forged = || {
        crate::AppError::new(
            wire::ErrorCode::NotPermitted,
            "a forwarded request must come from a node of this cluster",
        )
    };
    let at_ms: i64 = text(FORWARDED_AT).parse().map_err(|_| forged())?;
    let vouched = Vouched {
        method,
        path: path_and_query,
        to: here,
        by: text(FORWARDED_BY),
        client: text(FORWARDED_FOR),
        at_ms,
        body: blake3::hash(body),
    };
    // blake3::Hash compares in constant time.
    let equal = blake3::Hash::from_hex(text(FORWARD_MAC))
        .is_ok_and(|given| given == vouched.mac(platform_secret));
    if !equal || (now_ms - at_ms).abs() > crate::limits::FORWARD_MAC_WINDOW_MS {
        return Err(forged());
    }
    vouched.client.parse().map_err(|_| forged())
}

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

/// Whether the whole body can be held to send it again: its length is known and within the
/// route's bound. Known means stated, or none at all: an HTTP/1.1 request with neither
/// Content-Length nor Transfer-Encoding has an empty body (RFC 9112, section 6.3), as a
/// grant or a logout does; a chunked body's length is not known.
fn forwardable(path: &str, body: &Body) -> bool {
    use axum::body::HttpBody;
    body.size_hint().exact().is_some_and(|bytes| bytes <= body_limit(path) as u64)
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
    if request.headers().contains_key(FORWARDED_BY) {
        return from_a_node(&state, request, next).await;
    }
    if !forwardable(&path, request.body()) {
        return next.run(request).await;
    }
    // Bodies held at once are bounded: past the bound a request goes on unheld (a `not_owner`
    // for it reaches its client, which retries). A request without a body holds nothing.
    let bodiless = {
        use axum::body::HttpBody;
        request.body().size_hint().exact() == Some(0)
    };
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
    let client = client_of(&parts.extensions);
    let response = next.run(Request::from_parts(parts, Body::from(bytes.clone()))).await;
    let Some(Elsewhere(topic, partition)) = response.extensions().get::<Elsewhere>().cloned()
    else {
        return response;
    };
    let Some(owner) = state.cluster.owner_of(&topic, partition).await else {
        tracing::warn!(%topic, partition, "no other node owns the partition by the group: refused");
        return response;
    };
    let from = Forwarding { by: &address, client: &client, at_ms: state.clock.now().0 };
    let sent = send(&state, &owner, &from, method, &uri, &headers, bytes).await;
    match sent {
        Ok(answer) => {
            state.metrics.add(crate::app::metrics::Job::Forwarded, 1);
            if answer.status().is_server_error() {
                tracing::warn!(%topic, partition, %owner, status = %answer.status(), "the owner refused a forwarded request");
            }
            answer
        }
        Err(reason) => {
            tracing::warn!(%topic, partition, %owner, %reason, "cannot forward to the owner");
            response
        }
    }
}

/// A request that says a node forwarded it: believed (the client's address taken from it)
/// only under a valid MAC, and never forwarded again.
async fn from_a_node(state: &AppState, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    // Held whole to check its hash: at most what the route itself reads (a batch's rows).
    let limit = match parts.uri.path() {
        "/v1/issuer/batches" => crate::limits::BULK_BODY_BYTES_MAX,
        other => body_limit(other),
    };
    let bytes = match crate::http::body::read_bounded(body, limit, "a forwarded body").await {
        Ok(bytes) => bytes,
        Err(e) => return e.into_response(),
    };
    let here = state.cluster.address().unwrap_or_default();
    let (secret, now_ms) = (&state.platform_secret, state.clock.now().0);
    match vouched_client(secret, here, now_ms, &parts.method, &path, &parts.headers, &bytes) {
        Ok(client) => {
            let address = std::net::SocketAddr::new(client, 0);
            parts.extensions.insert(axum::extract::ConnectInfo(address));
            next.run(Request::from_parts(parts, Body::from(bytes))).await
        }
        Err(e) => e.into_response(),
    }
}

/// The address a request came from ("" in-process, where there is none).
fn client_of(extensions: &axum::http::Extensions) -> String {
    String::from_utf8(crate::http::session::source_of(extensions)).unwrap_or_default()
}

/// Who forwards a request: this node, for a client at `client`, now.
struct Forwarding<'a> {
    by: &'a str,
    client: &'a str,
    at_ms: i64,
}

async fn send(
    state: &AppState,
    owner: &str,
    from: &Forwarding<'_>,
    method: Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    bytes: Bytes,
) -> Result<Response, String> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let target: axum::http::Uri =
        format!("{}{path}", owner.trim_end_matches('/')).parse().map_err(|e| format!("{e}"))?;
    let vouched = Vouched {
        method: &method,
        path,
        to: owner,
        by: from.by,
        client: from.client,
        at_ms: from.at_ms,
        body: blake3::hash(&bytes),
    };
    let mac = vouched.mac(&state.platform_secret).to_hex();
    let mut builder = axum::http::Request::builder().method(method.clone()).uri(target);
    for (name, value) in headers {
        if !hop_by_hop(name) && !name.as_str().starts_with("x-locker-forward") {
            builder = builder.header(name, value);
        }
    }
    let value = |text: &str| HeaderValue::from_str(text).map_err(|e| e.to_string());
    let request = builder
        .header(FORWARDED_BY, value(from.by)?)
        .header(FORWARDED_FOR, value(from.client)?)
        .header(FORWARDED_AT, value(&from.at_ms.to_string())?)
        .header(FORWARD_MAC, value(&mac)?)
        .body(Full::new(bytes))
        .map_err(|e| e.to_string())?;
    let answer = tokio::time::timeout(
        Duration::from_millis(FORWARD_TIMEOUT_MS),
        state.forwarder.client.request(request),
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
    extensions: &axum::http::Extensions,
    (format, lines): (crate::app::bulk::RowFormat, &[&[u8]]),
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
        let body = format.join(rows.iter().map(|&i| lines[i]));
        let from = (address.clone(), client_of(extensions), state.clock.now().0);
        async move {
            let (by, client, at_ms) = &from;
            let from = Forwarding { by, client, at_ms: *at_ms };
            let answer = send_batch(state, &owner, &from, (format, body)).await;
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
    state: &AppState,
    owner: &str,
    from: &Forwarding<'_>,
    (format, body): (crate::app::bulk::RowFormat, Vec<u8>),
) -> Result<wire::dto::BatchResult, String> {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.media_type()));
    let uri = axum::http::Uri::from_static("/v1/issuer/batches");
    let answer = send(state, owner, from, Method::POST, &uri, &headers, Bytes::from(body)).await?;
    let status = answer.status();
    let bytes = axum::body::to_bytes(answer.into_body(), crate::limits::BULK_ANSWER_BYTES_MAX)
        .await
        .map_err(|e| format!("its answer: {e}"))?;
    if !status.is_success() {
        return Err(format!("it answered {status}: {}", String::from_utf8_lossy(&bytes)));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("its answer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [7; 32];
    const NODE: &str = "http://10.0.0.2:8080";
    const AT_MS: i64 = 1_800_000_000_000;

    /// The headers a node at 10.0.0.1 sends with a login it forwards to `NODE` for a client
    /// at 203.0.113.7.
    fn forwarded(body: &[u8]) -> HeaderMap {
        let vouched = Vouched {
            method: &Method::POST,
            path: "/v1/citizen/login",
            to: NODE,
            by: "http://10.0.0.1:8080",
            client: "203.0.113.7",
            at_ms: AT_MS,
            body: blake3::hash(body),
        };
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: String| {
            headers.insert(name, HeaderValue::from_str(&value).expect("header"));
        };
        put(FORWARDED_BY, vouched.by.to_owned());
        put(FORWARDED_FOR, vouched.client.to_owned());
        put(FORWARDED_AT, AT_MS.to_string());
        put(FORWARD_MAC, vouched.mac(&SECRET).to_hex().to_string());
        headers
    }

    fn check(secret: &[u8; 32], here: &str, now_ms: i64, headers: &HeaderMap, body: &[u8]) -> bool {
        vouched_client(secret, here, now_ms, &Method::POST, "/v1/citizen/login", headers, body)
            .is_ok()
    }

    #[test]
    fn a_nodes_word_for_a_clients_address_holds_only_as_the_node_gave_it() {
        let body = br#"{"username":"ravi","password":"x"}"#;
        let headers = forwarded(body);
        let client = vouched_client(
            &SECRET,
            NODE,
            AT_MS,
            &Method::POST,
            "/v1/citizen/login",
            &headers,
            body,
        );
        assert_eq!(client.ok(), Some("203.0.113.7".parse().expect("ip")));
        assert!(!check(&SECRET, NODE, AT_MS, &headers, b"{}"), "another body");
        assert!(!check(&SECRET, "http://10.0.0.3:8080", AT_MS, &headers, body), "another node");
        assert!(!check(&[8; 32], NODE, AT_MS, &headers, body), "another platform");
        let window = crate::limits::FORWARD_MAC_WINDOW_MS;
        assert!(check(&SECRET, NODE, AT_MS + window, &headers, body), "late, within its window");
        assert!(!check(&SECRET, NODE, AT_MS + window + 1, &headers, body), "too late");
        assert!(!check(&SECRET, NODE, AT_MS - window - 1, &headers, body), "from the future");
        let mut spoofed = headers.clone();
        spoofed.insert(FORWARDED_FOR, HeaderValue::from_static("198.51.100.1"));
        assert!(!check(&SECRET, NODE, AT_MS, &spoofed, body), "another client address");
        let mut bare = headers;
        bare.remove(FORWARD_MAC);
        assert!(!check(&SECRET, NODE, AT_MS, &bare, body), "no MAC");
    }
}
