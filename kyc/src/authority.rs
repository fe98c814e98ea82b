//! A reference Aadhaar authority: what the demo and the tests talk to in place of UIDAI, as
//! its own process on its own port (`locker uidai-reference`).
//!
//! It holds a residents file (number, mobile, name, date of birth, gender, address, status)
//! and its own Ed25519 key. `POST /otp/2.5` sends a six-digit code to the mobile *on record*
//! (through an SMS gateway, or to its log, masked, in development) and answers the masked
//! number; `POST /kyc/2.5` takes the code back and answers the resident's data, signed.
//! Only AUAs it knows (code and licence key) are served. It keeps only a keyed hash of each
//! code, and logs no number in clear.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ed25519_dalek::SigningKey;
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::limits::*;
use crate::wire::{
    self, KycAnswer, KycRequest, KycResponse, OtpRequest, OtpResponse, Poa, Poi, codes,
};

/// One resident as the residents file has them (one JSON object a line).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resident {
    /// Twelve digits (spaces allowed), with a valid Verhoeff check digit.
    pub aadhaar: String,
    /// Ten digits, or none on record (then no code can be sent: err 110).
    #[serde(default)]
    pub mobile: Option<String>,
    pub name: String,
    /// `DD-MM-YYYY`.
    pub dob: String,
    /// `M`, `F` or `T`.
    pub gender: String,
    #[serde(default)]
    pub address: Poa,
    /// `active` (default) or `suspended` (err 997).
    #[serde(default = "active")]
    pub status: String,
}

fn active() -> String {
    "active".to_owned()
}

/// Reads a residents file: one JSON object a line; blank lines and `#` comments skipped.
pub fn read_residents(text: &str) -> Result<Vec<Resident>, String> {
    let mut residents = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let resident: Resident =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", number + 1))?;
        schemas::Aadhaar::parse(&resident.aadhaar)
            .map_err(|e| format!("line {}: {e}", number + 1))?;
        if let Some(mobile) = &resident.mobile {
            schemas::MobileNumber::parse(mobile)
                .map_err(|e| format!("line {}: {e}", number + 1))?;
        }
        if wire::parse_dob(&resident.dob).is_none() {
            return Err(format!("line {}: dob must be DD-MM-YYYY", number + 1));
        }
        residents.push(resident);
    }
    Ok(residents)
}

/// Where codes go.
#[derive(Debug, Clone)]
pub enum Sms {
    /// The authority's own log (development and demo only; the number masked).
    Log,
    /// POSTed as `{"mobile": "<10 digits>", "message": "..."}` to an SMS gateway.
    Gateway(hyper::Uri),
}

/// What the authority is started with.
pub struct Config {
    pub residents: Vec<Resident>,
    pub key: SigningKey,
    /// AUAs served: (code, licence key).
    pub auas: Vec<(String, String)>,
    pub sms: Sms,
    pub clock: Arc<dyn ledger::clock::Clock>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config").field("residents", &self.residents.len()).finish_non_exhaustive()
    }
}

struct Pending {
    txn: String,
    code_hash: [u8; 32],
    expires_ms: i64,
    attempts: u32,
}

struct Inner {
    residents: HashMap<String, Resident>,
    key: SigningKey,
    auas: Vec<(String, String)>,
    sms: Sms,
    clock: Arc<dyn ledger::clock::Clock>,
    /// Keys the hashes of pending codes.
    secret: [u8; 32],
    pending: Mutex<HashMap<String, Pending>>,
    sends: Mutex<HashMap<String, Vec<i64>>>,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<hyper::body::Bytes>,
    >,
}

/// The authority's routes.
pub fn router(config: Config) -> Router {
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    let residents =
        config.residents.into_iter().filter_map(|r| Some((digits_of(&r.aadhaar)?, r))).collect();
    let inner = Arc::new(Inner {
        residents,
        key: config.key,
        auas: config.auas,
        sms: config.sms,
        clock: config.clock,
        secret,
        pending: Mutex::default(),
        sends: Mutex::default(),
        client: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http(),
    });
    Router::new()
        .route("/otp/2.5", post(otp))
        .route("/kyc/2.5", post(kyc))
        .route("/key", get(public_key))
        .route("/healthz", get(|| async { "ok" }))
        .layer(axum::extract::DefaultBodyLimit::max(REQUEST_BYTES_MAX))
        .with_state(inner)
}

