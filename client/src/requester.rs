//! `locker requester`: what a bank's or a telco's integration does, from the command line.
//! Every request is signed as an HTTP Message Signature (RFC 9421) with the requester's key;
//! consent requests and document accesses carry their own signed events.

use std::time::Duration;
use wire::dto::{ListDto, RequesterConsentDto};

use ed25519_dalek::SigningKey;
use ledger::crypto::{key_id_of, sign_event};
use schemas::*;

use crate::ClientError;
use crate::http::JsonClient;

#[derive(Clone)]
pub struct RequesterClient {
    server: String,
    id: RequesterId,
    key: SigningKey,
    http: JsonClient,
    /// Where signatures and events get their time (injected for tests).
    clock: std::sync::Arc<dyn ledger::clock::Clock>,
}

impl std::fmt::Debug for RequesterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequesterClient")
            .field("server", &self.server)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A service answer: HTTP status and body.
pub type Answer = (u16, String);

impl RequesterClient {
    pub fn new(
        server: &str,
        id: RequesterId,
        key: SigningKey,
        clock: std::sync::Arc<dyn ledger::clock::Clock>,
    ) -> Self {
        RequesterClient {
            server: server.trim_end_matches('/').to_owned(),
            id,
            key,
            http: JsonClient::new(Duration::from_millis(crate::limits::REQUEST_TIMEOUT_MS)),
            clock,
        }
    }

    /// The service's `host:port`, as the Host header carries it.
    fn authority(&self) -> String {
        JsonClient::parse_url(&self.server)
            .ok()
            .and_then(|url| url.authority().map(|a| a.as_str().to_owned()))
            .unwrap_or_default()
    }

    fn headers(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Vec<(&'static str, String)> {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let keyid = format!("{}:{}", self.id, key_id_of(&self.key.verifying_key()));
        let now_s = self.clock.now().0.div_euclid(1000);
        let authority = self.authority();
        let target = wire::rfc9421::Target { method, authority: &authority, path, query };
        wire::rfc9421::sign_request(&self.key, &keyid, now_s, target, body).into_headers()
    }

    async fn call(
        &self,
        method: &str,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> Result<Answer, ClientError> {
        let url = JsonClient::parse_url(&format!("{}{path_and_query}", self.server))?;
        let headers = self.headers(method, path_and_query, &body);
        self.http.send(method, &url, &headers, body).await
    }

    fn envelope(&self, payload: Payload) -> Result<Vec<u8>, ClientError> {
        let mut id = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
        let event = Event {
            id: EventId(id),
            occurred_at_ms: self.clock.now(),
            actor: Actor::Requester(self.id.clone()),
            key_id: key_id_of(&self.key.verifying_key()),
            payload,
        };
        let envelope = sign_event(event, &self.key, None)?;
        Ok(serde_json::json!({ "envelope": envelope }).to_string().into_bytes())
    }

    /// The locker of a citizen known by username.
    pub async fn lookup(&self, username: &str) -> Result<Answer, ClientError> {
        self.call("GET", &format!("/v1/requester/lockers/{username}"), vec![]).await
    }

    /// Asks a citizen for documents; the answer names the new consent's id.
    pub async fn request(
        &self,
        locker: LockerId,
        items: Vec<ConsentItem>,
        purpose: Purpose,
        expires_in_days: u32,
    ) -> Result<(Answer, Id16), ClientError> {
        let mut consent = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut consent);
        let consent_id = Id16(consent);
        let expires_at_ms =
            TimestampMs(self.clock.now().0 + i64::from(expires_in_days) * schemas::limits::DAY_MS);
        let payload = Payload::ConsentRequested(ConsentRequested {
            consent_id,
            requester: self.id.clone(),
            locker,
            items,
            purpose,
            expires_at_ms,
        });
        let body = self.envelope(payload)?;
        Ok((self.call("POST", "/v1/requester/consents", body).await?, consent_id))
    }

    /// Asks with the terms of an Account Aggregator consent: how often it may fetch, how
    /// long it keeps what it fetched, and the window access may fall in.
    pub async fn request_with_terms(
        &self,
        locker: LockerId,
        items: Vec<ConsentItem>,
        purpose: Purpose,
        terms: Terms,
    ) -> Result<(Answer, Id16), ClientError> {
        let mut consent = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut consent);
        let consent_id = Id16(consent);
        let now = self.clock.now().0;
        let day = schemas::limits::DAY_MS;
        let payload = Payload::ConsentRequestedWithTerms(ConsentRequestedWithTerms {
            consent_id,
            requester: self.id.clone(),
            locker,
            items,
            purpose,
            frequency: terms.frequency,
            data_life_days: terms.data_life_days,
            access_from_ms: TimestampMs(now),
            access_until_ms: TimestampMs(now + i64::from(terms.access_days) * day),
            expires_at_ms: TimestampMs(now + i64::from(terms.expires_in_days) * day),
        });
        let body = self.envelope(payload)?;
        Ok((self.call("POST", "/v1/requester/consents", body).await?, consent_id))
    }

