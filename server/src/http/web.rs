//! The citizen's web locker: a page served by `locker serve` itself, with no build step (plain
//! HTML, CSS and JavaScript modules, compiled into the binary). The page speaks the same JSON
//! API as every other client. The browser's session (an HttpOnly, SameSite=Strict cookie and
//! its CSRF token) is `session.rs`'s; here:
//!
//! - every answer carries a Content-Security-Policy without inline scripts or styles, and
//!   refuses to be framed.

use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

/// No inline script or style, nothing from elsewhere; documents are shown from `blob:` URLs
/// the page makes of the bytes it fetched. `'wasm-unsafe-eval'` lets the page compile its
/// own WebAssembly verifier (fetched from 'self'); it allows no JavaScript `eval`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
     script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; frame-src 'self' blob:; \
     object-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers every answer carries.
pub async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The page's files, compiled in. The verifier is crate `verifier` built for the browser by
/// `build.rs`.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("/", "text/html; charset=utf-8", include_bytes!("../../web/index.html")),
    ("/web/app.js", "text/javascript; charset=utf-8", include_bytes!("../../web/app.js")),
    ("/web/i18n.js", "text/javascript; charset=utf-8", include_bytes!("../../web/i18n.js")),
    ("/web/verify.js", "text/javascript; charset=utf-8", include_bytes!("../../web/verify.js")),
    ("/web/app.css", "text/css; charset=utf-8", include_bytes!("../../web/app.css")),
    (
        "/web/verifier.wasm",
        "application/wasm",
        include_bytes!(concat!(env!("OUT_DIR"), "/verifier.wasm")),
    ),
];

/// An asset as served: its bytes, gzipped bytes, and an ETag naming its content.
struct Served {
    media_type: &'static str,
    plain: &'static [u8],
    gzipped: axum::body::Bytes,
    etag: String,
}

fn served() -> &'static [(&'static str, Served)] {
    static SERVED: std::sync::OnceLock<Vec<(&'static str, Served)>> = std::sync::OnceLock::new();
    SERVED.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(path, media_type, plain)| {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                let gzipped = std::io::Write::write_all(&mut encoder, plain)
                    .and_then(|()| encoder.finish())
                    .unwrap_or_else(|e| unreachable!("gzip into memory: {e}"));
                let etag = format!("\"{}\"", &blake3::hash(plain).to_hex()[..32]);
                (*path, Served { media_type, plain, gzipped: gzipped.into(), etag })
            })
            .collect()
    })
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            parts.next().is_some_and(|name| name.eq_ignore_ascii_case("gzip"))
                && !parts.any(|p| p.replace(' ', "") == "q=0")
        })
}

fn serve(asset: &'static Served, headers: &HeaderMap) -> Response {
    // Always revalidated, so a new binary serves a new page at once; a browser that has this
    // version gets a 304 and no bytes.
    let common = [
        (header::CONTENT_TYPE, asset.media_type),
        (header::CACHE_CONTROL, "no-cache"),
        (header::VARY, "accept-encoding"),
    ];
    let seen = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    if seen.is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == asset.etag)) {
        return (StatusCode::NOT_MODIFIED, common, [(header::ETAG, asset.etag.clone())])
            .into_response();
    }
    if accepts_gzip(headers) {
        let gzip =
            [(header::ETAG, asset.etag.clone()), (header::CONTENT_ENCODING, "gzip".to_owned())];
        return (common, gzip, asset.gzipped.clone()).into_response();
    }
    (common, [(header::ETAG, asset.etag.clone())], asset.plain).into_response()
}

/// Adds the page's routes.
pub fn routes<S: Clone + Send + Sync + 'static>(mut router: axum::Router<S>) -> axum::Router<S> {
    for (path, asset) in served() {
        router = router.route(
            path,
            axum::routing::get(move |headers: HeaderMap| async move { serve(asset, &headers) }),
        );
    }
    router
}
