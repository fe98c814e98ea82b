//! Aadhaar ownership, proven as UIDAI proves it: the authority behind [`KycProvider`] ([`HttpKyc`]
//! speaks the `kyc::wire` protocol), the OTP transactions the service remembers per locker
//! ([`Challenges`]), and the link itself: a platform-signed `AadhaarVerified` with the e-KYC data
//! sealed, after an `AadhaarUnlinked` that takes the number from another locker holding it.

use crate::app::write::internal;
use crate::limits::{
    AADHAAR_CHALLENGES_MAX, AADHAAR_OTP_SENDS_MAX, AADHAAR_OTP_WINDOW_MS, KYC_TIMEOUT_MS,
};
use crate::{AppError, AppState};
use ::wire::ErrorCode;
use client::http::JsonClient;
use kyc::wire::{self, KycRequest, KycResponse, OtpRequest, OtpResponse, codes};
use kyc::{KycAnswer, KycError};
use schemas::*;
use serde::Deserialize;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the authority proved: its answer, which key signed it, and the hash of what it signed.
#[derive(Debug, Clone)]
pub struct Proven {
    pub answer: KycAnswer,
    pub authority_key: KeyId,
    pub answer_hash: Digest32,
}

/// The Aadhaar authority, as the service sees it.
pub trait KycProvider: Send + Sync {
    /// Has a code sent to the mobile the authority holds for `aadhaar`; the masked number.
    fn send_otp<'a>(
        &'a self,
        aadhaar: &'a Aadhaar,
        txn: &'a str,
    ) -> BoxFuture<'a, Result<String, KycError>>;
    /// The code back, for the resident's e-KYC data, its signature checked.
    fn ekyc<'a>(
        &'a self,
        aadhaar: &'a Aadhaar,
        txn: &'a str,
        otp: &'a str,
    ) -> BoxFuture<'a, Result<Proven, KycError>>;
}

/// The authority over HTTP (`kyc::wire`), trusted only through its public key.
pub struct HttpKyc {
    base: String,
    aua_code: String,
    licence_key: String,
    authority: ed25519_dalek::VerifyingKey,
    client: JsonClient,
    clock: Arc<dyn ledger::clock::Clock>,
}

impl std::fmt::Debug for HttpKyc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpKyc").field("base", &self.base).finish_non_exhaustive()
    }
}

impl HttpKyc {
    /// `authority_key`: the authority's Ed25519 public key, 64 hex digits; `aua`:
    /// `CODE:LICENCE`, what the authority issued the platform.
    pub fn new(
        base: &str,
        authority_key: &str,
        aua: &str,
        clock: Arc<dyn ledger::clock::Clock>,
    ) -> Result<Self, String> {
        JsonClient::parse_url(base).map_err(|e| e.to_string())?;
        let bytes = Digest32::from_hex(authority_key.trim())
            .map_err(|_| "the authority's key must be 64 hex digits".to_owned())?;
        let authority = ed25519_dalek::VerifyingKey::from_bytes(bytes.as_bytes())
            .map_err(|e| format!("the authority's key: {e}"))?;
        let (aua_code, licence_key) =
            aua.split_once(':').ok_or("the AUA must be given as CODE:LICENCE")?;
        Ok(HttpKyc {
            base: base.trim_end_matches('/').to_owned(),
            aua_code: aua_code.to_owned(),
            licence_key: licence_key.to_owned(),
            authority,
            client: JsonClient::new(Duration::from_millis(KYC_TIMEOUT_MS)),
            clock,
        })
    }

    async fn call<A: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: String,
    ) -> Result<A, KycError> {
        let url = JsonClient::parse_url(&format!("{}{path}", self.base))
            .map_err(|e| KycError::Unavailable(e.to_string()))?;
        let (status, text) =
            self.client.post(&url, body).await.map_err(|e| KycError::Unavailable(e.to_string()))?;
        if status != 200 {
            return Err(KycError::Unavailable(format!("the authority answered HTTP {status}")));
        }
        serde_json::from_str(&text).map_err(|e| KycError::Malformed(e.to_string()))
    }

    fn ts(&self) -> String {
        wire::timestamp(self.clock.now().0)
    }
}

