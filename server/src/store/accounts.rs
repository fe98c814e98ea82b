//! Citizen accounts: usernames with argon2id password hashes, lock-out of a source after
//! repeated failures (never of the account itself: a stranger could otherwise lock anyone
//! out), and login sessions. Session tokens are random (from the injected RNG) and only
//! their BLAKE3 hash is stored, so a copy of this store does not let anyone log in.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use schemas::{LockerId, TimestampMs};
use serde::{Deserialize, Serialize};

use crate::limits::{
    LOCKOUT_MS, LOGIN_ATTEMPTS_MAX, LOGIN_SOURCES_MAX, PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN,
    SESSION_TTL_MS,
};

#[derive(Debug, Serialize, Deserialize)]
struct User {
    locker: LockerId,
    password_hash: String,
    /// Kept for stores written before failures were counted per source (always 0 now).
    #[serde(default)]
    failed_attempts: u32,
    #[serde(default)]
    locked_until_ms: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Session {
    locker: LockerId,
    expires_at_ms: i64,
    /// The locker's session generation when it was opened: "log out everywhere" and a
    /// password change move the generation on, which ends every older session.
    #[serde(default)]
    generation: u64,
}

/// Why a login failed.
#[derive(Debug, PartialEq, Eq)]
pub enum LoginError {
    /// Unknown username or wrong password (deliberately not told apart).
    InvalidCredentials,
    /// Too many failures from this source for this username.
    LockedOut {
        until: TimestampMs,
    },
    /// As many guesses as this source may still make are being checked right now.
    TooManyAttempts,
    Store(String),
}

/// Failed logins of one username from one source (its network address), in memory.
#[derive(Debug, Default, Clone, Copy)]
struct Failures {
    failed: u32,
    /// Guesses being checked right now: counted before the slow hash, so parallel guesses
    /// cannot pass the limit.
    checking: u32,
    locked_until_ms: i64,
    last_ms: i64,
}

pub struct Accounts {
    db: rocksdb::DB,
    /// In a cluster, where the records are (every node reaches them): `db` is then unused.
    shared: Option<crate::store::records::SharedRecords>,
    rng: Mutex<ChaCha20Rng>,
    /// Keyed by BLAKE3(username, source): a stranger who guesses wrong locks only their own
    /// address out, never the account's owner.
    failures: Mutex<HashMap<[u8; 32], Failures>>,
    /// An argon2 hash of a random password: an unknown username is checked against it, so
    /// it takes as long to refuse as a known one.
    decoy_hash: String,
    /// One-time password challenges are read, changed and written under it: parallel
    /// requests for one number must not pass its send limit or its guess limit.
    otp: Mutex<()>,
    /// Password hashes checked or made at once: all cores but one, so a flood of guesses
    /// never takes the cores that serve everyone else; and how many wait for a turn.
    hashing: tokio::sync::Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
}

/// A turn to hash a password (`Accounts::hashing_turn`).
#[derive(Debug)]
pub struct HashingTurn<'a> {
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
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

fn generation_key(locker: &LockerId) -> Vec<u8> {
    [b"generation/".as_slice(), &locker.0].concat()
}

/// All cores but one (at least one): argon2 is CPU-bound by design.
fn hashing_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1)).max(1)
}

