//! `locker issue`: what an issuer scripts. It builds a `DocumentIssued` event for a locker,
//! commits to the holder's name and fields with a salt, signs it with the issuer's key and
//! pushes it to the service, which checks, seals and logs it.
//!
//! The event id is derived from the document's URI, so pushing the same document twice is
//! answered as a conflict instead of issuing it twice. The salt is derived from the issuer's
//! key and the URI: secret to the issuer, and the same on every run.

use std::time::Duration;

use ed25519_dalek::SigningKey;
use ledger::crypto::{commitment, key_id_of, sign_event};
use schemas::*;

use crate::ClientError;
use crate::http::JsonClient;

/// Whom a document is for.
#[derive(Debug, Clone)]
pub enum To {
    Locker(LockerId),
    /// A citizen known by Aadhaar only; the document waits until an Aadhaar link.
    Aadhaar(Aadhaar),
}

/// POSTs `body` to `path` of `server` as the issuer, with an RFC 9421 signature made at `now`;
/// the status and the answer.
pub(crate) async fn post_as_issuer(
    (server, issuer, key): (&str, &IssuerId, &SigningKey),
    now: TimestampMs,
    path: &str,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<(u16, String), ClientError> {
    let url = JsonClient::parse_url(&format!("{}{path}", server.trim_end_matches('/')))?;
    let keyid = format!("{issuer}:{}", key_id_of(&key.verifying_key()));
    let authority = url.authority().map(|a| a.as_str()).unwrap_or_default();
    let target = wire::rfc9421::Target { method: "POST", authority, path, query: "" };
    let signed = wire::rfc9421::sign_request(key, &keyid, now.0.div_euclid(1000), target, &body);
    JsonClient::new(timeout).send("POST", &url, &signed.into_headers(), body).await
}

/// Asks the service for the reference of an Aadhaar number (RFC 9421-signed as the issuer).
async fn aadhaar_reference(
    request: &IssueRequest,
    aadhaar: &Aadhaar,
) -> Result<AadhaarRef, ClientError> {
    let body = serde_json::json!({ "aadhaar": aadhaar.expose_digits() }).to_string().into_bytes();
    let (status, answer) = post_as_issuer(
        (&request.server, &request.issuer, &request.key),
        request.now,
        "/v1/issuer/aadhaar-references",
        body,
        Duration::from_millis(crate::limits::REQUEST_TIMEOUT_MS),
    )
    .await?;
    if status != 200 {
        return Err(ClientError::refused("the Aadhaar number", status, &answer));
    }
    let bad = |e: &dyn std::fmt::Display| ClientError::Answer(format!("an Aadhaar reference: {e}"));
    let answer: wire::dto::AadhaarReferenceDto =
        serde_json::from_str(&answer).map_err(|e| bad(&e))?;
    Ok(AadhaarRef {
        keyed_hash: Digest32::from_hex(&answer.keyed_hash).map_err(|e| bad(&e))?,
        last4: Last4::parse(&answer.last4).map_err(|e| bad(&e))?,
    })
}

#[derive(Debug)]
pub struct IssueRequest {
    pub server: String,
    pub key: SigningKey,
    pub issuer: IssuerId,
    pub to: To,
    pub doc_type: DocTypeCode,
    pub doc_id: DocId,
    pub name: Label,
    pub issued_on: CivilDate,
    pub valid_from: Option<CivilDate>,
    pub valid_to: Option<CivilDate>,
    pub holder: Label,
    pub fields: Vec<DocumentField>,
    pub content: Vec<u8>,
    /// Push only the content's hash; the bytes stay with the issuer.
    pub hash_only: bool,
    pub now: TimestampMs,
}

/// PDF, XML or JSON, recognised by the content, not the file name.
pub fn media_type_of(content: &[u8]) -> Result<MediaType, ClientError> {
    wire::media::sniff(content).filter(|t| wire::limits::ISSUED_TYPES.contains(t)).ok_or_else(
        || ClientError::Input("the content must be a PDF, XML or JSON document".to_owned()),
    )
}

/// Builds, signs and pushes the document; returns the service's status and answer.
pub async fn issue(request: IssueRequest) -> Result<(u16, String), ClientError> {
    let url = JsonClient::parse_url(&format!(
        "{}/v1/issuer/documents",
        request.server.trim_end_matches('/')
    ))?;
    let recipient = match &request.to {
        To::Locker(locker) => Recipient::Locker(*locker),
        To::Aadhaar(aadhaar) => Recipient::Aadhaar(aadhaar_reference(&request, aadhaar).await?),
    };
    let body = push_body(request, recipient)?;
    JsonClient::new(Duration::from_millis(crate::limits::REQUEST_TIMEOUT_MS))
        .post(&url, body.to_string())
        .await
}

/// The body of `POST /v1/issuer/documents` (and of an answer to a pull): the signed
/// `DocumentIssued` for `recipient`, its personal fields with their salt, and the bytes.
pub fn push_body(
    request: IssueRequest,
    recipient: Recipient,
) -> Result<serde_json::Value, ClientError> {
    let uri = DocUri::new(request.issuer.clone(), request.doc_type, request.doc_id);
    let secret = request.key.to_bytes();
    let id = ledger::crypto::issue_event_id(&uri);
    let salt = *blake3::keyed_hash(&secret, format!("salt:{uri}").as_bytes()).as_bytes();
    let data = PersonalData::Document(DocumentPersonal {
        holder_name: request.holder,
        date_of_birth: None,
        fields: request.fields,
    });
    let committed = commitment(&salt, &encode_personal(&data)?);
    let media_type = media_type_of(&request.content)?;
    let event = Event {
        id,
        occurred_at_ms: request.now,
        actor: Actor::Issuer(request.issuer.clone()),
        key_id: key_id_of(&request.key.verifying_key()),
        payload: Payload::DocumentIssued(DocumentIssued {
            uri,
            recipient,
            name: request.name,
            issued_on: request.issued_on,
            valid_from: request.valid_from,
            valid_to: request.valid_to,
            content: ContentRef {
                hash: Digest32(*blake3::hash(&request.content).as_bytes()),
                media_type,
                size_bytes: request.content.len() as u64,
            },
            personal: Some(committed),
        }),
    };
    let envelope = sign_event(event, &request.key, None)?;
    let salt_hex: String = schemas::to_hex(&salt);
    let mut body =
        serde_json::json!({ "envelope": envelope, "personal": { "salt": salt_hex, "data": data } });
    if !request.hash_only {
        use base64::Engine;
        body["content"] = base64::engine::general_purpose::STANDARD.encode(&request.content).into();
    }
    Ok(body)
}

/// Signs an issuer's declaration of one of its doc types (fields, pull) and sends it to
/// `POST /v1/issuer/doc-types`; returns the service's status and answer.
pub async fn declare(
    server: &str,
    key: &SigningKey,
    declared: DocTypeDeclared,
    now: TimestampMs,
) -> Result<(u16, String), ClientError> {
    let url =
        JsonClient::parse_url(&format!("{}/v1/issuer/doc-types", server.trim_end_matches('/')))?;
    let mut id = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
    let event = Event {
        id: EventId(id),
        occurred_at_ms: now,
        actor: Actor::Issuer(declared.issuer.clone()),
        key_id: key_id_of(&key.verifying_key()),
        payload: Payload::DocTypeDeclared(declared),
    };
    let envelope = sign_event(event, key, None)?;
    let body = serde_json::json!({ "envelope": envelope }).to_string();
    JsonClient::new(Duration::from_millis(crate::limits::REQUEST_TIMEOUT_MS)).post(&url, body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_come_from_the_content() {
        assert_eq!(media_type_of(b"%PDF-1.7\n...").ok(), Some(MediaType::Pdf));
        assert_eq!(media_type_of(b"  <?xml version=\"1.0\"?><doc/>").ok(), Some(MediaType::Xml));
        assert_eq!(media_type_of(b"{\"marks\": 91}").ok(), Some(MediaType::Json));
        assert!(media_type_of(b"\x89PNG\r\n").is_err());
        assert!(media_type_of(b"").is_err());
    }
}