fn refused(err: Option<String>) -> KycError {
    KycError::Refused { code: err.unwrap_or_default() }
}

impl KycProvider for HttpKyc {
    fn send_otp<'a>(
        &'a self,
        aadhaar: &'a Aadhaar,
        txn: &'a str,
    ) -> BoxFuture<'a, Result<String, KycError>> {
        Box::pin(async move {
            let request = OtpRequest {
                uid: aadhaar.expose_digits().to_owned(),
                txn: txn.to_owned(),
                ac: self.aua_code.clone(),
                lk: self.licence_key.clone(),
                ver: wire::API_VERSION.to_owned(),
                ts: self.ts(),
                uid_type: "A".to_owned(),
                ch: "01".to_owned(),
            };
            let body =
                serde_json::to_string(&request).map_err(|e| KycError::Malformed(e.to_string()))?;
            let answer: OtpResponse = self.call("/otp/2.5", body).await?;
            if answer.txn != txn {
                return Err(KycError::Mismatch);
            }
            if answer.ret != "y" {
                return Err(refused(answer.err));
            }
            Ok(answer.info.unwrap_or_default())
        })
    }

    fn ekyc<'a>(
        &'a self,
        aadhaar: &'a Aadhaar,
        txn: &'a str,
        otp: &'a str,
    ) -> BoxFuture<'a, Result<Proven, KycError>> {
        Box::pin(async move {
            let request = KycRequest {
                uid: aadhaar.expose_digits().to_owned(),
                txn: txn.to_owned(),
                otp: otp.to_owned(),
                ac: self.aua_code.clone(),
                lk: self.licence_key.clone(),
                ver: wire::API_VERSION.to_owned(),
                ts: self.ts(),
                rc: "Y".to_owned(),
            };
            let body =
                serde_json::to_string(&request).map_err(|e| KycError::Malformed(e.to_string()))?;
            let answer: KycResponse = self.call("/kyc/2.5", body).await?;
            if answer.txn != txn {
                return Err(KycError::Mismatch);
            }
            if answer.ret != "y" {
                return Err(refused(answer.err));
            }
            let signed = answer.kyc.ok_or_else(|| KycError::Malformed("no kyc".to_owned()))?;
            wire::verify_kyc(&signed, &self.authority)?;
            // The signed answer itself must be about this transaction and this number.
            if signed.answer.txn != txn || signed.answer.uid_last4 != aadhaar.last4().as_str() {
                return Err(KycError::Mismatch);
            }
            let answer_hash =
                Digest32(*blake3::hash(&wire::kyc_signing_bytes(&signed.answer)).as_bytes());
            Ok(Proven {
                answer: signed.answer,
                authority_key: ledger::crypto::key_id_of(&self.authority),
                answer_hash,
            })
        })
    }
}

/// Codes asked for and not yet answered, by transaction id: in memory (a restart asks the
/// citizen for a new code), bounded, each for one locker.
#[derive(Debug, Default)]
pub struct Challenges {
    pending: Mutex<HashMap<String, Challenge>>,
    sent: Mutex<HashMap<LockerId, Vec<i64>>>,
}

#[derive(Clone)]
pub(crate) struct Challenge {
    locker: LockerId,
    aadhaar: Aadhaar,
    expires_ms: i64,
}

impl Challenge {
    pub(crate) fn new(locker: LockerId, aadhaar: Aadhaar, expires_ms: i64) -> Self {
        Challenge { locker, aadhaar, expires_ms }
    }
}

