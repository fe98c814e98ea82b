//! A citizen's calls with a bearer token, as the web page makes them with its cookie: sign up
//! with an OTP, log in, My Certificates, My Issuers and Requesters, downloads and proof
//! bundles, uploads, share links, linking an Aadhaar. For scripts, tests and the load tools;
//! every answer is a `wire::dto` type.

use std::time::Duration;

use wire::dto::{
    AadhaarBody, AadhaarLinkedDto, AadhaarOtpBody, AadhaarOtpSent, CertificateDto, CheckpointsDto,
    Decided, HealthDto, ListDto, LoginBody, MyIssuerDto, MyRequesterDto, OtpBody, OtpSent,
    SessionDto, SessionKind, ShareBody, ShareDto, SharedDto, SignupBody, StorageDto, UploadedDto,
};

use crate::ClientError;
use crate::http::JsonClient;

/// The calls anyone may make: signing up, logging in, the ledger's public answers.
#[derive(Debug, Clone)]
pub struct Public {
    http: JsonClient,
    base: String,
}

/// What a citizen decides about a consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Grant,
    Deny,
    Revoke,
    Pause,
    Resume,
}

impl Decision {
    fn word(self) -> &'static str {
        match self {
            Decision::Grant => "grant",
            Decision::Deny => "deny",
            Decision::Revoke => "revoke",
            Decision::Pause => "pause",
            Decision::Resume => "resume",
        }
    }
}

/// A logged-in citizen. Its `Debug` shows the locker, never the session's token.
#[derive(Clone)]
pub struct Citizen {
    public: Public,
    session: SessionDto,
    authorization: String,
}

fn json_headers() -> Vec<(&'static str, String)> {
    vec![("content-type", "application/json".to_owned())]
}

fn encoded<T: serde::Serialize>(body: &T) -> Result<Vec<u8>, ClientError> {
    serde_json::to_vec(body).map_err(|e| ClientError::Input(e.to_string()))
}

/// `text` as one path segment or query value: every byte but RFC 3986's unreserved characters
/// percent-encoded (a document URI may hold `/`).
fn component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Public {
    /// A client of the service at `server` (`http://host:port`).
    pub fn new(server: &str) -> Result<Self, ClientError> {
        let base = server.trim_end_matches('/').to_owned();
        JsonClient::parse_url(&base)?;
        let timeout = Duration::from_millis(crate::limits::REQUEST_TIMEOUT_MS);
        Ok(Public { http: JsonClient::new(timeout), base })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GETs a path of the service (a share link's page, say) as `T`.
    pub async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.http.typed("GET", &self.url(path), &[], Vec::new()).await
    }

    /// GETs a path of the service as bytes (a proof bundle a reference opens); any status but
    /// 200 is a refusal, with its code.
    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        let url = self.url(path);
        let uri = JsonClient::parse_url(&url)?;
        let (status, bytes) = self.http.send_bytes("GET", &uri, &[], Vec::new()).await?;
        if status != 200 {
            let text = String::from_utf8_lossy(&bytes);
            return Err(ClientError::refused(format!("GET {url}"), status, &text));
        }
        Ok(bytes)
    }

    /// Asks for a sign-up code, texted to `mobile`.
    pub async fn signup_otp(&self, mobile: &str) -> Result<OtpSent, ClientError> {
        let body = encoded(&OtpBody { mobile: mobile.to_owned() })?;
        self.http.typed("POST", &self.url("/v1/citizen/signup/otp"), &json_headers(), body).await
    }

    /// Opens a locker with the texted code; the new citizen is logged in.
    pub async fn sign_up(&self, body: &SignupBody) -> Result<Citizen, ClientError> {
        let url = self.url("/v1/citizen/signup");
        let session: SessionDto =
            self.http.typed("POST", &url, &json_headers(), encoded(body)?).await?;
        self.citizen(session)
    }

    /// Logs in for a bearer token.
    pub async fn log_in(&self, username: &str, password: &str) -> Result<Citizen, ClientError> {
        let body = LoginBody {
            username: username.to_owned(),
            password: password.to_owned(),
            session: SessionKind::Token,
        };
        let url = self.url("/v1/citizen/login");
        let session: SessionDto =
            self.http.typed("POST", &url, &json_headers(), encoded(&body)?).await?;
        self.citizen(session)
    }

    /// The service's health: 200 when every partition applies (a 503 is a refusal).
    pub async fn health(&self) -> Result<HealthDto, ClientError> {
        self.get("/healthz").await
    }

    /// The latest signed checkpoint of every partition, and the ledger's key.
    pub async fn checkpoints(&self) -> Result<CheckpointsDto, ClientError> {
        self.get("/v1/ledger/checkpoints").await
    }

    /// A share link's public page (`url` as the share's answer gives it).
    pub async fn shared(&self, url: &str) -> Result<SharedDto, ClientError> {
        self.get(url).await
    }

    fn citizen(&self, session: SessionDto) -> Result<Citizen, ClientError> {
        let token = session.token.clone().ok_or_else(|| {
            ClientError::Answer("a token session came back without its token".to_owned())
        })?;
        Ok(Citizen { public: self.clone(), session, authorization: format!("Bearer {token}") })
    }
}

