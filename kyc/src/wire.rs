//! The OTP and e-KYC exchange, shaped like UIDAI's OTP API 2.5 and e-KYC API 2.5: the same
//! elements (`uid`, `txn`, `ac`, `lk`, `ver`, `ts`, `type`, `ch`; `ret`, `code`, `err`,
//! `info`; `Poi`, `Poa`) in JSON instead of XML, and the answer signed with Ed25519 instead of
//! XML-DSig. Error codes are UIDAI's where it publishes one (998, 997, 110, 400, 403, 952,
//! 953), and `940`/`K-100` for the two refusals this service adds (see [`codes`]).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The API version both sides speak.
pub const API_VERSION: &str = "2.5";
/// What the authority's signature covers: this domain, then the answer's canonical JSON.
pub const KYC_SIGNING_DOMAIN: &[u8] = b"uidai-reference/kyc/v1\n";

/// Error codes (`err`) and what they mean, in words a citizen can act on.
pub mod codes {
    pub const INVALID_UID: &str = "998";
    pub const UID_SUSPENDED: &str = "997";
    pub const NO_MOBILE: &str = "110";
    pub const INVALID_OTP: &str = "400";
    pub const OTP_EXHAUSTED: &str = "403";
    pub const OTP_FLOODING: &str = "952";
    pub const OTP_LIMIT: &str = "953";
    /// This service's own: the AUA code or licence key is not one the authority issued.
    pub const UNAUTHORISED_AUA: &str = "940";
    /// This service's own: the resident's consent (`rc`) was not given.
    pub const NO_CONSENT: &str = "K-100";

    /// What a code means.
    pub fn meaning(code: &str) -> &'static str {
        match code {
            INVALID_UID => "the Aadhaar number is not valid",
            UID_SUSPENDED => "the Aadhaar number is suspended or cancelled",
            NO_MOBILE => {
                "no mobile number is registered with this Aadhaar; update it at an Aadhaar centre"
            }
            INVALID_OTP => "the one-time password is wrong",
            OTP_EXHAUSTED => {
                "no valid one-time password for this request (expired or too many wrong tries); ask for a new one"
            }
            OTP_FLOODING => "too many one-time passwords asked for this Aadhaar; wait a minute",
            OTP_LIMIT => "the authority cannot send more one-time passwords now; try later",
            UNAUTHORISED_AUA => "the platform is not authorised by the Aadhaar authority",
            NO_CONSENT => "the resident's consent is required",
            _ => "the Aadhaar authority refused the request",
        }
    }
}

/// `Otp`: ask the authority to send a code to the mobile it holds for `uid`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpRequest {
    /// The Aadhaar number, 12 digits.
    pub uid: String,
    /// The AUA's transaction id: unique per request, echoed in the answer.
    pub txn: String,
    /// The AUA's code and licence key.
    pub ac: String,
    pub lk: String,
    pub ver: String,
    /// When the AUA sent it (RFC 3339).
    pub ts: String,
    /// `A`: `uid` is an Aadhaar number.
    #[serde(rename = "type")]
    pub uid_type: String,
    /// `01`: by SMS.
    pub ch: String,
}

/// `OtpRes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpResponse {
    /// `y` or `n`.
    pub ret: String,
    /// The authority's own reference for this answer.
    pub code: String,
    pub txn: String,
    pub ts: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub err: Option<String>,
    /// Where the code went: the mobile on record, masked (`xxxxxx1234`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
}

/// `Kyc`: the code back, with the resident's consent, for the resident's e-KYC data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KycRequest {
    pub uid: String,
    /// The OTP request's transaction id.
    pub txn: String,
    pub otp: String,
    pub ac: String,
    pub lk: String,
    pub ver: String,
    pub ts: String,
    /// Resident consent: `Y`.
    pub rc: String,
}

/// `KycRes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KycResponse {
    pub ret: String,
    pub code: String,
    pub txn: String,
    pub ts: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub err: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kyc: Option<SignedKyc>,
}

/// The resident's data and the authority's signature over it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedKyc {
    pub answer: KycAnswer,
    /// The signing key's id (`ledger::crypto::key_id_of`), hex.
    pub key_id: String,
    /// Ed25519 over `KYC_SIGNING_DOMAIN || canonical JSON of answer`, base64.
    pub signature: String,
}

/// `UidData`: what the authority holds of the resident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KycAnswer {
    pub txn: String,
    pub ts: String,
    /// Until when the answer may be relied on (RFC 3339).
    pub ttl: String,
    /// The last four digits of the Aadhaar number the answer is about.
    pub uid_last4: String,
    pub poi: Poi,
    pub poa: Poa,
}

/// Proof of identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Poi {
    pub name: String,
    /// `DD-MM-YYYY`.
    pub dob: String,
    /// `M`, `F` or `T`.
    pub gender: String,
}

/// Proof of address: UIDAI's elements, each possibly empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Poa {
    /// Care of.
    pub co: String,
    pub house: String,
    pub street: String,
    /// Landmark.
    pub lm: String,
    /// Locality.
    pub loc: String,
    /// Village, town or city.
    pub vtc: String,
    pub subdist: String,
    pub dist: String,
    pub state: String,
    pub country: String,
    /// PIN code.
    pub pc: String,
    /// Post office.
    pub po: String,
}

