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
    let encode = |value: &Value| serde_json::to_vec(value).map_err(crate::app::write::internal);
    let jws = compact_jws(&state.platform, &encode(&header)?, &encode(&artefact)?);
    Ok(json!({
        "consent_artefact": artefact,
        "signature": jws,
        "signer": {
            "kid": kid,
            "jwk": { "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(key.as_bytes()) },
        },
    }))
}

/// The JWS compact serialisation (RFC 7515 7.1) of `payload` under the protected `header`,
/// signed with Ed25519 (RFC 8037 3.1).
fn compact_jws(key: &ed25519_dalek::SigningKey, header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let signature = URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()).to_bytes());
    format!("{input}.{signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8037 appendix A.4: the published Ed25519 JWS of "Example of Ed25519 signing" with
    /// the key of appendix A.1, byte for byte (Ed25519 signatures are deterministic).
    #[test]
    fn the_rfc_8037_example_signs_to_the_published_jws() {
        let secret = URL_SAFE_NO_PAD
            .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .expect("base64url");
        let key = ed25519_dalek::SigningKey::from_bytes(&secret.try_into().expect("32 bytes"));
        assert_eq!(
            URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "appendix A.1's public key"
        );
        let jws = compact_jws(&key, br#"{"alg":"EdDSA"}"#, b"Example of Ed25519 signing");
        assert_eq!(
            jws,
            "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.\
             hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
    }
}
