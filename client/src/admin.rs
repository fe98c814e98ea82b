//! The operator's side of `/v1/admin/events`: directory events (register, suspend, rotate,
//! revoke) signed with the platform key where it is kept, and sent to the service.

use ed25519_dalek::SigningKey;
use ledger::crypto::{key_id_of, sign_event};
use schemas::*;

use crate::ClientError;

/// Signs a directory `payload` as the platform, with a fresh random id.
pub fn platform_envelope(
    platform: &SigningKey,
    payload: Payload,
    now: TimestampMs,
) -> Result<Envelope, ClientError> {
    let mut id = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
    let event = Event {
        id: EventId(id),
        occurred_at_ms: now,
        actor: Actor::Platform,
        key_id: key_id_of(&platform.verifying_key()),
        payload,
    };
    Ok(sign_event(event, platform, None)?)
}

/// Parses a public key given in hex (as `locker keys generate` prints it).
pub fn public_key(hex_text: &str) -> Result<PublicKeyEntry, ClientError> {
    let invalid = |e: String| ClientError::Input(format!("public key: {e}"));
    let bytes = PublicKeyBytes::from_hex(hex_text.trim()).map_err(|e| invalid(e.to_string()))?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(bytes.as_bytes())
        .map_err(|e| invalid(e.to_string()))?;
    Ok(ledger::crypto::public_key_entry(&key))
}

/// Asks the service to snapshot its views and key registry now: an RFC 9421 request signed with
/// the platform key. The answer says what was taken.
pub async fn snapshot(
    server: &str,
    platform: &SigningKey,
    now: TimestampMs,
) -> Result<wire::dto::SnapshotTaken, ClientError> {
    let path = "/v1/admin/snapshots";
    let url =
        crate::http::JsonClient::parse_url(&format!("{}{path}", server.trim_end_matches('/')))?;
    let keyid = format!("platform:{}", key_id_of(&platform.verifying_key()));
    let authority = url.authority().map(|a| a.as_str()).unwrap_or_default();
    let target = wire::rfc9421::Target { method: "POST", authority, path, query: "" };
    let signed = wire::rfc9421::sign_request(platform, &keyid, now.0.div_euclid(1000), target, b"");
    let url = url.to_string();
    let http = crate::http::JsonClient::new(std::time::Duration::from_millis(
        crate::limits::SNAPSHOT_TIMEOUT_MS,
    ));
    http.typed("POST", &url, &signed.into_headers(), Vec::new()).await
}

/// Submits a platform-signed directory event to the service.
pub async fn submit(
    server: &str,
    platform: &SigningKey,
    payload: Payload,
    now: TimestampMs,
) -> Result<(u16, String), ClientError> {
    let url = crate::http::JsonClient::parse_url(&format!(
        "{}/v1/admin/events",
        server.trim_end_matches('/')
    ))?;
    let envelope = platform_envelope(platform, payload, now)?;
    let body = serde_json::json!({ "envelope": envelope }).to_string();
    crate::http::JsonClient::new(std::time::Duration::from_millis(
        crate::limits::REQUEST_TIMEOUT_MS,
    ))
    .post(&url, body)
    .await
}
