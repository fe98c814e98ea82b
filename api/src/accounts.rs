//! Citizen accounts: usernames with argon2id password hashes, lock-out after repeated
//! failures, and login sessions. Session tokens are random (from the injected RNG) and only
//! their BLAKE3 hash is stored, so a copy of this store does not let anyone log in.

use std::path::Path;
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use schemas::{LockerId, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::limits::{
    LOCKOUT_MS, LOGIN_ATTEMPTS_MAX, PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN, SESSION_TTL_MS,
};

#[derive(Debug, Serialize, Deserialize)]
struct User {
    locker: LockerId,
    password_hash: String,
    failed_attempts: u32,
    locked_until_ms: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Session {
    locker: LockerId,
    expires_at_ms: i64,
}

/// Why a login failed.
#[derive(Debug, PartialEq, Eq)]
pub enum LoginError {
    /// Unknown username or wrong password (deliberately not told apart).
    InvalidCredentials,
    LockedOut {
        until: TimestampMs,
    },
    Store(String),
}

#[derive(Debug)]
pub struct Accounts {
    db: rocksdb::DB,
    rng: Mutex<ChaCha20Rng>,
}

fn store<E: std::fmt::Display>(e: E) -> LoginError {
    LoginError::Store(e.to_string())
}

fn user_key(username: &str) -> Vec<u8> {
    [b"user/".as_slice(), username.as_bytes()].concat()
}

fn session_key(token: &str) -> Vec<u8> {
    [b"session/".as_slice(), blake3::hash(token.as_bytes()).as_bytes()].concat()
}

/// Checks a new password's length (the product's only rule; long passphrases welcome).
pub fn check_password(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if !(PASSWORD_CHARS_MIN..=PASSWORD_CHARS_MAX).contains(&chars) {
        return Err(format!(
            "a password has {PASSWORD_CHARS_MIN} to {PASSWORD_CHARS_MAX} characters"
        ));
    }
    Ok(())
}

impl Accounts {
    /// Opens the store; `rng_seed` comes from the OS in production and is fixed in tests.
    pub fn open(path: impl AsRef<Path>, rng_seed: [u8; 32]) -> Result<Self, rocksdb::Error> {
        Ok(Accounts {
            db: rocksdb::DB::open_default(path)?,
            rng: Mutex::new(ChaCha20Rng::from_seed(rng_seed)),
        })
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, key: &[u8]) -> Result<Option<T>, LoginError> {
        match self.db.get(key).map_err(store)? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(store),
            None => Ok(None),
        }
    }

    fn put<T: Serialize>(&self, key: &[u8], value: &T) -> Result<(), LoginError> {
        let mut sync = rocksdb::WriteOptions::default();
        sync.set_sync(true);
        let bytes = serde_json::to_vec(value).map_err(store)?;
        self.db.put_opt(key, bytes, &sync).map_err(store)
    }

    /// Creates the account, or leaves an existing one untouched (the demo re-seeds).
    pub fn ensure_user(
        &self,
        username: &str,
        locker: LockerId,
        password: &str,
    ) -> Result<(), LoginError> {
        if self.get::<User>(&user_key(username))?.is_some() {
            return Ok(());
        }
        check_password(password).map_err(LoginError::Store)?;
        let salt = {
            let mut rng = self.rng.lock().map_err(store)?;
            SaltString::generate(&mut *rng)
        };
        let password_hash =
            Argon2::default().hash_password(password.as_bytes(), &salt).map_err(store)?.to_string();
        self.put(
            &user_key(username),
            &User { locker, password_hash, failed_attempts: 0, locked_until_ms: 0 },
        )
    }

    /// Checks the password and opens a session; returns the token and when it expires.
    pub fn login(
        &self,
        username: &str,
        password: &str,
        now: TimestampMs,
    ) -> Result<(String, TimestampMs), LoginError> {
        let Some(mut user) = self.get::<User>(&user_key(username))? else {
            return Err(LoginError::InvalidCredentials);
        };
        if user.locked_until_ms > now.0 {
            return Err(LoginError::LockedOut { until: TimestampMs(user.locked_until_ms) });
        }
        let hash = PasswordHash::new(&user.password_hash).map_err(store)?;
        if Argon2::default().verify_password(password.as_bytes(), &hash).is_err() {
            user.failed_attempts += 1;
            if user.failed_attempts >= LOGIN_ATTEMPTS_MAX {
                user.failed_attempts = 0;
                user.locked_until_ms = now.0 + LOCKOUT_MS;
            }
            self.put(&user_key(username), &user)?;
            return Err(LoginError::InvalidCredentials);
        }
        if user.failed_attempts > 0 {
            user.failed_attempts = 0;
            self.put(&user_key(username), &user)?;
        }
        let mut bytes = [0u8; 32];
        self.rng.lock().map_err(store)?.fill_bytes(&mut bytes);
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let expires = TimestampMs(now.0 + SESSION_TTL_MS);
        self.put(&session_key(&token), &Session { locker: user.locker, expires_at_ms: expires.0 })?;
        Ok((token, expires))
    }

    /// The locker of a live session.
    pub fn session(&self, token: &str, now: TimestampMs) -> Result<Option<LockerId>, LoginError> {
        Ok(self
            .get::<Session>(&session_key(token))?
            .filter(|s| s.expires_at_ms > now.0)
            .map(|s| s.locker))
    }

    pub fn logout(&self, token: &str) -> Result<(), LoginError> {
        self.db.delete(session_key(token)).map_err(store)
    }
}

/// A pending sign-up challenge for one mobile number (keyed by its platform-keyed hash).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Challenge {
    code_hash: Option<[u8; 32]>,
    expires_at_ms: i64,
    attempts: u32,
    sent_at_ms: Vec<i64>,
}

