//! The citizen's session as an extractor, and what the session routes share: where a request
//! comes from, and the answer when the password hashing pool is full. A browser's session is
//! an HttpOnly, SameSite=Strict cookie, and every request that changes state with it carries
//! `x-csrf-token`, derived from the session token, which another site can neither read nor
//! guess.

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::header::{self, HeaderMap};
use axum::http::request::Parts;
use schemas::LockerId;

use crate::{AppError, AppState};
use wire::ErrorCode;

/// A request made with a live session: `Authorization: Bearer <token>`.
pub(crate) struct Citizen {
    pub locker: LockerId,
    token: String,
}

fn unauthorized(message: &str) -> AppError {
    AppError::new(ErrorCode::InvalidToken, message)
}

impl Citizen {
    /// Ends this session (the bearer token or cookie the request came with).
    pub(crate) fn log_out(
        &self,
        accounts: &crate::store::accounts::Accounts,
    ) -> Result<(), crate::store::accounts::LoginError> {
        accounts.logout(&self.token)
    }

    /// The CSRF token the web page sends with this session's writes.
    pub(crate) fn csrf_token(&self) -> String {
        csrf_token(&self.token)
    }
}

impl FromRequestParts<AppState> for Citizen {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = match parts.headers.get(axum::http::header::AUTHORIZATION) {
            Some(header) => header
                .to_str()
                .ok()
                .and_then(|h| h.strip_prefix("Bearer "))
                .filter(|t| t.len() == 64)
                .ok_or_else(|| {
                    unauthorized("the Authorization header must be `Bearer <64 hex digits>`")
                })?,
            // The web page's session: an HttpOnly cookie, and a CSRF token on every write.
            None => cookie_session(parts)?
                .ok_or_else(|| unauthorized("log in first: send Authorization: Bearer <token>"))?,
        };
        let now = state.clock.now();
        let found = if state.accounts.is_shared() {
            // A round trip to the bucket: off the async workers, which a flood of made-up
            // tokens must not hold.
            let (accounts, token) = (std::sync::Arc::clone(&state.accounts), token.to_owned());
            tokio::task::spawn_blocking(move || accounts.session(&token, now))
                .await
                .map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?
        } else {
            state.accounts.session(token, now)
        };
        let locker =
            found.map_err(|e| AppError::new(ErrorCode::Internal, format!("{e:?}")))?.ok_or_else(
                || unauthorized("the session is unknown, expired or logged out; log in again"),
            )?;
        Ok(Citizen { locker, token: token.to_owned() })
    }
}

pub(crate) fn hashing_busy() -> AppError {
    AppError::new(ErrorCode::Busy, "too many password checks at once; retry in a moment")
}

/// Where a request comes from, as failed logins are counted: its network address (empty
/// in-process, where there is none).
pub(crate) fn source_of(extensions: &axum::http::Extensions) -> Vec<u8> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip().to_string().into_bytes())
        .unwrap_or_default()
}

pub const SESSION_COOKIE: &str = "locker_session";

pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF token of a session: a keyed derivation of the session token, so it needs no
/// storage and dies with the session.
pub fn csrf_token(session_token: &str) -> String {
    let derived = blake3::derive_key("locker web csrf-token v1", session_token.as_bytes());
    blake3::Hash::from_bytes(derived).to_hex()[..32].to_owned()
}

/// The `Set-Cookie` value of a session (an empty token and age 0 clear it).
pub fn session_cookie(token: &str, max_age_s: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    )
}

/// Whether the request reached the service over TLS (through a terminating proxy).
pub fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// The session token of a cookie session, if the request has one. A request that changes
/// state must also carry the session's CSRF token.
pub(crate) fn cookie_session(parts: &Parts) -> Result<Option<&str>, AppError> {
    let Some(token) = cookie_token(&parts.headers) else { return Ok(None) };
    if token.len() != 64 {
        return Err(AppError::new(
            ErrorCode::InvalidToken,
            "the session cookie is malformed; log in again",
        ));
    }
    if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        // Compared as hashes: the time taken says nothing about the expected token.
        if blake3::hash(sent.as_bytes()) != blake3::hash(csrf_token(token).as_bytes()) {
            return Err(AppError::new(
                ErrorCode::CsrfFailed,
                format!(
                    "a change made with the session cookie needs the session's {CSRF_HEADER} header"
                ),
            ));
        }
    }
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_csrf_token_is_the_sessions_own() {
        let a = csrf_token(&"a".repeat(64));
        assert_eq!(a.len(), 32);
        assert_eq!(a, csrf_token(&"a".repeat(64)));
        assert_ne!(a, csrf_token(&"b".repeat(64)));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_tls() {
        let cookie = session_cookie("t", 60, false);
        assert_eq!(cookie, "locker_session=t; Path=/; HttpOnly; SameSite=Strict; Max-Age=60");
        assert!(session_cookie("t", 60, true).ends_with("; Secure"));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; locker_session=xyz; b=2"));
        assert_eq!(cookie_token(&headers), Some("xyz"));
        headers.insert(header::COOKIE, HeaderValue::from_static("locker_session="));
        assert_eq!(cookie_token(&headers), None);
    }
}