fn digits_of(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

fn reference() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    schemas::to_hex(&bytes)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Inner {
    fn now(&self) -> i64 {
        self.clock.now().0
    }

    fn aua_known(&self, ac: &str, lk: &str) -> bool {
        ac.len() <= AUA_FIELD_BYTES_MAX
            && lk.len() <= AUA_FIELD_BYTES_MAX
            && self.auas.iter().any(|(code, licence)| code == ac && licence == lk)
    }

    fn code_hash(&self, uid: &str, txn: &str, code: &str) -> [u8; 32] {
        let text = format!("{uid}\n{txn}\n{code}");
        *blake3::keyed_hash(&self.secret, text.as_bytes()).as_bytes()
    }

    /// The resident a request names, or the code to refuse it with.
    fn resident(&self, uid: &str) -> Result<&Resident, &'static str> {
        let digits = digits_of(uid).ok_or(codes::INVALID_UID)?;
        schemas::Aadhaar::parse(&digits).map_err(|_| codes::INVALID_UID)?;
        let resident = self.residents.get(&digits).ok_or(codes::INVALID_UID)?;
        if resident.status != "active" {
            return Err(codes::UID_SUSPENDED);
        }
        Ok(resident)
    }

    /// Counts a send for `uid`: at most `OTP_SENDS_MAX` a window.
    fn count_send(&self, uid: &str, now: i64) -> Result<(), &'static str> {
        let mut sends = lock(&self.sends);
        if sends.len() >= PENDING_MAX && !sends.contains_key(uid) {
            sends.retain(|_, times| times.iter().any(|t| now - t < OTP_SENDS_WINDOW_MS));
            if sends.len() >= PENDING_MAX {
                return Err(codes::OTP_LIMIT);
            }
        }
        let times = sends.entry(uid.to_owned()).or_default();
        times.retain(|t| now - t < OTP_SENDS_WINDOW_MS);
        if times.len() >= OTP_SENDS_MAX {
            return Err(codes::OTP_FLOODING);
        }
        times.push(now);
        Ok(())
    }

    fn remember(&self, uid: &str, txn: &str, code: &str, now: i64) -> Result<(), &'static str> {
        let mut pending = lock(&self.pending);
        if pending.len() >= PENDING_MAX && !pending.contains_key(uid) {
            pending.retain(|_, p| p.expires_ms > now);
            if pending.len() >= PENDING_MAX {
                return Err(codes::OTP_LIMIT);
            }
        }
        let entry = Pending {
            txn: txn.to_owned(),
            code_hash: self.code_hash(uid, txn, code),
            expires_ms: now + OTP_TTL_MS,
            attempts: 0,
        };
        pending.insert(uid.to_owned(), entry);
        Ok(())
    }

    /// Checks a code for (uid, txn); a right one is used up, and so is a transaction with
    /// too many wrong ones.
    fn check_code(&self, uid: &str, txn: &str, code: &str, now: i64) -> Result<(), &'static str> {
        let mut pending = lock(&self.pending);
        let Some(entry) = pending.get_mut(uid) else { return Err(codes::OTP_EXHAUSTED) };
        if entry.txn != txn || entry.expires_ms <= now {
            return Err(codes::OTP_EXHAUSTED);
        }
        if entry.code_hash != self.code_hash(uid, txn, code) {
            entry.attempts += 1;
            if entry.attempts >= OTP_ATTEMPTS_MAX {
                pending.remove(uid);
                return Err(codes::OTP_EXHAUSTED);
            }
            return Err(codes::INVALID_OTP);
        }
        pending.remove(uid);
        Ok(())
    }

    async fn deliver(&self, mobile: &str, code: &str) -> Result<(), String> {
        let message = format!(
            "{code} is your Aadhaar OTP to link your Aadhaar with locker. Valid for 10 minutes. Do not share it."
        );
        match &self.sms {
            Sms::Log => {
                tracing::info!(
                    mobile = %wire::masked(mobile),
                    code,
                    "Aadhaar OTP (log delivery: development and demo only)"
                );
                Ok(())
            }
            Sms::Gateway(url) => {
                let body = serde_json::json!({ "mobile": mobile, "message": message }).to_string();
                let request = hyper::Request::post(url.clone())
                    .header("content-type", "application/json")
                    .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
                    .map_err(|e| e.to_string())?;
                let sent = tokio::time::timeout(
                    Duration::from_millis(SMS_TIMEOUT_MS),
                    self.client.request(request),
                )
                .await
                .map_err(|_| "the SMS gateway did not answer in time".to_owned())?
                .map_err(|e| format!("SMS gateway: {e}"))?;
                if !sent.status().is_success() {
                    return Err(format!("the SMS gateway answered {}", sent.status()));
                }
                Ok(())
            }
        }
    }
}

fn refuse_otp(txn: &str, now: i64, err: &str) -> Response {
    let answer = OtpResponse {
        ret: "n".to_owned(),
        code: reference(),
        txn: txn.to_owned(),
        ts: wire::timestamp(now),
        err: Some(err.to_owned()),
        info: None,
    };
    Json(answer).into_response()
}