/// Why an OTP step failed.
#[derive(Debug, PartialEq, Eq)]
pub enum OtpError {
    RateLimited { retry_after_ms: i64 },
    NoChallenge,
    Expired,
    Invalid,
    TooManyAttempts,
    Store(String),
}

fn otp_store<E: std::fmt::Display>(e: E) -> OtpError {
    OtpError::Store(e.to_string())
}

fn challenge_key(mobile_ref: &schemas::Digest32) -> Vec<u8> {
    [b"otp/".as_slice(), mobile_ref.as_bytes()].concat()
}

fn mobile_key(mobile_ref: &schemas::Digest32) -> Vec<u8> {
    [b"mobile/".as_slice(), mobile_ref.as_bytes()].concat()
}

impl Accounts {
    /// Starts (or restarts) a challenge: returns the 6-digit code to send.
    pub fn start_otp(
        &self,
        mobile_ref: &schemas::Digest32,
        secret: &[u8; 32],
        now: TimestampMs,
    ) -> Result<(String, TimestampMs), OtpError> {
        use crate::limits::{OTP_SENDS_MAX, OTP_TTL_MS, OTP_WINDOW_MS};
        let key = challenge_key(mobile_ref);
        let mut challenge: Challenge =
            self.get(&key).map_err(|e| otp_store(format!("{e:?}")))?.unwrap_or_default();
        challenge.sent_at_ms.retain(|at| now.0 - at < OTP_WINDOW_MS);
        if challenge.sent_at_ms.len() >= OTP_SENDS_MAX {
            let oldest = challenge.sent_at_ms.iter().min().copied().unwrap_or(now.0);
            return Err(OtpError::RateLimited { retry_after_ms: oldest + OTP_WINDOW_MS - now.0 });
        }
        let code = {
            let mut rng = self.rng.lock().map_err(otp_store)?;
            format!("{:06}", rng.next_u32() % 1_000_000)
        };
        challenge.code_hash = Some(*blake3::keyed_hash(secret, code.as_bytes()).as_bytes());
        challenge.expires_at_ms = now.0 + OTP_TTL_MS;
        challenge.attempts = 0;
        challenge.sent_at_ms.push(now.0);
        self.put(&key, &challenge).map_err(|e| otp_store(format!("{e:?}")))?;
        Ok((code, TimestampMs(challenge.expires_at_ms)))
    }

    /// Checks a code; a right one is used up.
    pub fn verify_otp(
        &self,
        mobile_ref: &schemas::Digest32,
        secret: &[u8; 32],
        code: &str,
        now: TimestampMs,
    ) -> Result<(), OtpError> {
        use crate::limits::OTP_ATTEMPTS_MAX;
        let key = challenge_key(mobile_ref);
        let mut challenge: Challenge = self
            .get(&key)
            .map_err(|e| otp_store(format!("{e:?}")))?
            .ok_or(OtpError::NoChallenge)?;
        let Some(expected) = challenge.code_hash else { return Err(OtpError::NoChallenge) };
        if challenge.expires_at_ms <= now.0 {
            return Err(OtpError::Expired);
        }
        if challenge.attempts >= OTP_ATTEMPTS_MAX {
            return Err(OtpError::TooManyAttempts);
        }
        if *blake3::keyed_hash(secret, code.as_bytes()).as_bytes() != expected {
            challenge.attempts += 1;
            self.put(&key, &challenge).map_err(|e| otp_store(format!("{e:?}")))?;
            return Err(if challenge.attempts >= OTP_ATTEMPTS_MAX {
                OtpError::TooManyAttempts
            } else {
                OtpError::Invalid
            });
        }
        challenge.code_hash = None;
        self.put(&key, &challenge).map_err(|e| otp_store(format!("{e:?}")))
    }

    /// The locker of a username, for requesters addressing a citizen they know by it.
    pub fn locker_of(&self, username: &str) -> Result<Option<LockerId>, LoginError> {
        Ok(self.get::<User>(&user_key(username))?.map(|user| user.locker))
    }

    pub fn username_taken(&self, username: &str) -> Result<bool, LoginError> {
        Ok(self.get::<User>(&user_key(username))?.is_some())
    }

    /// The locker already registered with this mobile number, if any.
    pub fn mobile_locker(
        &self,
        mobile_ref: &schemas::Digest32,
    ) -> Result<Option<LockerId>, LoginError> {
        self.get(&mobile_key(mobile_ref))
    }

    pub fn bind_mobile(
        &self,
        mobile_ref: &schemas::Digest32,
        locker: LockerId,
    ) -> Result<(), LoginError> {
        self.put(&mobile_key(mobile_ref), &locker)
    }

    /// Random bytes from the store's injected RNG (locker ids, keys, salts at sign-up).
    pub fn random<const N: usize>(&self) -> Result<[u8; N], LoginError> {
        let mut bytes = [0u8; N];
        self.rng.lock().map_err(store)?.fill_bytes(&mut bytes);
        Ok(bytes)
    }
}

fn aadhaar_key(hash: &schemas::Digest32) -> Vec<u8> {
    [b"aadhaar/".as_slice(), hash.as_bytes()].concat()
}

impl Accounts {
    /// The locker an Aadhaar (by its keyed hash) is linked to, if any.
    pub fn aadhaar_locker(&self, hash: &schemas::Digest32) -> Result<Option<LockerId>, LoginError> {
        self.get(&aadhaar_key(hash))
    }

    pub fn bind_aadhaar(
        &self,
        hash: &schemas::Digest32,
        locker: LockerId,
    ) -> Result<(), LoginError> {
        self.put(&aadhaar_key(hash), &locker)
    }
}
