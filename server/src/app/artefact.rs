//! The consent artefact a citizen downloads: what they agreed to, in the shape of the Account
//! Aggregator framework's consent artefact (ReBIT's `ConsentDetail`: purpose, customer, data
//! consumer, frequency, data life, the consent's start and expiry), signed by the platform as
//! a JWS (RFC 7515, compact serialisation) with EdDSA over Ed25519 (RFC 8037), so anyone
//! holding the platform's public key checks it with any JOSE library.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer;
use projections::views::ConsentView;
use serde_json::{Value, json};

use crate::app::lookup::doc_text;
use crate::{AppError, AppState};

/// An instant as RFC 3339 (UTC, milliseconds).
fn instant(at: schemas::TimestampMs) -> Value {
    chrono::DateTime::from_timestamp_millis(at.0)
        .map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
        .unwrap_or(Value::Null)
}

/// The artefact of a consent, as of `now`.
pub(crate) fn artefact(consent: &ConsentView, now: schemas::TimestampMs) -> Value {
    let state = crate::app::dto::state_name(consent.state);
    let documents: Vec<Value> = consent
        .granted
        .iter()
        .map(|doc| {
            let (uri, upload_id) = doc_text(doc);
            json!({ "uri": uri, "upload_id": upload_id })
        })
        .collect();
    let terms = consent.terms.as_ref();
    json!({
        "ver": "1.0",
        "consentId": consent.consent_id.to_hex(),
        "status": state.to_uppercase(),
        "createTimestamp": instant(consent.requested_at_ms),
        "signedAt": instant(now),
        "ConsentDetail": {
            "consentStart": instant(terms.map_or(consent.requested_at_ms, |t| t.access_from_ms)),
            "consentExpiry": consent.access_expires_at_ms.map(instant),
            "consentMode": if terms.is_some_and(|t| t.data_life_days == 0) { "VIEW" } else { "STORE" },
            "fetchType": if terms.is_some() { "PERIODIC" } else { "ONETIME" },
            "Customer": { "id": consent.locker.to_string() },
            "DataConsumer": { "id": consent.requester },
            "Purpose": {
                "code": consent.purpose.code,
                "text": consent.purpose.text.to_string(),
            },
            "requested": consent.items,
            "documents": documents,
            "Frequency": terms.map(|t| json!({
                "unit": t.frequency.per.name().to_uppercase(),
                "value": t.frequency.reads,
            })),
            "DataLife": terms.map(|t| json!({ "unit": "DAY", "value": t.data_life_days })),
            "accessWindow": terms.map(|t| json!({
                "from": instant(t.access_from_ms),
                "to": instant(t.access_until_ms),
            })),
        },
    })
}

/// `{consent_artefact, signature, signer}`: the artefact, its compact JWS (whose payload is
/// the artefact's JSON), and the platform key that signed it.
pub(crate) fn signed(state: &AppState, artefact: Value) -> Result<Value, AppError> {
    let key = state.platform.verifying_key();
    let kid = ledger::crypto::key_id_of(&key).to_hex();
    let header = json!({ "alg": "EdDSA", "kid": kid, "typ": "JOSE" });
    let encode = |value: &Value| -> Result<String, AppError> {
        let bytes = serde_json::to_vec(value).map_err(crate::app::write::internal)?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    };
    let input = format!("{}.{}", encode(&header)?, encode(&artefact)?);
    let signature = URL_SAFE_NO_PAD.encode(state.platform.sign(input.as_bytes()).to_bytes());
    Ok(json!({
        "consent_artefact": artefact,
        "signature": format!("{input}.{signature}"),
        "signer": {
            "kid": kid,
            "jwk": { "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(key.as_bytes()) },
        },
    }))
}