fn failures_key(username: &str, source: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key("locker login failures v1");
    hasher.update(&(username.len() as u64).to_le_bytes());
    hasher.update(username.as_bytes());
    hasher.update(source);
    *hasher.finalize().as_bytes()
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
        let mut rng = ChaCha20Rng::from_seed(rng_seed);
        let mut decoy = [0u8; 32];
        rng.fill_bytes(&mut decoy);
        let salt = SaltString::generate(&mut rng);
        let decoy_hash = Argon2::default()
            .hash_password(&decoy, &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default();
        Ok(Accounts {
            db: rocksdb::DB::open_default(path)?,
            shared: None,
            rng: Mutex::new(rng),
            failures: Mutex::new(HashMap::new()),
            decoy_hash,
            otp: Mutex::new(()),
            hashing: tokio::sync::Semaphore::new(hashing_threads()),
            waiting: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Accounts, sessions and challenges every node of a cluster reads and writes.
    pub fn with_shared(mut self, shared: crate::store::records::SharedRecords) -> Self {
        self.shared = Some(shared);
        self
    }

    fn get<T: for<'de> Deserialize<'de>>(&self, key: &[u8]) -> Result<Option<T>, LoginError> {
        let found = match &self.shared {
            Some(shared) => shared.get(key).map_err(LoginError::Store)?,
            None => self.db.get(key).map_err(store)?,
        };
        match found {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(store),
            None => Ok(None),
        }
    }

    fn put<T: Serialize>(&self, key: &[u8], value: &T) -> Result<(), LoginError> {
        let mut sync = rocksdb::WriteOptions::default();
        sync.set_sync(true);
        let bytes = serde_json::to_vec(value).map_err(store)?;
        match &self.shared {
            Some(shared) => shared.put(key, bytes).map_err(LoginError::Store),
            None => self.db.put_opt(key, bytes, &sync).map_err(store),
        }
    }

    /// Whether the records are in the cluster's bucket (each read a round trip).
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    fn delete(&self, key: &[u8]) -> Result<(), LoginError> {
        match &self.shared {
            Some(shared) => shared.delete(key).map_err(LoginError::Store),
            None => self.db.delete(key).map_err(store),
        }
    }

    /// Registers a new user unless the username is taken (anywhere in a cluster: the shared
    /// store creates a record once): whether it was free. `password_hash` from `hash_new`.
    pub fn create_user(
        &self,
        username: &str,
        locker: LockerId,
        password_hash: String,
    ) -> Result<bool, LoginError> {
        let user = User { locker, password_hash, failed_attempts: 0, locked_until_ms: 0 };
        self.create(&user_key(username), &user)
    }

    /// Stores `value` under `key` unless something is there: whether it was free.
    fn create<T: Serialize + for<'de> Deserialize<'de>>(
        &self,
        key: &[u8],
        value: &T,
    ) -> Result<bool, LoginError> {
        match &self.shared {
            Some(shared) => {
                let bytes = serde_json::to_vec(value).map_err(store)?;
                shared.create(key, bytes).map_err(LoginError::Store)
            }
            None => {
                if self.get::<T>(key)?.is_some() {
                    return Ok(false);
                }
                self.put(key, value)?;
                Ok(true)
            }
        }
    }

    /// Binds a mobile number to a new locker unless it has one (across a cluster, created
    /// once): whether it was free.
    pub fn claim_mobile(
        &self,
        mobile_ref: &schemas::Digest32,
        locker: LockerId,
    ) -> Result<bool, LoginError> {
        self.create(&mobile_key(mobile_ref), &locker)
    }

    /// Takes back a mobile number `claim_mobile` bound for a sign-up that then failed.
    pub fn release_mobile(&self, mobile_ref: &schemas::Digest32) -> Result<(), LoginError> {
        self.delete(&mobile_key(mobile_ref))
    }

    /// Takes back a user `create_user` made for a sign-up that then failed.
    pub fn remove_user(&self, username: &str) -> Result<(), LoginError> {
        self.delete(&user_key(username))
    }

    /// The argon2id hash of a new password. Slow: call it off the async workers.
    pub fn hash_new(&self, password: &str) -> Result<String, LoginError> {
        check_password(password).map_err(LoginError::Store)?;
        self.hash_password(password)
    }

    fn hash_password(&self, password: &str) -> Result<String, LoginError> {
        let salt = {
            let mut rng = self.rng.lock().map_err(store)?;
            SaltString::generate(&mut *rng)
        };
        Ok(Argon2::default().hash_password(password.as_bytes(), &salt).map_err(store)?.to_string())
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
        let password_hash = self.hash_password(password)?;
        self.put(
            &user_key(username),
            &User { locker, password_hash, failed_attempts: 0, locked_until_ms: 0 },
        )
    }

    /// Waits for a turn to hash a password; `None` when `LOGIN_WAITING_MAX` are waiting already
    /// (the caller answers "busy" at once instead of queueing without bound).
    pub async fn hashing_turn(&self) -> Option<HashingTurn<'_>> {
        use std::sync::atomic::Ordering;
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= crate::limits::LOGIN_WAITING_MAX {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let permit = self.hashing.acquire().await.ok();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        permit.map(|permit| HashingTurn { _permit: permit })
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Failures>> {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a guess in before it is checked, or refuses it.
    fn admit_guess(&self, key: [u8; 32], now: TimestampMs) -> Result<(), LoginError> {
        let mut failures = self.failures();
        if failures.len() >= LOGIN_SOURCES_MAX && !failures.contains_key(&key) {
            failures.retain(|_, f| {
                f.checking > 0 || f.locked_until_ms > now.0 || f.last_ms > now.0 - LOCKOUT_MS
            });
            if failures.len() >= LOGIN_SOURCES_MAX {
                return Err(LoginError::TooManyAttempts);
            }
        }
        let entry = failures.entry(key).or_default();
        if entry.locked_until_ms > now.0 {
            return Err(LoginError::LockedOut { until: TimestampMs(entry.locked_until_ms) });
        }
        if entry.failed + entry.checking >= LOGIN_ATTEMPTS_MAX {
            return Err(LoginError::TooManyAttempts);
        }
        entry.checking += 1;
        entry.last_ms = now.0;
        Ok(())
    }

    /// Records how a counted guess ended.
    fn settle_guess(&self, key: [u8; 32], passed: bool, now: TimestampMs) {
        let mut failures = self.failures();
        let entry = failures.entry(key).or_default();
        entry.checking = entry.checking.saturating_sub(1);
        if passed {
            entry.failed = 0;
        } else {
            entry.failed += 1;
            if entry.failed >= LOGIN_ATTEMPTS_MAX {
                entry.failed = 0;
                entry.locked_until_ms = now.0 + LOCKOUT_MS;
            }
        }
    }

    /// Checks a username's password as seen from `source` (the caller's address): the locker
    /// if it is right. Slow on purpose (argon2): call it off the async workers.
    pub fn check_credentials(
        &self,
        username: &str,
        password: &str,
        source: &[u8],
        now: TimestampMs,
    ) -> Result<LockerId, LoginError> {
        let key = failures_key(username, source);
        self.admit_guess(key, now)?;
        let checked = (|| {
            let user = self.get::<User>(&user_key(username))?;
            let stored = user.as_ref().map_or(self.decoy_hash.as_str(), |u| &u.password_hash);
            let hash = PasswordHash::new(stored).map_err(store)?;
            let right = Argon2::default().verify_password(password.as_bytes(), &hash).is_ok();
            match user {
                Some(user) if right => Ok(user.locker),
                _ => Err(LoginError::InvalidCredentials),
            }
        })();
        self.settle_guess(key, checked.is_ok(), now);
        checked
    }

    /// Checks the password and opens a session; returns the token and when it expires.
    pub fn login(
        &self,
        username: &str,
        password: &str,
        now: TimestampMs,
    ) -> Result<(String, TimestampMs), LoginError> {
        self.login_from(username, password, b"", now)
    }

    /// `login`, counting failures against `source` (the caller's network address).
    pub fn login_from(
        &self,
        username: &str,
        password: &str,
        source: &[u8],
        now: TimestampMs,
    ) -> Result<(String, TimestampMs), LoginError> {
        let locker = self.check_credentials(username, password, source, now)?;
        self.open_session(locker, now)
    }

    /// A new session for the locker.
    pub fn open_session(
        &self,
        locker: LockerId,
        now: TimestampMs,
    ) -> Result<(String, TimestampMs), LoginError> {
        let bytes: [u8; 32] = self.random()?;
        let token: String = schemas::to_hex(&bytes);
        let expires = TimestampMs(now.0 + SESSION_TTL_MS);
        let generation = self.generation(&locker)?;
        self.put(&session_key(&token), &Session { locker, expires_at_ms: expires.0, generation })?;
        Ok((token, expires))
    }

    fn generation(&self, locker: &LockerId) -> Result<u64, LoginError> {
        Ok(self.get::<u64>(&generation_key(locker))?.unwrap_or(0))
    }

    /// The locker of a live session.
    pub fn session(&self, token: &str, now: TimestampMs) -> Result<Option<LockerId>, LoginError> {
        let Some(session) = self.get::<Session>(&session_key(token))? else { return Ok(None) };
        if session.expires_at_ms <= now.0
            || session.generation != self.generation(&session.locker)?
        {
            return Ok(None);
        }
        Ok(Some(session.locker))
    }

    pub fn logout(&self, token: &str) -> Result<(), LoginError> {
        self.delete(&session_key(token))
    }

    /// Ends every session of the locker (each is refused from now on, wherever it is).
    pub fn logout_everywhere(&self, locker: &LockerId) -> Result<(), LoginError> {
        let next = self.generation(locker)?.wrapping_add(1);
        self.put(&generation_key(locker), &next)
    }

    /// Replaces the password after checking the current one (counted like a login), and
    /// ends every session. Slow (two argon2 hashes): call it off the async workers.
    pub fn change_password(
        &self,
        username: &str,
        current: &str,
        new: &str,
        source: &[u8],
        now: TimestampMs,
    ) -> Result<LockerId, LoginError> {
        let locker = self.check_credentials(username, current, source, now)?;
        let mut user =
            self.get::<User>(&user_key(username))?.ok_or(LoginError::InvalidCredentials)?;
        user.password_hash = self.hash_password(new)?;
        self.put(&user_key(username), &user)?;
        self.logout_everywhere(&locker)?;
        Ok(locker)
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
        let _one_at_a_time = self.otp.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
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

    /// The pending challenge stored under `key`.
    fn challenge(&self, key: &[u8]) -> Result<Challenge, OtpError> {
        self.get(key).map_err(|e| otp_store(format!("{e:?}")))?.ok_or(OtpError::NoChallenge)
    }

    /// Uses up the code of a challenge (after `check_otp` passed and what it guarded is done).
    pub fn use_otp(&self, mobile_ref: &schemas::Digest32) -> Result<(), OtpError> {
        let _one_at_a_time = self.otp.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = challenge_key(mobile_ref);
        let mut challenge = self.challenge(&key)?;
        challenge.code_hash = None;
        self.put(&key, &challenge).map_err(|e| otp_store(format!("{e:?}")))
    }

    /// Checks a code, counting wrong ones, and leaves a right one usable: a sign-up refused
    /// for a taken username can be sent again with the same code.
    pub fn check_otp(
        &self,
        mobile_ref: &schemas::Digest32,
        secret: &[u8; 32],
        code: &str,
        now: TimestampMs,
    ) -> Result<(), OtpError> {
        use crate::limits::OTP_ATTEMPTS_MAX;
        let _one_at_a_time = self.otp.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = challenge_key(mobile_ref);
        let mut challenge = self.challenge(&key)?;
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
        Ok(())
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

    /// Random bytes from the store's injected RNG (locker ids, keys, salts at sign-up).
    pub fn random<const N: usize>(&self) -> Result<[u8; N], LoginError> {
        let mut bytes = [0u8; N];
        self.rng.lock().map_err(store)?.fill_bytes(&mut bytes);
        Ok(bytes)
    }
}

/// What claiming a name that must be unique across a cluster found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This call created it: give it back (`release_*`) if what it was for surely failed.
    Created,
    /// It was this holder's already (a retry, or alone, where the log decides).
    Held,
    /// Another holder has it.
    Other,
}

fn uri_key(id: &schemas::EventId) -> Vec<u8> {
    [b"uri/".as_slice(), id.as_bytes()].concat()
}

impl Accounts {
    /// Claims document URIs, by their issuances' event ids (derived from the URI), each for
    /// its recipient (a partition key's bytes), created once across a cluster before anything
    /// is appended: two nodes issuing one URI to lockers in partitions they each own race on
    /// this, not on their own views and indexes. Alone, the log's id index decides: `Held`.
    pub fn claim_uris(
        &self,
        claims: &[(schemas::EventId, Vec<u8>)],
    ) -> Result<Vec<Claim>, LoginError> {
        let Some(shared) = &self.shared else {
            return Ok(vec![Claim::Held; claims.len()]);
        };
        let holder = |recipient: &[u8]| schemas::to_hex(recipient);
        let mut records = Vec::with_capacity(claims.len());
        for (id, recipient) in claims {
            records.push((uri_key(id), serde_json::to_vec(&holder(recipient)).map_err(store)?));
        }
        let created = shared
            .create_many(records, crate::limits::VAULT_SHARED_REQUESTS_IN_FLIGHT)
            .map_err(LoginError::Store)?;
        if let Some(failed) = created.iter().find_map(|c| c.as_ref().err()).cloned() {
            // None of the call's claims are used: give back the ones it made.
            for ((id, _), created) in claims.iter().zip(&created) {
                if matches!(created, Ok(true)) {
                    let _ = self.delete(&uri_key(id));
                }
            }
            return Err(LoginError::Store(failed));
        }
        let mut found = Vec::with_capacity(claims.len());
        for ((id, recipient), created) in claims.iter().zip(created) {
            if created.map_err(LoginError::Store)? {
                found.push(Claim::Created);
                continue;
            }
            let current: Option<String> = self.get(&uri_key(id))?;
            found.push(match current {
                Some(current) if current == holder(recipient) => Claim::Held,
                Some(_) => Claim::Other,
                // Given back meanwhile: whoever asks again may take it.
                None => Claim::Other,
            });
        }
        Ok(found)
    }

    /// Gives back a URI `claim_uris` created for an issuance that is surely not logged.
    pub fn release_uri(&self, id: &schemas::EventId) -> Result<(), LoginError> {
        match &self.shared {
            Some(_) => self.delete(&uri_key(id)),
            None => Ok(()),
        }
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

    /// Binds an Aadhaar to `locker` unless it is bound (across a cluster, created once): the
    /// locker it was bound to, or `None` if this call bound it. Two links of one number on two
    /// nodes race on this, not on their views.
    pub fn claim_aadhaar(
        &self,
        hash: &schemas::Digest32,
        locker: LockerId,
    ) -> Result<Option<LockerId>, LoginError> {
        // Twice: a failed link may give the binding back between the create and the read.
        for _ in 0..2 {
            if self.create(&aadhaar_key(hash), &locker)? {
                return Ok(None);
            }
            if let Some(holder) = self.aadhaar_locker(hash)? {
                return Ok(Some(holder));
            }
        }
        Err(LoginError::Store("an Aadhaar's binding keeps changing".to_owned()))
    }

    /// Gives back a binding `claim_aadhaar` made for `locker`'s link that then failed, unless
    /// it names another locker by now (a link that took it over meanwhile keeps it).
    pub fn release_aadhaar(
        &self,
        hash: &schemas::Digest32,
        locker: LockerId,
    ) -> Result<(), LoginError> {
        match self.aadhaar_locker(hash)? {
            Some(bound) if bound == locker => self.delete(&aadhaar_key(hash)),
            _ => Ok(()),
        }
    }
}