impl std::fmt::Debug for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenge").field("expires_ms", &self.expires_ms).finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Challenges {
    /// Counts a code for the locker, or says in how many seconds one may be asked.
    pub(crate) fn count_send(&self, locker: &LockerId, now: i64) -> Result<(), i64> {
        let mut sent = lock(&self.sent);
        if sent.len() >= AADHAAR_CHALLENGES_MAX && !sent.contains_key(locker) {
            sent.retain(|_, times| times.iter().any(|t| now - t < AADHAAR_OTP_WINDOW_MS));
            if sent.len() >= AADHAAR_CHALLENGES_MAX {
                return Err(60);
            }
        }
        let times = sent.entry(*locker).or_default();
        times.retain(|t| now - t < AADHAAR_OTP_WINDOW_MS);
        if times.len() >= AADHAAR_OTP_SENDS_MAX {
            let oldest = times.iter().min().copied().unwrap_or(now);
            return Err((oldest + AADHAAR_OTP_WINDOW_MS - now + 999) / 1000);
        }
        times.push(now);
        Ok(())
    }

    pub(crate) fn remember(
        &self,
        txn: String,
        challenge: Challenge,
        now: i64,
    ) -> Result<(), AppError> {
        let mut pending = lock(&self.pending);
        if pending.len() >= AADHAAR_CHALLENGES_MAX {
            pending.retain(|_, c| c.expires_ms > now);
            if pending.len() >= AADHAAR_CHALLENGES_MAX {
                return Err(busy());
            }
        }
        pending.insert(txn, challenge);
        Ok(())
    }

    /// The Aadhaar of a live challenge the locker started.
    pub(crate) fn find(&self, txn: &str, locker: &LockerId, now: i64) -> Option<Aadhaar> {
        let pending = lock(&self.pending);
        pending
            .get(txn)
            .filter(|c| c.locker == *locker && c.expires_ms > now)
            .map(|c| c.aadhaar.clone())
    }

    pub(crate) fn end(&self, txn: &str) {
        lock(&self.pending).remove(txn);
    }
}

pub(crate) fn busy() -> AppError {
    AppError::new(ErrorCode::Busy, "too many Aadhaar checks at once; retry")
}

pub(crate) fn unavailable() -> AppError {
    AppError::new(
        ErrorCode::KycUnavailableAsServiceUnavailable,
        "Aadhaar linking needs the Aadhaar authority, which this service is not connected to",
    )
}

/// The authority's refusals, as the citizen can act on them.
pub(crate) fn kyc_error(e: KycError) -> AppError {
    match e {
        KycError::Refused { code } => {
            let ours = match code.as_str() {
                codes::INVALID_UID => ErrorCode::InvalidAadhaar,
                codes::UID_SUSPENDED => ErrorCode::AadhaarSuspended,
                codes::NO_MOBILE => ErrorCode::AadhaarNoMobile,
                codes::INVALID_OTP => ErrorCode::InvalidOtp,
                codes::OTP_EXHAUSTED => ErrorCode::OtpExpired,
                codes::OTP_FLOODING | codes::OTP_LIMIT => ErrorCode::RateLimited,
                _ => ErrorCode::KycRefused,
            };
            AppError::new(
                ours,
                format!("{} (Aadhaar authority code {code})", codes::meaning(&code)),
            )
        }
        KycError::Unavailable(e) => AppError::new(
            ErrorCode::KycUnavailable,
            format!("the Aadhaar authority could not be reached: {e}"),
        ),
        // A forged or mixed-up answer: nothing is linked, and the citizen may try again.
        other => AppError::new(ErrorCode::KycNotVerified, other.to_string()),
    }
}