    pub async fn consents(&self) -> Result<Answer, ClientError> {
        self.call("GET", "/v1/requester/consents?limit=200", vec![]).await
    }

    /// Reads one granted document (recorded in the log as an access).
    pub async fn fetch(
        &self,
        consent_id: Id16,
        locker: LockerId,
        document: DocRef,
        content_hash: Digest32,
    ) -> Result<Answer, ClientError> {
        let payload = Payload::DocumentAccessed(DocumentAccessed {
            consent_id,
            requester: self.id.clone(),
            locker,
            document,
            content_hash,
        });
        let body = self.envelope(payload)?;
        self.call("POST", "/v1/requester/documents", body).await
    }

    /// Reads every document granted under `consent_id`, as the consent listing names them.
    pub async fn fetch_all(&self, consent_id: Id16) -> Result<Vec<Answer>, ClientError> {
        let (status, listing) = self.consents().await?;
        if status != 200 {
            return Err(ClientError::refused("listing consents", status, &listing));
        }
        let answer =
            |e: &dyn std::fmt::Display| ClientError::Answer(format!("the consent listing: {e}"));
        let listing: ListDto<RequesterConsentDto> =
            serde_json::from_str(&listing).map_err(|e| answer(&e))?;
        let wanted = consent_id.to_hex();
        let consent = listing
            .items
            .into_iter()
            .find(|c| c.id == wanted)
            .ok_or_else(|| ClientError::Input(format!("no consent {wanted} among yours")))?;
        let locker = LockerId::parse(&consent.locker).map_err(|e| answer(&e))?;
        let mut answers = Vec::new();
        for granted in consent.granted {
            let document = match (&granted.uri, &granted.upload_id) {
                (Some(uri), _) => DocRef::Issued(DocUri::parse(uri).map_err(|e| answer(&e))?),
                (_, Some(id)) => DocRef::Uploaded(Id16::from_hex(id).map_err(|e| answer(&e))?),
                _ => continue,
            };
            let Some(hash) = &granted.content_hash else { continue };
            let hash = Digest32::from_hex(hash).map_err(|e| answer(&e))?;
            answers.push(self.fetch(consent_id, locker, document, hash).await?);
        }
        Ok(answers)
    }

    /// Follows the consent event stream, handing each received chunk of text to `each`
    /// until it returns false or the stream ends.
    pub async fn events(
        &self,
        last_event_id: Option<&str>,
        mut each: impl FnMut(&str) -> bool,
    ) -> Result<u16, ClientError> {
        use http_body_util::BodyExt;
        let path = "/v1/requester/events";
        let url = JsonClient::parse_url(&format!("{}{path}", self.server))?;
        let mut headers = self.headers("GET", path, &[]);
        if let Some(id) = last_event_id {
            headers.push(("last-event-id", id.to_owned()));
        }
        let response = self.http.open("GET", &url, &headers, vec![]).await?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ClientError::Transport {
                url: url.to_string(),
                reason: format!("the stream broke off: {e}"),
            })?;
            if let Ok(data) = frame.into_data()
                && !each(&String::from_utf8_lossy(&data))
            {
                break;
            }
        }
        Ok(status)
    }
}

/// The terms a requester asks for (`RequesterClient::request_with_terms`).
#[derive(Clone, Copy, Debug)]
pub struct Terms {
    pub frequency: FetchFrequency,
    pub data_life_days: u32,
    /// Access may last this many days from now.
    pub access_days: u32,
    /// The request lapses unanswered after this many days.
    pub expires_in_days: u32,
}