impl Poa {
    /// The non-empty elements, by UIDAI's names, in order.
    pub fn elements(&self) -> Vec<(&'static str, &str)> {
        [
            ("co", &self.co),
            ("house", &self.house),
            ("street", &self.street),
            ("lm", &self.lm),
            ("loc", &self.loc),
            ("vtc", &self.vtc),
            ("subdist", &self.subdist),
            ("dist", &self.dist),
            ("state", &self.state),
            ("country", &self.country),
            ("pc", &self.pc),
            ("po", &self.po),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| (name, value.as_str()))
        .collect()
    }
}

/// Why an exchange with the authority did not prove anything.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KycError {
    /// The authority said no (`ret` = `n`), with its code.
    #[error("the Aadhaar authority refused ({code}): {}", codes::meaning(code))]
    Refused { code: String },
    #[error("the authority's answer is not signed by its key")]
    BadSignature,
    #[error("the answer is about another transaction or another number")]
    Mismatch,
    #[error("the authority's answer is malformed: {0}")]
    Malformed(String),
    #[error("the Aadhaar authority could not be reached: {0}")]
    Unavailable(String),
}

/// The bytes the authority signs.
pub fn kyc_signing_bytes(answer: &KycAnswer) -> Vec<u8> {
    // serde_json writes a struct's fields in declaration order and escapes strings one way:
    // parsing an answer (unknown fields refused) and writing it again gives these bytes.
    let json = serde_json::to_vec(answer).unwrap_or_default();
    [KYC_SIGNING_DOMAIN, json.as_slice()].concat()
}

pub fn sign_kyc(key: &SigningKey, answer: KycAnswer) -> SignedKyc {
    let signature = key.sign(&kyc_signing_bytes(&answer));
    SignedKyc {
        key_id: ledger::crypto::key_id_of(&key.verifying_key()).to_string(),
        signature: STANDARD.encode(signature.to_bytes()),
        answer,
    }
}

/// Checks the authority's signature with its public key (the only trust anchor).
pub fn verify_kyc(signed: &SignedKyc, authority: &VerifyingKey) -> Result<(), KycError> {
    let bytes = STANDARD.decode(&signed.signature).map_err(|_| KycError::BadSignature)?;
    let bytes: [u8; 64] = bytes.try_into().map_err(|_| KycError::BadSignature)?;
    let signature = ed25519_dalek::Signature::from_bytes(&bytes);
    authority
        .verify_strict(&kyc_signing_bytes(&signed.answer), &signature)
        .map_err(|_| KycError::BadSignature)
}

/// `DD-MM-YYYY` as (year, month, day).
pub fn parse_dob(text: &str) -> Option<(i32, u32, u32)> {
    let mut parts = text.split('-');
    let day: u32 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let year: i32 = parts.next()?.parse().ok()?;
    let plausible = (1..=31).contains(&day) && (1..=12).contains(&month) && year >= 1000;
    (parts.next().is_none() && plausible).then_some((year, month, day))
}

/// A number masked to its last four digits: `xxxxxx1234`.
pub fn masked(digits: &str) -> String {
    let keep = digits.len().saturating_sub(4);
    format!("{}{}", "x".repeat(keep), digits.get(keep..).unwrap_or_default())
}

/// RFC 3339 text of a time in milliseconds.
pub fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> KycAnswer {
        KycAnswer {
            txn: "t-1".to_owned(),
            ts: timestamp(1_700_000_000_000),
            ttl: timestamp(1_700_000_600_000),
            uid_last4: "5246".to_owned(),
            poi: Poi {
                name: "Asha \"A\" Kumari".to_owned(),
                dob: "15-08-2006".to_owned(),
                gender: "F".to_owned(),
            },
            poa: Poa { vtc: "Pune".to_owned(), pc: "411001".to_owned(), ..Poa::default() },
        }
    }

    #[test]
    fn a_signed_answer_verifies_after_a_round_trip_and_any_change_breaks_it() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let signed = sign_kyc(&key, answer());
        let text = serde_json::to_string(&signed).expect("json");
        let read: SignedKyc = serde_json::from_str(&text).expect("parse");
        verify_kyc(&read, &key.verifying_key()).expect("verifies");
        let mut changed = read.clone();
        changed.answer.poi.name = "Somebody Else".to_owned();
        assert_eq!(verify_kyc(&changed, &key.verifying_key()), Err(KycError::BadSignature));
        let other = SigningKey::from_bytes(&[8; 32]);
        assert_eq!(verify_kyc(&read, &other.verifying_key()), Err(KycError::BadSignature));
        // Unknown fields are refused, so no second form of an answer exists.
        let extra = text.replacen("\"txn\"", "\"extra\":1,\"txn\"", 1);
        assert!(serde_json::from_str::<SignedKyc>(&extra).is_err());
    }

    #[test]
    fn dates_and_masks() {
        assert_eq!(parse_dob("15-08-2006"), Some((2006, 8, 15)));
        assert_eq!(parse_dob("2006-08-15"), None);
        assert_eq!(parse_dob("15-08"), None);
        assert_eq!(masked("9876543210"), "xxxxxx3210");
        assert_eq!(codes::meaning("998"), "the Aadhaar number is not valid");
    }
}