/// Logs the proven link (and the unlink of a locker that held the number), in the turns of
/// both lockers' partitions, under the link lock. Says whether the number was reclaimed.
pub(crate) async fn record_link(
    state: &AppState,
    locker: LockerId,
    reference: &AadhaarRef,
    proven: &Proven,
    profile: &KycProfile,
) -> Result<bool, AppError> {
    let _serialised = state.signup_lock.lock().await;
    // The number is bound to this locker before anything is logged (across a cluster, created
    // once), so two lockers on two nodes linking it at one moment cannot both pass.
    let holder = state.accounts.claim_aadhaar(&reference.keyed_hash, locker).map_err(internal)?;
    let bound_here = holder.is_none();
    let other = holder.filter(|h| *h != locker);
    let mut keys = vec![PartitionKey::Locker(locker)];
    keys.extend(other.map(PartitionKey::Locker));
    let checked = async {
        let turns = state.writes.turns(&keys).await?;
        if let Some(profile) = state.views.profile(&locker)?
            && profile.aadhaar_hash.is_some_and(|linked| linked != reference.keyed_hash)
        {
            return Err(already_linked());
        }
        Ok::<_, AppError>(turns)
    }
    .await;
    // Refused before any append: the binding goes back. (After one, it stays: a link whose
    // outcome is unknown may have landed, and a stale binding costs a later link only the
    // other locker's turn.)
    let _turns = match checked {
        Ok(turns) => turns,
        Err(e) => {
            if bound_here
                && let Err(undo) = state.accounts.release_aadhaar(&reference.keyed_hash, locker)
            {
                tracing::error!(error = ?undo, "a refused link's Aadhaar binding stays");
            }
            return Err(e);
        }
    };
    if let Some(other) = other
        && state
            .views
            .profile(&other)?
            .is_some_and(|p| p.aadhaar_hash == Some(reference.keyed_hash))
    {
        let unlink = Payload::AadhaarUnlinked(AadhaarUnlinked {
            locker: other,
            aadhaar: reference.clone(),
            reason: UnlinkReason::ReclaimedByOwner,
        });
        crate::app::write::as_platform(state, unlink).await?;
    }
    let (commitment, sealed) =
        crate::app::write::seal_for(state, &locker, &PersonalData::Kyc(profile.clone()))?;
    let verified = Payload::AadhaarVerified(AadhaarVerified {
        locker,
        aadhaar: reference.clone(),
        authority_key: proven.authority_key,
        answer_hash: proven.answer_hash,
        personal: commitment,
    });
    crate::app::write::as_platform_sealed(state, verified, sealed).await?;
    if !bound_here {
        // Taken over from `other` (reclaimed), or linked again.
        state.accounts.bind_aadhaar(&reference.keyed_hash, locker).map_err(internal)?;
    }
    Ok(other.is_some())
}

/// The authority's answer as sealed personal data; an answer that does not fit is refused.
pub(crate) fn kyc_profile(answer: &KycAnswer) -> Result<KycProfile, AppError> {
    let bad = |what: &str| {
        AppError::new(
            ErrorCode::KycNotVerified,
            format!("the authority's answer has an unusable {what}"),
        )
    };
    let name = Label::parse(&answer.poi.name).map_err(|_| bad("name"))?;
    let (year, month, day) =
        wire::parse_dob(&answer.poi.dob).ok_or_else(|| bad("date of birth"))?;
    let date_of_birth = CivilDate::from_ymd(year, month, day).map_err(|_| bad("date of birth"))?;
    let gender = match answer.poi.gender.as_str() {
        "F" => Gender::Female,
        "M" => Gender::Male,
        "T" => Gender::Transgender,
        _ => Gender::Undisclosed,
    };
    let address = answer
        .poa
        .elements()
        .into_iter()
        .map(|(element, value)| {
            Ok(DocumentField {
                key: FieldKey::parse(element).map_err(|_| bad("address"))?,
                value: FieldValue::parse(value).map_err(|_| bad("address"))?,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    Ok(KycProfile { name, date_of_birth, gender, address })
}

pub(crate) fn already_linked() -> AppError {
    AppError::new(ErrorCode::AadhaarAlreadyLinked, "this locker already has another Aadhaar linked")
}