fn refuse_kyc(txn: &str, now: i64, err: &str) -> Response {
    let answer = KycResponse {
        ret: "n".to_owned(),
        code: reference(),
        txn: txn.to_owned(),
        ts: wire::timestamp(now),
        err: Some(err.to_owned()),
        kyc: None,
    };
    Json(answer).into_response()
}

fn malformed(e: impl std::fmt::Display) -> Response {
    (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": e.to_string() }))).into_response()
}

fn txn_ok(txn: &str) -> bool {
    !txn.is_empty() && txn.len() <= TXN_BYTES_MAX
}

async fn otp(
    State(inner): State<Arc<Inner>>,
    body: Result<Json<OtpRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(request)) = body else { return malformed("not an Otp request") };
    if !txn_ok(&request.txn) || request.uid_type != "A" || request.ver != wire::API_VERSION {
        return malformed("txn (1 to 64 bytes), type A and ver 2.5 are required");
    }
    let now = inner.now();
    if !inner.aua_known(&request.ac, &request.lk) {
        return refuse_otp(&request.txn, now, codes::UNAUTHORISED_AUA);
    }
    let resident = match inner.resident(&request.uid) {
        Ok(resident) => resident.clone(),
        Err(err) => return refuse_otp(&request.txn, now, err),
    };
    let Some(mobile) =
        resident.mobile.as_deref().and_then(|m| schemas::MobileNumber::parse(m).ok())
    else {
        return refuse_otp(&request.txn, now, codes::NO_MOBILE);
    };
    let uid = digits_of(&request.uid).unwrap_or_default();
    if let Err(err) = inner.count_send(&uid, now) {
        return refuse_otp(&request.txn, now, err);
    }
    let code = format!("{:06}", OsRng.next_u32() % 1_000_000);
    if let Err(err) = inner.remember(&uid, &request.txn, &code, now) {
        return refuse_otp(&request.txn, now, err);
    }
    if let Err(e) = inner.deliver(mobile.as_str(), &code).await {
        tracing::warn!(error = %e, "the code could not be sent");
        return refuse_otp(&request.txn, now, codes::OTP_LIMIT);
    }
    let answer = OtpResponse {
        ret: "y".to_owned(),
        code: reference(),
        txn: request.txn,
        ts: wire::timestamp(now),
        err: None,
        info: Some(wire::masked(mobile.as_str())),
    };
    Json(answer).into_response()
}

async fn kyc(
    State(inner): State<Arc<Inner>>,
    body: Result<Json<KycRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(request)) = body else { return malformed("not a Kyc request") };
    if !txn_ok(&request.txn) || request.ver != wire::API_VERSION {
        return malformed("txn (1 to 64 bytes) and ver 2.5 are required");
    }
    let now = inner.now();
    if !inner.aua_known(&request.ac, &request.lk) {
        return refuse_kyc(&request.txn, now, codes::UNAUTHORISED_AUA);
    }
    if request.rc != "Y" {
        return refuse_kyc(&request.txn, now, codes::NO_CONSENT);
    }
    let resident = match inner.resident(&request.uid) {
        Ok(resident) => resident.clone(),
        Err(err) => return refuse_kyc(&request.txn, now, err),
    };
    let uid = digits_of(&request.uid).unwrap_or_default();
    if let Err(err) = inner.check_code(&uid, &request.txn, &request.otp, now) {
        return refuse_kyc(&request.txn, now, err);
    }
    let answer = KycAnswer {
        txn: request.txn.clone(),
        ts: wire::timestamp(now),
        ttl: wire::timestamp(now + KYC_TTL_MS),
        uid_last4: uid.get(8..).unwrap_or_default().to_owned(),
        poi: Poi { name: resident.name, dob: resident.dob, gender: resident.gender },
        poa: resident.address,
    };
    let answer = KycResponse {
        ret: "y".to_owned(),
        code: reference(),
        txn: request.txn,
        ts: wire::timestamp(now),
        err: None,
        kyc: Some(wire::sign_kyc(&inner.key, answer)),
    };
    Json(answer).into_response()
}

/// The authority's public key, for operators to compare with what they configured (the
/// platform never takes it from here: a key fetched from the service it checks proves
/// nothing).
async fn public_key(State(inner): State<Arc<Inner>>) -> Response {
    let key = inner.key.verifying_key();
    Json(serde_json::json!({
        "key_id": ledger::crypto::key_id_of(&key).to_string(),
        "public_key": schemas::to_hex(&key.to_bytes()),
    }))
    .into_response()
}