impl std::fmt::Debug for Citizen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Citizen").field("locker", &self.session.locker).finish_non_exhaustive()
    }
}

impl Citizen {
    /// The locker's id.
    pub fn locker(&self) -> &str {
        &self.session.locker
    }

    /// The session's bearer token.
    pub fn token(&self) -> &str {
        self.session.token.as_deref().unwrap_or_default()
    }

    /// The calls anyone may make, on the same service.
    pub fn public(&self) -> &Public {
        &self.public
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = json_headers();
        headers.push(("authorization", self.authorization.clone()));
        headers
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, ClientError> {
        self.public.http.typed(method, &self.public.url(path), &self.headers(), body).await
    }

    /// My Certificates: the first page of the documents issued to this locker.
    pub async fn certificates(&self) -> Result<ListDto<CertificateDto>, ClientError> {
        self.call("GET", "/v1/citizen/certificates", Vec::new()).await
    }

    /// A page of My Certificates of at most `limit` documents, after `cursor` (the
    /// `next_cursor` of the page before).
    pub async fn certificates_page(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<ListDto<CertificateDto>, ClientError> {
        let mut path = format!("/v1/citizen/certificates?limit={limit}");
        if let Some(cursor) = cursor {
            path += &format!("&cursor={}", component(cursor));
        }
        self.call("GET", &path, Vec::new()).await
    }

    /// My Issuers: who issued to this locker, and how many documents.
    pub async fn issuers(&self) -> Result<Vec<MyIssuerDto>, ClientError> {
        self.call("GET", "/v1/citizen/issuers", Vec::new()).await
    }

    /// My Requesters: who asked for this locker's documents, and how often they read them.
    pub async fn requesters(&self) -> Result<Vec<MyRequesterDto>, ClientError> {
        self.call("GET", "/v1/citizen/requesters", Vec::new()).await
    }

    /// Storage used against the quota.
    pub async fn storage(&self) -> Result<StorageDto, ClientError> {
        self.call("GET", "/v1/citizen/storage", Vec::new()).await
    }

    /// An issued document's bytes, checked by the service against their hash.
    pub async fn content(&self, uri: &str) -> Result<Vec<u8>, ClientError> {
        self.raw(&format!("/v1/citizen/certificates/{}/content", component(uri))).await
    }

    /// An issued document's proof bundle file, as `locker verify-bundle` reads it.
    pub async fn bundle(&self, uri: &str) -> Result<Vec<u8>, ClientError> {
        self.raw(&format!("/v1/citizen/certificates/{}/bundle", component(uri))).await
    }

    /// An upload's bytes.
    pub async fn upload_content(&self, id: &str) -> Result<Vec<u8>, ClientError> {
        self.raw(&format!("/v1/citizen/uploads/{}/content", component(id))).await
    }

    /// An upload's proof bundle file.
    pub async fn upload_bundle(&self, id: &str) -> Result<Vec<u8>, ClientError> {
        self.raw(&format!("/v1/citizen/uploads/{}/bundle", component(id))).await
    }

    async fn raw(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        let url = self.public.url(path);
        let uri = JsonClient::parse_url(&url)?;
        let headers = [("authorization", self.authorization.clone())];
        let (status, bytes) =
            self.public.http.send_bytes("GET", &uri, &headers, Vec::new()).await?;
        if status != 200 {
            let text = String::from_utf8_lossy(&bytes);
            return Err(ClientError::refused(format!("GET {url}"), status, &text));
        }
        Ok(bytes)
    }

    /// Uploads a file of the citizen's own under `name`.
    pub async fn upload(&self, name: &str, bytes: Vec<u8>) -> Result<UploadedDto, ClientError> {
        let path = format!("/v1/citizen/uploads?name={}", component(name));
        let url = self.public.url(&path);
        let headers = [
            ("content-type", "application/octet-stream".to_owned()),
            ("authorization", self.authorization.clone()),
        ];
        self.public.http.typed("POST", &url, &headers, bytes).await
    }

    /// Makes a share link for a document or an upload.
    pub async fn share(&self, body: &ShareBody) -> Result<ShareDto, ClientError> {
        self.call("POST", "/v1/citizen/shares", encoded(body)?).await
    }

    /// Grants a requester's consent request (`decision` `grant`), refuses it (`deny`), or ends a
    /// granted consent (`revoke`).
    pub async fn decide(
        &self,
        consent_id: &str,
        decision: Decision,
    ) -> Result<Decided, ClientError> {
        let path = format!("/v1/citizen/consents/{}/{}", component(consent_id), decision.word());
        self.call("POST", &path, Vec::new()).await
    }

    /// The locker's consents, with their terms and states, as the service answers them.
    pub async fn consents(&self) -> Result<serde_json::Value, ClientError> {
        self.call("GET", "/v1/citizen/consents", Vec::new()).await
    }

    /// The consent artefact, signed by the platform (`{consent_artefact, signature, signer}`).
    pub async fn artefact(&self, consent_id: &str) -> Result<serde_json::Value, ClientError> {
        let path = format!("/v1/citizen/consents/{}/artefact", component(consent_id));
        self.call("GET", &path, Vec::new()).await
    }

    /// Everything in the locker, as the zip the service streams.
    pub async fn export(&self) -> Result<Vec<u8>, ClientError> {
        self.raw("/v1/citizen/export").await
    }

    /// Closes the locker for good (the password again is the confirmation).
    pub async fn close(&self, password: &str) -> Result<serde_json::Value, ClientError> {
        let body = serde_json::json!({ "password": password }).to_string().into_bytes();
        self.call("POST", "/v1/citizen/close", body).await
    }

    /// The doc types issuers offer to pull, with the identifiers each asks for.
    pub async fn pullable(&self) -> Result<serde_json::Value, ClientError> {
        self.call("GET", "/v1/citizen/pull/doc-types", Vec::new()).await
    }

    /// Pulls a document from its issuer with the identifiers its doc type asks for
    /// (`{status, uri, name}`; a refusal is the issuer's code: `no_record`, `name_mismatch`,
    /// `try_later`, `issuer_unavailable`, `invalid_answer`).
    pub async fn pull(
        &self,
        issuer: &str,
        doc_type: &str,
        identifiers: &[(&str, &str)],
    ) -> Result<serde_json::Value, ClientError> {
        let identifiers: serde_json::Map<String, serde_json::Value> =
            identifiers.iter().map(|(k, v)| ((*k).to_owned(), (*v).into())).collect();
        let body = serde_json::json!({ "issuer": issuer, "doc_type": doc_type, "identifiers": identifiers });
        self.call("POST", "/v1/citizen/pulls", body.to_string().into_bytes()).await
    }

    /// This locker's activity: who read what, and every pull.
    pub async fn activity(&self) -> Result<serde_json::Value, ClientError> {
        self.call("GET", "/v1/citizen/activity", Vec::new()).await
    }

    /// GET a path of this locker's as bytes (a QR code, a slip).
    pub async fn bytes(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        self.raw(path).await
    }

    /// Asks the Aadhaar authority to text a code to the mobile it holds for `aadhaar`.
    pub async fn aadhaar_otp(&self, aadhaar: &str) -> Result<AadhaarOtpSent, ClientError> {
        let body = encoded(&AadhaarOtpBody { aadhaar: aadhaar.to_owned() })?;
        self.call("POST", "/v1/citizen/aadhaar/otp", body).await
    }

    /// Links the Aadhaar with the authority's code.
    pub async fn link_aadhaar(
        &self,
        txn: &str,
        otp: &str,
    ) -> Result<AadhaarLinkedDto, ClientError> {
        let body = encoded(&AadhaarBody { txn: txn.to_owned(), otp: otp.to_owned() })?;
        self.call("POST", "/v1/citizen/aadhaar", body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_keeps_only_unreserved_characters() {
        // RFC 3986 2.3: ALPHA / DIGIT / "-" / "." / "_" / "~" are left as they are.
        assert_eq!(component("rent agreement (2024).pdf"), "rent%20agreement%20%282024%29.pdf");
        assert_eq!(component("a&b=c/d?é"), "a%26b%3Dc%2Fd%3F%C3%A9");
        assert_eq!(component("Az09-._~"), "Az09-._~");
    }
}
